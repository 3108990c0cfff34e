"""The batch audit scan: window rules as set-based SQL, flags raised once per evidence.

Real-time rules (duplicate_trace_code, expired_dispense_attempt, county_mismatch at
registration, price_above_agreement and double_claim at settlement) are raised by the events
themselves; this scan adds the rules that need a window of history, and re-checks pharmacy
locations.
"""

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from dualchannel import clock
from dualchannel.db import UTCDateTime
from dualchannel.audit.rules import Thresholds
from dualchannel.audit.sql import china_month, days_between
from dualchannel.drugs.models import Drug
from dualchannel.flags.services import raise_flags
from dualchannel.pharmacies.models import Pharmacy
from dualchannel.prescriptions.models import Prescription, PrescriptionEvent, PrescriptionItem
from dualchannel.prescriptions.rules import REASONS, Action, Status

# Moves by which a pharmacy sends a patient away without the drug, with a reason code.
REFUSALS = (Action.hand_back.value, Action.not_dispense.value)


def _dispensing_lines(since: datetime, until: datetime, *extra):
    """One row per dispensed prescription item, narrow: the window sorts carry only these."""
    return (
        sa.select(
            Prescription.id.label("prescription_id"), Prescription.patient_id, Prescription.physician_code,
            Prescription.pharmacy_code, Prescription.dispensed_at, PrescriptionItem.drug_code,
            PrescriptionItem.quantity, PrescriptionItem.days_supply, Drug.generic_name, *extra,
        )
        .join(PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
        .join(Drug, Drug.code == PrescriptionItem.drug_code)
        .where(Prescription.status.in_([Status.dispensed.value, Status.settled.value]),
               Prescription.dispensed_at >= since, Prescription.dispensed_at <= until)
    )


def _regions(session: Session, prescription_ids: set[int]) -> dict[int, str]:
    """The patient region of a few flagged prescriptions (kept out of the big sorts)."""
    return dict(session.execute(sa.select(Prescription.id, Prescription.patient_region)
                                .where(Prescription.id.in_(prescription_ids))).all())


def pharmacy_shopping(session: Session, t: Thresholds, as_of: datetime) -> list[dict]:
    """Patients getting one generic from many pharmacies or physicians inside the window."""
    lines = _dispensing_lines(as_of - timedelta(days=t.shopping_window_days), as_of).subquery("lines")
    suspects = (
        sa.select(lines.c.patient_id, lines.c.generic_name)
        .group_by(lines.c.patient_id, lines.c.generic_name)
        .having(sa.or_(sa.func.count(sa.distinct(lines.c.pharmacy_code)) >= t.shopping_min_pharmacies,
                       sa.func.count(sa.distinct(lines.c.physician_code)) >= t.shopping_min_physicians))
        .subquery("suspects")
    )
    rows = session.execute(
        sa.select(lines).join(suspects, sa.and_(suspects.c.patient_id == lines.c.patient_id,
                                                suspects.c.generic_name == lines.c.generic_name))
        .order_by(lines.c.patient_id, lines.c.generic_name, lines.c.dispensed_at)
    ).mappings().all()
    grouped: dict[tuple, list] = defaultdict(list)
    for row in rows:
        grouped[(row["patient_id"], row["generic_name"])].append(row)
    regions = _regions(session, {r["prescription_id"] for r in rows})
    flags = []
    for (patient_id, generic), group in grouped.items():
        pharmacies = sorted({r["pharmacy_code"] for r in group})
        physicians = sorted({r["physician_code"] for r in group})
        ids = sorted({r["prescription_id"] for r in group})
        flags.append(dict(
            type="pharmacy_shopping", severity="high", subject=f"patient:{patient_id}",
            region=regions[group[0]["prescription_id"]],
            dedup_key=f"pharmacy_shopping:{patient_id}:{generic}:{','.join(map(str, ids))}",
            evidence={"patient_id": patient_id, "generic_name": generic, "window_days": t.shopping_window_days,
                      "pharmacies": pharmacies, "physicians": physicians, "prescription_ids": ids,
                      "dispensings": [{"prescription_id": r["prescription_id"], "pharmacy_code": r["pharmacy_code"],
                                       "physician_code": r["physician_code"],
                                       "dispensed_at": r["dispensed_at"].isoformat()} for r in group]}))
    return flags


def overlapping_supply(session: Session, t: Thresholds, since: datetime, as_of: datetime) -> list[dict]:
    """A dispensing while much of the previous supply of the same generic should remain."""
    lines = _dispensing_lines(since, as_of).subquery("lines")
    window = {"partition_by": (lines.c.patient_id, lines.c.generic_name),
              "order_by": (lines.c.dispensed_at, lines.c.prescription_id)}
    ordered = sa.select(
        lines,
        sa.func.lag(lines.c.prescription_id).over(**window).label("previous_id"),
        sa.func.lag(lines.c.dispensed_at, type_=UTCDateTime).over(**window).label("previous_at"),
        sa.func.lag(lines.c.days_supply).over(**window).label("previous_supply"),
        sa.func.lag(lines.c.pharmacy_code).over(**window).label("previous_pharmacy"),
    ).subquery("ordered")
    elapsed = days_between(ordered.c.previous_at, ordered.c.dispensed_at)
    rows = session.execute(
        sa.select(ordered, elapsed.label("elapsed_days")).where(
            ordered.c.previous_id.is_not(None), ordered.c.previous_id != ordered.c.prescription_id,
            ordered.c.previous_supply - elapsed > t.overlap_remaining_share * ordered.c.previous_supply)
    ).mappings().all()
    regions = _regions(session, {r["prescription_id"] for r in rows})
    return [dict(
        type="overlapping_supply", severity="medium", subject=f"patient:{r['patient_id']}",
        region=regions[r["prescription_id"]],
        dedup_key=f"overlapping_supply:{r['previous_id']}:{r['prescription_id']}:{r['generic_name']}",
        evidence={"patient_id": r["patient_id"], "generic_name": r["generic_name"],
                  "previous_prescription_id": r["previous_id"], "previous_pharmacy_code": r["previous_pharmacy"],
                  "previous_dispensed_at": r["previous_at"].isoformat(),
                  "previous_days_supply": r["previous_supply"], "prescription_id": r["prescription_id"],
                  "pharmacy_code": r["pharmacy_code"], "dispensed_at": r["dispensed_at"].isoformat(),
                  "elapsed_days": round(float(r["elapsed_days"]), 1),
                  "remaining_share": round(1 - float(r["elapsed_days"]) / r["previous_supply"], 3)})
        for r in rows]


def volume_outlier(session: Session, t: Thresholds, since: datetime, as_of: datetime) -> list[dict]:
    """A pharmacy's monthly dispensing of a drug far above its county peers."""
    lines = (_dispensing_lines(since, as_of, Pharmacy.county_adcode)
             .join(Pharmacy, Pharmacy.code == Prescription.pharmacy_code).subquery("lines"))
    month = china_month(lines.c.dispensed_at)
    monthly = (
        sa.select(lines.c.pharmacy_code, lines.c.county_adcode, lines.c.drug_code, month.label("month"),
                  sa.func.sum(lines.c.quantity).label("quantity"))
        .group_by(lines.c.pharmacy_code, lines.c.county_adcode, lines.c.drug_code, month)
        .subquery("monthly")
    )
    peers = {"partition_by": (monthly.c.county_adcode, monthly.c.drug_code, monthly.c.month)}
    totals = sa.select(
        monthly,
        (sa.func.sum(monthly.c.quantity).over(**peers) - monthly.c.quantity).label("peers_total"),
        (sa.func.count().over(**peers) - 1).label("peers"),
    ).subquery("totals")
    rows = session.execute(
        sa.select(totals).where(
            totals.c.peers >= t.outlier_min_peers, totals.c.quantity >= t.outlier_min_quantity,
            totals.c.quantity * totals.c.peers > t.outlier_factor * totals.c.peers_total)
    ).mappings().all()
    return [dict(
        type="volume_outlier", severity="medium", subject=f"pharmacy:{r['pharmacy_code']}",
        region=r["county_adcode"],
        dedup_key=f"volume_outlier:{r['pharmacy_code']}:{r['drug_code']}:{r['month']}",
        evidence={"pharmacy_code": r["pharmacy_code"], "drug_code": r["drug_code"], "month": r["month"],
                  "county_adcode": r["county_adcode"], "quantity": int(r["quantity"]),
                  "peers": int(r["peers"]), "peers_average": round(int(r["peers_total"]) / int(r["peers"]), 1),
                  "factor": t.outlier_factor})
        for r in rows]


def pharmacy_refusals(session: Session, t: Thresholds, as_of: datetime) -> list[dict]:
    """Pharmacies handing back or closing without dispensing many prescriptions with the same
    reason code inside the window: one flag per pharmacy and reason code (and set of cases)."""
    since = as_of - timedelta(days=t.refusal_window_days)
    window = sa.and_(PrescriptionEvent.action.in_(REFUSALS), PrescriptionEvent.reason_code.is_not(None),
                     PrescriptionEvent.actor.startswith("pharmacy:"),
                     PrescriptionEvent.at >= since, PrescriptionEvent.at <= as_of)
    suspects = (sa.select(PrescriptionEvent.actor, PrescriptionEvent.reason_code).where(window)
                .group_by(PrescriptionEvent.actor, PrescriptionEvent.reason_code)
                .having(sa.func.count() >= t.refusal_min_count).subquery("suspects"))
    rows = session.execute(
        sa.select(PrescriptionEvent.actor, PrescriptionEvent.reason_code, PrescriptionEvent.action,
                  PrescriptionEvent.prescription_id, PrescriptionEvent.at, Pharmacy.code, Pharmacy.county_adcode)
        .join(suspects, sa.and_(suspects.c.actor == PrescriptionEvent.actor,
                                suspects.c.reason_code == PrescriptionEvent.reason_code))
        .join(Pharmacy, Pharmacy.code == sa.func.substr(PrescriptionEvent.actor, len("pharmacy:") + 1))
        .where(window).order_by(PrescriptionEvent.actor, PrescriptionEvent.reason_code, PrescriptionEvent.id)
    ).mappings().all()
    grouped: dict[tuple, list] = defaultdict(list)
    for row in rows:
        grouped[(row["code"], row["reason_code"])].append(row)
    flags = []
    for (pharmacy_code, reason_code), group in grouped.items():
        ids = sorted({r["prescription_id"] for r in group})
        flags.append(dict(
            type="pharmacy_refusals", severity="medium", subject=f"pharmacy:{pharmacy_code}",
            region=group[0]["county_adcode"] or "",
            dedup_key=f"pharmacy_refusals:{pharmacy_code}:{reason_code}:"
                      f"{hashlib.sha256(','.join(map(str, ids)).encode()).hexdigest()[:32]}",
            evidence={"pharmacy_code": pharmacy_code, "reason_code": reason_code,
                      "reason_label": REASONS[reason_code].label if reason_code in REASONS else reason_code,
                      "count": len(group), "window_days": t.refusal_window_days, "threshold": t.refusal_min_count,
                      "prescription_ids": ids,
                      "actions": {a: sum(1 for r in group if r["action"] == a) for a in REFUSALS}}))
    return flags


def county_mismatch(session: Session) -> list[dict]:
    """Pharmacies whose declared county differs from the one their location lies in."""
    rows = session.execute(
        sa.select(Pharmacy.code, Pharmacy.adcode, Pharmacy.county_adcode, Pharmacy.lat, Pharmacy.lon)
        .where(Pharmacy.county_adcode.is_not(None), Pharmacy.county_adcode != Pharmacy.adcode)
    ).mappings().all()
    # Same key as the flag raised at registration, so the scan never duplicates it.
    return [dict(type="county_mismatch", severity="medium", subject=f"pharmacy:{r['code']}",
                 region=r["county_adcode"], dedup_key=f"county_mismatch:{r['code']}:{r['adcode']}:{r['county_adcode']}",
                 evidence={"pharmacy_code": r["code"], "declared_adcode": r["adcode"],
                           "computed_adcode": r["county_adcode"], "lat": r["lat"], "lon": r["lon"]})
            for r in rows]


def scan(session: Session, thresholds: Thresholds, *, since: datetime | None = None,
         as_of: datetime | None = None) -> dict[str, int]:
    """Run every batch rule and raise the new flags; returns new flags by type.

    Scanning twice adds nothing: each flag's key is made of its evidence, and a flag that was
    dismissed keeps its key, so the same evidence is never raised again.
    """
    as_of = as_of or clock.now()
    since = since or as_of - timedelta(days=thresholds.lookback_days)
    candidates = (pharmacy_shopping(session, thresholds, as_of)
                  + overlapping_supply(session, thresholds, since, as_of)
                  + volume_outlier(session, thresholds, since, as_of)
                  + pharmacy_refusals(session, thresholds, as_of)
                  + county_mismatch(session))
    counts = {kind: raise_flags(session, [c for c in candidates if c["type"] == kind])
              for kind in ("pharmacy_shopping", "overlapping_supply", "volume_outlier", "pharmacy_refusals",
                           "county_mismatch")}
    session.commit()
    return counts
