"""The batch audit scan: window rules as set-based SQL, flags raised once per evidence.

Real-time rules (duplicate_trace_code, expired_dispense_attempt, county_mismatch at
registration, price_above_agreement and double_claim at settlement) are raised by the events
themselves; this scan adds the rules that need a window of history, and re-checks pharmacy
locations.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock
from dualchannel.db import UTCDateTime
from dualchannel.audit.models import AuditExemption, AuditThreshold, ExemptionKind
from dualchannel.audit.rules import Thresholds
from dualchannel.audit.sql import china_month, days_between
from dualchannel.drugs import services as drugs
from dualchannel.flags.services import raise_flags
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.prescriptions.rules import REASONS, Action, Status

# Moves by which a pharmacy sends a patient away without the drug, with a reason code.
REFUSALS = (Action.hand_back.value, Action.not_dispense.value)
# The rules a region's thresholds govern (county_mismatch has none).
TUNED_RULES = ("pharmacy_shopping", "overlapping_supply", "volume_outlier", "pharmacy_refusals")
RULES = TUNED_RULES + ("county_mismatch",)


@dataclass(frozen=True)
class Scope:
    """Where one set of thresholds is in force: inside `region` (None: everywhere) but not inside
    any of `excluded` (regions with thresholds of their own)."""

    region: str | None = None
    excluded: tuple[str, ...] = ()

    def where(self, column) -> list:
        """Conditions on an adcode column (a flag's region: the patient's or the pharmacy's county)."""
        clauses = [column.startswith(adcodes.prefix(self.region))] if self.region else []
        return clauses + [sa.or_(column.is_(None), sa.not_(column.startswith(adcodes.prefix(r))))
                          for r in self.excluded]


EVERYWHERE = Scope()


def _dispensing_lines(since: datetime, until: datetime, *extra, scope: Scope = EVERYWHERE):
    """One row per dispensed prescription item, narrow: the window sorts carry only these.
    `scope` applies to the patient's region (the region of the patient rules' flags)."""
    p, item, drug = prescriptions.prescription_view(), prescriptions.prescription_item_view(), drugs.drug_view()
    return (
        sa.select(
            p.c.id.label("prescription_id"), p.c.patient_id, p.c.physician_code, p.c.pharmacy_code,
            p.c.dispensed_at, item.c.drug_code, item.c.quantity, item.c.days_supply, drug.c.generic_name, *extra,
        )
        .select_from(p)
        .join(item, item.c.prescription_id == p.c.id)
        .join(drug, drug.c.code == item.c.drug_code)
        .where(p.c.status.in_([Status.dispensed.value, Status.settled.value]),
               p.c.dispensed_at >= since, p.c.dispensed_at <= until, *scope.where(p.c.patient_region))
    )


def _regions(session: Session, prescription_ids: set[int]) -> dict[int, str]:
    """The patient region of a few flagged prescriptions (kept out of the big sorts)."""
    p = prescriptions.prescription_view()
    return dict(session.execute(sa.select(p.c.id, p.c.patient_region).where(p.c.id.in_(prescription_ids))).all())


def pharmacy_shopping(session: Session, t: Thresholds, as_of: datetime, scope: Scope = EVERYWHERE) -> list[dict]:
    """Patients getting one generic from many pharmacies or physicians inside the window."""
    lines = _dispensing_lines(as_of - timedelta(days=t.shopping_window_days), as_of, scope=scope).subquery("lines")
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
                                       "dispensed_at": r["dispensed_at"].isoformat()} for r in group]},
            lines=[(r["prescription_id"], r["drug_code"]) for r in group]))
    return flags


def overlapping_supply(session: Session, t: Thresholds, since: datetime, as_of: datetime,
                       scope: Scope = EVERYWHERE) -> list[dict]:
    """A dispensing while much (`overlap_remaining_share`, and at least `overlap_min_days` days)
    of the previous supply of the same generic should remain."""
    lines = _dispensing_lines(since, as_of, scope=scope).subquery("lines")
    window = {"partition_by": (lines.c.patient_id, lines.c.generic_name),
              "order_by": (lines.c.dispensed_at, lines.c.prescription_id)}
    ordered = sa.select(
        lines,
        sa.func.lag(lines.c.prescription_id).over(**window).label("previous_id"),
        sa.func.lag(lines.c.dispensed_at, type_=UTCDateTime).over(**window).label("previous_at"),
        sa.func.lag(lines.c.days_supply).over(**window).label("previous_supply"),
        sa.func.lag(lines.c.pharmacy_code).over(**window).label("previous_pharmacy"),
        sa.func.lag(lines.c.drug_code).over(**window).label("previous_drug"),
    ).subquery("ordered")
    elapsed = days_between(ordered.c.previous_at, ordered.c.dispensed_at)
    rows = session.execute(
        sa.select(ordered, elapsed.label("elapsed_days")).where(
            ordered.c.previous_id.is_not(None), ordered.c.previous_id != ordered.c.prescription_id,
            ordered.c.previous_supply - elapsed > t.overlap_remaining_share * ordered.c.previous_supply,
            ordered.c.previous_supply - elapsed >= t.overlap_min_days)
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
                  "remaining_share": round(1 - float(r["elapsed_days"]) / r["previous_supply"], 3)},
        lines=[(r["previous_id"], r["previous_drug"]), (r["prescription_id"], r["drug_code"])])
        for r in rows]


