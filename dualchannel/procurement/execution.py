"""Execution monitoring (seed 002 二(九)): progress against the time-elapsed schedule (序时进度),
the non-selected share of each generic, the selected-vs-non-selected rule with its exemptions,
automatic alerts, and monthly or quarterly reports for a region.

Everything is computed per line (institution × product × agreement year) with set-based SQL.
A line carries running totals of its purchases for the year and for each month of it, so the
progress of a whole province at any date is one pass over its lines plus one grouped query
over the purchases of the month containing that date (counted forwards from the month's start
or backwards from its end, whichever is shorter). Python applies the rules only to the rows a
page shows and to the groups SQL has already found suspect.

Dates: `as_of` is a date; purchases dated on or before it count, and the schedule share is the
elapsed share of the agreement year at the start of that day (rules.schedule_share), so
`as_of=2026-07-01` reads "the first half of a year started on 1 January is over". The
agreement year shown for a batch is the one containing `as_of` (the last one after the cycle).
Reports and the ledger go by months and quarters of the agreement year (month 1 starts on the
year's start), the months the schedule counts in.
"""

import functools
import hashlib
import operator
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.api import decode_cursor, encode_cursor
from dualchannel.auth import Actor, Role
from dualchannel.errors import NotFound
from dualchannel.flags import services as flags
from dualchannel.flags.models import Flag, FlagStatus
from dualchannel.procurement import rules, supply
from dualchannel.procurement.models import MONTHS, Batch, Line, Product, Purchase, SupplyProblem, month_column
from dualchannel.procurement.services import (
    institution_names,
    setting,
    view_region,
    visible_lines,
    within,
    year_containing,
    years_of,
)

BEHIND = "procurement_behind_schedule"
NON_SELECTED_HIGH = "non_selected_share_high"
SCALE = 10**6  # shares have 6 decimal places (rules.SHARE_QUANTUM)
FEN = Decimal("0.01")


@dataclass(frozen=True)
class YearInView:
    """The agreement year of a batch that a report at `as_of` shows, with its schedule share.

    `month` is the index of the month containing `as_of`, None when the year is over by then.
    `complete`: every purchase dated up to `as_of` is in the lines' totals — the year is over,
    or `as_of` is today or later (no purchase is dated after the day it is recorded). Otherwise
    the purchases of that month up to `as_of` are read from the purchases themselves, `forward`
    (from the month's start) or backwards (the month's total less those after `as_of`),
    whichever covers fewer days; `partial` is that range (inclusive). `together` maps each
    selected product of the batch assessed with another (rules.assessment_group: one company's
    products of one generic) to its group, the smallest product id of the group.
    """

    batch: Batch
    start: date
    end: date  # exclusive
    schedule: Decimal
    months: tuple[tuple[date, date], ...]
    month: int | None
    forward: bool
    complete: bool
    as_of: date
    together: Mapping[int, int] = field(default_factory=dict)

    @property
    def partial(self) -> tuple[date, date] | None:
        if self.complete:
            return None
        month_start, month_end = self.months[self.month]
        if self.forward:
            return month_start, self.as_of
        return self.as_of + timedelta(days=1), month_end - timedelta(days=1)


def year_in_view(batch: Batch, as_of: date, today: date) -> YearInView | None:
    """The agreement year of `batch` to show at `as_of`; None before its cycle."""
    if as_of < batch.cycle_start:
        return None
    if as_of > batch.cycle_end:
        start, end = years_of(batch)[-1]
    else:
        start, end = year_containing(batch, as_of)
    months = tuple(rules.agreement_months(start, end))
    month, forward, over = None, True, as_of >= end - timedelta(days=1)
    if not over:
        month = rules.month_of_year(start, end, as_of)
        month_start, month_end = months[month]
        forward = (as_of - month_start) <= (month_end - timedelta(days=1) - as_of)
    return YearInView(batch, start, end, rules.schedule_share(start, end, as_of), months, month, forward,
                      over or as_of >= today, as_of)


