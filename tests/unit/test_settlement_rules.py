"""Settlement arithmetic: hand-computed cases, properties, and the example policy file."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualchannel.settlements.rules import (
    IN_FORCE,
    TRANSITIONS,
    Accumulators,
    ChargeLine,
    LineSplit,
    Policy,
    Status,
    delta_of,
    load_policies,
    load_policies_with_notes,
    policy_for,
    reverse,
    settle,
)

D = Decimal

# Test policies with round figures so every case can be checked with pencil and paper.
# Resident: deductible 500, fund 60 % up to 10 000; CI above 2 000 of in-policy self-pay,
# 50 % on the first 1 000 above the threshold, 80 % beyond, at most 3 000; assistance at most
# 1 000 (default ratios: low_income 70 %, extreme_poverty 100 %).
RES = Policy(
    region="370800", insurance="resident", effective_from=date(2024, 1, 1),
    deductible=D("500"), fund_ratio=D("0.60"), fund_cap=D("10000"),
    ci_threshold=D("2000"), ci_tiers=((D("1000"), D("0.5")), (None, D("0.8"))),
    ci_cap=D("3000"), assistance_cap=D("1000"),
)
# Employee: deductible 300, fund 85 % up to 20 000; CI above 3 000, 60 % on the first 5 000
# above it, 75 % beyond, at most 5 000; assistance at most 1 000.
EMP = Policy(
    region="370800", insurance="employee", effective_from=date(2024, 1, 1),
    deductible=D("300"), fund_ratio=D("0.85"), fund_cap=D("20000"),
    ci_threshold=D("3000"), ci_tiers=((D("5000"), D("0.6")), (None, D("0.75"))),
    ci_cap=D("5000"), assistance_cap=D("1000"),
)


def A(deductible_used="0", fund_paid="0", ci_base="0", ci_paid="0", assistance_paid="0"):
    return Accumulators(D(deductible_used), D(fund_paid), D(ci_base), D(ci_paid),
                        D(assistance_paid))


def L(code, quantity, price, standard=None, first_self_pay="0"):
    return ChargeLine(code, quantity, D(price), None if standard is None else D(standard),
                D(first_self_pay))


def S(total, over, first_self_pay, deductible, fund, ci, assistance, patient):
    """Expected split: (total, over_standard, first_self_pay, deductible, basic_fund,
    critical_illness, medical_assistance, patient_pays)."""
    return tuple(D(x) for x in (total, over, first_self_pay, deductible, fund, ci, assistance,
                                patient))


def observed(split: LineSplit):
    return (split.total, split.over_standard, split.first_self_pay, split.deductible,
            split.basic_fund, split.critical_illness, split.medical_assistance,
            split.patient_pays)


CASES = [
    # Deductible 500 crossed inside the claim: line A (300) is all deductible; line B (400)
    # pays the last 200 of deductible, then 60 % of the other 200 = 120 from the fund.
    pytest.param(RES, A(), "none",
                 [L("A", 2, "150.00"), L("B", 1, "400.00")],
                 [S(300, 0, 0, 300, 0, 0, 0, 300), S(400, 0, 0, 200, 120, 0, 0, 280)],
                 A(500, 120, 580), id="deductible-crossed-across-two-lines"),
    # 100 left under the fund cap: line A takes 60 of it, line B would get 600 but only 40
    # is left; the other 960 is in-policy self-pay (CI base 1 000, still below 2 000).
    pytest.param(RES, A(500, 9900), "none",
                 [L("A", 1, "100.00"), L("B", 1, "1000.00")],
                 [S(100, 0, 0, 0, 60, 0, 0, 40), S(1000, 0, 0, 0, 40, 0, 0, 960)],
                 A(500, 10000, 1000), id="fund-cap-crossed-across-two-lines"),
    # One line meets the last 100 of deductible and the last 50 under the cap: 400 × 60 %
    # = 240 is cut to 50; patient 100 + 350.
    pytest.param(RES, A(400, 9950), "none",
                 [L("A", 1, "500.00")],
                 [S(500, 0, 0, 100, 50, 0, 0, 450)],
                 A(500, 10000, 450), id="deductible-and-fund-cap-in-one-line"),
    # 10 × 12.50 against a standard of 10.00: 25.00 over the standard is the patient's; the
    # fund pays 60 % of 100.00.
    pytest.param(RES, A(500), "none",
                 [L("A", 10, "12.50", standard="10.00")],
                 [S(125, 25, 0, 0, 60, 0, 0, 65)],
                 A(500, 60, 40), id="price-above-payment-standard"),
    # Below the standard the actual price is paid: 10 × 8.00 = 80, nothing over.
    pytest.param(RES, A(500), "none",
                 [L("A", 10, "8.00", standard="10.00")],
                 [S(80, 0, 0, 0, 48, 0, 0, 32)],
                 A(500, 48, 32), id="price-below-payment-standard"),
    # First self-pay 10 % of 1 000 = 100, then 60 % of 900 = 540 from the fund. The CI base
    # grows by 360 only: first self-pay is outside the policy range.
    pytest.param(RES, A(500), "none",
                 [L("A", 4, "250.00", first_self_pay="0.10")],
                 [S(1000, 0, 100, 0, 540, 0, 0, 460)],
                 A(500, 540, 360), id="first-self-pay-ratio"),
    # CI base 1 000 + 400 = 1 400, still below the 2 000 threshold: no CI.
    pytest.param(RES, A(500, 0, 1000), "none",
                 [L("A", 1, "1000.00")],
                 [S(1000, 0, 0, 0, 600, 0, 0, 400)],
                 A(500, 600, 1400), id="ci-below-threshold"),
    # CI base 1 800 → 2 200: the 200 above the threshold is in tier 1 at 50 % = 100.
    pytest.param(RES, A(500, 0, 1800), "none",
                 [L("A", 1, "1000.00")],
                 [S(1000, 0, 0, 0, 600, 100, 0, 300)],
                 A(500, 600, 2200, 100), id="ci-crossing-threshold"),
    # CI base 2 800 → 3 600, i.e. 800 → 1 600 above the threshold: 200 in tier 1 at 50 %
    # = 100, 600 in tier 2 at 80 % = 480; CI 580.
    pytest.param(RES, A(500, 0, 2800), "none",
                 [L("A", 1, "2000.00")],
                 [S(2000, 0, 0, 0, 1200, 580, 0, 220)],
                 A(500, 1200, 3600, 580), id="ci-spanning-two-tiers"),
    # Tiers ending at a finite bound: with only the 1 000 at 50 %, of 800 → 1 600 above the
    # threshold just the 200 up to 1 000 is paid; nothing beyond the last bound.
    pytest.param(replace(RES, ci_tiers=((D("1000"), D("0.5")),)), A(500, 0, 2800), "none",
                 [L("A", 1, "2000.00")],
                 [S(2000, 0, 0, 0, 1200, 100, 0, 700)],
                 A(500, 1200, 3600, 100), id="ci-nothing-above-last-finite-tier"),
    # CI would pay 200 × 80 % = 160 but only 50 is left under the 3 000 cap.
    pytest.param(RES, A(500, 0, 10000, 2950), "none",
                 [L("A", 1, "500.00")],
                 [S(500, 0, 0, 0, 300, 50, 0, 150)],
                 A(500, 300, 10200, 3000), id="ci-cap-reached"),
    # Low income (70 %): first self-pay 50; fund 60 % × 950 = 570; in-policy self-pay 380,
    # base 1 800 → 2 180 so CI 180 × 50 % = 90; assistance 70 % × (380 − 90) = 203. The 50
    # of first self-pay is not assisted: patient 50 + 290 − 203 = 137.
    pytest.param(RES, A(500, 0, 1800), "low_income",
                 [L("A", 1, "1000.00", first_self_pay="0.05")],
                 [S(1000, 0, 50, 0, 570, 90, 203, 137)],
                 A(500, 570, 2180, 90, 203), id="assistance-low-income"),
    # Extreme poverty (100 %) with 100 left under the assistance cap: line A's 40 is assisted
    # in full, line B's 400 only up to the remaining 60.
    pytest.param(RES, A(500, 0, 0, 0, 900), "extreme_poverty",
                 [L("A", 1, "100.00"), L("B", 1, "1000.00")],
                 [S(100, 0, 0, 0, 60, 0, 40, 0), S(1000, 0, 0, 0, 600, 0, 60, 340)],
                 A(500, 660, 440, 0, 1000), id="assistance-extreme-poverty-cap"),
    # Same prescription, resident: 3 × 400 against 360 → over 120; first self-pay 10 % of
    # 1 080 = 108; policy range 972; deductible 500; fund 60 % × 472 = 283.20.
    pytest.param(RES, A(), "none",
                 [L("A", 3, "400.00", standard="360.00", first_self_pay="0.10")],
                 [S(1200, 120, 108, 500, "283.20", 0, 0, "916.80")],
                 A(500, "283.20", "688.80"), id="resident-prescription"),
    # Same prescription, employee: deductible 300; fund 85 % × 672 = 571.20.
    pytest.param(EMP, A(), "none",
                 [L("A", 3, "400.00", standard="360.00", first_self_pay="0.10")],
                 [S(1200, 120, 108, 300, "571.20", 0, 0, "628.80")],
                 A(300, "571.20", "400.80"), id="employee-prescription"),
    # 3 units at a standard of 33.333: 99.999 rounds to 100.00 in standard; 105.00 charged,
    # so 5.00 over.
    pytest.param(RES, A(500), "none",
                 [L("A", 3, "35.00", standard="33.333")],
                 [S(105, 5, 0, 0, 60, 0, 0, 45)],
                 A(500, 60, 40), id="odd-fen-standard-33.333"),
    # 3 × 33.335 = 100.005: half-up gives 100.01 (banker's rounding would give 100.00);
    # fund 60 % × 100.01 = 60.006 → 60.01.
    pytest.param(RES, A(500), "none",
                 [L("A", 3, "33.335")],
                 [S("100.01", 0, 0, 0, "60.01", 0, 0, "40.00")],
                 A(500, "60.01", "40.00"), id="half-fen-line-total"),
    # Fund 85 % × 2.10 = 1.785: half-up gives 1.79 (banker's would give 1.78).
    pytest.param(EMP, A(300), "none",
                 [L("A", 3, "0.70")],
                 [S("2.10", 0, 0, 0, "1.79", 0, 0, "0.31")],
                 A(300, "1.79", "0.31"), id="half-fen-fund-part"),
    # Four-decimal standard: 7 × 12.3456 = 86.4192 → 86.42; in standard 7 × 12.3455
    # = 86.4185 → 86.42, so nothing over after rounding; first self-pay 15 % = 12.963 →
    # 12.96; policy range 73.46; fund 60 % = 44.076 → 44.08; in-policy self-pay 29.38.
    pytest.param(RES, A(500), "none",
                 [L("A", 7, "12.3456", standard="12.3455", first_self_pay="0.15")],
                 [S("86.42", 0, "12.96", 0, "44.08", 0, 0, "42.34")],
                 A(500, "44.08", "29.38"), id="four-decimal-standard-and-first-self-pay"),
]


@pytest.mark.parametrize("policy, before, category, lines, expected_lines, expected_after",
                         CASES)
def test_hand_computed_settlements(policy, before, category, lines, expected_lines,
                                   expected_after):
    result = settle(policy, before, lines, category)

    assert [observed(s) for s in result.lines] == expected_lines
    assert result.total == sum(e[0] for e in expected_lines)
    assert result.basic_fund == sum(e[4] for e in expected_lines)
    assert result.critical_illness == sum(e[5] for e in expected_lines)
    assert result.medical_assistance == sum(e[6] for e in expected_lines)
    assert result.patient_pays == sum(e[7] for e in expected_lines)
    assert result.before == before
    assert result.after == expected_after
    assert result.after == before + result.delta
    assert reverse(result.after, result) == before


def test_reversing_the_latest_claim_restores_the_accumulators_before_it():
    # Claim 1 as in "deductible-crossed-across-two-lines" → (500, 120, 580, 0, 0). Claim 2:
    # 1 000 at 60 % → fund 600, base 580 + 400 = 980.
    first = settle(RES, A(), [L("A", 2, "150.00"), L("B", 1, "400.00")])
    second = settle(RES, first.after, [L("C", 1, "1000.00")])
    assert second.after == A(500, 720, 980)

    assert reverse(second.after, second) == A(500, 120, 580)
    assert reverse(reverse(second.after, second), first) == A()
    # Settling claim 2 again after its reversal gives the same split.
    assert settle(RES, reverse(second.after, second), [L("C", 1, "1000.00")]) == second


def test_reverse_refuses_accumulators_that_do_not_contain_the_settlement():
    result = settle(RES, A(), [L("A", 1, "1000.00")])
    with pytest.raises(ValueError, match="do not contain"):
        reverse(A(), result)


def test_delta_of_rebuilds_a_claims_delta_from_its_lines():
    result = settle(RES, A(400, 0, 1800), [L("A", 2, "150.00"), L("B", 1, "1000.00", "900.00", "0.10")],
                    "low_income")
    assert delta_of(result.lines) == result.delta
    assert result.before + delta_of(result.lines) == result.after
    assert delta_of([]) == A()


def test_settlement_status_transitions():
    moves = {action: (move.sources, move.target) for action, move in TRANSITIONS.items()}
    assert moves["approve"] == ({Status.pending}, Status.approved)
    assert moves["reject"] == ({Status.pending}, Status.rejected)
    assert moves["reverse"] == (IN_FORCE, Status.reversed)
    assert IN_FORCE == {Status.settled, Status.pending, Status.approved}


def test_example_json_notes_come_with_their_policies():
    pairs = load_policies_with_notes()
    assert [policy for policy, _ in pairs] == list(load_policies())
    assert all(note and "example" in note for _, note in pairs)


def test_accumulator_arithmetic():
    assert A(1, 2, 3, 4, 5) + A(1, 1, 1, 1, 1) == A(2, 3, 4, 5, 6)
    assert A(2, 3, 4, 5, 6) - A(1, 1, 1, 1, 1) == A(1, 2, 3, 4, 5)
    with pytest.raises(ValueError):
        A(1) - A(2)


@pytest.mark.parametrize("make, error", [
    (lambda: settle(RES, A(), []), ValueError),
    (lambda: settle(RES, A(), [L("A", 1, "1.00")], "wealthy"), ValueError),
    (lambda: ChargeLine("A", 0, D("1.00")), ValueError),
    (lambda: ChargeLine("A", 1, 1.5), TypeError),
    (lambda: ChargeLine("A", 1, D("1.00"), first_self_pay_ratio=D("1.1")), ValueError),
    (lambda: Accumulators(fund_paid=D("0.001")), ValueError),
    (lambda: Policy.from_dict({**_EXAMPLE_ROW, "fund_ratio": 0.6}), TypeError),
    (lambda: Policy.from_dict({**_EXAMPLE_ROW, "fund_cpa": "1.00"}), ValueError),
    (lambda: Policy.from_dict({**_EXAMPLE_ROW, "ci_tiers": [
        {"up_to": None, "ratio": "0.5"}, {"up_to": "10.00", "ratio": "0.6"}]}), ValueError),
    (lambda: Policy.from_dict({**_EXAMPLE_ROW, "ci_tiers": [
        {"up_to": "10.00", "ratio": "0.5"}, {"up_to": "10.00", "ratio": "0.6"}]}), ValueError),
], ids=["empty-claim", "unknown-category", "zero-quantity", "float-price", "ratio-above-1",
        "sub-fen-accumulator", "float-in-policy", "misspelt-key", "unbounded-tier-not-last",
        "tier-bounds-not-increasing"])
def test_bad_input_is_refused(make, error):
    with pytest.raises(error):
        make()


_EXAMPLE_ROW = {
    "region": "370800", "insurance": "resident", "effective_from": "2024-01-01",
    "deductible": "500.00", "fund_ratio": "0.60", "fund_cap": "10000.00",
    "ci_threshold": "2000.00", "ci_tiers": [{"up_to": "1000.00", "ratio": "0.5"},
                                            {"up_to": None, "ratio": "0.8"}],
    "ci_cap": "3000.00", "assistance_cap": "1000.00",
}


def test_from_dict_matches_the_constructor():
    assert Policy.from_dict(_EXAMPLE_ROW) == RES


@pytest.mark.parametrize("insurance", ["employee", "resident"])
def test_example_json_loads_for_both_insurance_types(insurance):
    policies = load_policies()
    policy = policy_for(policies, region="370800", insurance=insurance, on=date(2025, 6, 1))
    assert policy.insurance == insurance
    assert policy.effective_from == date(2024, 1, 1)
    assert policy.assistance_ratio("none") == 0
    assert policy.assistance_ratio("extreme_poverty") == 1
    # Usable as is: a prescription settles and its parts add up.
    result = settle(policy, Accumulators(), [L("A", 3, "400.00", "360.00", "0.10")],
                    "low_income")
    assert (result.basic_fund + result.critical_illness + result.medical_assistance
            + result.patient_pays) == result.total == D("1200.00")


def test_policy_for_picks_the_latest_policy_in_force():
    later = Policy.from_dict({**_EXAMPLE_ROW, "effective_from": "2025-01-01",
                              "deductible": "600.00"})
    policies = [RES, later, EMP]
    assert policy_for(policies, region="370800", insurance="resident",
                      on=date(2024, 12, 31)) == RES
    assert policy_for(policies, region="370800", insurance="resident",
                      on=date(2025, 1, 1)) == later
    with pytest.raises(LookupError):
        policy_for(policies, region="370800", insurance="resident", on=date(2023, 12, 31))


# --- properties ---------------------------------------------------------------------------

def fen(max_yuan):
    return st.integers(0, max_yuan * 100).map(lambda n: D(n).scaleb(-2))


ratios = st.integers(0, 10000).map(lambda n: D(n).scaleb(-4))
prices = st.integers(0, 2_000_000).map(lambda n: D(n).scaleb(-4))  # up to 200 yuan, 4 places


@st.composite
def policies(draw):
    bounds = sorted(draw(st.sets(st.integers(1, 5_000_000), min_size=0, max_size=3)))
    tier_bounds = [D(b).scaleb(-2) for b in bounds]
    if draw(st.booleans()) or not tier_bounds:
        tier_bounds.append(None)
    return Policy(
        region="370800", insurance=draw(st.sampled_from(["employee", "resident"])),
        effective_from=date(2024, 1, 1),
        deductible=draw(fen(2000)), fund_ratio=draw(ratios), fund_cap=draw(fen(20000)),
        ci_threshold=draw(fen(5000)),
        ci_tiers=tuple((b, draw(ratios)) for b in tier_bounds),
        ci_cap=draw(fen(10000)), assistance_cap=draw(fen(3000)),
        assistance_ratios={"none": 0, "low_income": draw(ratios), "extreme_poverty": draw(ratios)},
    )


accumulators = st.builds(Accumulators, fen(3000), fen(25000), fen(20000), fen(12000), fen(4000))
lines = st.builds(
    ChargeLine, st.sampled_from(["D1", "D2", "D3"]), st.integers(1, 60), prices,
    st.none() | prices, ratios,
)


@settings(max_examples=400, deadline=None)
@given(policies(), accumulators, st.lists(lines, min_size=1, max_size=6),
       st.sampled_from(["none", "low_income", "extreme_poverty"]), st.data())
def test_settlement_properties(policy, before, claim, category, data):
    result = settle(policy, before, claim, category)

    parts = ("total", "over_standard", "first_self_pay", "policy_range", "deductible",
             "basic_fund", "in_policy_self_pay", "critical_illness", "medical_assistance",
             "patient_pays")
    for split in result.lines:
        for name in parts:
            value = getattr(split, name)
            assert value >= 0, name
            assert value == value.quantize(D("0.01")), name
        assert (split.basic_fund + split.critical_illness + split.medical_assistance
                + split.patient_pays) == split.total
        assert (split.over_standard + split.first_self_pay + split.in_policy_self_pay
                - split.critical_illness - split.medical_assistance) == split.patient_pays

    for name in ("total", "basic_fund", "critical_illness", "medical_assistance",
                 "patient_pays"):
        assert getattr(result, name) == sum(getattr(s, name) for s in result.lines)
    assert (result.basic_fund + result.critical_illness + result.medical_assistance
            + result.patient_pays) == result.total

    # No fund pays past what remained of its annual cap.
    assert result.basic_fund <= max(policy.fund_cap - before.fund_paid, 0)
    assert result.critical_illness <= max(policy.ci_cap - before.ci_paid, 0)
    assert result.medical_assistance <= max(policy.assistance_cap - before.assistance_paid, 0)
    assert result.delta.deductible_used <= max(policy.deductible - before.deductible_used, 0)

    assert reverse(result.after, result) == before

    # Settling the claim in two parts, the second on the first's accumulators, is the same.
    cut = data.draw(st.integers(1, len(claim)))
    head = settle(policy, before, claim[:cut], category)
    tail_lines = head.lines
    if cut < len(claim):
        tail = settle(policy, head.after, claim[cut:], category)
        tail_lines += tail.lines
        assert tail.after == result.after
    assert tail_lines == result.lines
