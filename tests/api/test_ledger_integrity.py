"""One pack, one sale, one payment (issue 15): under any spelling of a code, any interleaving of
settlement and undo, and any state of the pharmacy.

Each refused request is checked to leave stock, packs and prescription as they were.
"""

import hashlib
from datetime import date, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dualchannel import clock, db
from tests.api.conftest import created
from tests.api.procurement_support import API, batch, product, travel_to
from tests.api.test_concurrency import race
from tests.api.test_prescription_flow import problem, ready_to_dispense
from tests.api.test_settlement import desk  # noqa: F401 - fixture
from tests.api.test_traceability import dispensed, stock
from tests.support import resident_id, trace_codes

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def ledger(app):
    """What the ledger holds: packs, dispensings, stock, prescription states, settlements."""
    with app.app_context(), db.engine().connect() as connection:
        def rows(sql):
            return sorted(tuple(r) for r in connection.execute(sa.text(sql)))
        return {
            "packs": rows("SELECT trace_code, pharmacy_code, units_dispensed FROM trace_pack"),
            "dispensed": rows("SELECT trace_code, prescription_id, units FROM dispensed_pack"),
            "stock": rows("SELECT pharmacy_code, drug_code, quantity FROM stock"),
            "prescriptions": rows("SELECT id, status FROM prescription"),
            "settlements": rows("SELECT id, status, total FROM settlement"),
        }


def dispense(client, rx_id, codes, drug="SAC"):
    return client.post(f"/api/v1/prescriptions/{rx_id}/dispense", {"items": [{"drug_code": drug, "trace_codes": codes}]})


def flags(world, kind="duplicate_trace_code"):
    return world.bureau.get(f"/api/v1/flags?type={kind}").get_json()["items"]


# -- 1. one spelling ------------------------------------------------------------------------------

@pytest.mark.parametrize("script", [FULL_WIDTH, ARABIC_INDIC, DEVANAGARI], ids=["full-width", "arabic", "devanagari"])
def test_a_pack_in_other_digits_is_the_same_pack(app, world, issue, script):
    rx, codes, response = dispensed(world, issue, quantity=1)
    assert response.status_code == 200
    other = ready_to_dispense(world, issue, quantity=1)
    before = ledger(app)
    body = problem(dispense(world.pharmacy, other["id"], [codes[0].translate(script)]), 409)
    assert body["code"] == "duplicate_trace_code" and body["trace_codes"] == [codes[0]]
    assert ledger(app) == before
    assert [f["evidence"]["trace_code"] for f in flags(world)] == [codes[0]]


def test_a_new_pack_in_full_width_digits_is_stored_in_ascii(world, issue):
    code = trace_codes(1)[0]
    rx, _, response = dispensed(world, issue, quantity=1, codes=[code.translate(FULL_WIDTH)])
    assert response.status_code == 200 and response.get_json()["items"][0]["trace_codes"] == [code]
    assert world.pharmacy.get(f"/api/v1/trace/{code}").get_json()["trace_code"] == code
    assert world.pharmacy.get(f"/api/v1/trace/{code.translate(ARABIC_INDIC)}").get_json()["prescription_id"] == rx["id"]


@pytest.mark.parametrize("bad", ["{}\n", " {}", "{}\t", "{}0"], ids=["newline", "space", "tab", "21 digits"])
def test_anything_but_twenty_digits_is_422_and_changes_nothing(app, world, issue, bad):
    rx = ready_to_dispense(world, issue, quantity=1)
    code = trace_codes(1)[0]
    before = ledger(app)
    body = problem(dispense(world.pharmacy, rx["id"], [bad.format(code)]), 422)
    assert "items.0.trace_codes.0" in body["errors"] and body["code"] == "trace_codes_invalid"
    assert ledger(app) == before
    problem(world.pharmacy.get(f"/api/v1/trace/{quote(bad.format(code))}"), 422)