def years_in_view(session: Session, as_of: date, batch_code: str | None = None) -> list[YearInView]:
    """For each batch whose cycle has begun by `as_of`: the agreement year containing it (the
    last year once the cycle is over) and the elapsed schedule share of that year."""
    statement = select(Batch).order_by(Batch.id)
    if batch_code:
        statement = statement.where(Batch.code == batch_code)
    batches = list(session.exec(statement))
    if batch_code and not batches:
        raise NotFound(f"No batch {batch_code}.", code="batch_not_found")
    today = clock.today()
    years = [y for y in (year_in_view(b, as_of, today) for b in batches) if y is not None]
    groups: dict[tuple, list[int]] = defaultdict(list)
    if years:
        for product_id, batch_id, status, generic_name, manufacturer in session.execute(
                select(Product.id, Product.batch_id, Product.status, Product.generic_name, Product.manufacturer)
                .where(Product.batch_id.in_([y.batch.id for y in years]),
                       Product.status == rules.ProductStatus.SELECTED.value)):
            groups[(batch_id, rules.assessment_group(status, generic_name, manufacturer))].append(product_id)
    together: dict[int, dict[int, int]] = defaultdict(dict)
    for (batch_id, _), members in groups.items():
        if len(members) > 1:
            together[batch_id].update(dict.fromkeys(members, min(members)))
    return [replace(y, together=together[y.batch.id]) for y in years]


def _per_batch(values: dict[int, object]):
    """A value chosen by the line's batch (the lines are already restricted to these batches)."""
    if len(values) == 1:  # the usual single batch in view: no CASE to evaluate per row
        value, = values.values()
        return sa.cast(value if isinstance(value, sa.ColumnElement) else sa.literal(value), sa.BigInteger)
    return sa.cast(sa.case(values, value=Line.batch_id, else_=0), sa.BigInteger)


def _raw(column):
    return sa.type_coerce(column, sa.BigInteger)  # money as integer fen, not Decimal


def _months_through(kind: str, count: int):
    """The sum of a line's first `count` month columns of `kind` (q or a)."""
    columns = [_raw(getattr(Line, month_column(kind, i))) for i in range(count)]
    return functools.reduce(operator.add, columns) if columns else sa.literal(0, sa.BigInteger)


def _counted(years: list[YearInView], kind: str, total):
    """Per line, from its own columns: purchases of the months counted whole at `as_of`."""
    values = {}
    for y in years:
        if y.complete:
            values[y.batch.id] = _raw(total)
        else:
            values[y.batch.id] = _months_through(kind, y.month + (0 if y.forward else 1))
    return _per_batch(values)


def in_view(years: list[YearInView]):
    """Lines of the agreement years in view."""
    return sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start) for y in years))


def _partial_purchases(years: list[YearInView], condition, *keys):
    """Purchases of the partial months (per year in view), grouped by `keys`; None when no
    year has a partial month. Joined to the lines so that only the lines in scope are read."""
    ranges = [(y, y.partial) for y in years if y.partial is not None and y.partial[0] <= y.partial[1]]
    if not ranges:
        return None
    return (select(*keys, sa.func.sum(Purchase.quantity).label("q"), sa.func.sum(_raw(Purchase.amount)).label("a"))
            .select_from(Purchase).join(Line, Line.id == Purchase.line_id)
            .join(Product, Product.id == Line.product_id)
            .where(condition, sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start,
                                               Purchase.purchased_on.between(lo, hi)) for y, (lo, hi) in ranges)))
            .group_by(*keys))


def _sign(years: list[YearInView]):
    return _per_batch({y.batch.id: 0 if y.complete else (1 if y.forward else -1) for y in years})


def _purchases_as_of(years: list[YearInView], condition):
    """Per line satisfying `condition`: expressions of its purchases and amount (in fen) as of
    `as_of`, and the subquery of partial-month purchases they need joined on `line_id` (or None)."""
    purchased = _counted(years, "q", Line.purchased)
    amount = _counted(years, "a", Line.purchased_amount)
    partial = _partial_purchases(years, condition, Purchase.line_id)
    if partial is not None:
        partial = partial.subquery("partial")
        sign = _sign(years)
        purchased = purchased + sign * sa.func.coalesce(partial.c.q, 0)
        amount = amount + sign * sa.func.coalesce(partial.c.a, 0)
    return purchased, amount, partial


def line_progress(years: list[YearInView], as_of: date, condition):
    """One row per line of the years in view satisfying `condition`: purchases and amount (in
    fen) as of `as_of`."""
    purchased, amount, partial = _purchases_as_of(years, condition)
    statement = (select(Line.id.label("line_id"), Line.institution_code, Line.region, Line.product_id,
                        Line.batch_id, Line.year_start, Line.year_end, Line.agreed, purchased.label("purchased"),
                        amount.label("amount_fen"))
                 .select_from(Line).where(in_view(years), condition))
    if partial is not None:
        statement = statement.outerjoin(partial, partial.c.line_id == Line.id)
    return statement


