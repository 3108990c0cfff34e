"""Execution monitoring (seed 002 二(九)): progress against the time-elapsed schedule (序时进度),
the non-selected share of each generic, the selected-vs-non-selected rule with its exemptions,
automatic alerts, and monthly or quarterly reports for a region.

Everything is computed per line (institution × product × agreement year) with set-based SQL:
a line carries running totals of its purchases, so the progress of a whole province is one
pass over its lines; for a past `as_of`, the purchases dated after it are subtracted in one
grouped query. Python applies the rules only to the few rows a page shows and to the groups
that SQL has already found suspect.

Dates: `as_of` is a date; purchases dated on or before it count, and the schedule share is the
elapsed share of the agreement year at the start of that day (rules.schedule_share), so
`as_of=2026-07-01` reads "the first half of a year started on 1 January is over". The
agreement year shown for a batch is the one containing `as_of` (the last one after the cycle).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock
from dualchannel.api import decode_cursor, encode_cursor
from dualchannel.auth import Actor, Role
from dualchannel.errors import NotFound
from dualchannel.flags import services as flags
from dualchannel.flags.models import Flag, FlagStatus
from dualchannel.procurement import rules, supply
from dualchannel.procurement.models import Batch, Line, Product, Purchase, SupplyProblem
from dualchannel.procurement.services import institution_names, setting, view_region, visible_lines

BEHIND = "procurement_behind_schedule"
NON_SELECTED_HIGH = "non_selected_share_high"
SCALE = 10**6  # shares have 6 decimal places (rules.SHARE_QUANTUM)
FEN = Decimal("0.01")


@dataclass(frozen=True)
class YearInView:
    """The agreement year of a batch that a report at `as_of` shows, with its schedule share."""

    batch: Batch
    start: date
    end: date  # exclusive
    schedule: Decimal


def years_in_view(session: Session, as_of: date, batch_code: str | None = None) -> list[YearInView]:
    """For each batch whose cycle has begun by `as_of`: the agreement year containing it (the
    last year once the cycle is over) and the elapsed schedule share of that year."""
    statement = select(Batch).order_by(Batch.id)
    if batch_code:
        statement = statement.where(Batch.code == batch_code)
    batches = list(session.exec(statement))
    if batch_code and not batches:
        raise NotFound(f"No batch {batch_code}.")
    years = []
    for batch in batches:
        if as_of < batch.cycle_start:
            continue
        if as_of > batch.cycle_end:
            start, end = rules.agreement_years(batch.cycle_start, batch.cycle_end)[-1]
        else:
            start, end = rules.agreement_year(batch.cycle_start, batch.cycle_end, as_of)
        years.append(YearInView(batch, start, end, rules.schedule_share(start, end, as_of)))
    return years


def _per_batch(years: list[YearInView], values: dict[int, int]):
    return sa.cast(sa.case(values, value=Line.batch_id, else_=0), sa.BigInteger)


def progress(years: list[YearInView], as_of: date, condition, tolerance: Decimal):
    """One row per line of the years in view satisfying `condition`: purchases and amount (in
    fen) as of `as_of`, and `behind` (1/0) exactly as `rules.behind_schedule` decides it.

    behind ⇔ round_half_even(10^6·p/a) < K with K = 10^6·(schedule − tolerance), which in
    integers is 2·10^6·p < (2K−1)·a, or equality with K odd (the tie rounds to the even K−1).
    A line without an agreed volume, or with 0, is never behind.
    """
    later_than = (select(Purchase.line_id.label("line_id"), sa.func.sum(Purchase.quantity).label("q"),
                         sa.func.sum(sa.type_coerce(Purchase.amount, sa.BigInteger)).label("a"))
                  .where(Purchase.purchased_on > as_of, Purchase.purchased_on < max(y.end for y in years))
                  .group_by(Purchase.line_id).subquery("later"))
    purchased = sa.cast(Line.purchased, sa.BigInteger) - sa.func.coalesce(later_than.c.q, 0)
    amount = sa.type_coerce(Line.purchased_amount, sa.BigInteger) - sa.func.coalesce(later_than.c.a, 0)
    agreed = sa.cast(Line.agreed, sa.BigInteger)
    k = _per_batch(years, {y.batch.id: int((y.schedule - tolerance).quantize(rules.SHARE_QUANTUM) * SCALE)
                           for y in years})
    schedule = _per_batch(years, {y.batch.id: int(y.schedule * SCALE) for y in years})
    twice = 2 * SCALE * purchased
    behind = sa.and_(agreed > 0, sa.or_(twice < (2 * k - 1) * agreed,
                                        sa.and_(twice == (2 * k - 1) * agreed, k % 2 == 1)))
    gap = sa.case((agreed > 0, sa.cast(schedule, sa.Float) - sa.cast(purchased * SCALE, sa.Float) / agreed),
                  else_=None)
    in_view = sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start) for y in years))
    return (select(Line.id.label("line_id"), Line.institution_code, Line.region, Line.product_id, Line.batch_id,
                   Line.year_start, Line.year_end, Line.agreed, purchased.label("purchased"),
                   amount.label("amount_fen"), sa.case((behind, 1), else_=0).label("behind"), gap.label("gap"))
            .select_from(Line).outerjoin(later_than, later_than.c.line_id == Line.id)
            .where(in_view, condition))


def region_condition(column, region: str | None):
    return sa.true() if region is None else column.startswith(adcodes.prefix(region))


def _fen(value) -> Decimal:
    return (Decimal(int(value or 0)) * FEN).quantize(FEN)


# ---------------------------------------------------------------------------
# Selected vs non-selected, per group (institution × batch × generic × year)
# ---------------------------------------------------------------------------


def _group_digest(generic_name: str) -> str:
    return hashlib.sha1(generic_name.encode()).hexdigest()[:16]


def non_selected_key(institution_code: str, batch_id: int, generic_name: str, year_start: date) -> str:
    return f"{NON_SELECTED_HIGH}:{institution_code}:{batch_id}:{year_start}:{_group_digest(generic_name)}"


def behind_key(line_id: int) -> str:
    return f"{BEHIND}:{line_id}"


def _merge(intervals: list[tuple[date, date]]) -> list[tuple[date, date]]:
    merged: list[list[date]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def assess_groups(session: Session, keys: set[tuple], years: list[YearInView], as_of: date) -> dict:
    """`rules.assess_selection_compliance` for each group key ``(institution_code, batch_id,
    generic_name, year_start)``: ``{key: ComplianceResult or None}`` (None: the group has no
    selected product to compare with).

    Per group: the selected price is the highest selected price per common unit (as seed 004
    二(二) takes the category's highest for consumables); a consumable's non-selected product
    by a selected company is held to that company's own selected price; non-selected purchases
    dated within a bureau-confirmed supply problem of the group at the institution (from its
    report to its resolution) are exempt; the agreed volume is completed when the selected
    purchases reach the agreed volumes of the group's selected products.
    """
    if not keys:
        return {}
    by_batch = {y.batch.id: y for y in years}
    years = [by_batch[b] for b in {k[1] for k in keys} if b in by_batch]
    institutions = {k[0] for k in keys}
    products = {p.id: p for p in session.exec(select(Product).where(
        Product.batch_id.in_([y.batch.id for y in years]), Product.generic_name.in_({k[2] for k in keys})))}
    if not years or not products:
        return {k: None for k in keys}
    rows = session.execute(progress(years, as_of, sa.and_(Line.institution_code.in_(institutions),
                                                          Line.product_id.in_(products)), Decimal(0))).all()
    grouped = defaultdict(list)
    for row in rows:
        product = products[row.product_id]
        key = (row.institution_code, row.batch_id, product.generic_name, row.year_start)
        if key in keys:
            grouped[key].append(row)

    # Confirmed supply problems: their periods per (institution, batch, generic), merged.
    periods = defaultdict(list)
    problems = session.exec(select(SupplyProblem, Product).join(Product, Product.id == SupplyProblem.product_id).where(
        SupplyProblem.confirmed_on.is_not(None), SupplyProblem.institution_code.in_(institutions),
        Product.batch_id.in_([y.batch.id for y in years]), SupplyProblem.reported_on <= as_of)).all()
    for problem, product in problems:
        end = min(problem.resolved_on or as_of, as_of)
        periods[(problem.institution_code, product.batch_id, product.generic_name)].append((problem.reported_on, end))
    exempt: dict[int, tuple[int, int]] = {}
    for (institution, batch_id, generic), spans in periods.items():
        line_ids = [r.line_id for key, group in grouped.items() if key[:3] == (institution, batch_id, generic)
                    for r in group if products[r.product_id].status != rules.ProductStatus.SELECTED]
        if not line_ids:
            continue
        during = sa.or_(*(Purchase.purchased_on.between(s, e) for s, e in _merge(spans)))
        for line_id, quantity, amount in session.execute(
                select(Purchase.line_id, sa.func.sum(Purchase.quantity),
                       sa.func.sum(sa.type_coerce(Purchase.amount, sa.BigInteger)))
                .where(Purchase.line_id.in_(line_ids), Purchase.purchased_on <= as_of, during)
                .group_by(Purchase.line_id)):
            exempt[line_id] = (int(quantity), int(amount))

    results = {}
    for key in keys:
        institution, batch_id, generic, _ = key
        members = [p for p in products.values() if p.batch_id == batch_id and p.generic_name == generic]
        selected = [p for p in members if p.status == rules.ProductStatus.SELECTED]
        if not selected:
            results[key] = None
            continue
        batch = by_batch[batch_id].batch
        own_price: dict[str, Decimal] = {}
        for p in selected:
            own_price[p.manufacturer] = max(own_price.get(p.manufacturer, Decimal(0)), p.price / p.conversion)
        records, agreed, completed = [], Decimal(0), Decimal(0)
        for row in grouped.get(key, []):
            product = products[row.product_id]
            if product.status == rules.ProductStatus.SELECTED:
                agreed += (row.agreed or 0) * product.conversion
                completed += row.purchased * product.conversion
            held_to = (own_price.get(product.manufacturer) if batch.kind == rules.ProcurementKind.CONSUMABLE
                       and product.status != rules.ProductStatus.SELECTED else None)
            attributes = dict(unit_price=product.price, status=product.status, equal_quality=product.equal_quality,
                              maker_selected_price=held_to, conversion=product.conversion)
            exempt_quantity, exempt_fen = exempt.get(row.line_id, (0, 0))
            if row.purchased - exempt_quantity > 0:
                records.append(rules.PurchaseRecord(quantity=Decimal(row.purchased - exempt_quantity),
                                                    amount=_fen(row.amount_fen - exempt_fen), **attributes))
            if exempt_quantity:
                records.append(rules.PurchaseRecord(quantity=Decimal(exempt_quantity), amount=_fen(exempt_fen),
                                                    during_confirmed_supply_problem=True, **attributes))
        results[key] = rules.assess_selection_compliance(
            records, selected_price=max(own_price.values()), agreed=agreed, completed=completed, kind=batch.kind)
    return results


def _non_selected_candidates(session: Session, years: list[YearInView], as_of: date, condition,
                             threshold: Decimal) -> set[tuple]:
    """Groups whose RAW non-selected share (before any exemption) exceeds `threshold`.

    Exemptions only move purchases off the non-selected side or onto the selected side, so the
    assessed share never exceeds the raw one: every group the rules would alert on is here.
    """
    p = progress(years, as_of, condition, Decimal(0)).subquery("p")
    units = p.c.purchased * sa.type_coerce(Product.conversion, sa.BigInteger)
    selected = sa.func.sum(sa.case((Product.status == rules.ProductStatus.SELECTED.value, units), else_=0))
    non_selected = sa.func.sum(sa.case((Product.status == rules.ProductStatus.NON_SELECTED.value, units), else_=0))
    numerator, denominator = Fraction(threshold).as_integer_ratio()
    rows = session.execute(
        select(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
        .join(Product, Product.id == p.c.product_id)
        .group_by(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
        .having(non_selected * denominator > numerator * (selected + non_selected)))
    return {tuple(row) for row in rows}


# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------


def _open_flags(session: Session, type_: str, region: str | None):
    return session.execute(select(Flag.dedup_key, Flag.evidence).where(
        Flag.type == type_, Flag.status == FlagStatus.open.value, region_condition(Flag.region, region))).all()


def _evaluated_since(evidence: dict, years: list[YearInView], as_of: date) -> bool:
    """Whether an evaluation at `as_of` may resolve a flag: its year is in view and it was not
    raised by an evaluation at a later date (looking back must not close today's alerts)."""
    in_view = any(y.batch.id == evidence.get("batch_id") and y.start.isoformat() == evidence.get("year_start")
                  for y in years)
    return in_view and evidence.get("as_of", "") <= as_of.isoformat()


def sync_alerts(session: Session, *, region: str | None, as_of: date, today: date | None = None) -> tuple[int, int]:
    """Raise due alerts and resolve those whose condition no longer holds, for a region (None:
    everywhere) at `as_of`, then commit. Returns ``(raised, resolved)``.

    - `procurement_behind_schedule`, one per line behind its schedule;
    - `non_selected_share_high`, one per institution × generic × year whose assessed
      non-selected share exceeds `PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD`;
    - `supply_overdue` from `supply.sync_alerts` (dated `today`, the real deadlines).

    An open alert whose condition no longer holds is `resolved` (see flags.resolve_flags), so
    a relapse raises a new one.
    """
    years = years_in_view(session, as_of)
    raised = resolved = 0
    if years:
        r1, s1 = _sync_behind(session, years, region, as_of)
        r2, s2 = _sync_non_selected(session, years, region, as_of)
        raised, resolved = r1 + r2, s1 + s2
    r3, s3 = supply.sync_alerts(session, region=region, today=today or clock.today())
    session.commit()
    return raised + r3, resolved + s3


def _product_codes(session: Session, years: list[YearInView]) -> dict[int, Product]:
    return {p.id: p for p in session.exec(select(Product).where(Product.batch_id.in_([y.batch.id for y in years])))}


def _sync_behind(session: Session, years: list[YearInView], region: str | None, as_of: date) -> tuple[int, int]:
    tolerance = setting("BEHIND_TOLERANCE")
    p = progress(years, as_of, region_condition(Line.region, region), tolerance).subquery("p")
    behind_rows = session.execute(select(p).where(p.c.behind == 1)).all()
    products, by_batch = _product_codes(session, years), {y.batch.id: y for y in years}
    alerts = []
    for row in behind_rows:
        year, product = by_batch[row.batch_id], products[row.product_id]
        completed = rules.completed_share(row.agreed, row.purchased)
        alerts.append({
            "type": BEHIND, "severity": "medium", "subject": f"institution:{row.institution_code}",
            "region": row.region, "dedup_key": behind_key(row.line_id),
            "evidence": {"line_id": row.line_id, "institution_code": row.institution_code,
                         "product_code": product.code, "generic_name": product.generic_name,
                         "batch_id": row.batch_id, "batch_code": year.batch.code,
                         "year_start": row.year_start.isoformat(), "year_end": row.year_end.isoformat(),
                         "agreed": row.agreed, "purchased": row.purchased, "completed_share": str(completed),
                         "schedule_share": str(year.schedule), "tolerance": str(tolerance),
                         "as_of": as_of.isoformat(),
                         "rule": "seed 002 二(九): 中选产品采购进度低于序时进度"}})
    raised = flags.raise_flags(session, alerts)
    still_behind = {behind_key(row.line_id) for row in behind_rows}
    stale = [key for key, evidence in _open_flags(session, BEHIND, region)
             if key not in still_behind and _evaluated_since(evidence, years, as_of)]
    return raised, flags.resolve_flags(session, stale, f"Back on schedule as of {as_of}.")


def _sync_non_selected(session: Session, years: list[YearInView], region: str | None,
                       as_of: date) -> tuple[int, int]:
    threshold = setting("NON_SELECTED_SHARE_THRESHOLD")
    keys = _non_selected_candidates(session, years, as_of, region_condition(Line.region, region), threshold)
    open_flags = [(key, evidence) for key, evidence in _open_flags(session, NON_SELECTED_HIGH, region)
                  if _evaluated_since(evidence, years, as_of)]
    for _, evidence in open_flags:
        keys.add((evidence["institution_code"], evidence["batch_id"], evidence["generic_name"],
                  date.fromisoformat(evidence["year_start"])))
    results = assess_groups(session, keys, years, as_of)
    regions = dict(session.execute(select(Line.institution_code, Line.region)
                                   .where(Line.institution_code.in_({k[0] for k in keys}))).all()) if keys else {}
    by_batch, alerts = {y.batch.id: y for y in years}, []
    for key, result in results.items():
        if result is None or result.non_selected_share <= threshold:
            continue
        institution, batch_id, generic, year_start = key
        alerts.append({
            "type": NON_SELECTED_HIGH, "severity": "medium", "subject": f"institution:{institution}",
            "region": regions[institution], "dedup_key": non_selected_key(*key),
            "evidence": {"institution_code": institution, "batch_id": batch_id,
                         "batch_code": by_batch[batch_id].batch.code, "generic_name": generic,
                         "year_start": year_start.isoformat(), "as_of": as_of.isoformat(),
                         "non_selected_share": str(result.non_selected_share), "threshold": str(threshold),
                         "selected_quantity": str(result.selected_quantity),
                         "non_selected_quantity": str(result.non_selected_quantity),
                         "compliant": result.compliant, "reasons": list(result.reasons),
                         "rule": "seed 002 二(九): 非中选产品采购量占同品种总采购量比例偏高"}})
    raised = flags.raise_flags(session, alerts)
    high = {alert["dedup_key"] for alert in alerts}
    stale = [key for key, _ in open_flags if key not in high]
    return raised, flags.resolve_flags(session, stale, f"Non-selected share back within the threshold as of {as_of}.")


# ---------------------------------------------------------------------------
# The execution report
# ---------------------------------------------------------------------------


def execution_report(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                     institution_code: str | None = None, product_code: str | None = None,
                     batch: str | None = None, behind: bool | None = None, alerts: bool = True,
                     limit: int | None = None, cursor: str | None = None) -> dict:
    """Progress per product × institution × agreement year, alerts first.

    Lines behind schedule come first, most behind first; then the rest. For a bureau (or an
    admin) asking for the first page, due alerts of the whole region are raised and stale ones
    resolved before the report is read (`alerts=false` skips that). An institution sees its own
    lines. Pages are offsets into the ordered report (`cursor`).
    """
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    raised = resolved = 0
    if alerts and cursor is None and actor.role in (Role.admin, Role.bureau):
        raised, resolved = sync_alerts(session, region=region, as_of=as_of)
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region))
    if institution_code:
        condition = sa.and_(condition, Line.institution_code == institution_code)
    if product_code:
        condition = sa.and_(condition, Line.product_id == select(Product.id).where(Product.code == product_code)
                            .scalar_subquery())
    report = {"region": region, "as_of": as_of, "alerts_raised": raised, "alerts_resolved": resolved,
              "years": [{"batch_code": y.batch.code, "year_start": y.start, "year_end": y.end,
                         "schedule_share": y.schedule} for y in years],
              "summary": {"lines": 0, "with_agreement": 0, "behind": 0, "open_alerts": {}},
              "items": [], "next_cursor": None}
    if actor.role in (Role.admin, Role.bureau):
        report["summary"]["open_alerts"] = dict(session.execute(
            select(Flag.type, sa.func.count()).where(
                Flag.status == FlagStatus.open.value, region_condition(Flag.region, region),
                Flag.type.in_([BEHIND, NON_SELECTED_HIGH, supply.SUPPLY_OVERDUE])).group_by(Flag.type)).all())
    if not years:
        return report
    p = progress(years, as_of, condition, setting("BEHIND_TOLERANCE")).subquery("p")
    totals = session.execute(select(sa.func.count(), sa.func.count(p.c.agreed), sa.func.sum(p.c.behind))).one()
    report["summary"].update(lines=totals[0], with_agreement=totals[1], behind=int(totals[2] or 0))
    statement = select(p)
    if behind is not None:
        statement = statement.where(p.c.behind == int(behind))
    limit, offset = limit or 50, decode_cursor(cursor) or 0
    rows = session.execute(statement.order_by(p.c.behind.desc(), sa.func.coalesce(p.c.gap, -1e18).desc(),
                                              p.c.line_id).limit(limit + 1).offset(offset)).all()
    if len(rows) > limit:
        rows, report["next_cursor"] = rows[:limit], encode_cursor(offset + limit)
    report["items"] = _items(session, rows, years, as_of)
    return report


