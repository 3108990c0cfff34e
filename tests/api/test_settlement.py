"""One-stop settlement through the HTTP API: hand-computed splits, exactly once, manual claims,
reversal, the double-claim and price flags."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.api.conftest import created, pharmacist_of
from tests.api.test_prescription_flow import problem
from tests.support import resident_id, review, trace_codes

# The round figures of RES and EMP in tests/unit/test_settlement_rules.py, so each case can be
# checked with pencil and paper.
RESIDENT = {"region": "370800", "insurance": "resident", "effective_from": "2024-01-01",
            "deductible": "500.00", "fund_ratio": "0.60", "fund_cap": "10000.00", "ci_threshold": "2000.00",
            "ci_tiers": [{"up_to": "1000.00", "ratio": "0.5"}, {"up_to": None, "ratio": "0.8"}],
            "ci_cap": "3000.00", "assistance_cap": "1000.00", "note": "测试 resident"}
EMPLOYEE = {"region": "370800", "insurance": "employee", "effective_from": "2024-01-01",
            "deductible": "300.00", "fund_ratio": "0.85", "fund_cap": "20000.00", "ci_threshold": "3000.00",
            "ci_tiers": [{"up_to": "5000.00", "ratio": "0.6"}, {"up_to": None, "ratio": "0.75"}],
            "ci_cap": "5000.00", "assistance_cap": "1000.00"}

# code: (agreed price, payment standard, separate payment)
DRUGS = {
    "D150": ("150.00", None, False),
    "D400": ("400.00", None, False),
    "D400S": ("400.00", "360.00", False),
    "D1250": ("12.50", "10.00", False),
    "BIG": ("20000.00", None, False),
    "SEP": ("1000.00", "1000.00", True),
}
PARTS = ("total", "basic_fund", "critical_illness", "medical_assistance", "patient_pays")
LINE_PARTS = ("total", "over_standard", "deductible", "basic_fund", "critical_illness", "medical_assistance",
              "patient_pays")
ACCUMULATED = ("deductible_used", "fund_paid", "ci_base", "ci_paid", "assistance_paid")


@pytest.fixture
def desk(world):
    """The world with the test policies, priced drugs in stock, and helpers to settle."""
    created(world.bureau.post("/api/v1/settlement-policies", RESIDENT))
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))
    for code, (agreed, standard, separate) in DRUGS.items():
        created(world.admin.post("/api/v1/drugs", {
            "code": code, "generic_name": f"{code} 通用名", "name": code, "negotiated": True, "dual_channel": True,
            "separate_payment": separate, "unit": "盒", "agreed_price": agreed, "payment_standard": standard}))
    stock = world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {**{c: 5000 for c in DRUGS}, "SAC": 5000})
    assert stock.status_code == 200

    def patient(insurance="resident", assistance="none", region="370800", filed_region=None):
        number = resident_id("370811", "19700101")
        body = created(world.admin.post("/api/v1/patients", {
            "id_number": number, "name": "患者", "insurance": insurance, "region": region,
            "filed_region": filed_region, "assistance_category": assistance}))
        # The patient comes to the physician's hospital: in its care from now on.
        found = world.physician.post("/api/v1/patients/search", {"id_number": number, "name": "患者"})
        assert found.status_code == 200, found.get_json()
        return SimpleNamespace(id=body["id"], id_number=number)

    def dispensed(who, items, pharmacy_code="P370811001"):
        pharmacy = (world.as_role("pharmacy", pharmacy_code, pharmacist=pharmacist_of(pharmacy_code))
                    if pharmacy_code != "P370811001" else world.pharmacy)
        rx = created(world.physician.post("/api/v1/prescriptions", {
            "patient_id": who.id, "diagnosis": "测试", "valid_days": 3,
            "items": [{"drug_code": c, "quantity": q, "days_supply": 28, "dosage": "qd"} for c, q in items]}))
        url = f"/api/v1/prescriptions/{rx['id']}"
        assert world.physician.post(f"{url}/route", {"pharmacy_code": pharmacy_code}).status_code == 200
        assert pharmacy.post(f"{url}/verify", {"id_number": who.id_number}).status_code == 200
        assert review(pharmacy, rx["id"]).status_code == 200
        done = pharmacy.post(f"{url}/dispense",
                             {"items": [{"drug_code": c, "trace_codes": trace_codes(q)} for c, q in items]})
        assert done.status_code == 200, done.get_json()
        return rx["id"]

    def settle(rx_id, body=None, key=None, by=None):
        headers = {"Idempotency-Key": key} if key else None
        return (by or world.pharmacy).post(f"/api/v1/prescriptions/{rx_id}/settlement", body or {}, headers=headers)

    def accumulators(who):
        response = world.admin.get(f"/api/v1/patients/{who.id}/accumulators")
        assert response.status_code == 200
        return response.get_json()

    return SimpleNamespace(world=world, patient=patient, dispensed=dispensed, settle=settle,
                           accumulators=accumulators)


def assert_sums(body):
    """The parts sum exactly to the total, and each part is the sum of the lines' parts."""
    assert sum(Decimal(body[p]) for p in PARTS[1:]) == Decimal(body["total"])
    for part in PARTS:
        assert sum(Decimal(line[part]) for line in body["lines"]) == Decimal(body[part]), part
    assert all(Decimal(line[p]) >= 0 for line in body["lines"] for p in LINE_PARTS)


