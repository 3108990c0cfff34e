"""Gathering a patient's events from every pharmacy, for the bureau of the patient's region and a
physician with the patient in care (the one patient filter decides); each read is logged."""

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session

from dualchannel.access_log import services as access
from dualchannel.access_log.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.institutions import services as institutions
from dualchannel.patients import services as patients
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.prescriptions.rules import REASONS
from dualchannel.settlements import services as settlements

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
    prescription, item, drug = (prescriptions.prescription_view(), prescriptions.prescription_item_view(),
                                drugs.drug_view())
    event, settlement = prescriptions.prescription_event_view(), settlements.settlement_view()
    settlement_event = settlements.settlement_event_view()
    issued = session.execute(sa.select(prescription).where(prescription.c.patient_id == patient.id)
                             .order_by(prescription.c.issued_at, prescription.c.id)).all()
    ids = [p.id for p in issued]
    by_id = {p.id: p for p in issued}
    items = session.execute(
        sa.select(item, drug.c.name, drug.c.generic_name).join(drug, drug.c.code == item.c.drug_code)
        .where(item.c.prescription_id.in_(ids)).order_by(item.c.id)).all() if ids else []
    moves = session.execute(sa.select(event).where(event.c.prescription_id.in_(ids), event.c.action.in_(list(KINDS)))
                            .order_by(event.c.at, event.c.id)).all() if ids else []
    settlement_moves = session.execute(
        sa.select(settlement_event, settlement.c.prescription_id, settlement.c.pharmacy_code, settlement.c.total)
        .join(settlement, settlement.c.id == settlement_event.c.settlement_id)
        .where(settlement.c.patient_id == patient.id)
        .order_by(settlement_event.c.at, settlement_event.c.id)).all()
    codes = {p.pharmacy_code for p in issued} | {s.pharmacy_code for s in settlement_moves}
    codes |= {_pharmacy_of(e.actor, e.detail) for e in moves}
    pharmacy_names = pharmacies.names(session, {c for c in codes if c})
    physicians = institutions.physician_names(session, {p.physician_code for p in issued})
    institution_names = institutions.institution_names(session, {p.institution_code for p in issued})

    lines: dict[int, list[dict]] = {}
    for row in items:
        lines.setdefault(row.prescription_id, []).append(
            {"drug_code": row.drug_code, "drug_name": row.name, "generic_name": row.generic_name,
             "quantity": row.quantity, "days_supply": row.days_supply})

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
    for e in settlement_moves:
        events.append({"at": e.at, "kind": SETTLEMENT_KINDS.get(e.action, e.action),
                       "prescription_id": e.prescription_id,
                       "prescription_number": by_id[e.prescription_id].number if e.prescription_id in by_id else None,
                       "actor": e.actor, **pharmacy(e.pharmacy_code), "reason_code": None, "reason_label": None,
                       "status": e.to_status,
                       "drugs": [], "amount": e.total, "settlement_id": e.settlement_id, "_order": (1, e.id)})
    events.sort(key=lambda ev: (ev["at"], ev["_order"]))
    for ev in events:
        del ev["_order"]

    supplies = []
    for p in issued:
        if p.dispensed_at is None or p.status not in ("dispensed", "settled"):
            continue
        for line in lines.get(p.id, []):
            supplies.append({"prescription_id": p.id, **pharmacy(p.pharmacy_code), **line, "start": p.dispensed_at,
                             "end": p.dispensed_at + timedelta(days=line["days_supply"])})
    supplies.sort(key=lambda s: (s["start"], s["prescription_id"]))

    summary = [{"id": p.id, "number": p.number, "status": p.status, "issued_at": p.issued_at,
                "dispensed_at": p.dispensed_at, "diagnosis": p.diagnosis, "physician_code": p.physician_code,
                "physician_name": physicians.get(p.physician_code), "institution_code": p.institution_code,
                "institution_name": institution_names.get(p.institution_code), **pharmacy(p.pharmacy_code),
                "items": lines.get(p.id, [])} for p in issued]
    access.record(session, actor, AccessAction.read, "patient_timeline", patient.id, patient_id=patient.id,
                 region=patient.region, detail={"view": "timeline", "ids": ids})
    session.commit()
    return {"patient": patient, "prescriptions": summary, "events": events, "supplies": supplies,
            "pharmacies": sorted(c for c in codes if c)}