def test_the_same_pack_twice_in_one_dispensing_is_422_in_any_spelling(world, issue):
    rx = ready_to_dispense(world, issue, quantity=2)
    code = trace_codes(1)[0]
    body = problem(dispense(world.pharmacy, rx["id"], [code, code.translate(FULL_WIDTH)]), 422)
    assert "one code is one pack" in body["errors"]["items.0.trace_codes.1"][0]


def test_more_codes_than_packs_is_refused_before_any_work(world, issue):
    rx = ready_to_dispense(world, issue, quantity=2)
    body = problem(dispense(world.pharmacy, rx["id"], trace_codes(3)), 422)
    assert "at most 2 trace codes" in body["errors"]["items.0.trace_codes"][0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scripts=st.lists(st.sampled_from([None, FULL_WIDTH, ARABIC_INDIC, DEVANAGARI]), min_size=20, max_size=20))
def test_no_spelling_of_a_dispensed_code_makes_a_new_pack(app, world, issue, scripts):
    """Hypothesis: each digit of a dispensed code written in any script is still that pack."""
    rx, codes, response = dispensed(world, issue, quantity=1)
    assert response.status_code == 200
    spelled = "".join(d.translate(s) if s else d for d, s in zip(codes[0], scripts))
    other = ready_to_dispense(world, issue, quantity=1)
    assert problem(dispense(world.pharmacy, other["id"], [spelled]), 409)["trace_codes"] == [codes[0]]


# -- 2. a code belongs to its product ------------------------------------------------------------

@pytest.fixture
def prefixed(world):
    """SAC's packs begin with 6900001 or 6900002; OSI's with 6900100."""
    assert world.admin.patch("/api/v1/drugs/SAC", {"trace_prefixes": ["6900001", "6900002"]}).status_code == 200
    assert world.admin.patch("/api/v1/drugs/OSI", {"trace_prefixes": ["6900100"]}).status_code == 200
    return world


def test_a_code_of_another_product_is_422_naming_both(app, prefixed, issue):
    world = prefixed
    rx = ready_to_dispense(world, issue, quantity=2)
    before = ledger(app)
    wrong = trace_codes(1, "6900100")[0]
    unknown = trace_codes(1, "1234567")[0]
    body = problem(dispense(world.pharmacy, rx["id"], [wrong, unknown]), 422)
    assert wrong in body["errors"]["items.0.trace_codes.0"][0]
    assert "6900001, 6900002" in body["errors"]["items.0.trace_codes.0"][0]
    assert "belongs to 泰瑞沙 80mg×30片 (OSI)" in body["errors"]["items.0.trace_codes.0"][0]
    assert "belongs to" not in body["errors"]["items.0.trace_codes.1"][0]
    assert ledger(app) == before
    assert dispense(world.pharmacy, rx["id"], trace_codes(1, "6900001") + trace_codes(1, "6900002")).status_code == 200


def test_a_drug_without_prefixes_takes_any_code(world, issue):
    rx = ready_to_dispense(world, issue, quantity=1)
    assert dispense(world.pharmacy, rx["id"], trace_codes(1, "1234567")).status_code == 200


def test_trace_prefixes_are_registered_read_and_owned_by_one_drug(prefixed):
    world = prefixed
    assert world.admin.get("/api/v1/drugs/SAC").get_json()["trace_prefixes"] == ["6900001", "6900002"]
    made = created(world.admin.post("/api/v1/drugs", {
        "code": "NEW", "generic_name": "新药", "name": "新药", "unit": "盒", "trace_prefixes": ["6900300"]}))
    assert made["trace_prefixes"] == ["6900300"]
    taken = problem(world.admin.post("/api/v1/drugs", {
        "code": "NEW2", "generic_name": "新药", "name": "新药", "unit": "盒", "trace_prefixes": ["6900001"]}), 422)
    assert taken["code"] == "trace_prefix_taken" and "SAC" in taken["errors"]["trace_prefixes"][0]
    for bad in (["690000"], ["69000011"], ["６９０００１１"], ["6900001\n"]):
        problem(world.admin.patch("/api/v1/drugs/NEW", {"trace_prefixes": bad}), 422)
    problem(world.bureau.patch("/api/v1/drugs/NEW", {"trace_prefixes": []}), 403)