def claim(items, expected, lines=None, unit_prices=None):
    return {"items": items, "expected": expected, "lines": lines, "unit_prices": unit_prices}


# (insurance, assistance category, claims settled in order, accumulators after). A claim's
# expected parts are (total, basic_fund, critical_illness, medical_assistance, patient_pays);
# its lines' are (total, over_standard, deductible, basic_fund, critical_illness,
# medical_assistance, patient_pays), or None for a one-line claim whose line is the claim.
CASES = [
    # Deductible 500 crossed inside the claim: the 300 of line 1 is all deductible; line 2
    # pays its last 200, then 60 % of the other 200 = 120 from the fund.
    pytest.param("resident", "none", [
        claim([("D150", 2), ("D400", 1)], ("700.00", "120.00", "0.00", "0.00", "580.00"),
              [("300.00", "0.00", "300.00", "0.00", "0.00", "0.00", "300.00"),
               ("400.00", "0.00", "200.00", "120.00", "0.00", "0.00", "280.00")])],
        ("500.00", "120.00", "580.00", "0.00", "0.00"), id="deductible-crossed-across-two-lines"),
    # A first claim at 500 (below the agreed price) uses the deductible; then 10 × 12.50
    # against a standard of 10.00: 25.00 over the standard, the fund pays 60 % of 100.00.
    pytest.param("resident", "none", [
        claim([("BIG", 1)], ("500.00", "0.00", "0.00", "0.00", "500.00"), unit_prices={"BIG": "500.00"}),
        claim([("D1250", 10)], ("125.00", "60.00", "0.00", "0.00", "65.00"),
              [("125.00", "25.00", "0.00", "60.00", "0.00", "0.00", "65.00")])],
        ("500.00", "60.00", "540.00", "0.00", "0.00"), id="price-above-payment-standard"),
    # 3 × 400 against a standard of 360: 120 over; employee: deductible 300, fund 85 % of 780.
    pytest.param("employee", "none", [
        claim([("D400S", 3)], ("1200.00", "663.00", "0.00", "0.00", "537.00"),
              [("1200.00", "120.00", "300.00", "663.00", "0.00", "0.00", "537.00")])],
        ("300.00", "663.00", "417.00", "0.00", "0.00"), id="employee"),
    # The same prescription, resident: deductible 500, fund 60 % of 580.
    pytest.param("resident", "none", [
        claim([("D400S", 3)], ("1200.00", "348.00", "0.00", "0.00", "852.00"),
              [("1200.00", "120.00", "500.00", "348.00", "0.00", "0.00", "852.00")])],
        ("500.00", "348.00", "732.00", "0.00", "0.00"), id="resident"),
    # CI base 0 → 2 300: 300 above the 2 000 threshold at 50 % = 150. Then 2 300 → 3 100,
    # i.e. 300 → 1 100 above it: 700 at 50 % + 100 at 80 % = 430.
    pytest.param("resident", "none", [
        claim([("BIG", 1)], ("5000.00", "2700.00", "150.00", "0.00", "2150.00"), unit_prices={"BIG": "5000.00"}),
        claim([("BIG", 1)], ("2000.00", "1200.00", "430.00", "0.00", "370.00"), unit_prices={"BIG": "2000.00"})],
        ("500.00", "3900.00", "3100.00", "580.00", "0.00"), id="critical-illness-tiers"),
    # 60 % of 19 500 = 11 700 is cut to the 10 000 fund cap; CI would pay 500 + 5 600 but
    # stops at its 3 000 cap.
    pytest.param("resident", "none", [
        claim([("BIG", 1)], ("20000.00", "10000.00", "3000.00", "0.00", "7000.00"))],
        ("500.00", "10000.00", "10000.00", "3000.00", "0.00"), id="fund-and-ci-caps"),
    # Low income (70 %): in-policy self-pay 500 + 200 = 700, assisted 490.
    pytest.param("resident", "low_income", [
        claim([("BIG", 1)], ("1000.00", "300.00", "0.00", "490.00", "210.00"), unit_prices={"BIG": "1000.00"})],
        ("500.00", "300.00", "700.00", "0.00", "490.00"), id="assistance-low-income"),
    # Extreme poverty (100 %) of 10 000 − 3 000 = 7 000, cut to the 1 000 assistance cap.
    pytest.param("resident", "extreme_poverty", [
        claim([("BIG", 1)], ("20000.00", "10000.00", "3000.00", "1000.00", "6000.00"))],
        ("500.00", "10000.00", "10000.00", "3000.00", "1000.00"), id="assistance-cap"),
    # A separate-payment drug: employee, deductible 300, fund 85 % of 700.
    pytest.param("employee", "none", [
        claim([("SEP", 1)], ("1000.00", "595.00", "0.00", "0.00", "405.00"))],
        ("300.00", "595.00", "405.00", "0.00", "0.00"), id="separate-payment"),
]