def progress(years: list[YearInView], as_of: date, condition, tolerance: Decimal, group_condition=None):
    """`line_progress` with `behind` (1/0) decided exactly as `rules.behind_schedule` does on
    what the line is assessed with, and `gap` (schedule − completion, for ordering).

    Seed 002 二(四): "屬于中選結果供應清單內的同品種同企業中選產品,按照同一采購目錄進行合并考核" —
    the lines of a company's selected products of one generic (`YearInView.together`) are
    assessed as one: `group_agreed` and `group_purchased` sum the institution's agreed volumes
    and purchases of them in the year in common units (× 10^4), as rules.combined_progress
    does. Any other line is assessed alone: they are its own, in its own unit (only their
    ratio matters). `group_condition` selects the lines that may join a group when `condition`
    is narrower (a report filtered by product); default `condition`. Without products assessed
    together in view, the statement reads the lines alone, without a join.

    behind ⇔ round_half_even(10^6·p/a) < K with K = 10^6·(schedule − tolerance), which in
    integers is 2·10^6·p < (2K−1)·a, or equality with K odd (the tie rounds to the even K−1),
    with p and a the assessed purchases and agreed volume. A line without an agreed volume of
    its own, or with 0, is never behind.
    """
    purchased, amount, partial = _purchases_as_of(years, condition)
    agreed = sa.cast(Line.agreed, sa.BigInteger)
    k = _per_batch({y.batch.id: int((y.schedule - tolerance).quantize(rules.SHARE_QUANTUM) * SCALE) for y in years})
    schedule = _per_batch({y.batch.id: int(y.schedule * SCALE) for y in years})

    def behind_on(p, a):
        twice = 2 * SCALE * p
        return sa.and_(a > 0, sa.or_(twice < (2 * k - 1) * a, sa.and_(twice == (2 * k - 1) * a, k % 2 == 1)))

    def gap_of(p, a):
        return sa.case((a > 0, sa.cast(schedule, sa.Float) - sa.cast(p * SCALE, sa.Float) / sa.cast(a, sa.Float)),
                       else_=None)

    together = {product_id: group for y in years for product_id, group in y.together.items()}
    group_agreed, group_purchased = sa.func.coalesce(Line.agreed, 0), purchased
    behind, gap = behind_on(purchased, agreed), gap_of(purchased, agreed)
    if together:
        # The groups as literal rows (portable, and a hash lookup per line rather than a CASE
        # of every product): (product_id, group_id).
        mapping = sa.union_all(*(select(sa.literal(product_id, sa.Integer).label("product_id"),
                                        sa.literal(group, sa.Integer).label("group_id"))
                                 for product_id, group in sorted(together.items()))).subquery("together")
        mine = mapping.alias("mine")
        members = line_progress(years, as_of, sa.and_(condition if group_condition is None else group_condition,
                                                      Line.product_id.in_(together))).subquery("members")
        conversion = _raw(Product.conversion)
        groups = (select(members.c.institution_code, members.c.year_start, mine.c.group_id,
                         sa.func.sum(sa.cast(sa.func.coalesce(members.c.agreed, 0), sa.Numeric) * conversion
                                     ).label("agreed"),
                         sa.func.sum(sa.cast(members.c.purchased, sa.Numeric) * conversion).label("purchased"))
                  .join(mine, mine.c.product_id == members.c.product_id)
                  .join(Product, Product.id == members.c.product_id)
                  .group_by(members.c.institution_code, members.c.year_start, mine.c.group_id)).subquery("groups")
        alone = groups.c.agreed.is_(None)
        group_agreed = sa.func.coalesce(groups.c.agreed, group_agreed)
        group_purchased = sa.func.coalesce(groups.c.purchased, purchased)
        behind = sa.case((alone, behind), else_=sa.and_(agreed > 0, behind_on(groups.c.purchased, groups.c.agreed)))
        gap = sa.case((alone, gap), else_=sa.case((agreed > 0, gap_of(groups.c.purchased, groups.c.agreed)),
                                                  else_=None))
    statement = (select(Line.id.label("line_id"), Line.institution_code, Line.region, Line.product_id,
                        Line.batch_id, Line.year_start, Line.year_end, Line.agreed, purchased.label("purchased"),
                        amount.label("amount_fen"), group_agreed.label("group_agreed"),
                        group_purchased.label("group_purchased"), sa.case((behind, 1), else_=0).label("behind"),
                        gap.label("gap"))
                 .select_from(Line).where(in_view(years), condition))
    if partial is not None:
        statement = statement.outerjoin(partial, partial.c.line_id == Line.id)
    if together:
        statement = (statement.outerjoin(mapping, mapping.c.product_id == Line.product_id)
                     .outerjoin(groups, sa.and_(groups.c.institution_code == Line.institution_code,
                                                groups.c.year_start == Line.year_start,
                                                groups.c.group_id == mapping.c.group_id)))
    return statement