# -- 3. split packs (拆零) -------------------------------------------------------------------------

@pytest.fixture
def tablets(world):
    """A drug dispensed by the tablet from boxes of 28 (拆零), in stock at both Jining pharmacies."""
    created(world.admin.post("/api/v1/drugs", {
        "code": "TAB", "generic_name": "拆零测试片", "name": "拆零测试片 10mg×28片", "negotiated": True,
        "dual_channel": True, "unit": "片", "units_per_pack": 28, "agreed_price": "3.00",
        "trace_prefixes": ["6900200"]}))
    for code, client in (("P370811001", world.pharmacy), ("P370881001", world.other_pharmacy)):
        assert client.put(f"/api/v1/pharmacies/{code}/stock", {"TAB": 280}).status_code == 200
    return world


def test_a_split_pack_is_drawn_by_its_pharmacy_until_used_up(app, tablets, issue):
    world = tablets
    box = trace_codes(1, "6900200")[0]
    first, _, response = dispensed(world, issue, drug="TAB", quantity=14, codes=[box])
    assert response.status_code == 200, response.get_json()
    second, _, response = dispensed(world, issue, drug="TAB", quantity=14, codes=[box])
    assert response.status_code == 200, response.get_json()  # the rest of the same box: no duplicate
    assert flags(world) == []
    assert stock(world, "TAB") == 280 - 28
    chain = world.pharmacy.get(f"/api/v1/trace/{box}").get_json()
    assert (chain["units_per_pack"], chain["units_dispensed"]) == (28, 28)
    assert [(p["prescription_id"], p["units"]) for p in chain["parts"]] == [(first["id"], 14), (second["id"], 14)]

    # The box is used up: a third dispensing of it is a reuse.
    third = ready_to_dispense(world, issue, "TAB", 1)
    before = ledger(app)
    assert problem(dispense(world.pharmacy, third["id"], [box], "TAB"), 409)["code"] == "duplicate_trace_code"
    assert ledger(app) == before and len(flags(world)) == 1


def test_a_split_pack_counts_once_in_the_pharmacys_usage(tablets, issue):
    """Usage for 集采 counts what was dispensed: a box of 28 drawn by two prescriptions is 28
    tablets (one box of the product), not two boxes."""
    world = tablets
    travel_to(date(2026, 6, 15))
    box = trace_codes(1, "6900200")[0]
    for _ in range(2):
        assert dispensed(world, issue, drug="TAB", quantity=14, codes=[box])[2].status_code == 200
    batch(world.admin, "B2027", start="2027-01-01", end="2027-12-31")
    product(world.admin, "B2027", "TAB-SEL", generic="拆零测试片", price="84.0000", conversion="28")
    declared = world.pharmacy.post(f"{API}/declarations",
                                   {"product_code": "TAB-SEL", "year_start": "2027-01-01", "quantity": 1})
    assert declared.status_code == 201, declared.get_json()
    assert declared.get_json()["history"] == 1


def test_a_split_pack_at_another_pharmacy_is_a_duplicate(app, tablets, issue):
    world = tablets
    box = trace_codes(1, "6900200")[0]
    assert dispensed(world, issue, drug="TAB", quantity=10, codes=[box])[2].status_code == 200
    before = ledger(app)
    _, _, response = dispensed(world, issue, pharmacy="P370881001", drug="TAB", quantity=5, codes=[box])
    assert problem(response, 409)["code"] == "duplicate_trace_code"
    after = ledger(app)
    assert after["packs"] == before["packs"] and after["dispensed"] == before["dispensed"]
    assert flags(world)[0]["evidence"]["pharmacies"] == ["P370811001", "P370881001"]


