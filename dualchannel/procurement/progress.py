"""Progress of lines against the time-elapsed schedule (序时进度), in set-based SQL, shared by
the execution report, the alerts, the period reports and the company ledger.

A line carries running totals of its purchases for the year and for each month of it, so the
progress of a whole province at any date is one pass over its lines plus one grouped query
over the purchases of the month containing that date (counted forwards from the month's start
or backwards from its end, whichever is shorter). Python applies the rules only to the rows a
page shows and to the groups SQL has already found suspect.

Dates: `as_of` is a date; purchases dated on or before it count, and the schedule share is the
elapsed share of the agreement year at the start of that day (rules.agreement.schedule_share),
so `as_of=2026-07-01` reads "the first half of a year started on 1 January is over". The
agreement year shown for a batch is the one containing `as_of` (the last one after the cycle).
Reports and the ledger go by months and quarters of the agreement year (month 1 starts on the
year's start), the months the schedule counts in.
"""

import functools
import operator
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.errors import NotFound
from dualchannel.procurement.batches import year_containing, years_of
from dualchannel.procurement.models import MONTHS, Batch, Line, Product, Purchase, month_column
from dualchannel.procurement.rules.agreement import (FEN, ProductStatus, SHARE_QUANTUM, agreement_months,
                                                     assessment_group, month_of_year, schedule_share)


SCALE = 10**6  # shares have 6 decimal places (SHARE_QUANTUM)


@dataclass(frozen=True)
class YearInView:
    """The agreement year of a batch that a report at `as_of` shows, with its schedule share.

    `month` is the index of the month containing `as_of`, None when the year is over by then.
    `complete`: every purchase dated up to `as_of` is in the lines' totals — the year is over,
    or `as_of` is today or later (no purchase is dated after the day it is recorded). Otherwise
    the purchases of that month up to `as_of` are read from the purchases themselves, `forward`
    (from the month's start) or backwards (the month's total less those after `as_of`),
    whichever covers fewer days; `partial` is that range (inclusive). `together` maps each
    selected product of the batch assessed with another (assessment_group: one company's
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
    months = tuple(agreement_months(start, end))
    month, forward, over = None, True, as_of >= end - timedelta(days=1)
    if not over:
        month = month_of_year(start, end, as_of)
        month_start, month_end = months[month]
        forward = (as_of - month_start) <= (month_end - timedelta(days=1) - as_of)
    return YearInView(batch, start, end, schedule_share(start, end, as_of), months, month, forward,
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
                       Product.status == ProductStatus.SELECTED.value)):
            groups[(batch_id, assessment_group(status, generic_name, manufacturer))].append(product_id)
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


def raw(column):
    return sa.type_coerce(column, sa.BigInteger)  # money as integer fen, not Decimal


def _months_through(kind: str, count: int):
    """The sum of a line's first `count` month columns of `kind` (q or a)."""
    columns = [raw(getattr(Line, month_column(kind, i))) for i in range(count)]
    return functools.reduce(operator.add, columns) if columns else sa.literal(0, sa.BigInteger)


def _counted(years: list[YearInView], kind: str, total):
    """Per line, from its own columns: purchases of the months counted whole at `as_of`."""
    values = {}
    for y in years:
        if y.complete:
            values[y.batch.id] = raw(total)
        else:
            values[y.batch.id] = _months_through(kind, y.month + (0 if y.forward else 1))
    return _per_batch(values)


def in_view(years: list[YearInView]):
    """Lines of the agreement years in view."""
    return sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start) for y in years))


def partial_purchases(years: list[YearInView], condition, *keys):
    """Purchases of the partial months (per year in view), grouped by `keys`; None when no
    year has a partial month. Joined to the lines so that only the lines in scope are read."""
    ranges = [(y, y.partial) for y in years if y.partial is not None and y.partial[0] <= y.partial[1]]
    if not ranges:
        return None
    return (select(*keys, sa.func.sum(Purchase.quantity).label("q"), sa.func.sum(raw(Purchase.amount)).label("a"))
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
    partial = partial_purchases(years, condition, Purchase.line_id)
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
    """`line_progress` with `behind` (1/0) decided exactly as `behind_schedule` does on
    what the line is assessed with, and `gap` (schedule − completion, for ordering).

    Seed 002 二(四): "屬于中選結果供應清單內的同品種同企業中選產品,按照同一采購目錄進行合并考核" —
    the lines of a company's selected products of one generic (`YearInView.together`) are
    assessed as one: `group_agreed` and `group_purchased` sum the institution's agreed volumes
    and purchases of them in the year in common units (× 10^4), as combined_progress
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
    k = _per_batch({y.batch.id: int((y.schedule - tolerance).quantize(SHARE_QUANTUM) * SCALE) for y in years})
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
        conversion = raw(Product.conversion)
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
    sums += [sa.func.sum(raw(getattr(Line, month_column("a", i)))) for i in range(MONTHS)]
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
    partial = partial_purchases(years, condition, *keys, Line.batch_id)
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


def fen(value) -> Decimal:
    return (Decimal(int(value or 0)) * FEN).quantize(FEN)


def periods_of(year: YearInView, period: str) -> list[tuple[str, int, int]]:
    """The report periods of an agreement year up to `as_of`: ``(label, first month, end month)``
    with months as indexes; labels M01..M12 or Q1..Q4 of the agreement year."""
    shown = len(year.months) if year.month is None else year.month + 1
    if period == "month":
        return [(f"M{i + 1:02d}", i, i + 1) for i in range(shown)]
    return [(f"Q{q + 1}", 3 * q, min(3 * q + 3, shown)) for q in range((shown + 2) // 3)]


def months_span(year: YearInView, first: int, end: int) -> tuple[date, date, date]:
    """(start, end exclusive, date the schedule is read at) of months ``[first, end)``: a
    period still running at `as_of` ends after `as_of` and is read at `as_of`."""
    start, stop = year.months[first][0], year.months[end - 1][1]
    if year.month is not None and end - 1 == year.month:
        return start, year.as_of + timedelta(days=1), year.as_of
    return start, stop, stop