def _items(session: Session, rows, years: list[YearInView], as_of: date) -> list[dict]:
    if not rows:
        return []
    by_batch = {y.batch.id: y for y in years}
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_({r.product_id for r in rows})))}
    names = institution_names(session, {r.institution_code for r in rows})
    keys = {(r.institution_code, r.batch_id, products[r.product_id].generic_name, r.year_start) for r in rows}
    compliance = assess_groups(session, keys, years, as_of)
    alert_keys = {behind_key(r.line_id) for r in rows} | {non_selected_key(*k) for k in keys}
    open_keys = set(session.exec(select(Flag.dedup_key).where(Flag.dedup_key.in_(alert_keys),
                                                              Flag.status == FlagStatus.open.value)))
    tolerance = setting("BEHIND_TOLERANCE")
    items = []
    for row in rows:
        year, product = by_batch[row.batch_id], products[row.product_id]
        key = (row.institution_code, row.batch_id, product.generic_name, row.year_start)
        completed = None if row.agreed is None else rules.completed_share(row.agreed, row.purchased)
        result = compliance.get(key)
        items.append({
            "line_id": row.line_id, "institution_code": row.institution_code,
            "institution_name": names.get(row.institution_code), "region": row.region,
            "batch_code": year.batch.code, "product_code": product.code, "product_name": product.name,
            "generic_name": product.generic_name, "manufacturer": product.manufacturer, "status": product.status,
            "year_start": row.year_start, "year_end": row.year_end, "agreed": row.agreed,
            "purchased": row.purchased, "purchased_amount": _fen(row.amount_fen),
            "completed_share": completed, "schedule_share": year.schedule,
            "behind": completed is not None and rules.behind_schedule(completed, year.schedule, tolerance),
            "non_selected_share": result.non_selected_share if result else None,
            "compliant": result.compliant if result else None,
            "compliance": None if result is None else {
                "non_selected_share": result.non_selected_share, "compliant": result.compliant,
                "selected_quantity": result.selected_quantity,
                "non_selected_quantity": result.non_selected_quantity, "reasons": list(result.reasons)},
            "alerts": sorted(t for t, k in ((BEHIND, behind_key(row.line_id)), (NON_SELECTED_HIGH, non_selected_key(*key)))
                             if k in open_keys),
        })
    return items