@pytest.mark.parametrize("insurance, assistance, claims, after", CASES)
def test_hand_computed_settlements(desk, insurance, assistance, claims, after):
    who = desk.patient(insurance, assistance)
    for number, step in enumerate(claims):
        rx = desk.dispensed(who, step["items"])
        body = {"unit_prices": step["unit_prices"]} if step["unit_prices"] else None
        response = desk.settle(rx, body, key=f"case-{rx}")
        settled = created(response)
        assert settled["mode"] == "direct" and settled["status"] == "settled"
        assert tuple(settled[p] for p in PARTS) == step["expected"], f"claim {number}"
        if step["lines"]:
            assert [tuple(line[p] for p in LINE_PARTS) for line in settled["lines"]] == step["lines"]
        else:
            assert [tuple(line[p] for p in PARTS) for line in settled["lines"]] == [step["expected"]]
        assert_sums(settled)
    assert tuple(desk.accumulators(who)[name] for name in ACCUMULATED) == after


def test_settlement_body_get_and_list(desk):
    who = desk.patient("employee")
    rx = desk.dispensed(who, [("SEP", 1), ("D150", 2)])
    body = created(desk.settle(rx))
    assert {"id", "mode", "total", "basic_fund", "critical_illness", "medical_assistance", "patient_pays",
            "lines"} <= set(body)
    assert body["prescription_id"] == rx and body["pharmacy_code"] == "P370811001"
    sep, d150 = body["lines"]
    assert sep["separate_payment"] and sep["outside_budget"] and not d150["outside_budget"]
    assert body["fund_outside_budget"] == sep["basic_fund"] == "595.00"
    assert sep["unit_price"] == "1000.00" and sep["payment_standard"] == "1000.00"
    assert [h["action"] for h in body["history"]] == ["settle"] and body["history"][0]["actor"] == "pharmacy:P370811001"
    assert_sums(body)

    world = desk.world
    for reader in (world.pharmacy, world.bureau, world.admin):
        assert reader.get(f"/api/v1/settlements/{body['id']}").get_json() == body
    listed = world.pharmacy.get(f"/api/v1/settlements?prescription_id={rx}").get_json()
    assert [s["id"] for s in listed["items"]] == [body["id"]] and listed["next_cursor"] is None
    assert world.bureau.get("/api/v1/settlements?status=settled&mode=direct").get_json()["items"][0]["id"] == body["id"]
    assert world.physician.get(f"/api/v1/prescriptions/{rx}").get_json()["status"] == "settled"


def test_settlement_is_read_only_by_its_parties(desk):
    world = desk.world
    body = created(desk.settle(desk.dispensed(desk.patient(), [("D150", 1)])))
    url = f"/api/v1/settlements/{body['id']}"
    problem(world.other_pharmacy.get(url), 404)
    problem(world.as_role("bureau", "370900").get(url), 404)
    problem(world.physician.get(url), 403)
    problem(world.physician.get("/api/v1/settlements"), 403)
    assert world.other_pharmacy.get("/api/v1/settlements").get_json()["items"] == []
    problem(world.admin.get("/api/v1/settlements/999999"), 404)