def monthly_totals(session: Session, years: list[YearInView], condition, *keys) -> dict[tuple, list[tuple[int, int]]]:
    """Purchases (quantity, fen) per month of the agreement year up to `as_of`, summed over
    the lines in scope per ``(*keys, batch_id)``; `keys` are columns of Line or Product."""
    if not years:
        return {}
    by_batch = {y.batch.id: y for y in years}
    sums = [sa.func.sum(getattr(Line, month_column("q", i))) for i in range(MONTHS)]
    sums += [sa.func.sum(_raw(getattr(Line, month_column("a", i)))) for i in range(MONTHS)]
    totals: dict[tuple, list[tuple[int, int]]] = {}
    for row in session.execute(select(*keys, Line.batch_id, *sums).select_from(Line)
                               .join(Product, Product.id == Line.product_id)
                               .where(in_view(years), condition).group_by(*keys, Line.batch_id)):
        *key, batch_id = row[:len(keys) + 1]
        values = [int(v or 0) for v in row[len(keys) + 1:]]
        y = by_batch[batch_id]
        shown = len(y.months) if y.month is None else y.month + 1
        totals[(*key, batch_id)] = [(values[i], values[MONTHS + i]) for i in range(shown)]
    for (*key, batch_id), months in totals.items():
        y = by_batch[batch_id]
        if not y.complete and y.forward:
            months[-1] = (0, 0)  # counted forwards: only the purchases found below
    partial = _partial_purchases(years, condition, *keys, Line.batch_id)
    if partial is not None:
        for *key, batch_id, quantity, fen in session.execute(partial):
            y, months = by_batch[batch_id], totals.get((*key, batch_id))
            if months is None:
                continue
            if y.forward:
                months[-1] = (int(quantity), int(fen))
            else:
                months[-1] = (months[-1][0] - int(quantity), months[-1][1] - int(fen))
    return totals


def region_condition(column, region: str | None):
    """`column` (an adcode) within `region`; everything when `region` is None."""
    return sa.true() if region is None else within(column, region)


def _fen(value) -> Decimal:
    return (Decimal(int(value or 0)) * FEN).quantize(FEN)


# ---------------------------------------------------------------------------
# Selected vs non-selected, per group (institution × batch × generic × year)
# ---------------------------------------------------------------------------


def _group_digest(generic_name: str) -> str:
    return hashlib.sha1(generic_name.encode()).hexdigest()[:16]


def non_selected_key(institution_code: str, batch_id: int, generic_name: str, year_start: date) -> str:
    """Dedup key of the non-selected-share alert of a group."""
    return f"{NON_SELECTED_HIGH}:{institution_code}:{batch_id}:{year_start}:{_group_digest(generic_name)}"


def behind_key(line_id: int) -> str:
    """Dedup key of the behind-schedule alert of a line."""
    return f"{BEHIND}:{line_id}"


