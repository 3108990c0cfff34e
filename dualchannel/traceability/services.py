"""The chain behind a trace code, and the undo of a pack returned unopened.

A code is one pack system-wide (a `TracePack` of packs/); each dispensing that drew from it is
a `DispensedPack` (one for a pack dispensed whole, several for one dispensed in parts, 拆零).
An undo gives a whole pack back (prescriptions.undo_pack) and keeps what it undid in
`pack_return`. Who sees a dispensing: the pharmacy that dispensed it, bureaus whose region holds
the patient's region or the pharmacy's county, admins. Anyone else is told it does not exist (404).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from sqlmodel import Session

from dualchannel.access_log import services as access
from dualchannel.access_log.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import FieldMessage, Invalid, NotFound
from dualchannel.institutions import services as institutions
from dualchannel.packs import rules
from dualchannel.packs import services as packs
from dualchannel.patients import services as patients
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions

if TYPE_CHECKING:  # rows of other features, which their services return
    from dualchannel.drugs.models import Drug
    from dualchannel.institutions.models import Institution, Physician
    from dualchannel.packs.models import DispensedPack, PackReturn
    from dualchannel.patients.models import Patient
    from dualchannel.pharmacies.models import Pharmacy
    from dualchannel.prescriptions.models import Prescription

UNKNOWN = "No pack with this trace code was dispensed."


@dataclass
class Part:
    """One dispensing of (part of) the pack, as the actor may see it."""

    dispensing: "DispensedPack | PackReturn"
    prescription: "Prescription"
    status: str  # "dispensed", or "returned" when undone

    @property
    def units(self) -> int:
        return getattr(self.dispensing, "units", 1)


@dataclass
class Chain:
    """Everything behind one code: its first visible dispensing (or last, if returned), every
    part dispensed from it, and the undos."""

    trace_code: str
    status: str  # "dispensed", or "returned" when its last dispensing was undone
    dispensing: "DispensedPack | PackReturn"
    prescription: "Prescription"
    patient: "Patient"
    drug: "Drug"
    pharmacy: "Pharmacy"
    physician: "Physician"
    institution: "Institution"
    units_per_pack: int = 1
    units_dispensed: int = 0
    undo_until: datetime | None = None
    parts: list[Part] = field(default_factory=list)
    returns: "list[PackReturn]" = field(default_factory=list)

    @property
    def returned_at(self) -> datetime | None:
        return getattr(self.dispensing, "returned_at", None)


def _checked_code(code: str) -> str:
    canonical = rules.canonical_code(code)
    if canonical is None:
        # The text is not echoed: whatever was typed in its place stays out of answers and logs.
        raise Invalid("Not a traceability code (药品追溯码).",
                      {"code": [FieldMessage("trace_code_malformed", "20 digits.")]}, code="trace_code_malformed")
    return canonical


def _may_see(actor: Actor, pharmacy: "Pharmacy", prescription: "Prescription") -> bool:
    """The one rule deciding whether an actor may see a dispensing of a pack."""
    if actor.role is Role.admin:
        return True
    if actor.role is Role.pharmacy:
        return actor.subject == pharmacy.code
    if actor.role is Role.bureau:
        return actor.in_region(prescription.patient_region) or actor.in_region(pharmacy.county_adcode)
    return False


def _chain(session: Session, actor: Actor, code: str) -> Chain:
    """The chain of `code` as `actor` may see it, or NotFound: the actor must see the pack's
    current dispensing (a live one, else the last undone), so a pharmacy whose pack was undone
    and sold again elsewhere no longer sees it."""
    live = packs.dispensings_of(session, [code])
    returns = packs.returns_of(session, code)
    parts = []
    for dispensing, status in [*((r, "returned") for r in returns), *((d, "dispensed") for d in live)]:
        prescription = prescriptions.stored(session, dispensing.prescription_id)
        if _may_see(actor, pharmacies.pharmacy_by_code(session, dispensing.pharmacy_code), prescription):
            parts.append(Part(dispensing, prescription, status))
    current = live[0] if live else (returns[-1] if returns else None)
    first = next((part for part in parts if part.dispensing is current), None)
    if first is None:
        raise NotFound(UNKNOWN, code="trace_code_unknown")
    prescription, opened = first.prescription, packs.pack(session, code)
    days = current_app.config["TRACE_UNDO_DAYS"]
    return Chain(trace_code=code, status=first.status, dispensing=current,
                 prescription=prescription,
                 patient=patients.patients_by_id(session, {prescription.patient_id})[prescription.patient_id],
                 drug=drugs.drugs_by_code(session, {current.drug_code})[current.drug_code],
                 pharmacy=pharmacies.pharmacy_by_code(session, current.pharmacy_code),
                 physician=institutions.get_physician(session, prescription.physician_code),
                 institution=institutions.institution_by_code(session, prescription.institution_code),
                 units_per_pack=opened.units_per_pack if opened else 1,
                 units_dispensed=opened.units_dispensed if opened else 0,
                 undo_until=rules.undo_until(current.dispensed_at, days) if live else None,
                 parts=parts, returns=[p.dispensing for p in parts if p.status == "returned"])


def trace(session: Session, actor: Actor, code: str) -> Chain:
    """The whole chain behind a pack (recorded in the access log): drug, pharmacy, prescription,
    physician, institution, time, pickup, every part dispensed from it and undos."""
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    chain = _chain(session, actor, _checked_code(code))
    access.record(session, actor, AccessAction.read, "trace_code", chain.trace_code,
                 patient_id=chain.prescription.patient_id, region=chain.prescription.patient_region,
                 related=access.related_key("prescription", chain.prescription.id))
    session.commit()
    return chain


def undo(session: Session, actor: Actor, code: str, *, reason: str) -> Chain:
    """The dispensing pharmacy undoes a pack returned unopened within the window
    (`prescriptions.undo_pack`); the answer is the code's chain afterwards."""
    code = prescriptions.undo_pack(session, actor, code, reason=reason)
    return _chain(session, actor, code)
