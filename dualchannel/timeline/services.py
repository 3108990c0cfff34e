"""Gathering a patient's events from every pharmacy, for the bureau of the patient's region and a
physician with the patient in care (the one patient filter decides); each read is logged."""

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel.access_log import services as access
from dualchannel.access_log.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs.models import Drug
from dualchannel.institutions.models import Institution, Physician
from dualchannel.patients import services as patients
from dualchannel.pharmacies.models import Pharmacy
from dualchannel.prescriptions.models import Prescription, PrescriptionEvent, PrescriptionItem
from dualchannel.prescriptions.rules import REASONS
from dualchannel.settlements.models import Settlement, SettlementEvent

# Prescription moves as the timeline names them; settle and reverse come from the settlements.
KINDS = {"issue": "prescription", "route": "route", "return": "return", "verify": "verify", "review": "review",
         "refuse_review": "review_refused", "dispense": "dispensing", "cancel": "cancel",
         "not_dispense": "not_dispensed", "expire": "expire", "undo_pack": "pack_return"}
SETTLEMENT_KINDS = {"settle": "settlement", "claim": "settlement", "reverse": "settlement_reversed",
                    "approve": "claim_approved", "reject": "claim_rejected"}


def _pharmacy_of(actor_label: str, detail: dict | None) -> str | None:
    if actor_label.startswith("pharmacy:"):
        return actor_label.removeprefix("pharmacy:")
    return (detail or {}).get("pharmacy_code")


def timeline(session: Session, actor: Actor, patient_id: int) -> dict:
    """Every prescription, move, dispensing (with its supply bars), return and settlement of the
    patient, oldest first. Visible to an admin, the bureau of the patient's region (or filed
    region) and a physician of an institution with the patient in care; 403 for others, 404 for
    a patient out of scope. The read is recorded in the access log."""
    actor.require(Role.admin, Role.bureau, Role.physician)
    patient = patients.get_patient(session, actor, patient_id)
    prescriptions = list(session.exec(select(Prescription).where(Prescription.patient_id == patient.id)
                                      .order_by(Prescription.issued_at, Prescription.id)))
    ids = [p.id for p in prescriptions]
    by_id = {p.id: p for p in prescriptions}
    items = session.execute(
        sa.select(PrescriptionItem, Drug.name, Drug.generic_name)
        .join(Drug, Drug.code == PrescriptionItem.drug_code)
        .where(PrescriptionItem.prescription_id.in_(ids)).order_by(PrescriptionItem.id)).all() if ids else []
    moves = session.exec(select(PrescriptionEvent).where(PrescriptionEvent.prescription_id.in_(ids),
                                                         PrescriptionEvent.action.in_(list(KINDS)))
                         .order_by(PrescriptionEvent.at, PrescriptionEvent.id)).all() if ids else []
    settlement_moves = session.execute(
        sa.select(SettlementEvent, Settlement).join(Settlement, Settlement.id == SettlementEvent.settlement_id)
        .where(Settlement.patient_id == patient.id).order_by(SettlementEvent.at, SettlementEvent.id)).all()
    codes = {p.pharmacy_code for p in prescriptions} | {s.pharmacy_code for _, s in settlement_moves}
    codes |= {_pharmacy_of(e.actor, e.detail) for e in moves}
    pharmacy_names = dict(session.execute(sa.select(Pharmacy.code, Pharmacy.name)
                                          .where(Pharmacy.code.in_([c for c in codes if c]))).all()) if codes else {}
    physicians = dict(session.execute(sa.select(Physician.code, Physician.name).where(
        Physician.code.in_({p.physician_code for p in prescriptions}))).all()) if prescriptions else {}
    institutions = dict(session.execute(sa.select(Institution.code, Institution.name).where(
        Institution.code.in_({p.institution_code for p in prescriptions}))).all()) if prescriptions else {}

    lines: dict[int, list[dict]] = {}
    for item, name, generic in items:
        lines.setdefault(item.prescription_id, []).append(
            {"drug_code": item.drug_code, "drug_name": name, "generic_name": generic, "quantity": item.quantity,
             "days_supply": item.days_supply})

    def pharmacy(code):
        return {"pharmacy_code": code, "pharmacy_name": pharmacy_names.get(code)} if code else \
            {"pharmacy_code": None, "pharmacy_name": None}

    events = []
    for e in moves:
        p = by_id[e.prescription_id]
        code = _pharmacy_of(e.actor, e.detail) if e.action != "issue" else None
        events.append({"at": e.at, "kind": KINDS[e.action], "prescription_id": p.id, "prescription_number": p.number,
                       "actor": e.actor, **pharmacy(code), "reason_code": e.reason_code,
                       "reason_label": REASONS[e.reason_code].label if e.reason_code in REASONS else None,
                       "status": e.to_status,
                       "drugs": lines.get(p.id, []) if e.action in ("issue", "dispense") else [],
                       "amount": None, "settlement_id": None, "_order": (0, e.id)})
    for e, s in settlement_moves:
        events.append({"at": e.at, "kind": SETTLEMENT_KINDS.get(e.action, e.action),
                       "prescription_id": s.prescription_id,
                       "prescription_number": by_id[s.prescription_id].number if s.prescription_id in by_id else None,
                       "actor": e.actor, **pharmacy(s.pharmacy_code), "reason_code": None, "reason_label": None,
                       "status": e.to_status,
                       "drugs": [], "amount": s.total, "settlement_id": s.id, "_order": (1, e.id)})
    events.sort(key=lambda ev: (ev["at"], ev["_order"]))
    for ev in events:
        del ev["_order"]

    supplies = []
    for p in prescriptions:
        if p.dispensed_at is None or p.status not in ("dispensed", "settled"):
            continue
        for line in lines.get(p.id, []):
            supplies.append({"prescription_id": p.id, **pharmacy(p.pharmacy_code), **line, "start": p.dispensed_at,
                             "end": p.dispensed_at + timedelta(days=line["days_supply"])})
    supplies.sort(key=lambda s: (s["start"], s["prescription_id"]))

    summary = [{"id": p.id, "number": p.number, "status": p.status, "issued_at": p.issued_at,
                "dispensed_at": p.dispensed_at, "diagnosis": p.diagnosis, "physician_code": p.physician_code,
                "physician_name": physicians.get(p.physician_code), "institution_code": p.institution_code,
                "institution_name": institutions.get(p.institution_code), **pharmacy(p.pharmacy_code),
                "items": lines.get(p.id, [])} for p in prescriptions]
    access.record(session, actor, AccessAction.read, "patient_timeline", patient.id, patient_id=patient.id,
                 region=patient.region, detail={"view": "timeline", "ids": ids})
    session.commit()
    return {"patient": patient, "prescriptions": summary, "events": events, "supplies": supplies,
            "pharmacies": sorted(c for c in codes if c)}