def test_split_packs_draw_the_rest_of_one_box_then_a_new_one(tablets, issue):
    world = tablets
    old, new = trace_codes(2, "6900200")
    assert dispensed(world, issue, drug="TAB", quantity=20, codes=[old])[2].status_code == 200
    rx, _, response = dispensed(world, issue, drug="TAB", quantity=20, codes=[old, new])
    assert response.status_code == 200, response.get_json()
    parts = world.pharmacy.get(f"/api/v1/trace/{new}").get_json()["parts"]
    assert [(p["prescription_id"], p["units"]) for p in parts] == [(rx["id"], 12)]
    short = ready_to_dispense(world, issue, "TAB", 20)
    body = problem(dispense(world.pharmacy, short["id"], [new], "TAB"), 422)
    assert "hold 16 of the 20" in body["errors"]["items.0.trace_codes"][0]


def test_a_split_settlement_bills_the_units_and_an_opened_pack_is_not_undone(tablets, issue, desk):  # noqa: F811
    world = tablets
    box = trace_codes(1, "6900200")[0]
    rx, _, _ = dispensed(world, issue, drug="TAB", quantity=14, codes=[box])
    body = problem(world.pharmacy.post(f"/api/v1/trace/{box}/undo", {"reason": "退回"}), 409)
    assert body["code"] == "pack_opened"
    settled = created(desk.settle(rx["id"]))
    assert [(line["drug_code"], line["quantity"], line["total"]) for line in settled["lines"]] == [("TAB", 14, "42.00")]


# -- 4. settle and undo cannot interleave wrongly -----------------------------------------------

def test_undo_after_settlement_says_reverse_first(world, issue, desk):  # noqa: F811
    rx, codes, _ = dispensed(world, issue)
    settlement = created(desk.settle(rx["id"]))
    body = problem(world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "退回"}), 409)
    assert body["code"] == "settled_reverse_first" and "冲正" in body["detail"]
    assert world.pharmacy.post(f"/api/v1/settlements/{settlement['id']}/reverse", {"reason": "退药"}).status_code == 200
    assert world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "退回"}).status_code == 200
    again = created(desk.settle(rx["id"]))
    assert [line["quantity"] for line in again["lines"]] == [1]


def test_settle_racing_undo_never_bills_a_returned_pack(app, world, issue, desk):  # noqa: F811
    """50 rounds: a settlement and an undo of one of its two packs at the same instant. Either
    the undo lands first (one pack billed) or it is refused (two billed): never a returned
    pack billed, and never a settled pack returned."""
    headers = {"Authorization": f"Bearer {world.pharmacy.token}"}
    outcomes = {"undo_first": 0, "settle_first": 0}
    for round_ in range(50):
        rx, codes, response = dispensed(world, issue)
        assert response.status_code == 200

        def act(i, rx=rx, codes=codes):
            with app.test_client() as client:
                if i == 0:
                    return client.post(f"/api/v1/prescriptions/{rx['id']}/settlement", json={}, headers=headers)
                return client.post(f"/api/v1/trace/{codes[0]}/undo", json={"reason": f"退回 {round_}"},
                                   headers=headers)

        settled, undone = race(2, act)
        assert settled.status_code == 201, settled.get_json()
        billed = settled.get_json()["lines"][0]["quantity"]
        if undone.status_code == 200:
            assert billed == 1, round_
            outcomes["undo_first"] += 1
        else:
            assert undone.status_code == 409 and undone.get_json()["code"] == "settled_reverse_first", round_
            assert billed == 2, round_
            outcomes["settle_first"] += 1
        record = world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()
        assert len(record["items"][0]["trace_codes"]) == billed
    assert sum(outcomes.values()) == 50


# -- 5. only an admitted pharmacy acts -----------------------------------------------------------

