"""Routine monitoring of fund spending (基金支出常态化分析): by drug, pharmacy or county, by month."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from dualchannel import adcodes, clock
from dualchannel.audit.sql import calendar_month
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.institutions import services as institutions
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.prescriptions.rules import REASONS
from dualchannel.settlements import services as settlements
from dualchannel.settlements.rules import IN_FORCE

PARTS = ("total", "basic_fund", "critical_illness", "medical_assistance", "patient_pays")


@dataclass
class SpendingRow:
    key: str
    name: str
    month: str
    settlements: int
    quantity: int
    total: Decimal
    basic_fund: Decimal
    critical_illness: Decimal
    medical_assistance: Decimal
    patient_pays: Decimal
    fund: Decimal  # what the three funds paid together
    change: Decimal | None  # fund spending against the previous month of the same key (share)


def spending(session: Session, actor: Actor, *, by: str, region: str | None = None,
             start: date | None = None, end: date | None = None) -> list[SpendingRow]:
    """Spending of settlements in force, grouped by `by` (drug, pharmacy or county) and month.

    A bureau sees what its funds pay: the settlements of the patients insured in its region,
    wherever the pharmacy stands (a claim of a patient filed elsewhere, 异地就医备案, is paid by
    the insured place: seed 003 三(三)); `region` narrows further by the same rule.
    """
    actor.require(Role.admin, Role.bureau)
    settlement, line = settlements.settlement_view(), settlements.settlement_line_view()
    key = {"drug": line.c.drug_code, "pharmacy": settlement.c.pharmacy_code, "county": settlement.c.pharmacy_county}[by]
    month = calendar_month(settlement.c.settled_on)
    statement = (
        sa.select(key.label("key"), month.label("month"),
                  sa.func.count(sa.distinct(settlement.c.id)).label("settlements"),
                  sa.func.sum(line.c.quantity).label("quantity"),
                  *(sa.func.sum(line.c[part]).label(part) for part in PARTS))
        .select_from(line)
        .join(settlement, settlement.c.id == line.c.settlement_id)
        .where(settlement.c.status.in_([s.value for s in IN_FORCE]))
        .group_by(key, month)
        .order_by(key, month)
    )
    if actor.role is Role.bureau:
        statement = statement.where(settlement.c.patient_region.startswith(adcodes.prefix(actor.subject)))
    if region:
        statement = statement.where(settlement.c.patient_region.startswith(adcodes.prefix(region)))
    if start:
        statement = statement.where(settlement.c.settled_on >= start)
    if end:
        statement = statement.where(settlement.c.settled_on <= end)
    rows = session.execute(statement).mappings().all()
    names = _names(session, by, {r["key"] for r in rows})
    out: list[SpendingRow] = []
    for r in rows:
        parts = {part: r[part] or Decimal("0") for part in PARTS}  # sums keep the Money type
        fund = parts["basic_fund"] + parts["critical_illness"] + parts["medical_assistance"]
        previous = out[-1] if out and out[-1].key == r["key"] and _follows(out[-1].month, r["month"]) else None
        change = ((fund - previous.fund) / previous.fund).quantize(Decimal("0.0001")) \
            if previous and previous.fund else None
        out.append(SpendingRow(key=r["key"], name=names.get(r["key"], r["key"]), month=r["month"],
                               settlements=r["settlements"], quantity=int(r["quantity"] or 0), fund=fund,
                               change=change, **{p: v.quantize(Decimal("0.01")) for p, v in parts.items()}))
    return out


def _follows(previous: str, month: str) -> bool:
    year, number = map(int, previous.split("-"))
    return month == (f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}")


def _names(session: Session, by: str, keys: set[str]) -> dict[str, str]:
    if by == "drug":
        return drugs.names(session, keys)
    if by == "pharmacy":
        return pharmacies.names(session, keys)
    return {k: county.name for k in keys if (county := geo_boundaries.current().get(k))}


@dataclass
class ReasonRow:
    action: str
    reason_code: str
    label: str
    actor: str  # who gave it: "pharmacy:P370811001", "physician:D370811001"
    name: str
    count: int


def reasons(session: Session, actor: Actor, *, region: str | None = None, start: date | None = None,
            end: date | None = None) -> dict:
    """Returns, cancellations and not-dispensed outcomes counted by reason code, per action and
    per pharmacy or physician who gave it, most frequent first: the prescriptions the bureau
    may read (its region's patients), `region` narrowing further, on China dates. Returns
    `{"totals": [per action and code], "items": [ReasonRow]}`."""
    actor.require(Role.admin, Role.bureau)
    rows = prescriptions.reason_counts(session, actor, region=region,
                                       since=clock.start_of_day(start) if start else None,
                                       before=clock.start_of_day(end + timedelta(days=1)) if end else None)
    codes = {r["actor"].partition(":")[2] for r in rows}
    names = {**pharmacies.names(session, codes), **institutions.physician_names(session, codes)}
    out = [ReasonRow(action=r["action"], reason_code=r["reason_code"], actor=r["actor"],
                     label=REASONS[r["reason_code"]].label if r["reason_code"] in REASONS else r["reason_code"],
                     name=names.get(r["actor"].partition(":")[2], r["actor"]), count=r["count"]) for r in rows]
    totals: dict[tuple, dict] = {}
    for row in out:
        total = totals.setdefault((row.action, row.reason_code), {"action": row.action, "reason_code": row.reason_code,
                                                                  "label": row.label, "count": 0})
        total["count"] += row.count
    return {"totals": sorted(totals.values(), key=lambda t: (-t["count"], t["action"], t["reason_code"])),
            "items": sorted(out, key=lambda row: (-row.count, row.action, row.reason_code, row.actor))}