def test_only_the_routed_pharmacy_settles_a_dispensed_prescription(desk, issue):
    world = desk.world
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    problem(desk.settle(rx, by=world.other_pharmacy), 404)
    problem(desk.settle(rx, by=world.physician), 403)
    problem(desk.settle(rx, by=world.bureau), 403)
    problem(desk.settle(999999), 404)
    issued = issue("SAC", 1).get_json()
    world.physician.post(f"/api/v1/prescriptions/{issued['id']}/route", {"pharmacy_code": "P370811001"})
    body = problem(desk.settle(issued["id"]), 409)
    assert body["status_now"] == "routed"


def test_one_key_retried_a_hundred_times_settles_once(desk):
    who = desk.patient("employee")
    rx = desk.dispensed(who, [("D400S", 3)])
    first = desk.settle(rx, key="retry-me")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    for _ in range(99):
        again = desk.settle(rx, key="retry-me")
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.get_data() == first.get_data()
    items = desk.world.admin.get(f"/api/v1/settlements?prescription_id={rx}").get_json()["items"]
    assert len(items) == 1
    assert desk.accumulators(who)["fund_paid"] == "663.00"


def test_another_key_or_no_key_for_a_settled_prescription_is_409(desk):
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    first = created(desk.settle(rx, key="first"))
    body = problem(desk.settle(rx, key="second"), 409)
    assert body["settlement_id"] == first["id"]
    problem(desk.settle(rx), 409)
    assert desk.settle(rx, key="first").status_code == 201


def test_same_key_with_another_body_is_422(desk):
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    created(desk.settle(rx, key="k1"))
    body = problem(desk.settle(rx, {"unit_prices": {"D150": "100.00"}}, key="k1"), 422)
    assert "Idempotency-Key" in body["errors"]


def test_a_failed_request_is_not_replayed(desk, issue):
    who = desk.patient()
    rx = desk.dispensed(who, [("D150", 1)])
    problem(desk.settle(rx, {"unit_prices": {"D400": "1.00"}}, key="fix-and-retry"), 422)
    assert desk.settle(rx, key="fix-and-retry").status_code == 201


def test_bad_idempotency_keys_are_422(desk):
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    for key in ("x" * 256, "with space", ""):
        problem(desk.settle(rx, key=key or None) if key else desk.world.pharmacy.post(
            f"/api/v1/prescriptions/{rx}/settlement", {}, headers={"Idempotency-Key": ""}), 422)


def test_keys_are_per_actor_and_endpoint(desk):
    who = desk.patient()
    first, second = desk.dispensed(who, [("D150", 1)]), desk.dispensed(who, [("D150", 1)])
    a = created(desk.settle(first, key="same"))
    b = created(desk.settle(second, key="same"))
    assert a["id"] != b["id"] and a["prescription_id"] == first and b["prescription_id"] == second


def test_reversal_restores_the_accumulators_and_allows_settling_again(desk):
    world = desk.world
    who = desk.patient("resident", "low_income")
    first = created(desk.settle(desk.dispensed(who, [("D150", 2)])))
    before = desk.accumulators(who)
    rx = desk.dispensed(who, [("BIG", 1)])
    settled = created(desk.settle(rx, {"unit_prices": {"BIG": "3000.00"}}, key="a"))
    assert desk.accumulators(who) != before
    url = f"/api/v1/settlements/{settled['id']}/reverse"
    problem(world.pharmacy.post(url, {}), 422)
    problem(world.physician.post(url, {"reason": "x"}), 403)
    problem(world.other_pharmacy.post(url, {"reason": "x"}), 404)
    problem(world.as_role("bureau", "370900").post(url, {"reason": "x"}), 404)
    reversed_ = world.pharmacy.post(url, {"reason": "收费错误"})
    assert reversed_.status_code == 200, reversed_.get_json()
    body = reversed_.get_json()
    assert body["status"] == "reversed"
    event = body["history"][-1]
    assert (event["action"], event["actor"], event["reason"]) == ("reverse", "pharmacy:P370811001", "收费错误")
    assert event["at"]
    assert desk.accumulators(who) == before
    prescription = world.pharmacy.get(f"/api/v1/prescriptions/{rx}").get_json()
    assert prescription["status"] == "dispensed"
    assert prescription["history"][-1]["reason"].endswith("收费错误")
    problem(world.pharmacy.post(url, {"reason": "again"}), 409)

    again = created(desk.settle(rx, {"unit_prices": {"BIG": "3000.00"}}, key="b"))
    assert tuple(again[p] for p in PARTS) == tuple(settled[p] for p in PARTS)
    # A bureau reverses too; reversing the first (not the latest) still leaves the totals exact.
    assert world.bureau.post(f"/api/v1/settlements/{first['id']}/reverse", {"reason": "稽核"}).status_code == 200
    acc = desk.accumulators(who)
    assert acc["fund_paid"] == again["basic_fund"] and acc["assistance_paid"] == again["medical_assistance"]