@pytest.mark.parametrize("action,code", [("suspend", "pharmacy_suspended"), ("exit", "pharmacy_exited")])
def test_a_suspended_or_exited_pharmacy_moves_no_pack_and_no_money(app, world, issue, desk, action,  # noqa: F811
                                                                  code):
    routed = issue("SAC", 1).get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{routed['id']}/route",
                                {"pharmacy_code": "P370811001"}).status_code == 200
    verified = ready_to_dispense(world, issue, quantity=1)
    done, dispensed_codes, _ = dispensed(world, issue, quantity=1)
    assert world.bureau.post(f"/api/v1/pharmacies/P370811001/{action}",
                             {"reason": "飞行检查", "force": True}).status_code == 200
    before = ledger(app)
    url = "/api/v1/prescriptions/{}/{}"
    body = problem(world.pharmacy.post(url.format(routed["id"], "verify"), {"id_number": world.patient_id_number}),
                   409)
    assert body["code"] == code and body["pharmacy_status"] in ("suspended", "exited")
    assert problem(dispense(world.pharmacy, verified["id"], trace_codes(1)), 409)["code"] == code
    assert problem(desk.settle(done["id"], key="k-1"), 409)["code"] == code
    assert problem(world.pharmacy.post(f"/api/v1/trace/{dispensed_codes[0]}/undo", {"reason": "退回"}), 409)["code"] == code
    assert ledger(app) == before
    # Handing a prescription back stays possible: it frees the patient to go elsewhere.
    assert world.pharmacy.post(url.format(routed["id"], "return"), {"reason_code": "out_of_stock"}).status_code == 200


def test_the_pharmacy_state_is_checked_inside_the_writing_transaction(app, world, issue, monkeypatch):
    """A suspension that commits between the step's read and its conditional UPDATE still refuses it."""
    from dualchannel.pharmacies import services as pharmacies

    rx = ready_to_dispense(world, issue, quantity=1)
    monkeypatch.setattr(pharmacies, "ensure_admitted", lambda pharmacy: None)  # the early check is passed
    assert world.bureau.post("/api/v1/pharmacies/P370811001/suspend", {"reason": "检查", "force": True}).status_code == 200
    before = ledger(app)
    assert problem(dispense(world.pharmacy, rx["id"], trace_codes(1)), 409)["code"] == "concurrent_change"
    assert ledger(app) == before