def _merge(intervals: list[tuple[date, date]]) -> list[tuple[date, date]]:
    merged: list[list[date]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def assess_groups(session: Session, years: list[YearInView], as_of: date, line_filter,
                  keys: set[tuple] | None = None) -> dict:
    """`rules.assess_selection_compliance` per group ``(institution_code, batch_id,
    generic_name, year_start)`` of the lines satisfying `line_filter` (restricted to `keys`
    when given): ``{key: ComplianceResult or None}`` (None: no selected product to compare with).

    Per group: the selected price is the highest selected price per common unit (as seed 004
    二(二) takes the category's highest for consumables); a consumable's non-selected product
    by a selected company is held to that company's own selected price; non-selected purchases
    dated within a bureau-confirmed supply problem of the group at the institution (from its
    report to its resolution) are exempt; the agreed volume is completed when the selected
    purchases reach the agreed volumes of the group's selected products.
    """
    if not years:
        return {}
    by_batch = {y.batch.id: y for y in years}
    products = {p.id: p for p in session.exec(select(Product).where(Product.batch_id.in_(by_batch)))}
    members = defaultdict(list)
    for product in products.values():
        members[(product.batch_id, product.generic_name)].append(product)
    grouped = defaultdict(list)
    for row in session.execute(line_progress(years, as_of, line_filter)):
        key = (row.institution_code, row.batch_id, products[row.product_id].generic_name, row.year_start)
        if keys is None or key in keys:
            grouped[key].append(row)
    exempt = _exempt_purchases(session, years, as_of, grouped, products)
    results = {}
    for key in grouped.keys() if keys is None else keys:
        institution, batch_id, generic, _ = key
        selected = [p for p in members.get((batch_id, generic), []) if p.status == rules.ProductStatus.SELECTED]
        results[key] = None if not selected else _assess(
            by_batch[batch_id].batch, selected, grouped.get(key, []), products, exempt)
    return results


def _exempt_purchases(session: Session, years: list[YearInView], as_of: date, grouped: dict,
                      products: dict[int, Product]) -> dict[int, tuple[int, int]]:
    """Per non-selected line: (quantity, fen) bought within a confirmed supply problem."""
    periods = defaultdict(list)
    for problem, product in session.exec(
            select(SupplyProblem, Product).join(Product, Product.id == SupplyProblem.product_id).where(
                SupplyProblem.confirmed_on.is_not(None), SupplyProblem.reported_on <= as_of,
                Product.batch_id.in_([y.batch.id for y in years]))):
        periods[(problem.institution_code, product.batch_id, product.generic_name)].append(
            (problem.reported_on, min(problem.resolved_on or as_of, as_of)))
    exempt: dict[int, tuple[int, int]] = {}
    for key, group in grouped.items():
        spans = periods.get(key[:3])
        line_ids = [r.line_id for r in group if products[r.product_id].status != rules.ProductStatus.SELECTED]
        if not spans or not line_ids:
            continue
        during = sa.or_(*(Purchase.purchased_on.between(s, e) for s, e in _merge(spans)))
        for line_id, quantity, amount in session.execute(
                select(Purchase.line_id, sa.func.sum(Purchase.quantity), sa.func.sum(_raw(Purchase.amount)))
                .where(Purchase.line_id.in_(line_ids), Purchase.purchased_on <= as_of, during)
                .group_by(Purchase.line_id)):
            exempt[line_id] = (int(quantity), int(amount))
    return exempt


def _assess(batch: Batch, selected: list[Product], rows: list, products: dict[int, Product],
            exempt: dict[int, tuple[int, int]]) -> rules.ComplianceResult:
    own_price: dict[str, Decimal] = {}
    for p in selected:
        own_price[p.manufacturer] = max(own_price.get(p.manufacturer, Decimal(0)), p.price / p.conversion)
    records, agreed, completed = [], Decimal(0), Decimal(0)
    for row in rows:
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
    return rules.assess_selection_compliance(records, selected_price=max(own_price.values()), agreed=agreed,
                                             completed=completed, kind=batch.kind)


def _non_selected_candidates(years: list[YearInView], as_of: date, condition, threshold: Decimal):
    """Groups whose RAW non-selected share (before any exemption) exceeds `threshold`, as a
    query of ``(institution_code, batch_id, generic_name, year_start)``.

    Exemptions only move purchases off the non-selected side or onto the selected side, so the
    assessed share never exceeds the raw one: every group the rules would alert on is here.
    """
    p = line_progress(years, as_of, condition).subquery("p")
    units = p.c.purchased * _raw(Product.conversion)
    selected = sa.func.sum(sa.case((Product.status == rules.ProductStatus.SELECTED.value, units), else_=0))
    non_selected = sa.func.sum(sa.case((Product.status == rules.ProductStatus.NON_SELECTED.value, units), else_=0))
    numerator, denominator = Fraction(threshold).as_integer_ratio()
    return (select(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
            .join(Product, Product.id == p.c.product_id)
            .group_by(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
            .having(non_selected * denominator > numerator * (selected + non_selected)))


# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------


def _raised_at_or_before(evidence: dict, as_of: date) -> bool:
    """An evaluation at `as_of` may resolve only flags raised by evaluations at or before it:
    looking back must not close today's alerts."""
    return evidence.get("as_of", "") <= as_of.isoformat()


def sync_alerts(session: Session, *, region: str | None, as_of: date, today: date | None = None) -> tuple[int, int]:
    """Raise due alerts and resolve those whose condition no longer holds, for a region (None:
    everywhere) at `as_of`, then commit. Returns ``(raised, resolved)``.

    - `procurement_behind_schedule`, one per line behind its schedule;
    - `non_selected_share_high`, one per institution × generic × year whose assessed
      non-selected share exceeds `PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD`;
    - `supply_overdue` from `supply.sync_alerts` (dated `today`, the real deadlines).

    An open alert whose condition no longer holds is `resolved` (see flags.resolve_flags), so
    a relapse raises a new one; a reviewed (confirmed or dismissed) one is left as reviewed.
    The differences are taken in SQL: only new alerts and stale ones reach Python.
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


def _sync_behind(session: Session, years: list[YearInView], region: str | None, as_of: date) -> tuple[int, int]:
    # Plain scans and set differences: no join on computed keys, whose plan would depend on
    # the statistics of a flag table that a scan may just have filled.
    tolerance = setting("BEHIND_TOLERANCE")
    from_month = int(current_app.config["PROCUREMENT_BEHIND_ALERTS_FROM_MONTH"])
    due = [y for y in years if rules.behind_alert_due(y.month, from_month)]
    rows = []
    if due:
        p = progress(due, as_of, region_condition(Line.region, region), tolerance).subquery("p")
        rows = session.execute(select(p).where(p.c.behind == 1)).all()
    known = dict(session.execute(select(Flag.dedup_key, Flag.status).where(
        Flag.type == BEHIND, region_condition(Flag.region, region))).all())
    products, by_batch = {p_.id: p_ for p_ in session.exec(select(Product))}, {y.batch.id: y for y in years}
    alerts = []
    for row in rows:
        if behind_key(row.line_id) in known:
            continue
        year, product = by_batch[row.batch_id], products[row.product_id]
        alerts.append({
            "type": BEHIND, "severity": "medium", "subject": f"institution:{row.institution_code}",
            "region": row.region, "dedup_key": behind_key(row.line_id),
            "evidence": {"line_id": row.line_id, "institution_code": row.institution_code,
                         "product_code": product.code, "generic_name": product.generic_name,
                         "batch_id": row.batch_id, "batch_code": year.batch.code,
                         "year_start": row.year_start.isoformat(), "year_end": row.year_end.isoformat(),
                         "agreed": row.agreed, "purchased": row.purchased,
                         "completed_share": str(rules.completed_share(row.agreed, row.purchased)),
                         # What `behind` compared: with the company's other selected specifications
                         # of the generic (seed 002 二(四) 合并考核), in common units.
                         "assessed_completed_share": str(rules.completed_share(
                             Decimal(str(row.group_agreed)), Decimal(str(row.group_purchased)))),
                         "schedule_share": str(year.schedule), "tolerance": str(tolerance),
                         "as_of": as_of.isoformat(), "rule": "seed 002 二(九): 中选产品采购进度低于序时进度"}})
    raised = flags.raise_flags(session, alerts)
    behind_now = {behind_key(row.line_id) for row in rows}
    maybe_stale = sorted(k for k, status in known.items() if status == FlagStatus.open.value and k not in behind_now)
    stale = []
    for start in range(0, len(maybe_stale), 1000):
        chunk = maybe_stale[start:start + 1000]
        shown = set(session.exec(select(Line.id).where(  # lines of the years in view only
            Line.id.in_([int(k.rsplit(":", 1)[1]) for k in chunk]), in_view(years))))
        for key, evidence in session.execute(select(Flag.dedup_key, Flag.evidence).where(Flag.dedup_key.in_(chunk))):
            if int(key.rsplit(":", 1)[1]) in shown and _raised_at_or_before(evidence, as_of):
                stale.append(key)
    return raised, flags.resolve_flags(session, stale, f"Back on schedule as of {as_of}.")


def _sync_non_selected(session: Session, years: list[YearInView], region: str | None,
                       as_of: date) -> tuple[int, int]:
    threshold = setting("NON_SELECTED_SHARE_THRESHOLD")
    in_region = region_condition(Line.region, region)
    candidates = _non_selected_candidates(years, as_of, in_region, threshold).subquery("c")
    of_candidates = sa.tuple_(Line.institution_code, Line.product_id, Line.year_start).in_(
        select(candidates.c.institution_code, Product.id, candidates.c.year_start)
        .join(Product, sa.and_(Product.batch_id == candidates.c.batch_id,
                               Product.generic_name == candidates.c.generic_name)))
    results = assess_groups(session, years, as_of, sa.and_(in_region, of_candidates))
    high = {key: result for key, result in results.items()
            if result is not None and result.non_selected_share > threshold}
    regions = _regions(session, {key[0] for key in high})
    by_batch, alerts = {y.batch.id: y for y in years}, []
    for key, result in high.items():
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
    # A group that is not even a raw candidate is not high: its open flag is stale.
    still_high = {alert["dedup_key"] for alert in alerts}
    open_keys = set(session.exec(select(Flag.dedup_key).where(
        Flag.type == NON_SELECTED_HIGH, Flag.status == FlagStatus.open.value, region_condition(Flag.region, region))))
    maybe_stale = sorted(open_keys - still_high)
    stale = []
    for start in range(0, len(maybe_stale), 1000):
        for dedup_key, evidence in session.execute(select(Flag.dedup_key, Flag.evidence).where(
                Flag.dedup_key.in_(maybe_stale[start:start + 1000]))):
            year = by_batch.get(evidence.get("batch_id"))
            if year and year.start.isoformat() == evidence.get("year_start") and _raised_at_or_before(evidence, as_of):
                stale.append(dedup_key)
    return raised, flags.resolve_flags(session, stale, f"Non-selected share back within the threshold as of {as_of}.")


def _regions(session: Session, institution_codes: set[str]) -> dict[str, str]:
    codes, regions = sorted(institution_codes), {}
    for start in range(0, len(codes), 1000):
        regions.update(session.execute(select(Line.institution_code, Line.region).distinct()
                                       .where(Line.institution_code.in_(codes[start:start + 1000]))).all())
    return regions


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
    resolved before the report is read (`alerts=false` skips that), as long as the region has
    at most `PROCUREMENT_ALERTS_ON_READ_MAX_LINES` lines: a larger one (a province) relies on
    `dualchannel procurement scan`, so that reading stays interactive (`alerts_synced` says
    which happened). An institution sees its own lines. Pages are offsets into the ordered
    report (`cursor`).
    """
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    raised = resolved = 0
    synced = False
    if alerts and cursor is None and actor.role in (Role.admin, Role.bureau) and years:
        lines = session.execute(select(sa.func.count()).select_from(Line).where(
            in_view(years), region_condition(Line.region, region))).scalar()
        if lines <= current_app.config["PROCUREMENT_ALERTS_ON_READ_MAX_LINES"]:
            raised, resolved = sync_alerts(session, region=region, as_of=as_of)
            synced = True
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region))
    if institution_code:
        condition = sa.and_(condition, Line.institution_code == institution_code)
    group_condition = None  # the lines a shown line may be assessed with: any product
    if product_code:
        group_condition = condition
        condition = sa.and_(condition, Line.product_id == select(Product.id).where(Product.code == product_code)
                            .scalar_subquery())
    report = {"region": region, "as_of": as_of, "alerts_synced": synced, "alerts_raised": raised,
              "alerts_resolved": resolved,
              "years": [{"batch_code": y.batch.code, "year_start": y.start, "year_end": y.end,
                         "schedule_share": y.schedule} for y in years],
              "summary": {"lines": 0, "with_agreement": 0, "behind": 0, "open_alerts": {}},
              "items": [], "next_cursor": None}
    if actor.role in (Role.admin, Role.bureau):
        report["summary"]["open_alerts"] = dict(session.execute(
            select(Flag.type, sa.func.count()).where(
                Flag.status == FlagStatus.open.value, region_condition(Flag.region, region),
                Flag.type.in_([BEHIND, NON_SELECTED_HIGH, supply.SUPPLY_OVERDUE,
                               *(d.value for d in rules.PriceDeviation)])).group_by(Flag.type)).all())
    if not years:
        return report
    p = progress(years, as_of, condition, setting("BEHIND_TOLERANCE"), group_condition).subquery("p")
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
    group_products = select(Product.id).where(Product.generic_name.in_({k[2] for k in keys}))
    compliance = assess_groups(session, years, as_of, sa.and_(Line.institution_code.in_({k[0] for k in keys}),
                                                              Line.product_id.in_(group_products)), keys)
    alert_keys = {behind_key(r.line_id) for r in rows} | {non_selected_key(*k) for k in keys}
    open_keys = set(session.exec(select(Flag.dedup_key).where(Flag.dedup_key.in_(alert_keys),
                                                              Flag.status == FlagStatus.open.value)))
    tolerance = setting("BEHIND_TOLERANCE")
    together = {product_id: group for y in years for product_id, group in y.together.items()}
    assessed_with: dict[int, list[str]] = defaultdict(list)  # group -> product codes
    if together:
        for product_id, code in session.execute(select(Product.id, Product.code).where(Product.id.in_(together))
                                                .order_by(Product.code)):
            assessed_with[together[product_id]].append(code)
    items = []
    for row in rows:
        year, product = by_batch[row.batch_id], products[row.product_id]
        key = (row.institution_code, row.batch_id, product.generic_name, row.year_start)
        completed = None if row.agreed is None else rules.completed_share(row.agreed, row.purchased)
        group_agreed, group_purchased = Decimal(str(row.group_agreed)), Decimal(str(row.group_purchased))
        group = assessed_with[together[product.id]] if product.id in together else []
        combined = rules.completed_share(group_agreed, group_purchased) if group and group_agreed > 0 else None
        assessed = combined if combined is not None else completed
        result = compliance.get(key)
        items.append({
            "line_id": row.line_id, "institution_code": row.institution_code,
            "institution_name": names.get(row.institution_code), "region": row.region,
            "batch_code": year.batch.code, "product_code": product.code, "product_name": product.name,
            "generic_name": product.generic_name, "manufacturer": product.manufacturer, "status": product.status,
            "year_start": row.year_start, "year_end": row.year_end, "agreed": row.agreed,
            "purchased": row.purchased, "purchased_amount": _fen(row.amount_fen),
            "completed_share": completed, "schedule_share": year.schedule,
            "assessed_with": group,
            "combined_completed_share": combined,
            "behind": bool(row.agreed) and assessed is not None
                      and rules.behind_schedule(assessed, year.schedule, tolerance),
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


def periods_of(year: YearInView, period: str) -> list[tuple[str, int, int]]:
    """The report periods of an agreement year up to `as_of`: ``(label, first month, end month)``
    with months as indexes; labels M01..M12 or Q1..Q4 of the agreement year."""
    shown = len(year.months) if year.month is None else year.month + 1
    if period == "month":
        return [(f"M{i + 1:02d}", i, i + 1) for i in range(shown)]
    return [(f"Q{q + 1}", 3 * q, min(3 * q + 3, shown)) for q in range((shown + 2) // 3)]


def period_bounds(year: YearInView, first: int, end: int) -> tuple[date, date, date]:
    """(start, end exclusive, date the schedule is read at) of months ``[first, end)``: a
    period still running at `as_of` ends after `as_of` and is read at `as_of`."""
    start, stop = year.months[first][0], year.months[end - 1][1]
    if year.month is not None and end - 1 == year.month:
        return start, year.as_of + timedelta(days=1), year.as_of
    return start, stop, stop


def period_report(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                  period: str = "month", batch: str | None = None) -> dict:
    """Purchases per product and month (or quarter) of the agreement years in view, up to
    `as_of`, with the cumulative completion against the region's agreed volume and the
    schedule share at each period's end (seed 001 二(八): 按月监测、季度结算)."""
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    report = {"region": region, "as_of": as_of, "period": period, "items": []}
    if not years:
        return report
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region))
    totals = monthly_totals(session, years, condition, Line.product_id)
    agreed = dict(session.execute(select(Line.product_id, sa.func.sum(Line.agreed))
                                  .where(in_view(years), condition).group_by(Line.product_id)).all())
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_({k[0] for k in totals})))}
    by_batch = {y.batch.id: y for y in years}
    for (product_id, batch_id), months in sorted(totals.items(), key=lambda kv: products[kv[0][0]].code):
        product, year, volume = products[product_id], by_batch[batch_id], int(agreed.get(product_id) or 0)
        cumulative = 0
        for label, first, end in periods_of(year, period):
            quantity = sum(q for q, _ in months[first:end])
            cumulative += quantity
            start, stop, read_at = period_bounds(year, first, end)
            report["items"].append({
                "period": label, "period_start": start, "period_end": stop, "batch_code": year.batch.code,
                "year_start": year.start, "product_code": product.code, "product_name": product.name,
                "generic_name": product.generic_name, "status": product.status, "purchased": quantity,
                "amount": _fen(sum(a for _, a in months[first:end])), "cumulative_purchased": cumulative,
                "agreed": volume, "completed_share": rules.completed_share(volume, cumulative) if volume else None,
                "schedule_share": rules.schedule_share(year.start, year.end, read_at)})
    return report


REPORT_COLUMNS = ["period", "period_start", "period_end", "batch_code", "year_start", "product_code", "product_name",
                  "generic_name", "status", "purchased", "amount", "cumulative_purchased", "agreed",
                  "completed_share", "schedule_share"]
