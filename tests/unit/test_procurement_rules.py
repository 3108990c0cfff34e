"""Unit tests of the pure procurement-execution rules (dualchannel.procurement.rules.*)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualchannel.insurance import Insurance
from dualchannel.procurement.rules.agreement import (
    OutsideCycle, ProcurementKind, ProductStatus, add_months, agreement_months, agreement_year,
    agreement_years, assessment_group, behind_alert_due, behind_schedule, combined_progress, completed_share,
    first_year_problem, month_bounds, month_of_year, quarter_bounds, schedule_share,
)
from dualchannel.procurement.rules.compliance import PurchaseRecord, Treatment, assess_selection_compliance
from dualchannel.procurement.rules.prices import (
    DEFAULT_STEP_DOWN, PriceDeviation, StepDownSchedule, StepDownYear, first_self_pay_ratio,
    payment_standard_on, prepayment_due, purchase_price_deviation,
)
from dualchannel.procurement.rules.supply import (
    SupplyState, WorkingCalendar, escalation_path, latest_fix_date, reply_due, supply_problem_status,
)

dates = st.dates(min_value=date(2018, 1, 1), max_value=date(2035, 12, 31))

# ---------------------------------------------------------------------------
# Agreement years
# ---------------------------------------------------------------------------


def test_agreement_years_of_a_two_year_cycle() -> None:
    # Seed 004: execution from 2024-05-31, cycle of 2 years, agreements signed yearly.
    assert agreement_years(date(2024, 5, 31), date(2026, 5, 30)) == [
        (date(2024, 5, 31), date(2025, 5, 31)),
        (date(2025, 5, 31), date(2026, 5, 31)),
    ]


def test_last_agreement_year_is_truncated_at_the_cycle_end() -> None:
    assert agreement_years(date(2020, 4, 15), date(2021, 12, 31)) == [
        (date(2020, 4, 15), date(2021, 4, 15)),
        (date(2021, 4, 15), date(2022, 1, 1)),
    ]


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2020, 4, 15), (date(2020, 4, 15), date(2021, 4, 15))),
        (date(2021, 4, 14), (date(2020, 4, 15), date(2021, 4, 15))),
        (date(2021, 4, 15), (date(2021, 4, 15), date(2022, 1, 1))),
        (date(2021, 12, 31), (date(2021, 4, 15), date(2022, 1, 1))),
    ],
)
def test_agreement_year_containing_a_date(on: date, expected: tuple[date, date]) -> None:
    assert agreement_year(date(2020, 4, 15), date(2021, 12, 31), on) == expected


@pytest.mark.parametrize("on", [date(2020, 4, 14), date(2022, 1, 1)])
def test_agreement_year_outside_the_cycle_is_an_error(on: date) -> None:
    with pytest.raises(OutsideCycle):
        agreement_year(date(2020, 4, 15), date(2021, 12, 31), on)


def test_a_stated_first_year_and_later_years_to_the_stated_year_end() -> None:
    """Seed 004 一 (004_61ff265ac555f13c.txt): "首年协议期为 2024 年 5 月 27 日—2025 年 5 月 31 日"."""
    assert agreement_years(date(2024, 5, 27), date(2026, 5, 31), date(2025, 5, 31)) == [
        (date(2024, 5, 27), date(2025, 6, 1)),
        (date(2025, 6, 1), date(2026, 6, 1)),
    ]
    # Without the stated end the same cycle is cut on anniversaries: a third "year" of 5 days.
    assert agreement_years(date(2024, 5, 27), date(2026, 5, 31))[-1] == (date(2026, 5, 27), date(2026, 6, 1))
    # A short first year, then calendar years, the last truncated at the cycle's end.
    assert agreement_years(date(2024, 9, 15), date(2026, 6, 30), date(2024, 12, 31)) == [
        (date(2024, 9, 15), date(2025, 1, 1)), (date(2025, 1, 1), date(2026, 1, 1)),
        (date(2026, 1, 1), date(2026, 7, 1))]
    assert agreement_years(date(2024, 9, 15), date(2024, 12, 31), date(2024, 12, 31)) == [
        (date(2024, 9, 15), date(2025, 1, 1))]
    assert agreement_year(date(2024, 5, 27), date(2026, 5, 31), date(2025, 5, 31), date(2025, 5, 31)) == (
        date(2024, 5, 27), date(2025, 6, 1))


@pytest.mark.parametrize("first_year_end", [date(2024, 5, 26), date(2026, 6, 1), date(2025, 6, 27)])
def test_a_first_year_end_outside_the_cycle_or_too_late_is_an_error(first_year_end: date) -> None:
    assert first_year_problem(date(2024, 5, 27), date(2026, 5, 31), first_year_end)
    with pytest.raises(ValueError):
        agreement_years(date(2024, 5, 27), date(2026, 5, 31), first_year_end)


@given(start=dates, length=st.integers(0, 1500), first=st.integers(0, 400), offset=st.integers(0, 1500))
def test_years_with_a_stated_first_year_tile_the_cycle(start: date, length: int, first: int, offset: int) -> None:
    end = start + timedelta(days=length)
    first_end = start + timedelta(days=min(first, length))
    if first_year_problem(start, end, first_end):
        return
    years = agreement_years(start, end, first_end)
    assert years[0] == (start, first_end + timedelta(days=1))
    assert years[-1][1] == end + timedelta(days=1)
    assert all(a[1] == b[0] for a, b in zip(years, years[1:]))
    on = start + timedelta(days=min(offset, length))
    year_start, year_end = agreement_year(start, end, on, first_end)
    assert year_start <= on < year_end and len(agreement_months(year_start, year_end)) <= 12


def test_cycle_ending_before_it_starts_is_an_error() -> None:
    with pytest.raises(ValueError):
        agreement_years(date(2024, 1, 1), date(2023, 12, 31))


def test_leap_day_start_has_anniversaries_on_28_february() -> None:
    assert agreement_years(date(2024, 2, 29), date(2029, 2, 28))[:2] == [
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2025, 2, 28), date(2026, 2, 28)),
    ]
    assert agreement_year(date(2024, 2, 29), date(2029, 2, 28), date(2028, 2, 29)) == (
        date(2028, 2, 29),
        date(2029, 2, 28),
    )


@given(start=dates, length=st.integers(0, 1500), offset=st.integers(0, 1500))
def test_agreement_years_tile_the_cycle(start: date, length: int, offset: int) -> None:
    end = start + timedelta(days=length)
    years = agreement_years(start, end)
    assert years[0][0] == start and years[-1][1] == end + timedelta(days=1)
    assert all(a[1] == b[0] for a, b in zip(years, years[1:]))
    on = start + timedelta(days=min(offset, length))
    assert agreement_year(start, end, on) in years
    year_start, year_end = agreement_year(start, end, on)
    assert year_start <= on < year_end


# ---------------------------------------------------------------------------
# Time-elapsed schedule (序时进度)
# ---------------------------------------------------------------------------


def test_end_of_month_six_is_exactly_half_the_year() -> None:
    # The acceptance case: as_of is the instant 2026-07-01 00:00, i.e. the end of June.
    assert schedule_share(date(2026, 1, 1), date(2027, 1, 1), date(2026, 7, 1)) == D("0.5")


def test_end_of_month_six_is_half_for_a_year_starting_mid_month() -> None:
    assert schedule_share(date(2024, 5, 31), date(2025, 5, 31), date(2024, 11, 30)) == D("0.5")


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2025, 12, 31), D("0")),
        (date(2026, 1, 1), D("0")),
        # 15 of January's 31 days have elapsed: (15/31)/12.
        (date(2026, 1, 16), D("0.040323")),
        (date(2026, 4, 1), D("0.25")),
        (date(2027, 1, 1), D("1")),
        (date(2027, 3, 1), D("1")),
    ],
)
def test_schedule_share_points(as_of: date, expected: D) -> None:
    assert schedule_share(date(2026, 1, 1), date(2027, 1, 1), as_of) == expected


def test_schedule_of_a_truncated_year_is_measured_against_its_own_length() -> None:
    # A last year of 3 months: after 1 month a third has elapsed.
    assert schedule_share(date(2026, 4, 1), date(2026, 7, 1), date(2026, 5, 1)) == D("0.333333")


def test_schedule_of_an_empty_year_is_an_error() -> None:
    with pytest.raises(ValueError):
        schedule_share(date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1))


@given(start=dates, a=st.integers(-30, 400), b=st.integers(-30, 400))
def test_schedule_share_is_bounded_and_never_goes_back(start: date, a: int, b: int) -> None:
    end = add_months(start, 12)
    earlier, later = sorted((a, b))
    s1 = schedule_share(start, end, start + timedelta(days=earlier))
    s2 = schedule_share(start, end, start + timedelta(days=later))
    assert D(0) <= s1 <= s2 <= D(1)


@pytest.mark.parametrize(
    ("agreed", "purchased", "expected"),
    [(D(1000), D(500), D("0.5")), (D(300), D(400), D("1.333333")), (D(0), D(0), D(1)), (D(0), D(7), D(1))],
)
def test_completed_share(agreed: D, purchased: D, expected: D) -> None:
    assert completed_share(agreed, purchased) == expected


def test_completed_share_rejects_negative_volumes() -> None:
    with pytest.raises(ValueError):
        completed_share(D(-1), D(0))


@pytest.mark.parametrize(
    ("completed", "schedule", "tolerance", "behind"),
    [
        (D("0.40"), D("0.50"), D(0), True),
        (D("0.50"), D("0.50"), D(0), False),
        (D("0.46"), D("0.50"), D("0.05"), False),
        (D("0.44"), D("0.50"), D("0.05"), True),
    ],
)
def test_behind_schedule(completed: D, schedule: D, tolerance: D, behind: bool) -> None:
    assert behind_schedule(completed, schedule, tolerance) is behind


# ---------------------------------------------------------------------------
# Selected vs non-selected compliance
# ---------------------------------------------------------------------------

SELECTED_PRICE = D("10.00")


def rec(quantity: int, price: str, status: str = "non_selected", **kw: object) -> PurchaseRecord:
    return PurchaseRecord(
        quantity=D(quantity),
        amount=D(quantity) * D(price),
        unit_price=D(price),
        status=ProductStatus(status),
        **kw,  # type: ignore[arg-type]
    )


# Baseline: 100 selected against 150 non-selected priced above the selected price → not compliant.
BASELINE = [rec(100, "10.00", "selected"), rec(150, "25.00")]

# Each row: the 150 non-selected are replaced by the row's record; agreed/completed volumes,
# kind; expected treatment of that record and whether the year is then compliant.
COMPLIANCE_TABLE = [
    pytest.param(rec(150, "25.00"), 100, 50, "drug", Treatment.NON_SELECTED, False, id="baseline"),
    # (a) seed 000 二: agreed volume completed AND at or below the selected price ("(含)").
    pytest.param(rec(150, "10.00"), 100, 100, "drug", Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE, True,
                 id="a-completed-at-selected-price"),
    pytest.param(rec(150, "10.00"), 100, 99, "drug", Treatment.NON_SELECTED, False, id="a-not-completed"),
    pytest.param(rec(150, "10.01"), 100, 100, "drug", Treatment.NON_SELECTED, False, id="a-above-selected-price"),
    # (b) seed 002 二(四): national backup supplier (备供).
    pytest.param(rec(150, "25.00", "backup"), 100, 50, "drug", Treatment.BACKUP_SUPPLIER, True, id="b-backup"),
    # (c) seed 002 二(四): cheaper ("低于", strictly) and of equal quality.
    pytest.param(rec(150, "9.99", equal_quality=True), 100, 50, "drug", Treatment.CHEAPER_EQUIVALENT, True,
                 id="c-cheaper-equivalent"),
    pytest.param(rec(150, "10.00", equal_quality=True), 100, 50, "drug", Treatment.NON_SELECTED, False,
                 id="c-equal-price-is-not-cheaper"),
    pytest.param(rec(150, "9.99"), 100, 50, "drug", Treatment.NON_SELECTED, False, id="c-cheaper-without-quality"),
    # (d) seed 002 二(四): bought while a bureau-confirmed supply problem was open.
    pytest.param(rec(150, "25.00", during_confirmed_supply_problem=True), 100, 50, "drug",
                 Treatment.CONFIRMED_SUPPLY_PROBLEM, True, id="d-confirmed-supply-problem"),
    # (e) seed 004 二(二), consumables: a selected company's other product at or below its
    # own selected price counts AS selected ...
    pytest.param(rec(150, "8.00", maker_selected_price=D("8.00")), 100, 50, "consumable",
                 Treatment.COUNTED_AS_SELECTED, True, id="e-same-maker-counted-as-selected"),
    pytest.param(rec(150, "9.00", maker_selected_price=D("8.00")), 100, 50, "consumable",
                 Treatment.NON_SELECTED, False, id="e-same-maker-above-own-price"),
    # ... another company's product at or below the highest selected price is not regarded
    # as non-selected.
    pytest.param(rec(150, "10.00"), 100, 50, "consumable", Treatment.NOT_REGARDED_NON_SELECTED, True,
                 id="e-other-maker-within-highest-selected-price"),
    pytest.param(rec(150, "10.00"), 100, 50, "drug", Treatment.NON_SELECTED, False,
                 id="e-does-not-apply-to-drugs"),
]


@pytest.mark.parametrize(("record", "agreed", "completed", "kind", "treatment", "compliant"), COMPLIANCE_TABLE)
def test_compliance_table(
    record: PurchaseRecord, agreed: int, completed: int, kind: str, treatment: Treatment, compliant: bool
) -> None:
    result = assess_selection_compliance(
        [BASELINE[0], record],
        selected_price=SELECTED_PRICE,
        agreed=D(agreed),
        completed=D(completed),
        kind=ProcurementKind(kind),
    )
    assert result.compliant is compliant
    if treatment is Treatment.NON_SELECTED:
        assert result.non_selected_quantity == 150 and result.exempt_quantity == {}
    elif treatment is Treatment.COUNTED_AS_SELECTED:
        assert result.selected_quantity == 250 and result.counted_as_selected_quantity == 150
        assert result.non_selected_quantity == 0
    else:
        assert result.exempt_quantity == {treatment: D(150)}
        assert (result.selected_quantity, result.non_selected_quantity) == (100, 0)
    assert any(r.startswith("selected_not_below" if compliant else "non_selected_exceeds") for r in result.reasons)


def test_baseline_result_in_full() -> None:
    result = assess_selection_compliance(BASELINE, selected_price=SELECTED_PRICE, agreed=D(100), completed=D(100))
    assert result.selected_quantity == 100 and result.non_selected_quantity == 150
    assert result.selected_amount == D("1000.00") and result.non_selected_amount == D("3750.00")
    assert result.non_selected_share == D("0.6")
    assert result.agreed_completed and not result.compliant
    assert result.reasons == (
        "non_selected_exceeds_selected: selected 100, non-selected 150 (seed 000 二: "
        "采购周期内每年采购中选药品使用量不得低于非中选药品采购量; seed 001 二(二): "
        "采购的非中选药品数量按比例关系折算后不得超过中选品种)",
    )


def test_equal_quantities_are_compliant() -> None:
    # "不得低于" / "不得超过": equality is allowed.
    result = assess_selection_compliance(
        [rec(100, "10.00", "selected"), rec(100, "25.00")], selected_price=SELECTED_PRICE, agreed=D(0), completed=D(0)
    )
    assert result.compliant and result.non_selected_share == D("0.5")


def test_quantities_are_compared_after_conversion_to_the_common_unit() -> None:
    # Seed 001 二(二) "按比例关系折算": boxes of 28 tablets (selected) vs boxes of 14.
    selected = rec(10, "28.00", "selected", conversion=D(28))  # 280 tablets, 1.00 a tablet
    non_selected = rec(21, "14.00", conversion=D(14))  # 294 tablets, 1.00 a tablet
    result = assess_selection_compliance(
        [selected, non_selected], selected_price=D("1.00"), agreed=D(280), completed=D(280)
    )
    # 14.00 a box of 14 is 1.00 a tablet: at the selected price, agreed volume completed.
    assert result.exempt_quantity == {Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE: D(294)}
    not_completed = assess_selection_compliance(
        [selected, non_selected], selected_price=D("1.00"), agreed=D(300), completed=D(280)
    )
    assert (not_completed.selected_quantity, not_completed.non_selected_quantity) == (280, 294)
    assert not not_completed.compliant


def test_several_exemptions_are_reported_by_reason() -> None:
    result = assess_selection_compliance(
        [
            rec(50, "10.00", "selected"),
            rec(30, "30.00", "backup"),
            rec(20, "30.00", during_confirmed_supply_problem=True),
            rec(60, "30.00"),
        ],
        selected_price=SELECTED_PRICE,
        agreed=D(100),
        completed=D(50),
    )
    assert result.exempt_quantity == {Treatment.BACKUP_SUPPLIER: D(30), Treatment.CONFIRMED_SUPPLY_PROBLEM: D(20)}
    assert not result.compliant and result.non_selected_share == D("0.545455")
    assert [r.split(":")[0] for r in result.reasons] == [
        "backup_supplier",
        "confirmed_supply_problem",
        "non_selected_exceeds_selected",
    ]


def test_plain_strings_from_the_database_are_accepted() -> None:
    backup = PurchaseRecord(quantity=D(5), amount=D(50), unit_price=D(10), status="backup")  # type: ignore[arg-type]
    assert backup.status is ProductStatus.BACKUP
    result = assess_selection_compliance(
        [backup, rec(5, "10.00")], selected_price=SELECTED_PRICE, agreed=D(9), completed=D(0), kind="consumable"
    )
    assert result.exempt_quantity == {Treatment.BACKUP_SUPPLIER: D(5), Treatment.NOT_REGARDED_NON_SELECTED: D(5)}
    with pytest.raises(ValueError):
        rec(1, "1.00", "withdrawn")


def test_no_purchases_is_compliant_with_zero_share() -> None:
    result = assess_selection_compliance([], selected_price=SELECTED_PRICE, agreed=D(10), completed=D(0))
    assert result.compliant and result.non_selected_share == 0 and not result.agreed_completed


def test_negative_purchase_is_rejected() -> None:
    with pytest.raises(ValueError):
        rec(-1, "10.00")


records = st.builds(
    PurchaseRecord,
    quantity=st.integers(0, 1000).map(D),
    amount=st.integers(0, 10**6).map(D),
    unit_price=st.integers(1, 5000).map(lambda c: D(c) / 100),
    status=st.sampled_from(ProductStatus),
    during_confirmed_supply_problem=st.booleans(),
    equal_quality=st.booleans(),
    maker_selected_price=st.one_of(st.none(), st.integers(1, 5000).map(lambda c: D(c) / 100)),
)


@given(
    purchases=st.lists(records, max_size=12),
    kind=st.sampled_from(ProcurementKind),
    completed=st.integers(0, 200).map(D),
)
def test_every_purchase_lands_in_exactly_one_bucket(
    purchases: list[PurchaseRecord], kind: ProcurementKind, completed: D
) -> None:
    result = assess_selection_compliance(purchases, selected_price=SELECTED_PRICE, agreed=D(100), completed=completed,
                                         kind=kind)
    total = sum((p.quantity for p in purchases), D(0))
    assert result.selected_quantity + result.non_selected_quantity + sum(result.exempt_quantity.values()) == total
    assert result.compliant is (result.selected_quantity >= result.non_selected_quantity)
    assert D(0) <= result.non_selected_share <= D(1)


@given(purchases=st.lists(records, max_size=12), extra=st.integers(1, 1000).map(D))
def test_a_backup_purchase_never_changes_the_verdict(purchases: list[PurchaseRecord], extra: D) -> None:
    kwargs = {"selected_price": SELECTED_PRICE, "agreed": D(100), "completed": D(40)}
    before = assess_selection_compliance(purchases, **kwargs)
    after = assess_selection_compliance([*purchases, rec(int(extra), "99.00", "backup")], **kwargs)
    assert (after.selected_quantity, after.non_selected_quantity, after.compliant) == (
        before.selected_quantity,
        before.non_selected_quantity,
        before.compliant,
    )


# ---------------------------------------------------------------------------
# Working days and supply problems (seed 002 二(八))
# ---------------------------------------------------------------------------

PLAIN = WorkingCalendar()
# The 2025 National Day / Mid-Autumn arrangement: 1–8 October off, Sunday 28 September and
# Saturday 11 October make-up working days.
NATIONAL_DAY_2025 = WorkingCalendar(
    holidays={date(2025, 10, d) for d in range(1, 9)},
    makeup_workdays={date(2025, 9, 28), date(2025, 10, 11)},
)
# A Monday holiday (2025-05-05, the last day of the Labour Day break).
MONDAY_HOLIDAY = WorkingCalendar(holidays={date(2025, 5, 5)})


def test_is_working_day() -> None:
    assert PLAIN.is_working_day(date(2025, 9, 26))  # Friday
    assert not PLAIN.is_working_day(date(2025, 9, 27))  # Saturday
    assert NATIONAL_DAY_2025.is_working_day(date(2025, 9, 28))  # make-up Sunday
    assert not NATIONAL_DAY_2025.is_working_day(date(2025, 10, 1))  # holiday, a Wednesday
    assert NATIONAL_DAY_2025.is_working_day(date(2025, 10, 11))  # make-up Saturday


def test_calendar_accepts_plain_sets_and_rejects_contradictions() -> None:
    assert WorkingCalendar(holidays={date(2025, 1, 1)}).holidays == frozenset({date(2025, 1, 1)})
    with pytest.raises(ValueError):
        WorkingCalendar(holidays={date(2025, 9, 28)}, makeup_workdays={date(2025, 9, 28)})


def test_add_working_days_does_not_count_the_start_day() -> None:
    assert PLAIN.add_working_days(date(2025, 9, 24), 0) == date(2025, 9, 24)
    assert PLAIN.add_working_days(date(2025, 9, 24), 1) == date(2025, 9, 25)
    assert PLAIN.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 29)  # Friday → Monday
    with pytest.raises(ValueError):
        PLAIN.add_working_days(date(2025, 9, 26), -1)


def test_friday_report_reply_due_tuesday_and_overdue_wednesday() -> None:
    friday = date(2025, 9, 19)
    assert reply_due(friday, calendar=PLAIN) == date(2025, 9, 23)
    on_tuesday = supply_problem_status(friday, None, None, None, date(2025, 9, 23), calendar=PLAIN)
    assert on_tuesday.state is SupplyState.AWAITING_REPLY
    on_wednesday = supply_problem_status(friday, None, None, None, date(2025, 9, 24), calendar=PLAIN)
    assert on_wednesday.state == "reply_overdue"
    assert on_wednesday.due == date(2025, 9, 23) and on_wednesday.overdue_working_days == 1


def test_a_monday_holiday_moves_the_reply_deadline() -> None:
    friday = date(2025, 5, 2)
    assert reply_due(friday, calendar=PLAIN) == date(2025, 5, 6)
    assert reply_due(friday, calendar=MONDAY_HOLIDAY) == date(2025, 5, 7)
    status = supply_problem_status(friday, None, None, None, date(2025, 5, 7), calendar=MONDAY_HOLIDAY)
    assert status.state is SupplyState.AWAITING_REPLY


def test_a_make_up_working_day_counts() -> None:
    # Reported Friday 26 September 2025: Sunday 28th is a make-up working day, Monday 29th
    # the second working day.
    assert reply_due(date(2025, 9, 26), calendar=NATIONAL_DAY_2025) == date(2025, 9, 29)
    assert reply_due(date(2025, 9, 26), calendar=PLAIN) == date(2025, 9, 30)
    # Reported Tuesday 30 September: the National Day break intervenes.
    assert reply_due(date(2025, 9, 30), calendar=NATIONAL_DAY_2025) == date(2025, 10, 10)


def test_latest_fix_date_runs_five_working_days_from_the_reply() -> None:
    # Replied Friday 10 October 2025: Saturday 11th (make-up), 13, 14, 15, 16.
    assert latest_fix_date(date(2025, 10, 10), calendar=NATIONAL_DAY_2025) == date(2025, 10, 16)
    assert latest_fix_date(date(2025, 10, 10), calendar=PLAIN) == date(2025, 10, 17)


def test_supply_problem_life_cycle() -> None:
    reported, replied = date(2025, 9, 22), date(2025, 9, 23)  # Monday, Tuesday

    def status(today: date, promised: date | None = None, resolved: date | None = None):  # noqa: ANN202
        return supply_problem_status(reported, replied, promised, resolved, today, calendar=PLAIN)

    in_progress = status(date(2025, 9, 25), promised=date(2025, 9, 26))
    assert (in_progress.state, in_progress.due) == (SupplyState.IN_PROGRESS, date(2025, 9, 26))
    overdue = status(date(2025, 9, 29), promised=date(2025, 9, 26))
    assert (overdue.state, overdue.overdue_working_days, overdue.escalate) == (SupplyState.FIX_OVERDUE, 1, False)
    # No date promised: the 5-working-day limit is the deadline; a promise beyond it is capped.
    assert status(date(2025, 9, 25)).due == date(2025, 9, 30)
    assert status(date(2025, 9, 25), promised=date(2025, 10, 20)).due == date(2025, 9, 30)
    assert status(date(2025, 10, 1), promised=date(2025, 9, 26), resolved=date(2025, 9, 30)).state == "resolved"
    # A resolution dated after "today" has not happened yet.
    assert status(date(2025, 9, 29), promised=date(2025, 9, 26), resolved=date(2025, 9, 30)).state == "fix_overdue"


def test_overdue_on_a_weekend_counts_no_working_days() -> None:
    # Reply due Friday; on Saturday it is overdue, by 0 working days so far.
    status = supply_problem_status(date(2025, 9, 24), None, None, None, date(2025, 9, 27), calendar=PLAIN)
    assert (status.state, status.overdue_working_days) == (SupplyState.REPLY_OVERDUE, 0)


@pytest.mark.parametrize(("today", "escalate"), [(date(2025, 9, 30), False), (date(2025, 10, 1), True)])
def test_escalation_after_n_more_working_days(today: date, escalate: bool) -> None:
    # Reply due Tuesday 23 September; with escalate_after=6, the sixth working day after is 1 October.
    status = supply_problem_status(date(2025, 9, 19), None, None, None, today, calendar=PLAIN, escalate_after=6)
    assert status.state is SupplyState.REPLY_OVERDUE and status.escalate is escalate


@pytest.mark.parametrize(("region", "overdue", "path"), [
    ("370811", 4, []), ("370811", 5, ["370800"]), ("370811", 9, ["370800"]),
    ("370811", 10, ["370800", "370000"]), ("370811", 50, ["370800", "370000"]),
    ("370800", 5, ["370000"]), ("370000", 50, []),
])
def test_escalation_goes_level_by_level_up_to_the_province(region: str, overdue: int, path: list[str]) -> None:
    """Seed 002 二(八): "逐級上報至省級醫保部門"."""
    assert escalation_path(region, overdue) == path


def test_default_escalation_is_five_working_days() -> None:
    assert supply_problem_status(date(2025, 9, 19), None, None, None, date(2025, 9, 30), calendar=PLAIN).escalate


@pytest.mark.parametrize(
    ("replied", "promised", "resolved"),
    [
        (date(2025, 9, 18), None, None),  # reply before report
        (None, date(2025, 9, 25), None),  # promise without reply
        (date(2025, 9, 22), date(2025, 9, 21), None),  # promise before reply
        (None, None, date(2025, 9, 18)),  # resolved before report
    ],
)
def test_inconsistent_supply_problem_dates_are_rejected(
    replied: date | None, promised: date | None, resolved: date | None
) -> None:
    with pytest.raises(ValueError):
        supply_problem_status(date(2025, 9, 19), replied, promised, resolved, date(2025, 9, 30), calendar=PLAIN)


@given(
    start=dates,
    n=st.integers(0, 30),
    holidays=st.sets(st.integers(0, 60), max_size=15),
    makeups=st.sets(st.integers(0, 60), max_size=5),
)
def test_add_working_days_lands_on_the_nth_working_day(
    start: date, n: int, holidays: set[int], makeups: set[int]
) -> None:
    cal = WorkingCalendar(
        holidays={start + timedelta(days=h) for h in holidays - makeups},
        makeup_workdays={start + timedelta(days=m) for m in makeups},
    )
    result = cal.add_working_days(start, n)
    assert cal.working_days_after(start, result) == n
    assert n == 0 or cal.is_working_day(result)


# ---------------------------------------------------------------------------
# Payment-standard step-down (seed 001 二(四))
# ---------------------------------------------------------------------------

EFFECTIVE = date(2019, 3, 20)


@pytest.mark.parametrize(
    ("product_price", "on", "expected"),
    [
        # At or below the selected price: the actual price is paid.
        (D("8.00"), EFFECTIVE, D("8.00")),
        (D("10.00"), EFFECTIVE, D("10.00")),
        # Up to 1/0.7 × the selected price: 70 % of it is below the selected price, which is paid at once.
        (D("14.28"), EFFECTIVE, D("10.00")),
        (D("14.30"), EFFECTIVE, D("10.01")),
        # No cliff at 2 ×: 19.99 pays 70 % of itself, as 20.00 does.
        (D("19.99"), EFFECTIVE, D("13.993")),
        # Above: year 1 the own price less 30 %, year 2 the midpoint, year 3 the selected price.
        (D("50.00"), EFFECTIVE, D("35.00")),
        (D("50.00"), date(2020, 3, 19), D("35.00")),
        (D("50.00"), date(2020, 3, 20), D("22.50")),
        (D("50.00"), date(2021, 3, 19), D("22.50")),
        (D("50.00"), date(2021, 3, 20), D("10.00")),
        (D("50.00"), date(2030, 1, 1), D("10.00")),
        (D("20.00"), EFFECTIVE, D("14.00")),
        (D("20.00"), date(2020, 3, 20), D("12.00")),
    ],
)
def test_payment_standard_step_down(product_price: D, on: date, expected: D) -> None:
    assert payment_standard_on(D("10.00"), product_price, EFFECTIVE, on) == expected


def test_generic_not_consistency_evaluated_gets_the_selected_price_at_once() -> None:
    assert payment_standard_on(D("10.00"), D("50.00"), EFFECTIVE, EFFECTIVE, consistency_evaluated=False) == D("10.00")
    assert payment_standard_on(D("10.00"), D("6.00"), EFFECTIVE, EFFECTIVE, consistency_evaluated=False) == D("6.00")


def test_payment_standard_before_the_effective_date_is_an_error() -> None:
    with pytest.raises(ValueError):
        payment_standard_on(D("10.00"), D("50.00"), EFFECTIVE, EFFECTIVE - timedelta(days=1))


def test_custom_step_down_schedule() -> None:
    two_years = StepDownSchedule(years=(StepDownYear(D("0.5"), D("0.5")), StepDownYear(D(0), D(1))))
    assert payment_standard_on(D("10.00"), D("15.00"), EFFECTIVE, EFFECTIVE, two_years) == D("12.50")
    assert payment_standard_on(D("10.00"), D("15.00"), EFFECTIVE, date(2020, 3, 20), two_years) == D("10.00")


@pytest.mark.parametrize(
    "years",
    [(), (StepDownYear(D("0.7"), D(0)),), (StepDownYear(D("-0.1"), D(1)), StepDownYear(D(0), D(1)))],
)
def test_schedule_must_reach_the_selected_price(years: tuple[StepDownYear, ...]) -> None:
    with pytest.raises(ValueError):
        StepDownSchedule(years=years)


@given(
    selected=st.integers(1, 10_000).map(lambda c: D(c) / 100),
    price=st.integers(0, 100_000).map(lambda c: D(c) / 100),
    days=st.integers(0, 1200),
)
def test_the_step_down_has_no_cliff(selected: D, price: D, days: int) -> None:
    """Item 9 of issue 21: a fen more on the price moves the standard by at most a fen, and
    never down."""
    on = EFFECTIVE + timedelta(days=days)
    here = payment_standard_on(selected, price, EFFECTIVE, on)
    above = payment_standard_on(selected, price + D("0.01"), EFFECTIVE, on)
    assert D(0) <= above - here <= D("0.01")


@given(
    selected=st.integers(1, 10_000).map(lambda c: D(c) / 100),
    product=st.integers(0, 100_000).map(lambda c: D(c) / 100),
    a=st.integers(0, 2000),
    b=st.integers(0, 2000),
    evaluated=st.booleans(),
)
def test_payment_standard_is_bounded_and_steps_only_down(
    selected: D, product: D, a: int, b: int, evaluated: bool
) -> None:
    earlier, later = sorted((a, b))
    s1, s2 = (
        payment_standard_on(selected, product, EFFECTIVE, EFFECTIVE + timedelta(days=d),
                            consistency_evaluated=evaluated)
        for d in (earlier, later)
    )
    assert s2 <= s1 <= product
    assert s2 >= min(selected, product)
    assert payment_standard_on(selected, product, EFFECTIVE, date(2022, 3, 20)) == min(selected, product)
    assert DEFAULT_STEP_DOWN.years[-1] == StepDownYear(D(0), D(1))


# ---------------------------------------------------------------------------
# First self-pay ratio (seed 004), prepayment (seed 001 二(七)), report periods
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "insurance", "selected", "kind", "expected"),
    [
        (D("0.30"), "resident", True, "consumable", D("0.20")),
        (D("0.05"), "resident", True, "consumable", D("0")),
        (D("0.30"), "employee", True, "consumable", D("0")),
        (D("0.30"), "resident", False, "consumable", D("0.30")),
        (D("0.30"), "employee", False, "consumable", D("0.30")),
        (D("0.10"), "employee", True, "drug", D("0.10")),
        (D("0.10"), Insurance.RESIDENT, True, ProcurementKind.DRUG, D("0.10")),
    ],
)
def test_first_self_pay_ratio(base: D, insurance: str, selected: bool, kind: str, expected: D) -> None:
    assert first_self_pay_ratio(base, insurance, selected, kind) == expected


def test_first_self_pay_ratio_validates_inputs() -> None:
    with pytest.raises(ValueError):
        first_self_pay_ratio(D("1.2"), "resident", True, "consumable")
    with pytest.raises(ValueError):
        first_self_pay_ratio(D("0.2"), "retired", True, "consumable")


@pytest.mark.parametrize(
    ("amount", "ratio", "expected"),
    [
        (D("1000.00"), D("0.5"), D("500.00")),
        (D("1000.01"), D("0.5"), D("500.01")),  # 500.005 rounded up, never below 50 %
        (D("1000.00"), D("0.8"), D("800.00")),
        (D("1000.00"), D("1"), D("1000.00")),
    ],
)
def test_prepayment_due(amount: D, ratio: D, expected: D) -> None:
    assert prepayment_due(amount, ratio) == expected


@pytest.mark.parametrize("ratio", [D("0.49"), D("1.01")])
def test_prepayment_ratio_must_be_at_least_half(ratio: D) -> None:
    with pytest.raises(ValueError):
        prepayment_due(D("1000.00"), ratio)


@given(amount=st.integers(0, 10**9).map(lambda c: D(c) / 100), ratio=st.integers(50, 100).map(lambda p: D(p) / 100))
def test_prepayment_is_never_below_the_ratio(amount: D, ratio: D) -> None:
    due = prepayment_due(amount, ratio)
    assert amount * ratio <= due < amount * ratio + D("0.01")


@pytest.mark.parametrize(
    ("d", "month", "quarter"),
    [
        (date(2026, 2, 14), (date(2026, 2, 1), date(2026, 3, 1)), (date(2026, 1, 1), date(2026, 4, 1))),
        (date(2026, 12, 31), (date(2026, 12, 1), date(2027, 1, 1)), (date(2026, 10, 1), date(2027, 1, 1))),
        (date(2026, 7, 1), (date(2026, 7, 1), date(2026, 8, 1)), (date(2026, 7, 1), date(2026, 10, 1))),
    ],
)
def test_month_and_quarter_bounds(d: date, month: tuple[date, date], quarter: tuple[date, date]) -> None:
    assert month_bounds(d) == month
    assert quarter_bounds(d) == quarter


def test_add_months_clamps_without_drifting() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 31), 2) == date(2026, 3, 31)
    assert add_months(date(2026, 3, 15), -3) == date(2025, 12, 15)


# ---------------------------------------------------------------------------
# Months of an agreement year
# ---------------------------------------------------------------------------


def test_agreement_months_follow_the_year_start_and_truncate() -> None:
    months = agreement_months(date(2024, 5, 31), date(2025, 5, 31))
    assert len(months) == 12
    assert months[0] == (date(2024, 5, 31), date(2024, 6, 30))
    assert months[1] == (date(2024, 6, 30), date(2024, 7, 31))
    assert months[8] == (date(2025, 1, 31), date(2025, 2, 28))
    assert agreement_months(date(2021, 4, 15), date(2021, 6, 1)) == [
        (date(2021, 4, 15), date(2021, 5, 15)), (date(2021, 5, 15), date(2021, 6, 1))]
    with pytest.raises(ValueError):
        agreement_months(date(2021, 4, 15), date(2021, 4, 15))


@given(dates, st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=400))
def test_month_of_year_is_the_month_containing_the_date(start: date, offset: int, length: int) -> None:
    end = start + timedelta(days=max(length, offset + 1))
    if end >= add_months(start, 13):
        end = add_months(start, 13) - timedelta(days=1)
        offset = min(offset, (end - start).days - 1)
    on = start + timedelta(days=offset)
    months = agreement_months(start, end)
    k = month_of_year(start, end, on)
    assert len(months) <= 12 and months[0][0] == start and months[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(months, months[1:]))
    assert months[k][0] <= on < months[k][1]


def test_month_of_year_rejects_dates_outside_the_year() -> None:
    with pytest.raises(ValueError):
        month_of_year(date(2026, 1, 1), date(2027, 1, 1), date(2025, 12, 31))
    with pytest.raises(ValueError):
        month_of_year(date(2026, 1, 1), date(2027, 1, 1), date(2027, 1, 1))


def test_an_irregular_first_year_keeps_twelve_months() -> None:
    # Seed 004: 2024-05-27 to 2025-05-31; the twelfth month runs on to the year's end.
    months = agreement_months(date(2024, 5, 27), date(2025, 6, 1))
    assert len(months) == 12
    assert months[0] == (date(2024, 5, 27), date(2024, 6, 27))
    assert months[-1] == (date(2025, 4, 27), date(2025, 6, 1))
    assert month_of_year(date(2024, 5, 27), date(2025, 6, 1), date(2025, 5, 31)) == 11


# ---------------------------------------------------------------------------
# Issue 21: combined assessment, prices paid
# ---------------------------------------------------------------------------


def test_only_a_companys_selected_products_are_assessed_together() -> None:
    """Seed 002 二(四): "同品種同企業中選產品,按照同一采購目錄進行合并考核"."""
    assert assessment_group("selected", "苯磺酸氨氯地平片", "浙江华海药业") == ("苯磺酸氨氯地平片", "浙江华海药业")
    assert assessment_group("non_selected", "苯磺酸氨氯地平片", "浙江华海药业") is None
    assert assessment_group("backup", "苯磺酸氨氯地平片", "浙江华海药业") is None


def test_combined_progress_is_in_common_units() -> None:
    agreed, purchased = combined_progress([(100, 0, D(28)), (100, 500, D(7)), (None, 10, D(7))])
    assert (agreed, purchased) == (D(3500), D(3570))
    assert completed_share(agreed, purchased) == D("1.02")


@pytest.mark.parametrize(("quantity", "amount", "expected"), [
    (3, D("30.00"), None), (3, D("30.009"), None), (3, D("29.991"), None),
    (1, D("7.00"), PriceDeviation.RENEGOTIATED), (2, D("20.01"), PriceDeviation.RENEGOTIATED),
    (3, D("0.00"), PriceDeviation.RENEGOTIATED),
])
def test_a_selected_product_is_bought_at_its_selected_price(quantity: int, amount: D, expected) -> None:
    """Seed 001 二(四): "不得再次议价"."""
    assert purchase_price_deviation(quantity=quantity, amount=amount, status="selected", price=D("10")) == expected


def test_an_unevaluated_generic_is_bought_at_most_at_the_selected_price() -> None:
    """Seed 000 五: "未通过一致性评价的仿制药，采购价……不高于中选价格" (per common unit)."""
    common = dict(status="non_selected", price=D("2.80"), conversion=D(28), consistency_evaluated=False)
    assert purchase_price_deviation(quantity=10, amount=D("28.00"), selected_price=D("0.10"), **common) is None
    assert purchase_price_deviation(quantity=10, amount=D("28.01"), selected_price=D("0.10"),
                                    **common) is PriceDeviation.UNEVALUATED_ABOVE_SELECTED
    assert purchase_price_deviation(quantity=10, amount=D("90.00"), selected_price=None, **common) is None
    assert purchase_price_deviation(quantity=10, amount=D("90.00"), selected_price=D("0.10"),
                                    **{**common, "consistency_evaluated": True}) is None
    assert purchase_price_deviation(quantity=10, amount=D("90.00"), selected_price=D("0.10"),
                                    **{**common, "status": "backup"}) is None


@pytest.mark.parametrize(("month", "from_month", "due"), [
    (0, 1, True), (1, 3, False), (2, 3, True), (None, 12, True)])
def test_behind_alerts_start_at_the_configured_month(month, from_month: int, due: bool) -> None:
    assert behind_alert_due(month, from_month) is due


def test_behind_alerts_cannot_start_before_month_one() -> None:
    with pytest.raises(ValueError):
        behind_alert_due(0, 0)
