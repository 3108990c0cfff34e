"""The chain behind a trace code, and the undo of a pack returned unopened.

A code is dispensed once system-wide: `dispensed_pack` has it as primary key. An undo deletes
that row (so the code can be dispensed again) and keeps what it undid in `pack_return`.
Who sees a pack: the pharmacy that dispensed it, bureaus whose region holds the patient's
region or the pharmacy's county, admins. Anyone else is told it does not exist (404).
"""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.audit_trail import services as audit
from dualchannel.audit_trail.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs.models import Drug
from dualchannel.errors import Conflict, Invalid, NotFound
from dualchannel.institutions.models import Institution, Physician
from dualchannel.patients.models import Patient
from dualchannel.pharmacies import services as pharmacies
from dualchannel.pharmacies.models import Pharmacy
from dualchannel.prescriptions import rules as prescription_rules
from dualchannel.prescriptions import services as prescriptions
from dualchannel.prescriptions.models import DispensedPack, PackReturn, Prescription
from dualchannel.prescriptions.rules import Status
from dualchannel.traceability import rules

UNKNOWN = "No pack with this trace code was dispensed."


@dataclass
class Chain:
    """Everything behind one code: the current (or last, if returned) dispensing and the undos."""

    trace_code: str
    status: str  # "dispensed", or "returned" when its last dispensing was undone
    dispensing: DispensedPack | PackReturn
    prescription: Prescription
    patient: Patient
    drug: Drug
    pharmacy: Pharmacy
    physician: Physician
    institution: Institution
    undo_until: datetime | None = None
    returns: list[PackReturn] = field(default_factory=list)

    @property
    def returned_at(self) -> datetime | None:
        return getattr(self.dispensing, "returned_at", None)


def _checked_code(code: str) -> str:
    if not prescription_rules.is_trace_code(code, current_app.config["TRACE_CODE_PATTERN"]):
        # The text is not echoed: whatever was typed in its place stays out of answers and logs.
        raise Invalid("Not a traceability code (药品追溯码).", {"code": ["Does not match the configured pattern."]})
    return code


def _may_see(actor: Actor, pharmacy: Pharmacy, prescription: Prescription) -> bool:
    """The one rule deciding whether an actor may see a dispensing of a pack."""
    if actor.role is Role.admin:
        return True
    if actor.role is Role.pharmacy:
        return actor.subject == pharmacy.code
    if actor.role is Role.bureau:
        return actor.in_region(prescription.patient_region) or actor.in_region(pharmacy.county_adcode)
    return False


def _chain(session: Session, actor: Actor, code: str) -> Chain:
    """The chain of `code` as `actor` may see it, or NotFound."""
    live = session.get(DispensedPack, code)
    returns = list(session.exec(select(PackReturn).where(PackReturn.trace_code == code).order_by(PackReturn.id)))
    current = live or (returns[-1] if returns else None)
    if current is None:
        raise NotFound(UNKNOWN)
    prescription = session.get(Prescription, current.prescription_id)
    pharmacy = session.get(Pharmacy, current.pharmacy_code)
    if not _may_see(actor, pharmacy, prescription):
        raise NotFound(UNKNOWN)
    physician = session.get(Physician, prescription.physician_code)
    shown = [r for r in returns if r is current or _may_see(
        actor, session.get(Pharmacy, r.pharmacy_code), session.get(Prescription, r.prescription_id))]
    return Chain(trace_code=code, status="dispensed" if live else "returned", dispensing=current,
                 prescription=prescription, patient=session.get(Patient, prescription.patient_id),
                 drug=session.get(Drug, current.drug_code), pharmacy=pharmacy, physician=physician,
                 institution=session.get(Institution, prescription.institution_code),
                 undo_until=rules.undo_until(live.dispensed_at, current_app.config["TRACE_UNDO_DAYS"]) if live else None,
                 returns=shown)


def trace(session: Session, actor: Actor, code: str) -> Chain:
    """The whole chain behind a pack (recorded in the access log): drug, pharmacy, prescription,
    physician, institution, time, pickup and undos."""
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    chain = _chain(session, actor, _checked_code(code))
    audit.record(session, actor, AccessAction.read, "trace_code", code, patient_id=chain.prescription.patient_id,
                 region=chain.prescription.patient_region,
                 related=audit.related_key("prescription", chain.prescription.id))
    session.commit()
    return chain


def undo(session: Session, actor: Actor, code: str, *, reason: str) -> Chain:
    """The dispensing pharmacy undoes a pack returned unopened within the window.

    Recorded on the prescription and in `pack_return`; the pack goes back into stock and the
    code can be dispensed again. Refused (409) after the window, or once the prescription is
    no longer `dispensed` (settled, for one).
    """
    actor.require(Role.pharmacy)
    reason = audit.require_reason(reason)
    code = _checked_code(code)
    pack = session.get(DispensedPack, code)
    if pack is None or pack.pharmacy_code != actor.subject:
        last = session.exec(select(PackReturn).where(PackReturn.trace_code == code)
                            .order_by(PackReturn.id.desc())).first()
        if pack is None and last is not None and last.pharmacy_code == actor.subject:
            raise Conflict("This pack was already returned and undone.", status_now="returned")
        raise NotFound(UNKNOWN)
    prescription = session.get(Prescription, pack.prescription_id)
    if prescription.status != Status.dispensed.value:
        raise Conflict(f"The prescription is {prescription.status}; only a pack of a dispensed, unsettled "
                       "prescription can be undone.", status_now=prescription.status)
    now, days = clock.now(), current_app.config["TRACE_UNDO_DAYS"]
    if not rules.may_undo(pack.dispensed_at, now, days):
        raise Conflict(f"Packs can be undone within {days} days of dispensing; this one was dispensed at "
                       f"{pack.dispensed_at.isoformat()}.",
                       undo_until=rules.undo_until(pack.dispensed_at, days).isoformat())
    # Hold the prescription at `dispensed` for this transaction, so a settlement cannot slip in.
    held = session.execute(sa.update(Prescription)
                           .where(Prescription.id == prescription.id, Prescription.status == Status.dispensed.value)
                           .values(updated_at=now).execution_options(synchronize_session=False)).rowcount
    removed = held and session.execute(sa.delete(DispensedPack).where(
        DispensedPack.trace_code == code, DispensedPack.pharmacy_code == actor.subject,
        DispensedPack.prescription_id == prescription.id).execution_options(synchronize_session=False)).rowcount
    if held != 1 or removed != 1:
        session.rollback()
        raise Conflict("The pack or its prescription changed meanwhile; try again.")
    session.add(PackReturn(trace_code=code, prescription_id=prescription.id, drug_code=pack.drug_code,
                           pharmacy_code=pack.pharmacy_code, dispensed_at=pack.dispensed_at, returned_at=now,
                           actor=actor.label, reason=reason))
    pharmacies.return_stock(session, pack.pharmacy_code, {pack.drug_code: 1})
    prescriptions.note_event(session, prescription, "undo_pack", actor.label, reason=reason,
                             detail={"trace_code": code, "drug_code": pack.drug_code})
    session.commit()
    session.expunge(pack)  # deleted in bulk: the identity map must not hand it back
    return _chain(session, actor, code)