def volume_outlier(session: Session, t: Thresholds, since: datetime, as_of: datetime,
                   scope: Scope = EVERYWHERE) -> list[dict]:
    """A pharmacy's monthly dispensing of a drug far above its county peers (`scope` applies
    to the pharmacies' county: peers share it)."""
    pharmacy = pharmacies.pharmacy_view()
    lines = (_dispensing_lines(since, as_of, pharmacy.c.county_adcode)
             .join(pharmacy, pharmacy.c.code == prescriptions.prescription_view().c.pharmacy_code)
             .where(*scope.where(pharmacy.c.county_adcode)).subquery("lines"))
    month = china_month(lines.c.dispensed_at)
    monthly = (
        sa.select(lines.c.pharmacy_code, lines.c.county_adcode, lines.c.drug_code, lines.c.generic_name,
                  month.label("month"), sa.func.sum(lines.c.quantity).label("quantity"))
        .group_by(lines.c.pharmacy_code, lines.c.county_adcode, lines.c.drug_code, lines.c.generic_name, month)
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
                  "factor": t.outlier_factor, "generic_name": r["generic_name"]})
        for r in rows]


def pharmacy_refusals(session: Session, t: Thresholds, as_of: datetime, scope: Scope = EVERYWHERE) -> list[dict]:
    """Pharmacies handing back or closing without dispensing many prescriptions with the same
    reason code inside the window: one flag per pharmacy and reason code (and set of cases)."""
    since = as_of - timedelta(days=t.refusal_window_days)
    event, pharmacy = prescriptions.prescription_event_view(), pharmacies.pharmacy_view()
    window = sa.and_(event.c.action.in_(REFUSALS), event.c.reason_code.is_not(None),
                     event.c.actor.startswith("pharmacy:"), event.c.at >= since, event.c.at <= as_of)
    suspects = (sa.select(event.c.actor, event.c.reason_code).where(window)
                .group_by(event.c.actor, event.c.reason_code)
                .having(sa.func.count() >= t.refusal_min_count).subquery("suspects"))
    rows = session.execute(
        sa.select(event.c.actor, event.c.reason_code, event.c.action, event.c.prescription_id, event.c.at,
                  pharmacy.c.code, pharmacy.c.county_adcode)
        .join(suspects, sa.and_(suspects.c.actor == event.c.actor, suspects.c.reason_code == event.c.reason_code))
        .join(pharmacy, pharmacy.c.code == sa.func.substr(event.c.actor, len("pharmacy:") + 1))
        .where(window, *scope.where(pharmacy.c.county_adcode))
        .order_by(event.c.actor, event.c.reason_code, event.c.id)
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
    pharmacy = pharmacies.pharmacy_view()
    rows = session.execute(
        sa.select(pharmacy.c.code, pharmacy.c.adcode, pharmacy.c.county_adcode, pharmacy.c.lat, pharmacy.c.lon)
        .where(pharmacy.c.county_adcode.is_not(None), pharmacy.c.county_adcode != pharmacy.c.adcode)
    ).mappings().all()
    # Same key as the flag raised at registration, so the scan never duplicates it.
    return [dict(type="county_mismatch", severity="medium", subject=f"pharmacy:{r['code']}",
                 region=r["county_adcode"], dedup_key=f"county_mismatch:{r['code']}:{r['adcode']}:{r['county_adcode']}",
                 evidence={"pharmacy_code": r["code"], "declared_adcode": r["adcode"],
                           "computed_adcode": r["county_adcode"], "lat": r["lat"], "lon": r["lon"]})
            for r in rows]


def thresholds_by_region(session: Session) -> dict[str, dict]:
    """Each region's own threshold values (region -> field -> number)."""
    return {row.region: row.thresholds for row in session.exec(select(AuditThreshold))}


def in_force(own: dict[str, dict], defaults: Thresholds, region: str) -> Thresholds:
    """The thresholds in force in `region`: the defaults, then each enclosing region's own values
    (province, city, county), then its own."""
    t = defaults
    for enclosing in sorted((r for r in own if adcodes.contains(r, region)), key=lambda r: len(adcodes.prefix(r))):
        t = t.replaced(own[enclosing])
    return t


def scope_of(own: dict[str, dict], region: str | None) -> Scope:
    """Where `region`'s thresholds are in force: inside it, outside its sub-regions with their own."""
    inside = (r for r in own if r != region and (region is None or adcodes.contains(region, r)))
    return Scope(region, tuple(sorted(inside)))


def plan(own: dict[str, dict], defaults: Thresholds) -> list[tuple[Thresholds, Scope]]:
    """The thresholds of every part of the country: the defaults outside the regions that set
    their own, and each such region's thresholds in force inside it (minus its sub-regions')."""
    return [(defaults, scope_of(own, None))] + [(in_force(own, defaults, r), scope_of(own, r)) for r in sorted(own)]


def tuned_candidates(session: Session, t: Thresholds, scope: Scope, *, since: datetime,
                     as_of: datetime) -> list[dict]:
    """The flags the tuned rules would raise under `t` in `scope` (before exemptions)."""
    return (pharmacy_shopping(session, t, as_of, scope) + overlapping_supply(session, t, since, as_of, scope)
            + volume_outlier(session, t, since, as_of, scope) + pharmacy_refusals(session, t, as_of, scope))


def active_exemptions(session: Session, as_of: datetime) -> list[AuditExemption]:
    """Exemptions not revoked and not past their last day (China's calendar) at `as_of`."""
    today = as_of.astimezone(clock.CHINA).date()
    return list(session.exec(select(AuditExemption).where(AuditExemption.revoked_at.is_(None),
                                                          AuditExemption.valid_until >= today)))


def _diagnoses(session: Session, prescription_ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    ids, p = sorted(prescription_ids), prescriptions.prescription_view()
    for start in range(0, len(ids), 1000):
        found.update(session.execute(sa.select(p.c.id, p.c.diagnosis)
                                     .where(p.c.id.in_(ids[start:start + 1000]))).all())
    return found


def exempts(exemption: AuditExemption, candidate: dict, diagnoses: dict[int, str]) -> bool:
    """Whether `exemption` covers the case: same rule (or every rule), inside its region, and
    its patient, or its generic, or every dispensing of the case of its drug or with its
    diagnosis text."""
    if exemption.rule and exemption.rule != candidate["type"]:
        return False
    if not adcodes.contains(exemption.region, candidate["region"]):
        return False
    evidence, lines = candidate["evidence"], candidate.get("lines") or []
    if exemption.kind == ExemptionKind.patient.value:
        return evidence.get("patient_id") is not None and str(evidence["patient_id"]) == exemption.value
    if exemption.kind == ExemptionKind.generic.value:
        return evidence.get("generic_name") == exemption.value
    if exemption.kind == ExemptionKind.drug.value:
        codes = [drug for _, drug in lines] or ([evidence["drug_code"]] if evidence.get("drug_code") else [])
        return bool(codes) and all(code == exemption.value for code in codes)
    if exemption.kind == ExemptionKind.diagnosis.value:
        text = exemption.value.casefold()
        return bool(lines) and all(text in (diagnoses.get(pid) or "").casefold() for pid, _ in lines)
    return False


def without_exempted(session: Session, candidates: list[dict],
                     exemptions: list[AuditExemption]) -> tuple[list[dict], dict[str, int]]:
    """The candidates no exemption covers (their internal `lines` dropped), and how many of each
    rule were exempted."""
    exempted: dict[str, int] = defaultdict(int)
    kept = []
    diagnoses = (_diagnoses(session, {pid for c in candidates for pid, _ in c.get("lines") or []})
                 if any(e.kind == ExemptionKind.diagnosis.value for e in exemptions) else {})
    for candidate in candidates:
        if any(exempts(e, candidate, diagnoses) for e in exemptions):
            exempted[candidate["type"]] += 1
        else:
            kept.append({k: v for k, v in candidate.items() if k != "lines"})
    return kept, dict(exempted)


@dataclass
class ScanResult:
    new_flags: dict[str, int]
    exempted: dict[str, int]  # cases an exemption kept from being flagged, by rule


def scan(session: Session, thresholds: Thresholds, *, since: datetime | None = None,
         as_of: datetime | None = None) -> ScanResult:
    """Run every batch rule under the thresholds in force in each region (`thresholds`: the
    configured defaults, where no region sets its own), leave out the exempted cases, and raise
    the new flags; returns new flags and exempted cases by rule.

    Scanning twice adds nothing: each flag's key is made of its evidence, and a flag that was
    dismissed keeps its key, so the same evidence is never raised again.
    """
    as_of = as_of or clock.now()
    since = since or as_of - timedelta(days=thresholds.lookback_days)
    candidates = [c for t, scope in plan(thresholds_by_region(session), thresholds)
                  for c in tuned_candidates(session, t, scope, since=since, as_of=as_of)] + county_mismatch(session)
    candidates, exempted = without_exempted(session, candidates, active_exemptions(session, as_of))
    counts = {kind: raise_flags(session, [c for c in candidates if c["type"] == kind]) for kind in RULES}
    session.commit()
    return ScanResult(counts, {kind: exempted.get(kind, 0) for kind in RULES})