# ---------------------------------------------------------------------------
# Monthly and quarterly reports
# ---------------------------------------------------------------------------


def calendar_periods(start: date, end: date, period: str) -> list[tuple[date, date]]:
    """Calendar months or quarters overlapping ``[start, end)``, clipped to it."""
    bounds = rules.month_bounds if period == "month" else rules.quarter_bounds
    periods, cursor = [], start
    while cursor < end:
        period_start, period_end = bounds(cursor)
        periods.append((max(period_start, start), min(period_end, end)))
        cursor = period_end
    return periods


def _label(start: date, period: str) -> str:
    return f"{start:%Y-%m}" if period == "month" else f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def period_report(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                  period: str = "month", batch: str | None = None) -> dict:
    """Purchases per product and calendar month (or quarter) of the agreement years in view,
    up to `as_of`, with the cumulative completion against the region's agreed volume and the
    schedule share at each period's end (seed 001 二(八): 按月监测、季度结算)."""
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    report = {"region": region, "as_of": as_of, "period": period, "items": []}
    if not years:
        return report
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region),
                        sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start) for y in years)))
    first = min(y.start for y in years)
    starts = [s for s, _ in calendar_periods(first, as_of + timedelta(days=1), period)]
    bucket = sa.case(*((Purchase.purchased_on < s, i) for i, s in enumerate(starts[1:])), else_=len(starts) - 1)
    bought = defaultdict(lambda: [0, 0])
    for product_id, year_start, index, quantity, fen in session.execute(
            select(Line.product_id, Line.year_start, bucket, sa.func.sum(Purchase.quantity),
                   sa.func.sum(sa.type_coerce(Purchase.amount, sa.BigInteger)))
            .join(Line, Line.id == Purchase.line_id).where(condition, Purchase.purchased_on <= as_of)
            .group_by(Line.product_id, Line.year_start, bucket)):
        bought[(product_id, year_start, starts[index])] = [int(quantity), int(fen)]
    agreed = {(pid, ys): int(total or 0) for pid, ys, total in session.execute(
        select(Line.product_id, Line.year_start, sa.func.sum(Line.agreed)).where(condition)
        .group_by(Line.product_id, Line.year_start))}
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_({k[0] for k in agreed})))}
    by_batch = {y.batch.id: y for y in years}
    for (product_id, year_start), volume in sorted(agreed.items(), key=lambda kv: (products[kv[0][0]].code, kv[0][1])):
        product = products[product_id]
        year = by_batch[product.batch_id]
        cumulative = 0
        for start, end in calendar_periods(year.start, min(year.end, as_of + timedelta(days=1)), period):
            calendar_start = (rules.month_bounds if period == "month" else rules.quarter_bounds)(start)[0]
            quantity, fen = bought.get((product_id, year_start, max(calendar_start, first)), (0, 0))
            cumulative += quantity
            at = end if end <= as_of else as_of
            report["items"].append({
                "period": _label(start, period), "period_start": start, "period_end": end,
                "batch_code": year.batch.code, "year_start": year.start, "product_code": product.code,
                "product_name": product.name, "generic_name": product.generic_name, "status": product.status,
                "purchased": quantity, "amount": _fen(fen), "cumulative_purchased": cumulative, "agreed": volume,
                "completed_share": rules.completed_share(volume, cumulative) if volume else None,
                "schedule_share": rules.schedule_share(year.start, year.end, at)})
    return report


REPORT_COLUMNS = ["period", "period_start", "period_end", "batch_code", "year_start", "product_code", "product_name",
                  "generic_name", "status", "purchased", "amount", "cumulative_purchased", "agreed",
                  "completed_share", "schedule_share"]
