"""Pure rules of procurement agreements: no database, no Flask.

The vocabulary shared by every procurement rule (kinds of procurement, product statuses, the
share and money quanta), calendar arithmetic, the agreement years of a cycle and their months,
and progress against the time-elapsed schedule (序时进度).

Every rule cites the seed notice it comes from (``shared/seeds/``):

- seed 000: 济医保发〔2020〕9号, forwarding 鲁医保发〔2020〕25号 (second national drug batch, Shandong);
- seed 001: 渝府办发〔2019〕29号 (Chongqing implementation of the national pilot);
- seed 002: the 2025 Henan notice on execution management (traditional characters);
- seed 004: 聊医保函〔2024〕13号, forwarding 鲁医保函〔2024〕28号 (high-value consumables).

Conventions used throughout:

- Dates are ``datetime.date``; ranges returned are half-open ``[start, end_exclusive)``.
- Quantities, prices, ratios and money are ``Decimal``; shares are rounded to
  ``SHARE_QUANTUM`` (6 places), money to the fen (0.01 yuan).
- Where a seed leaves a number open, the value is a named, overridable default and the
  docstring says that it is the project's choice, not the seed's.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

SHARE_QUANTUM = Decimal("0.000001")
FEN = Decimal("0.01")
UNIT_PRICE = Decimal("0.0001")  # prices are stored to 1/10000 yuan
ZERO = Decimal(0)
ONE = Decimal(1)


class ProcurementKind(StrEnum):
    DRUG = "drug"
    CONSUMABLE = "consumable"


class ProductStatus(StrEnum):
    SELECTED = "selected"  # 中选
    NON_SELECTED = "non_selected"  # 非中选
    BACKUP = "backup"  # 国家集采备供企业


# ---------------------------------------------------------------------------
# Calendar arithmetic shared by agreement years, schedules and step-downs
# ---------------------------------------------------------------------------


def add_months(d: date, months: int) -> date:
    """``d`` moved by ``months`` calendar months, the day clamped to the month's length.

    Always computed from the original date (never chained), so a series started on
    31 January gives 28/29 February, then 31 March again.
    """
    years, month0 = divmod(d.month - 1 + months, 12)
    year, month = d.year + years, month0 + 1
    return date(year, month, min(d.day, _calendar.monthrange(year, month)[1]))


def whole_months_between(start: date, d: date) -> int:
    """The largest ``k`` with ``add_months(start, k) <= d`` (``d >= start``)."""
    k = (d.year - start.year) * 12 + d.month - start.month
    return k - 1 if add_months(start, k) > d else k


def _months_elapsed(start: date, d: date) -> Fraction:
    """Whole months from ``start`` to ``d`` plus the elapsed fraction of the current month.

    The current month runs from the k-th monthly anniversary of ``start`` to the next one;
    its fraction is elapsed days over that month's length in days.
    """
    k = whole_months_between(start, d)
    month_start, month_end = add_months(start, k), add_months(start, k + 1)
    return k + Fraction((d - month_start).days, (month_end - month_start).days)


def to_share(value: Fraction) -> Decimal:
    # A local context: a caller's global decimal precision must not change our shares.
    with localcontext() as ctx:
        ctx.prec = 28
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(SHARE_QUANTUM, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------------------
# 1. Agreement years
# ---------------------------------------------------------------------------


class OutsideCycle(ValueError):
    """A date outside the procurement cycle."""


MONTHS_PER_YEAR = 12  # the months an agreement year is monitored in (seed 001 (八) 按月监测)
MAX_FIRST_YEAR_MONTHS = 13  # the project's bound on an irregular first year (see agreement_years)


def agreement_years(cycle_start: date, cycle_end: date,
                    first_year_end: date | None = None) -> list[tuple[date, date]]:
    """All agreement years of a cycle, as ``(year_start, year_end_exclusive)``.

    Seed 004 一: "采购周期为2年，购销协议每年一签，……首年协议期为2024年5月27日—2025年5月31日" —
    the cycle is split into yearly agreements, and a batch may state where its FIRST year
    ends. ``cycle_end`` and ``first_year_end`` are LAST DAYS (inclusive), as the notices write
    periods.

    - Without ``first_year_end``: years start at ``cycle_start`` and repeat on its
      anniversaries (a 29 February start falls on 28 February in common years); a two-year
      cycle from 2024-05-31 ends on 2026-05-30.
    - With it: the first year runs from ``cycle_start`` to ``first_year_end`` (irregular:
      seed 004's runs 12 months and 5 days); the later years start on the day after it and
      repeat on that day's anniversaries (2025-06-01, 2026-06-01, ...).

    Either way the last year is truncated at the cycle's end. A first year must end inside
    the cycle and last less than ``MAX_FIRST_YEAR_MONTHS`` months (the seeds' irregular year
    is a few days over twelve; a longer one is a data entry error): ``ValueError`` otherwise,
    see :func:`first_year_problem`.
    """
    if cycle_end < cycle_start:
        raise ValueError(f"cycle ends ({cycle_end}) before it starts ({cycle_start})")
    if first_year_end is not None and (problem := first_year_problem(cycle_start, cycle_end, first_year_end)):
        raise ValueError(problem)
    end_exclusive = cycle_end + timedelta(days=1)
    years: list[tuple[date, date]] = []
    anchor = cycle_start
    if first_year_end is not None:
        anchor = first_year_end + timedelta(days=1)
        years.append((cycle_start, min(anchor, end_exclusive)))
    k = 0
    while (start := add_months(anchor, 12 * k)) < end_exclusive:
        years.append((start, min(add_months(anchor, 12 * (k + 1)), end_exclusive)))
        k += 1
    return years


def first_year_problem(cycle_start: date, cycle_end: date, first_year_end: date) -> str | None:
    """Why ``first_year_end`` cannot end the first agreement year of a cycle, or None."""
    if not cycle_start <= first_year_end <= cycle_end:
        return f"the first agreement year must end within the cycle {cycle_start}..{cycle_end}"
    if first_year_end >= add_months(cycle_start, MAX_FIRST_YEAR_MONTHS):
        return f"the first agreement year must last less than {MAX_FIRST_YEAR_MONTHS} months"
    return None


def agreement_year(cycle_start: date, cycle_end: date, on: date,
                   first_year_end: date | None = None) -> tuple[date, date]:
    """The agreement year containing ``on``: ``(year_start, year_end_exclusive)``.

    Same conventions as :func:`agreement_years`. Raises :class:`OutsideCycle` for a date
    before ``cycle_start`` or after ``cycle_end``.
    """
    years = agreement_years(cycle_start, cycle_end, first_year_end)
    if not cycle_start <= on <= cycle_end:
        raise OutsideCycle(f"{on} is outside the cycle {cycle_start}..{cycle_end}")
    return next((start, end) for start, end in years if start <= on < end)


def month_of_year(year_start: date, year_end: date, on: date) -> int:
    """Index (from 0) of the month of an agreement year containing ``on``: the month of
    :func:`agreement_months` holding it."""
    if not year_start <= on < year_end:
        raise ValueError(f"{on} is outside the agreement year {year_start}..{year_end}")
    return min(whole_months_between(year_start, on), MONTHS_PER_YEAR - 1)


def agreement_months(year_start: date, year_end: date) -> list[tuple[date, date]]:
    """The months of an agreement year as ``(start, end_exclusive)``.

    Month ``k`` runs from ``add_months(year_start, k)`` to the next monthly anniversary, the
    months :func:`schedule_share` counts in; the last one is truncated at ``year_end``
    (exclusive) when the year is short. An irregular first year longer than twelve months
    (seed 004's ends 5 days after its anniversary) keeps ``MONTHS_PER_YEAR`` months: the
    twelfth runs on to the year's end.
    """
    if year_end <= year_start:
        raise ValueError(f"empty agreement year {year_start}..{year_end}")
    months: list[tuple[date, date]] = []
    k = 0
    while (start := add_months(year_start, k)) < year_end:
        months.append((start, min(add_months(year_start, k + 1), year_end)))
        k += 1
    if len(months) > MONTHS_PER_YEAR:
        months[MONTHS_PER_YEAR - 1:] = [(months[MONTHS_PER_YEAR - 1][0], year_end)]
    return months


# ---------------------------------------------------------------------------
# 2. Time-elapsed schedule (序时进度) and completion
# ---------------------------------------------------------------------------


def schedule_share(year_start: date, year_end: date, as_of: date) -> Decimal:
    """Elapsed share of an agreement year (序时进度 as a share), in [0, 1].

    Seed 002 二(九): "對中選產品采購進度低于序時進度……通過信息系統自動示警"; seed 001
    (八): "按月监测、季度结算、年终清算". Monitoring is monthly, so the schedule is measured
    in MONTHS, not days: whole months elapsed since ``year_start`` plus the elapsed fraction
    of the current month, divided by the year's length in months (12 for a full year; less
    for a truncated last year). End of month 6 of a 12-month year is exactly 0.5, which a
    day count (181/365) would not give.

    ``year_end`` is exclusive. ``as_of`` is an INSTANT at the start of that day: the days
    before it have elapsed, ``as_of`` itself has not. So progress "through 30 June" is
    ``as_of=July 1``. Dates before the year give 0, dates at or after its end give 1.
    Rounded to 6 places.
    """
    if year_end <= year_start:
        raise ValueError(f"empty agreement year {year_start}..{year_end}")
    if as_of <= year_start:
        return ZERO.quantize(SHARE_QUANTUM)
    if as_of >= year_end:
        return ONE.quantize(SHARE_QUANTUM)
    return to_share(_months_elapsed(year_start, as_of) / _months_elapsed(year_start, year_end))


def completed_share(agreed: Decimal | int, purchased: Decimal | int) -> Decimal:
    """Completed share of the agreed volume (约定采购量): ``purchased / agreed``.

    Not capped at 1: over-completion is visible (seed 000 二: "约定采购量完成后，中选企业
    继续按照中选价格供应"). A zero agreed volume — a "零"报量 declaration, seed 002 二(一) —
    has nothing left to complete and gives 1. Rounded to 6 places.
    """
    agreed, purchased = Decimal(agreed), Decimal(purchased)
    if agreed < 0 or purchased < 0:
        raise ValueError("agreed and purchased volumes must not be negative")
    if agreed == 0:
        return ONE.quantize(SHARE_QUANTUM)
    return to_share(Fraction(purchased) / Fraction(agreed))


def behind_schedule(completed: Decimal, schedule: Decimal, tolerance: Decimal = ZERO) -> bool:
    """True when completion is below the time-elapsed schedule by more than ``tolerance``.

    Seed 002 二(九): "中選產品采購進度低于序時進度" fires an alert. ``tolerance`` is in share
    points (``Decimal("0.05")`` = 5 percentage points); the seed names none, so the default is
    0: strictly below the schedule is behind, exactly on it is not.
    """
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    return completed + tolerance < schedule


def assessment_group(status: ProductStatus | str, generic_name: str, manufacturer: str) -> tuple[str, str] | None:
    """Key of the products whose lines are assessed together against the schedule, or None
    for a product assessed alone.

    Seed 002 二(四): "屬于中選結果供應清單內的同品種同企業中選產品,按照同一采購目錄進行合并考核" —
    a company's SELECTED products of one generic name in a batch (its several specifications or
    packages) form one assessment: purchases of any count towards the agreed volumes of all.
    Non-selected and backup products are assessed alone.
    """
    return (generic_name, manufacturer) if ProductStatus(status) is ProductStatus.SELECTED else None


def combined_progress(lines: Iterable[tuple[int | None, int, Decimal]]) -> tuple[Decimal, Decimal]:
    """Agreed volume and purchases of lines assessed together, in the generic's common units.

    Each line is ``(agreed or None, purchased, conversion)`` in its product's pricing unit
    (``conversion`` common units per pricing unit, seed 001 二(二) "按比例关系折算"); a line
    without an agreement adds its purchases only. Compare the two with :func:`completed_share`.
    """
    agreed = purchased = ZERO
    for line_agreed, line_purchased, conversion in lines:
        agreed += (line_agreed or 0) * conversion
        purchased += line_purchased * conversion
    return agreed, purchased


BEHIND_ALERTS_FROM_MONTH = 1


def behind_alert_due(month_index: int | None, from_month: int = BEHIND_ALERTS_FROM_MONTH) -> bool:
    """Whether a line behind schedule is alerted yet, in month ``month_index`` (from 0; None
    once the year is over) of its agreement year.

    Seed 002 二(九) wants progress below the 序时进度 alerted automatically but names no start;
    the project's default alerts from month 1 (as soon as a line falls behind). A bureau that
    first checks 进院 "執行第3個月起" (seed 002 二(二)) may start at month 3.
    """
    if from_month < 1:
        raise ValueError("alerts start at month 1 or later")
    return month_index is None or month_index + 1 >= from_month



# ---------------------------------------------------------------------------
# 8. Report periods
# ---------------------------------------------------------------------------


def month_bounds(d: date) -> tuple[date, date]:
    """The calendar month containing ``d``: ``(first day, first day of next month)``.

    Seed 001 二(八): "对医疗机构采购进度实行按月监测、季度结算、年终清算".
    """
    start = d.replace(day=1)
    return start, add_months(start, 1)


def quarter_bounds(d: date) -> tuple[date, date]:
    """The calendar quarter containing ``d``: ``(first day, first day of next quarter)``.

    Seed 001 二(八) settles quarterly; seed 002 二(九) monitors "每季度".
    """
    start = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return start, add_months(start, 3)