def test_a_pending_claim_of_a_pharmacy_that_exits_follows_its_workflow(world, desk):  # noqa: F811
    who = desk.patient("resident", region="370900", filed_region="370800")
    created(world.admin.post("/api/v1/settlement-policies", {
        "region": "370900", "insurance": "resident", "effective_from": "2024-01-01", "deductible": "0.00",
        "fund_ratio": "0.5", "fund_cap": "10000.00", "ci_threshold": "100000.00",
        "ci_tiers": [{"up_to": None, "ratio": "0.5"}], "ci_cap": "0.00", "assistance_cap": "0.00"}))
    claim = created(desk.settle(desk.dispensed(who, [("D150", 1)])))
    assert claim["status"] == "pending"
    assert world.bureau.post("/api/v1/pharmacies/P370811001/exit", {"reason": "退出", "force": True}).status_code == 200
    # The insured region's bureau (Tai'an) decides the claim (issue 21): the exit changes nothing.
    taian = world.as_role("bureau", "370900")
    approved = taian.post(f"/api/v1/settlements/{claim['id']}/approve", {"note": "材料齐全"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"


# -- 6. admission requires electronic traceability ------------------------------------------------

def test_admission_requires_electronic_traceability(world):
    lat, lon = 35.4055, 116.9730
    created(world.admin.post("/api/v1/pharmacies", {"code": "P370883009", "name": "无追溯药房", "address": "邹城",
                                                    "adcode": "370883", "lat": lat, "lon": lon, "crs": "wgs84"}))
    body = problem(world.bureau.post("/api/v1/pharmacies/P370883009/admit", {}), 409)
    assert body["code"] == "traceability_required" and body["criterion"] == "traceability"
    assert world.bureau.get("/api/v1/pharmacies/P370883009").get_json()["status"] == "applied"
    problem(world.bureau.patch("/api/v1/pharmacies/P370883009", {"traceability": True}), 422)  # a reason is needed
    assert world.bureau.patch("/api/v1/pharmacies/P370883009",
                              {"traceability": True, "reason": "已接入药品追溯平台"}).status_code == 200
    assert world.bureau.post("/api/v1/pharmacies/P370883009/admit", {}).get_json()["status"] == "active"
    history = world.bureau.get("/api/v1/pharmacies/P370883009/history").get_json()["items"]
    assert [(e["action"], e["detail"]) for e in history] == [
        ("apply", None), ("capabilities", {"traceability": True}), ("admit", None)]


# -- 7. an agent is another person ---------------------------------------------------------------

def test_an_agent_is_never_the_patient(world, issue):
    rx = issue("SAC", 1).get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    url = f"/api/v1/prescriptions/{rx['id']}/verify"
    same = problem(world.pharmacy.post(url, {"id_number": world.patient_id_number, "pickup": {
        "name": "张三", "id_number": world.patient_id_number.lower(), "relation": "子女"}}), 422)
    assert same["code"] == "agent_is_patient" and "pickup.id_number" in same["errors"]
    bad = problem(world.pharmacy.post(url, {"id_number": world.patient_id_number, "pickup": {
        "name": "李四", "id_number": world.patient_id_number[:-1] + "0", "relation": "子女"}}), 422)
    assert "pickup.id_number" in bad["errors"]
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "routed"
    agent = resident_id("370811", "19900101")
    assert world.pharmacy.post(url, {"id_number": world.patient_id_number, "pickup": {
        "name": "张小三", "id_number": agent, "relation": "子女"}}).status_code == 200


# -- 8. idempotency never sticks -----------------------------------------------------------------

def test_an_answerless_key_left_by_a_crash_is_taken_over(app, world, desk):  # noqa: F811
    from dualchannel.idempotency import STALE_AFTER, IdempotencyKey

    who = desk.patient()
    rx_id = desk.dispensed(who, [("D150", 1)])
    with app.app_context(), db.new_session() as session:
        session.add(IdempotencyKey(actor="pharmacy:P370811001", endpoint=f"POST /api/v1/prescriptions/{rx_id}/settlement",
                                   key="crashed", request_hash=hashlib.sha256(b"{}").hexdigest(),
                                   created_at=clock.now()))
        session.commit()
    assert problem(desk.settle(rx_id, key="crashed"), 409)["code"] == "idempotency_key_in_progress"
    clock.travel(STALE_AFTER + timedelta(seconds=1))
    first = desk.settle(rx_id, key="crashed")
    assert first.status_code == 201, first.get_json()
    again = desk.settle(rx_id, key="crashed")
    assert again.status_code == 201 and again.get_data() == first.get_data()


def test_the_answer_is_stored_with_the_settlement_in_one_transaction(app, world, desk, monkeypatch):  # noqa: F811
    """A failure after the work but before the request commits leaves neither the settlement nor the key."""
    from dualchannel import idempotency

    who = desk.patient()
    rx_id = desk.dispensed(who, [("D150", 1)])
    real = idempotency.make_response

    def crash_after_the_work(value):
        real(value)
        raise RuntimeError("worker died")

    monkeypatch.setattr(idempotency, "make_response", crash_after_the_work)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert desk.settle(rx_id, key="k").status_code == 500
    monkeypatch.undo()
    assert ledger(app)["settlements"] == []
    with app.app_context(), db.engine().connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM idempotency_key")).scalar() == 0
    first = desk.settle(rx_id, key="k")
    assert first.status_code == 201 and desk.settle(rx_id, key="k").get_data() == first.get_data()


def test_refused_dispenses_leave_stock_and_packs_as_they_were(app, world, issue):
    rx = ready_to_dispense(world, issue, quantity=2)
    assert world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"SAC": 1}).status_code == 200
    before = ledger(app)
    assert problem(dispense(world.pharmacy, rx["id"], trace_codes(2)), 409)["code"] == "out_of_stock"
    assert ledger(app) == before