def test_patient_of_another_city_gets_a_manual_claim(desk):
    world = desk.world
    # A Tai'an (370900) resident filed for care in Jining (异地就医备案) fills a prescription there.
    who = desk.patient("resident", region="370900", filed_region="370800")
    rx = desk.dispensed(who, [("D400", 1)])
    problem(desk.settle(rx, {"mode": "direct"}), 422)
    taian = world.as_role("bureau", "370900")
    # No Tai'an policy yet: the counter charges in full and the claim waits at the insured region.
    claim_ = created(desk.settle(rx, key="claim"))
    assert (claim_["mode"], claim_["status"], claim_["policy_id"]) == ("manual", "pending", None)
    assert (claim_["basic_fund"], claim_["patient_pays"]) == ("0.00", "400.00")
    assert_sums(claim_)

    url = f"/api/v1/settlements/{claim_['id']}"
    assert taian.get(url).status_code == 200  # the patient's region
    assert world.bureau.get(url).status_code == 200  # the pharmacy's region reads it
    problem(world.as_role("bureau", "370500").post(f"{url}/approve", {}), 404)
    problem(world.pharmacy.post(f"{url}/approve", {}), 403)
    assert problem(world.bureau.post(f"{url}/approve", {}), 403)["code"] == "claim_of_another_region"
    assert problem(taian.post(f"{url}/approve", {}), 409)["code"] == "claim_policy_missing"
    created(taian.post("/api/v1/settlement-policies", {**RESIDENT, "region": "370900", "deductible": "600.00"}))
    approved = taian.post(f"{url}/approve", {"note": "材料齐全"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert approved.get_json()["history"][-1]["actor"] == "bureau:370900"
    # Adjudicated under Tai'an's policy: deductible 600, 60 % of nothing.
    assert (approved.get_json()["basic_fund"], approved.get_json()["patient_pays"]) == ("0.00", "400.00")
    assert approved.get_json()["policy_id"] is not None
    problem(taian.post(f"{url}/approve", {}), 409)
    problem(taian.post(f"{url}/reject", {"reason": "x"}), 409)
    assert desk.accumulators(who)["deductible_used"] == "400.00"
    # Once approved, only a bureau reverses it.
    problem(world.pharmacy.post(f"{url}/reverse", {"reason": "x"}), 403)
    assert taian.post(f"{url}/reverse", {"reason": "重复报销"}).status_code == 200
    assert desk.accumulators(who)["deductible_used"] == "0.00"


def test_rejected_claim_releases_the_accumulators(desk):
    world = desk.world
    taian = world.as_role("bureau", "370900")
    created(taian.post("/api/v1/settlement-policies", {**RESIDENT, "region": "370900"}))
    who = desk.patient("resident", region="370900", filed_region="370800")
    rx = desk.dispensed(who, [("D400", 1)])
    claim_ = created(desk.settle(rx))
    url = f"/api/v1/settlements/{claim_['id']}"
    problem(taian.post(f"{url}/reject", {}), 422)
    rejected = taian.post(f"{url}/reject", {"reason": "未备案"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert desk.accumulators(who)["deductible_used"] == "0.00"
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx}").get_json()["status"] == "dispensed"
    problem(world.pharmacy.post(f"{url}/reverse", {"reason": "x"}), 409)


def test_direct_settlement_needs_no_approval(desk):
    body = created(desk.settle(desk.dispensed(desk.patient(), [("D150", 1)])))
    problem(desk.world.bureau.post(f"/api/v1/settlements/{body['id']}/approve", {}), 409)


def test_a_dispensing_is_never_paid_both_ways(desk):
    world = desk.world
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    direct = created(desk.settle(rx, key="direct"))
    body = problem(desk.settle(rx, {"mode": "manual"}, key="manual"), 409)
    assert body["settlement_id"] == direct["id"]
    flags = world.bureau.get("/api/v1/flags?type=double_claim").get_json()["items"]
    assert len(flags) == 1 and flags[0]["evidence"]["settlement_id"] == direct["id"]
    assert flags[0]["evidence"]["attempted_mode"] == "manual"
    # The other way round: a pending manual claim, then a direct settlement.
    rx2 = desk.dispensed(desk.patient(), [("D150", 1)])
    manual = created(desk.settle(rx2, {"mode": "manual"}))
    assert manual["mode"] == "manual" and manual["status"] == "pending"
    problem(desk.settle(rx2, {"mode": "direct"}), 409)
    assert len(world.bureau.get("/api/v1/flags?type=double_claim").get_json()["items"]) == 2


def test_price_above_the_agreed_price_is_flagged(desk):
    world = desk.world
    rx = desk.dispensed(desk.patient("employee"), [("D150", 2), ("D400", 1)])
    body = created(desk.settle(rx, {"unit_prices": {"D150": "160.005", "D400": "390.00"}}))
    assert body["lines"][0]["unit_price"] == "160.005" and body["lines"][0]["total"] == "320.01"
    flags = world.bureau.get("/api/v1/flags?type=price_above_agreement").get_json()["items"]
    assert len(flags) == 1
    evidence = flags[0]["evidence"]
    assert (evidence["drug_code"], evidence["agreed_price"], evidence["unit_price"], evidence["excess"]) == \
        ("D150", "150.00", "160.005", "20.01")
    assert flags[0]["subject"] == "pharmacy:P370811001"


def test_bad_unit_prices_are_422(desk):
    rx = desk.dispensed(desk.patient(), [("D150", 1)])
    assert "unit_prices.D400" in problem(desk.settle(rx, {"unit_prices": {"D400": "1.00"}}), 422)["errors"]
    problem(desk.settle(rx, {"unit_prices": {"D150": "-1.00"}}), 422)
    problem(desk.settle(rx, {"unit_prices": {"D150": "1.00001"}}), 422)
    problem(desk.settle(rx, {"mode": "cash"}), 422)
    assert desk.world.pharmacy.get(f"/api/v1/prescriptions/{rx}").get_json()["status"] == "dispensed"


def test_drug_without_agreed_price_needs_a_unit_price(desk):
    world = desk.world
    created(world.admin.post("/api/v1/drugs", {"code": "NOPRICE", "generic_name": "无价", "name": "无价",
                                               "dual_channel": True, "unit": "盒"}))
    world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"NOPRICE": 5})
    rx = desk.dispensed(desk.patient(), [("NOPRICE", 1)])
    assert "unit_prices.NOPRICE" in problem(desk.settle(rx), 422)["errors"]
    assert created(desk.settle(rx, {"unit_prices": {"NOPRICE": "88.00"}}))["total"] == "88.00"


def test_patient_accumulators_are_scoped(desk):
    world = desk.world
    who = desk.patient()
    problem(world.as_role("bureau", "370900").get(f"/api/v1/patients/{who.id}/accumulators"), 404)
    problem(world.pharmacy.get(f"/api/v1/patients/{who.id}/accumulators"), 403)
    body = world.bureau.get(f"/api/v1/patients/{who.id}/accumulators?year=2024").get_json()
    assert body["year"] == 2024 and body["fund_paid"] == "0.00"


def assert_accumulators_are_the_sums(app, who, year=None):
    """The patient's accumulators equal the sums over the settlements in force (read from the
    database: a thousand settlements are too many to fetch one by one)."""
    import sqlalchemy as sa

    from dualchannel import clock, db
    from dualchannel.settlements import rules
    from dualchannel.settlements.models import Settlement, SettlementLine
    from dualchannel.settlements.services import accumulators

    year = year or clock.today().year
    with app.app_context(), db.new_session() as session:
        lines = session.exec(sa.select(SettlementLine).join(Settlement, Settlement.id == SettlementLine.settlement_id)
                             .where(Settlement.patient_id == who.id, Settlement.year == year,
                                    Settlement.status.in_([s.value for s in rules.IN_FORCE]))).scalars().all()
        stored = accumulators(session, who.id, year)
    assert stored == rules.delta_of(lines)
    return stored, len({line.settlement_id for line in lines})
