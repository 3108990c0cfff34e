"""Pure rules of volume-based procurement (集采) execution: no database, no Flask.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

SHARE_QUANTUM = Decimal("0.000001")
FEN = Decimal("0.01")
ZERO = Decimal(0)
ONE = Decimal(1)


class ProcurementKind(StrEnum):
    DRUG = "drug"
    CONSUMABLE = "consumable"


class ProductStatus(StrEnum):
    SELECTED = "selected"  # 中选
    NON_SELECTED = "non_selected"  # 非中选
    BACKUP = "backup"  # 国家集采备供企业


class Insurance(StrEnum):
    EMPLOYEE = "employee"  # 职工医保
    RESIDENT = "resident"  # 居民医保


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


def _whole_months_between(start: date, d: date) -> int:
    """The largest ``k`` with ``add_months(start, k) <= d`` (``d >= start``)."""
    k = (d.year - start.year) * 12 + d.month - start.month
    return k - 1 if add_months(start, k) > d else k


def _months_elapsed(start: date, d: date) -> Fraction:
    """Whole months from ``start`` to ``d`` plus the elapsed fraction of the current month.

    The current month runs from the k-th monthly anniversary of ``start`` to the next one;
    its fraction is elapsed days over that month's length in days.
    """
    k = _whole_months_between(start, d)
    month_start, month_end = add_months(start, k), add_months(start, k + 1)
    return k + Fraction((d - month_start).days, (month_end - month_start).days)


def _to_share(value: Fraction) -> Decimal:
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
    return min(_whole_months_between(year_start, on), MONTHS_PER_YEAR - 1)


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
    return _to_share(_months_elapsed(year_start, as_of) / _months_elapsed(year_start, year_end))


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
    return _to_share(Fraction(purchased) / Fraction(agreed))


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
# 3. Selected vs non-selected compliance
# ---------------------------------------------------------------------------


class Treatment(StrEnum):
    """How a purchase is treated in the selected-vs-non-selected assessment."""

    SELECTED = "selected"
    COUNTED_AS_SELECTED = "counted_as_selected"
    NON_SELECTED = "non_selected"
    # Exemptions: left out of the assessment.
    BACKUP_SUPPLIER = "backup_supplier"
    CONFIRMED_SUPPLY_PROBLEM = "confirmed_supply_problem"
    CHEAPER_EQUIVALENT = "cheaper_equivalent"
    COMPLETED_AT_OR_BELOW_SELECTED_PRICE = "completed_at_or_below_selected_price"
    NOT_REGARDED_NON_SELECTED = "not_regarded_non_selected"

    @property
    def exempt(self) -> bool:
        return self not in _COUNTED


_COUNTED = frozenset({Treatment.SELECTED, Treatment.COUNTED_AS_SELECTED, Treatment.NON_SELECTED})

RULE_CITATION = (
    "seed 000 二: 采购周期内每年采购中选药品使用量不得低于非中选药品采购量; "
    "seed 001 二(二): 采购的非中选药品数量按比例关系折算后不得超过中选品种"
)

CITATIONS: Mapping[Treatment, str] = {
    Treatment.COUNTED_AS_SELECTED: (
        "seed 004 二(二): 中选企业的非中选产品按不高于本企业该产品类别中选价挂网的，可视为中选产品"
    ),
    Treatment.BACKUP_SUPPLIER: "seed 002 二(四): 醫療機構采購國家集采備供企業藥品……不納入執行情況考核范圍",
    Treatment.CONFIRMED_SUPPLY_PROBLEM: (
        "seed 002 二(四): 醫療機構反映中選藥品出現供應問題的，經轄區內醫保部門核實後，"
        "該醫療機構采購非中選藥品的，相應的用量不計入執行情況考核范圍"
    ),
    Treatment.CHEAPER_EQUIVALENT: (
        "seed 002 二(四): 價格低于中選藥品且達到同等質量療效的非中選藥品或可替代藥品，"
        "不納入執行情況考核范圍"
    ),
    Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE: (
        "seed 000 二: 将挂网价调整至我省中选价(含)以下,医疗机构完成中选药品约定采购量后可自主"
        "选择采购,不受“采购周期内每年采购中选药品使用量不得低于非中选药品采购量”限制"
    ),
    Treatment.NOT_REGARDED_NON_SELECTED: (
        "seed 004 二(二): 未中选企业的产品按不高于同产品类别最高中选价挂网的，"
        "在医疗机构考核时不视为非中选产品"
    ),
}


@dataclass(frozen=True)
class PurchaseRecord:
    """One purchase of an institution × generic (or consumable category) × agreement year.

    ``quantity`` is in the record's own unit and ``unit_price`` per that unit (the listing
    price, 挂网价, paid); ``conversion`` is how many of the group's common units one record
    unit holds — seed 001 二(二) compares quantities "按比例关系折算" (e.g. a box of 14 vs 28
    tablets). Prices in the assessment are compared per common unit.

    ``maker_selected_price`` is set only when the maker is a selected company of this
    consumable category: its own selected price per common unit (seed 004 二(二)).
    ``during_confirmed_supply_problem``: bought while a bureau-confirmed supply problem of the
    selected product was open. ``equal_quality``: declared of equal quality and efficacy
    (达到同等质量疗效), e.g. a substitutable product (可替代药品); its price is checked here.
    """

    quantity: Decimal
    amount: Decimal
    unit_price: Decimal
    status: ProductStatus
    during_confirmed_supply_problem: bool = False
    equal_quality: bool = False
    maker_selected_price: Decimal | None = None
    conversion: Decimal = ONE

    def __post_init__(self) -> None:
        # Plain strings from the database ("backup") become the enum, so identity checks hold.
        object.__setattr__(self, "status", ProductStatus(self.status))
        if self.quantity < 0 or self.amount < 0 or self.unit_price < 0:
            raise ValueError("quantity, amount and unit price must not be negative")
        if self.conversion <= 0:
            raise ValueError("conversion must be positive")

    @property
    def common_quantity(self) -> Decimal:
        return self.quantity * self.conversion

    def priced_at_most(self, price_per_common_unit: Decimal) -> bool:
        # Cross-multiplied so no inexact division is needed.
        return self.unit_price <= price_per_common_unit * self.conversion

    def priced_below(self, price_per_common_unit: Decimal) -> bool:
        return self.unit_price < price_per_common_unit * self.conversion


def classify_purchase(
    record: PurchaseRecord,
    *,
    selected_price: Decimal,
    agreed_completed: bool,
    kind: ProcurementKind | str,
) -> Treatment:
    """How one purchase is treated in the assessment.

    Checked in this order, the first that applies wins:

    1. backup supplier (备供) → ``BACKUP_SUPPLIER`` (seed 002 二(四));
    2. a selected product → ``SELECTED``;
    3. consumables, seed 004 二(二): a selected company's non-selected product listed at or
       below ITS OWN selected price in the category → ``COUNTED_AS_SELECTED`` ("可视为中选
       产品"); a non-selected company's product at or below ``selected_price`` (the category's
       HIGHEST selected price) → ``NOT_REGARDED_NON_SELECTED`` ("不视为非中选产品": it leaves
       the non-selected side but is not added to the selected side);
    4. bought during a bureau-confirmed supply problem → ``CONFIRMED_SUPPLY_PROBLEM``
       (seed 002 二(四));
    5. equal quality and priced strictly below the selected price ("價格低于中選藥品") →
       ``CHEAPER_EQUIVALENT`` (seed 002 二(四));
    6. drugs, seed 000 二: agreed volume completed and listed at or below the selected price
       ("中选价(含)以下") → ``COMPLETED_AT_OR_BELOW_SELECTED_PRICE``;
    7. otherwise ``NON_SELECTED``.
    """
    kind = ProcurementKind(kind)
    if record.status is ProductStatus.BACKUP:
        return Treatment.BACKUP_SUPPLIER
    if record.status is ProductStatus.SELECTED:
        return Treatment.SELECTED
    if kind is ProcurementKind.CONSUMABLE:
        # Seed 004 treats the two kinds of maker differently: a selected company is held to
        # its own selected price, any other company to the category's highest one.
        if record.maker_selected_price is not None:
            if record.priced_at_most(record.maker_selected_price):
                return Treatment.COUNTED_AS_SELECTED
        elif record.priced_at_most(selected_price):
            return Treatment.NOT_REGARDED_NON_SELECTED
    if record.during_confirmed_supply_problem:
        return Treatment.CONFIRMED_SUPPLY_PROBLEM
    if record.equal_quality and record.priced_below(selected_price):
        return Treatment.CHEAPER_EQUIVALENT
    if kind is ProcurementKind.DRUG and agreed_completed and record.priced_at_most(selected_price):
        return Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE
    return Treatment.NON_SELECTED


@dataclass(frozen=True)
class ComplianceResult:
    """Outcome of :func:`assess_selection_compliance`; quantities in the common unit."""

    selected_quantity: Decimal  # counted on the selected side, incl. counted-as-selected
    non_selected_quantity: Decimal  # counted on the non-selected side
    counted_as_selected_quantity: Decimal  # seed 004 二(二), part of selected_quantity
    exempt_quantity: Mapping[Treatment, Decimal]  # left out, by reason (only reasons that occurred)
    selected_amount: Decimal
    non_selected_amount: Decimal
    non_selected_share: Decimal  # non-selected / (selected + non-selected), 0 when both are 0
    agreed_completed: bool
    compliant: bool
    reasons: tuple[str, ...]


def assess_selection_compliance(
    purchases: Iterable[PurchaseRecord],
    *,
    selected_price: Decimal,
    agreed: Decimal,
    completed: Decimal,
    kind: ProcurementKind | str = ProcurementKind.DRUG,
) -> ComplianceResult:
    """Selected vs non-selected rule for one institution × generic (or consumable category)
    × agreement year.

    The rule, by QUANTITY (seed 000 二: "采购周期内每年采购中选药品使用量不得低于非中选药品
    采购量"; seed 001 二(二): "采购的非中选药品数量按比例关系折算后不得超过中选品种"):
    compliant when the counted selected quantity is at least the counted non-selected
    quantity. Each purchase is classified by :func:`classify_purchase`, which lists the
    exemptions and their order.

    ``selected_price`` is per common unit: the selected price of the generic for drugs, the
    category's highest selected price for consumables (seed 004 二(二) "同产品类别最高中选价").
    ``agreed`` and ``completed`` are the institution's agreed volume and the quantity of it
    completed so far; the agreed volume counts as completed when ``completed >= agreed``.
    ``reasons`` lists, for people, each exemption applied and the verdict, with its clause.
    """
    if agreed < 0 or completed < 0:
        raise ValueError("agreed and completed volumes must not be negative")
    agreed_completed = completed >= agreed
    quantities: dict[Treatment, Decimal] = {}
    amounts: dict[Treatment, Decimal] = {}
    for record in purchases:
        treatment = classify_purchase(
            record, selected_price=selected_price, agreed_completed=agreed_completed, kind=kind
        )
        quantities[treatment] = quantities.get(treatment, ZERO) + record.common_quantity
        amounts[treatment] = amounts.get(treatment, ZERO) + record.amount

    as_selected = quantities.get(Treatment.COUNTED_AS_SELECTED, ZERO)
    selected = quantities.get(Treatment.SELECTED, ZERO) + as_selected
    non_selected = quantities.get(Treatment.NON_SELECTED, ZERO)
    exempt = {t: q for t, q in quantities.items() if t.exempt}
    counted = selected + non_selected
    share = _to_share(Fraction(non_selected) / Fraction(counted) if counted else Fraction(0))
    compliant = selected >= non_selected

    reasons = [f"{t.value}: {q} not counted ({CITATIONS[t]})" for t, q in exempt.items()]
    if as_selected:
        reasons.append(f"counted_as_selected: {as_selected} ({CITATIONS[Treatment.COUNTED_AS_SELECTED]})")
    verdict = "selected_not_below_non_selected" if compliant else "non_selected_exceeds_selected"
    reasons.append(f"{verdict}: selected {selected}, non-selected {non_selected} ({RULE_CITATION})")

    return ComplianceResult(
        selected_quantity=selected,
        non_selected_quantity=non_selected,
        counted_as_selected_quantity=as_selected,
        exempt_quantity=exempt,
        selected_amount=sum(
            (amounts.get(t, ZERO) for t in (Treatment.SELECTED, Treatment.COUNTED_AS_SELECTED)), ZERO
        ),
        non_selected_amount=amounts.get(Treatment.NON_SELECTED, ZERO),
        non_selected_share=share,
        agreed_completed=agreed_completed,
        compliant=compliant,
        reasons=tuple(reasons),
    )


# ---------------------------------------------------------------------------
# 4. Working days and supply problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days: Monday–Friday, minus public holidays, plus make-up working days (调休上班).

    A make-up working day is normally a Saturday or Sunday; it wins over the weekend. A date
    cannot be both a holiday and a make-up working day.
    """

    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Accept any iterable (a set, a list from the database) and freeze it.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "makeup_workdays", frozenset(self.makeup_workdays))
        if both := self.holidays & self.makeup_workdays:
            raise ValueError(f"dates both holiday and make-up working day: {sorted(both)}")

    def is_working_day(self, d: date) -> bool:
        if d in self.makeup_workdays:
            return True
        return d not in self.holidays and d.weekday() < 5

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``; ``d`` itself is not counted (``n=0`` gives ``d``).

        As the Civil Code counts periods (民法典 第二百零一条: "开始的当日不计入"), a problem
        reported on any day, working or not, starts counting on the next day.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_after(self, start: date, end: date) -> int:
        """Number of working days in ``(start, end]`` (0 when ``end <= start``)."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_working_day(d)
        return count


REPLY_WORKING_DAYS = 2
FIX_WORKING_DAYS = 5
ESCALATE_AFTER_WORKING_DAYS = 5


def reply_due(reported_on: date, *, calendar: WorkingCalendar) -> date:
    """Last day for the company's reply to a supply problem: 2 working days after the report.

    Seed 002 二(八): "企業應在2個工作日內進行回復並承諾問題解決時限". The report day is not
    counted; a reply on the due day is on time.
    """
    return calendar.add_working_days(reported_on, REPLY_WORKING_DAYS)


def latest_fix_date(replied_on: date, *, calendar: WorkingCalendar) -> date:
    """Latest resolution date the company may promise: 5 working days after its reply.

    Seed 002 二(八): "承諾時限不得超過5個工作日". The limit is on the PROMISED time limit
    (承诺时限), which is made in the reply, so it runs from the reply day (not counted), not
    from the report. A late reply therefore also moves this date; the lateness itself is the
    ``reply_overdue`` state of :func:`supply_problem_status`.
    """
    return calendar.add_working_days(replied_on, FIX_WORKING_DAYS)


class SupplyState(StrEnum):
    AWAITING_REPLY = "awaiting_reply"
    REPLY_OVERDUE = "reply_overdue"
    IN_PROGRESS = "in_progress"
    FIX_OVERDUE = "fix_overdue"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class SupplyProblemStatus:
    state: SupplyState
    due: date | None  # the deadline of the current stage; None once resolved
    overdue_working_days: int  # working days after ``due`` up to and including today
    escalate: bool  # overdue and overdue_working_days >= escalate_after


def supply_problem_status(
    reported_on: date,
    replied_on: date | None,
    promised_fix: date | None,
    resolved_on: date | None,
    today: date,
    *,
    calendar: WorkingCalendar,
    escalate_after: int = ESCALATE_AFTER_WORKING_DAYS,
) -> SupplyProblemStatus:
    """State of a reported supply problem on ``today`` (seed 002 二(八)).

    - resolved on or before today → ``resolved``;
    - no reply yet → ``awaiting_reply`` up to :func:`reply_due`, ``reply_overdue`` after it;
    - replied → ``in_progress`` up to the fix deadline, ``fix_overdue`` after it. The fix
      deadline is the promised date, capped at :func:`latest_fix_date` (a promise beyond
      5 working days is not allowed, "承諾時限不得超過5個工作日"); with no date promised the
      cap itself is the deadline.

    A deadline day is still on time; the day after it is overdue, even a weekend day.
    Escalation follows the seed's "對醫療機構反饋問題未在承諾時間內解決的，要及時通過約談、
    督導等方式核查處置；突出問題或無法協調解決的，逐級上報至省級醫保部門": the overdue state
    itself is the bureau's cue to act; ``escalate`` marks one still overdue after
    ``escalate_after`` more working days, to be reported upwards. The seed gives no such
    number: 5 (one more promise period) is the project's default. Events dated after
    ``today`` are treated as not yet happened.
    """
    if escalate_after < 0:
        raise ValueError("escalate_after must not be negative")
    for name, value in (("replied_on", replied_on), ("resolved_on", resolved_on)):
        if value is not None and value < reported_on:
            raise ValueError(f"{name} ({value}) is before the report ({reported_on})")
    if promised_fix is not None and (replied_on is None or promised_fix < replied_on):
        raise ValueError("a promised fix date needs a reply on or before it")

    if resolved_on is not None and resolved_on <= today:
        return SupplyProblemStatus(SupplyState.RESOLVED, None, 0, False)
    if replied_on is None or replied_on > today:
        due = reply_due(reported_on, calendar=calendar)
        waiting, late = SupplyState.AWAITING_REPLY, SupplyState.REPLY_OVERDUE
    else:
        due = latest_fix_date(replied_on, calendar=calendar)
        if promised_fix is not None:
            due = min(due, promised_fix)
        waiting, late = SupplyState.IN_PROGRESS, SupplyState.FIX_OVERDUE
    if today <= due:
        return SupplyProblemStatus(waiting, due, 0, False)
    overdue = calendar.working_days_after(due, today)
    return SupplyProblemStatus(late, due, overdue, overdue >= escalate_after)


def level_above(region: str) -> str | None:
    """The bureau one level up from a region: a county's city, a city's province; None above
    a province (the seed's top: 省级医保部门)."""
    if region.endswith("0000"):
        return None
    if region.endswith("00"):
        return region[:2] + "0000"
    return region[:4] + "00"


def escalation_path(region: str, overdue_working_days: int,
                    escalate_after: int = ESCALATE_AFTER_WORKING_DAYS) -> list[str]:
    """The bureaus above ``region`` an overdue supply problem has been reported to, nearest
    first.

    Seed 002 二(八): "突出問題或無法協調解決的，逐級上報至省級醫保部門" — level by level up to the
    province. Still overdue ``escalate_after`` working days after its deadline, a problem goes
    one level up (a county's to the city); every further ``escalate_after`` working days one
    more (the city's to the province), and no higher. The seed gives no period: one promise
    period (5 working days) per level is the project's default.
    """
    if escalate_after < 0 or overdue_working_days < 0:
        raise ValueError("working days must not be negative")
    path: list[str] = []
    above = level_above(region)
    while above is not None and overdue_working_days >= escalate_after * (len(path) + 1):
        path.append(above)
        above = level_above(above)
    return path


# ---------------------------------------------------------------------------
# 5. Payment-standard step-down
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepDownYear:
    """One year of a step-down: standard = own_price_factor × product price
    + selected_factor × selected price (then kept within [selected price, product price])."""

    own_price_factor: Decimal
    selected_factor: Decimal

    def standard(self, selected_price: Decimal, product_price: Decimal) -> Decimal:
        raw = self.own_price_factor * product_price + self.selected_factor * selected_price
        return min(max(raw, selected_price), product_price)


@dataclass(frozen=True)
class StepDownSchedule:
    """Gradual adjustment of a non-selected product's payment standard (渐进调整支付标准).

    ``years``: year 1 from the effective date, year 2 from its first anniversary, ...; the
    last entry continues and must be the selected price. Each year's standard is a linear
    formula of the product's and the selected price kept within [selected, product price], so
    it is CONTINUOUS in the product's price: no multiple of the selected price is a cliff
    (the service once took the selected price at once below 2 × and 70 % of the price from
    2 ×, so 19.99 paid 10.00 and 20.00 paid 14.00). A product close to the selected price
    reaches it at once because the formula falls below it there.
    """

    years: tuple[StepDownYear, ...]

    def __post_init__(self) -> None:
        if not self.years:
            raise ValueError("a step-down needs at least one year")
        if any(y.own_price_factor < 0 or y.selected_factor < 0 for y in self.years):
            raise ValueError("step-down factors must not be negative")
        if self.years[-1] != StepDownYear(ZERO, ONE):
            raise ValueError("the last step-down year must be the selected price (0 × own + 1 × selected)")


# Seed 001 二(四) fixes only the end point: "患者使用药品价格与中选药品集中采购价格差异较大的，
# 通过另行制定配套措施，渐进调整支付标准，3年内调整到位". It gives no multiples or percentages,
# and seed 000 五 refers them to a document not in the seeds (鲁医保发〔2019〕93号). The defaults
# are the project's: year 1 the product's own price less 30 % (as the national pilot measures,
# 医保发〔2019〕18号, are publicly summarised), year 2 the midpoint between that and the selected
# price, the selected price from year 3 (seed 001: within 3 years) — each never below the
# selected price. The pilot's "within 2 times: the selected price at once" is NOT applied as a
# threshold: max(selected, 70 % of the price) already gives the selected price up to 1/0.7 ≈
# 1.43 × and rises smoothly from there (19.99 → 13.99, 20.00 → 14.00 against 10.00).
DEFAULT_STEP_DOWN = StepDownSchedule(
    years=(
        StepDownYear(own_price_factor=Decimal("0.70"), selected_factor=ZERO),
        StepDownYear(own_price_factor=Decimal("0.35"), selected_factor=Decimal("0.5")),
        StepDownYear(own_price_factor=ZERO, selected_factor=ONE),
    ),
)


def payment_standard_on(
    selected_price: Decimal,
    product_price: Decimal,
    effective_date: date,
    on: date,
    schedule: StepDownSchedule = DEFAULT_STEP_DOWN,
    *,
    consistency_evaluated: bool = True,
) -> Decimal:
    """Insurance payment standard per unit of a product of the selected generic on ``on``.

    Seed 001 二(四): "在医保目录范围内的以集中采购价格作为医保支付标准……患者使用价格高于
    支付标准的药品，超出支付标准的部分由患者自付……差异较大的……渐进调整支付标准，3年内调整
    到位。患者使用价格低于支付标准的药品，按实际价格支付。" Hence:

    - priced at or below the selected price → its own price (the actual price is paid);
    - a generic NOT consistency-evaluated → the selected price at once (seed 000 五: "未通过
      一致性评价的仿制药，采购价、支付标准不高于中选价格"; no transition);
    - otherwise the ``schedule`` year containing ``on`` (years counted from
      ``effective_date``'s anniversaries). The standard never goes up from one year to the
      next, always lies within [selected price, product price], and is continuous and
      non-decreasing in the product's price (no threshold where it jumps).

    Not rounded: a per-unit standard may be finer than a fen; round the settled amount.
    Raises ``ValueError`` before ``effective_date`` (no procurement standard applies yet).
    """
    if selected_price <= 0 or product_price < 0:
        raise ValueError("selected price must be positive and product price not negative")
    if on < effective_date:
        raise ValueError(f"{on} is before the effective date {effective_date}")
    if product_price <= selected_price:
        return product_price
    if not consistency_evaluated:
        return selected_price
    year_index = _whole_months_between(effective_date, on) // 12
    standard = product_price
    for step in schedule.years[: year_index + 1]:
        standard = min(standard, step.standard(selected_price, product_price))
    return standard


# ---------------------------------------------------------------------------
# 6. First self-pay ratio (先行自付比例)
# ---------------------------------------------------------------------------

RESIDENT_REDUCTION = Decimal("0.10")


def first_self_pay_ratio(
    base_ratio: Decimal,
    insurance: Insurance | str,
    selected: bool,
    kind: ProcurementKind | str,
    *,
    resident_reduction: Decimal = RESIDENT_REDUCTION,
) -> Decimal:
    """First self-pay ratio of an item in the insurance scope.

    Seed 004 (聊城 二): "医保支付范围内的中选产品，以中选价格作为医保支付标准，中选产品居民
    首先自付比例下降10%，职工首先自付比例0%。" For SELECTED high-value CONSUMABLES (the
    seed's subject): residents' ratio minus 10 percentage points (read as points, not as 10 %
    of the ratio), not below 0; employees' ratio 0. Anything else keeps ``base_ratio`` (the
    seed leaves non-selected products to each city: seed 004 三(一) "各市可……通过调整个人先行
    自付比例……引导患者使用中选产品").
    """
    if not ZERO <= base_ratio <= ONE:
        raise ValueError("base_ratio must be within [0, 1]")
    insurance, kind = Insurance(insurance), ProcurementKind(kind)
    if not (selected and kind is ProcurementKind.CONSUMABLE):
        return base_ratio
    if insurance is Insurance.EMPLOYEE:
        return ZERO
    return max(ZERO, base_ratio - resident_reduction)


# ---------------------------------------------------------------------------
# 7. Prepayment
# ---------------------------------------------------------------------------

MIN_PREPAYMENT_RATIO = Decimal("0.5")


def prepayment_due(agreed_amount: Decimal, ratio: Decimal = MIN_PREPAYMENT_RATIO) -> Decimal:
    """Amount the fund prepays an institution, in yuan to the fen.

    Seed 001 二(七): "医保基金在总额预算的基础上，按不低于采购金额的50%提前预付给医疗机构".
    ``ratio`` must be within [0.5, 1]. Rounded UP to the fen, so rounding can never take the
    prepayment below the ratio.
    """
    if not MIN_PREPAYMENT_RATIO <= ratio <= ONE:
        raise ValueError("prepayment ratio must be within [0.5, 1] (seed 001 二(七): 不低于50%)")
    if agreed_amount < 0:
        raise ValueError("agreed amount must not be negative")
    return (agreed_amount * ratio).quantize(FEN, rounding=ROUND_CEILING)


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


# ---------------------------------------------------------------------------
# 9. Prices paid (不得再次议价; 未过评仿制药)
# ---------------------------------------------------------------------------


class PriceDeviation(StrEnum):
    """Why a purchase's price departs from the procurement result; each names its flag type."""

    # Seed 001 二(四): "严格执行中选药品的国家集中采购价格，各医疗机构及医联体不得再次议价".
    RENEGOTIATED = "selected_price_renegotiated"
    # Seed 000 五: "同一通用名下未通过一致性评价的仿制药，采购价、支付标准不高于中选价格".
    UNEVALUATED_ABOVE_SELECTED = "unevaluated_generic_above_selected_price"


PRICE_CITATIONS: Mapping[PriceDeviation, str] = {
    PriceDeviation.RENEGOTIATED: "seed 001 二(四): 严格执行中选药品的国家集中采购价格，各医疗机构及医联体不得再次议价",
    PriceDeviation.UNEVALUATED_ABOVE_SELECTED: (
        "seed 000 五: 同一通用名下未通过一致性评价的仿制药，采购价、支付标准不高于中选价格"),
}


def purchase_price_deviation(
    *,
    quantity: int | Decimal,
    amount: Decimal,
    status: ProductStatus | str,
    price: Decimal,
    conversion: Decimal = ONE,
    consistency_evaluated: bool = True,
    selected_price: Decimal | None = None,
) -> PriceDeviation | None:
    """Whether a purchase of ``quantity`` pricing units for ``amount`` yuan breaks a price rule.

    - A SELECTED product is bought at its selected ``price``, no other: an amount that is not
      ``quantity × price`` to within rounding to the fen (less than 0.01 yuan off, either way)
      was negotiated again — ``RENEGOTIATED``, whether cheaper or dearer (seed 001 二(四)).
    - A non-selected generic NOT through consistency evaluation is bought at no more than the
      ``selected_price`` of its group (per common unit; ``conversion`` common units per pricing
      unit): more than 0.01 yuan above ``quantity × conversion × selected_price`` is
      ``UNEVALUATED_ABOVE_SELECTED`` (seed 000 五). Unknown ``selected_price``: nothing to check.

    Backup suppliers (备供) and evaluated non-selected products have their own listing prices.
    """
    status = ProductStatus(status)
    quantity = Decimal(quantity)
    if status is ProductStatus.SELECTED:
        return PriceDeviation.RENEGOTIATED if abs(amount - quantity * price) >= FEN else None
    if status is ProductStatus.NON_SELECTED and not consistency_evaluated and selected_price is not None:
        if amount - quantity * conversion * selected_price >= FEN:
            return PriceDeviation.UNEVALUATED_ABOVE_SELECTED
    return None


__all__ = [
    "CITATIONS",
    "DEFAULT_STEP_DOWN",
    "ComplianceResult",
    "RULE_CITATION",
    "Treatment",
    "Insurance",
    "OutsideCycle",
    "ProcurementKind",
    "ProductStatus",
    "PRICE_CITATIONS",
    "PriceDeviation",
    "PurchaseRecord",
    "StepDownSchedule",
    "StepDownYear",
    "SupplyProblemStatus",
    "SupplyState",
    "WorkingCalendar",
    "add_months",
    "agreement_months",
    "agreement_year",
    "agreement_years",
    "first_year_problem",
    "assess_selection_compliance",
    "assessment_group",
    "behind_alert_due",
    "behind_schedule",
    "classify_purchase",
    "combined_progress",
    "completed_share",
    "escalation_path",
    "first_self_pay_ratio",
    "latest_fix_date",
    "level_above",
    "month_bounds",
    "month_of_year",
    "payment_standard_on",
    "prepayment_due",
    "purchase_price_deviation",
    "quarter_bounds",
    "reply_due",
    "schedule_share",
    "supply_problem_status",
]
