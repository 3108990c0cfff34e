"""Trace codes: validated, dispensed once system-wide, undone within a window, traced as a chain."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dualchannel import clock, db
from tests.api.test_prescription_flow import problem
from tests.api.conftest import pharmacist_of
from tests.support import resident_id, review, trace_codes


def dispensed(world, issue, *, pharmacy="P370811001", drug="SAC", quantity=2, codes=None, pickup=None):
    """A prescription issued, routed to `pharmacy`, verified and dispensed; returns (prescription, codes)."""
    client = (world.as_role("pharmacy", pharmacy, pharmacist=pharmacist_of(pharmacy)) if pharmacy != "P370811001"
              else world.pharmacy)
    rx = issue(drug, quantity).get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": pharmacy}).status_code == 200
    body = {"id_number": world.patient_id_number, **({"pickup": pickup} if pickup else {})}
    assert client.post(f"/api/v1/prescriptions/{rx['id']}/verify", body).status_code == 200
    assert review(client, rx["id"]).status_code == 200
    codes = codes or trace_codes(quantity)
    response = client.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                           {"items": [{"drug_code": drug, "trace_codes": codes}]})
    return rx, codes, response


def stock(world, drug="SAC"):
    return world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()[drug]


def test_reused_code_at_another_pharmacy_is_409_and_flag_names_both(world, issue):
    rx, codes, first = dispensed(world, issue)
    assert first.status_code == 200
    other, _, reused = dispensed(world, issue, pharmacy="P370881001", codes=[codes[1], trace_codes(1)[0]])
    body = problem(reused, 409)
    assert body["trace_codes"] == [codes[1]]
    flags = world.bureau.get("/api/v1/flags?type=duplicate_trace_code").get_json()["items"]
    assert len(flags) == 1
    evidence = flags[0]["evidence"]
    assert evidence["pharmacies"] == ["P370811001", "P370881001"]
    assert (evidence["first_pharmacy_code"], evidence["attempt_pharmacy_code"]) == ("P370811001", "P370881001")
    assert (evidence["first_prescription_id"], evidence["attempt_prescription_id"]) == (rx["id"], other["id"])
    assert world.as_role("pharmacy", "P370881001").get(f"/api/v1/prescriptions/{other['id']}").get_json()[
        "status"] == "reviewed"


def test_trace_lookup_returns_the_whole_chain(world, issue):
    agent = resident_id("370811", "19920202")
    rx, codes, response = dispensed(world, issue, pickup={"name": "张小三", "id_number": agent, "relation": "子女"})
    assert response.status_code == 200
    traced = world.pharmacy.get(f"/api/v1/trace/{codes[0]}")
    assert traced.status_code == 200
    chain = traced.get_json()
    assert chain["status"] == "dispensed" and chain["trace_code"] == codes[0]
    assert (chain["drug_code"], chain["drug_name"], chain["generic_name"]) == ("SAC", "诺欣妥 100mg×14片",
                                                                              "沙库巴曲缬沙坦钠片")
    assert (chain["pharmacy_code"], chain["pharmacy_name"], chain["pharmacy_county"]) == (
        "P370811001", "P370811001大药房", "370811")
    assert (chain["prescription_id"], chain["prescription_status"]) == (rx["id"], "dispensed")
    assert (chain["physician_code"], chain["physician_name"]) == ("D370811001", "王医生")
    assert (chain["institution_code"], chain["institution_name"]) == ("H370811001", "济宁市第一人民医院")
    assert chain["dispensed_at"].endswith("+08:00") and chain["returned_at"] is None
    assert chain["patient_id_number_masked"] == world.patient["id_number_masked"]
    assert chain["pickup"] == {"agent": True, "name": "张小三", "relation": "子女",
                               "id_number_masked": agent[:6] + "********" + agent[-4:]}
    assert chain["returns"] == []
    assert world.bureau.get(f"/api/v1/trace/{codes[0]}").get_json() == chain
    assert world.admin.get(f"/api/v1/trace/{codes[0]}").status_code == 200


def test_trace_unknown_is_404_and_malformed_is_422(world):
    body = problem(world.pharmacy.get(f"/api/v1/trace/{trace_codes(1)[0]}"), 404)
    assert "trace code" in body["detail"]
    number = resident_id()
    malformed = problem(world.pharmacy.get(f"/api/v1/trace/{number}"), 422)
    assert "code" in malformed["errors"]
    problem(world.pharmacy.get(f"/api/v1/trace/{trace_codes(1)[0]}%0A"), 422)  # a trailing newline is not a code


def test_pharmacy_sees_only_its_own_packs_bureau_by_region(world, issue):
    _, codes, response = dispensed(world, issue)
    assert response.status_code == 200
    url = f"/api/v1/trace/{codes[0]}"
    problem(world.other_pharmacy.get(url), 404)
    problem(world.as_role("bureau", "370900").get(url), 404)
    assert world.as_role("bureau", "370811").get(url).status_code == 200  # the pharmacy's county
    assert world.as_role("bureau", "370000").get(url).status_code == 200
    problem(world.physician.get(url), 403)


def test_undo_within_window_frees_code_and_restores_stock(world, issue):
    rx, codes, response = dispensed(world, issue)
    assert response.status_code == 200 and stock(world) == 48
    clock.travel(timedelta(days=6, hours=23))
    undone = world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "患者住院，原包装未拆封退回"})
    assert undone.status_code == 200, undone.get_json()
    chain = undone.get_json()
    assert chain["status"] == "returned" and chain["returned_at"] and chain["undo_until"] is None
    assert [(r["trace_code"], r["actor"], r["reason"]) for r in chain["returns"]] == [
        (codes[0], "pharmacy:P370811001", "患者住院，原包装未拆封退回")]
    assert stock(world) == 49

    record = world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()
    assert record["status"] == "dispensed"
    assert record["items"][0]["trace_codes"] == [codes[1]]
    assert record["items"][0]["returned_trace_codes"] == [codes[0]]
    assert [r["trace_code"] for r in record["returns"]] == [codes[0]]
    undo_event = record["history"][-1]
    assert (undo_event["action"], undo_event["actor"]) == ("undo_pack", "pharmacy:P370811001")
    assert undo_event["detail"] == {"trace_code": codes[0], "drug_code": "SAC"}

    # The code is free: another pharmacy may now dispense that pack, with no duplicate flag.
    again, _, response = dispensed(world, issue, pharmacy="P370881001", quantity=1, codes=[codes[0]])
    assert response.status_code == 200, response.get_json()
    assert world.bureau.get("/api/v1/flags?type=duplicate_trace_code").get_json()["items"] == []
    # The new chain is the new pharmacy's; the first pharmacy no longer sees the pack.
    other = world.as_role("pharmacy", "P370881001")
    chain = other.get(f"/api/v1/trace/{codes[0]}").get_json()
    assert (chain["status"], chain["prescription_id"], chain["returns"]) == ("dispensed", again["id"], [])
    problem(world.pharmacy.get(f"/api/v1/trace/{codes[0]}"), 404)
    assert [r["prescription_id"] for r in world.bureau.get(f"/api/v1/trace/{codes[0]}").get_json()["returns"]] == [
        rx["id"]]


def test_undo_after_window_is_409(world, issue):
    _, codes, _ = dispensed(world, issue)
    clock.travel(timedelta(days=7, seconds=1))
    body = problem(world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "退回"}), 409)
    assert "7 days" in body["detail"] and body["undo_until"]
    assert stock(world) == 48
    assert world.pharmacy.get(f"/api/v1/trace/{codes[0]}").get_json()["status"] == "dispensed"


@pytest.mark.app_config(TRACE_UNDO_DAYS=2)
def test_undo_window_is_configurable(world, issue):
    _, codes, _ = dispensed(world, issue)
    assert world.pharmacy.get(f"/api/v1/trace/{codes[0]}").get_json()["undo_until"]
    clock.travel(timedelta(days=2))
    problem(world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "退回"}), 409)


def test_undo_of_a_settled_prescription_is_409(app, world, issue):
    rx, codes, _ = dispensed(world, issue)
    with app.app_context():
        with db.engine().begin() as connection:  # the settlement feature's end state, set directly
            connection.execute(sa.text("UPDATE prescription SET status = 'settled' WHERE id = :id"), {"id": rx["id"]})
    body = problem(world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "退回"}), 409)
    assert body["status_now"] == "settled"
    assert stock(world) == 48


def test_undo_wrong_party_twice_or_without_reason(world, issue):
    _, codes, _ = dispensed(world, issue)
    url = f"/api/v1/trace/{codes[0]}/undo"
    problem(world.other_pharmacy.post(url, {"reason": "退回"}), 404)
    problem(world.bureau.post(url, {"reason": "退回"}), 403)
    problem(world.admin.post(url, {"reason": "退回"}), 403)
    problem(world.pharmacy.post(url, {"reason": "   "}), 422)
    problem(world.pharmacy.post(url, {}), 422)
    problem(world.pharmacy.post(f"/api/v1/trace/{trace_codes(1)[0]}/undo", {"reason": "退回"}), 404)
    problem(world.pharmacy.post("/api/v1/trace/12345/undo", {"reason": "退回"}), 422)
    assert world.pharmacy.post(url, {"reason": "退回"}).status_code == 200
    assert problem(world.pharmacy.post(url, {"reason": "退回"}), 409)["status_now"] == "returned"
    problem(world.other_pharmacy.post(url, {"reason": "退回"}), 404)
    assert stock(world) == 49


def test_pickup_in_person_shows_the_patient_masked(world, issue):
    rx, codes, _ = dispensed(world, issue)
    expected = {"agent": False, "name": "张三", "relation": "self",
                "id_number_masked": world.patient["id_number_masked"]}
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["pickup"] == expected
    assert world.pharmacy.get(f"/api/v1/trace/{codes[0]}").get_json()["pickup"] == expected
    assert issue().get_json()["pickup"] is None  # nobody has picked up an unverified prescription


def test_concurrent_undos_of_one_pack_undo_it_once(app, world, issue):
    from tests.api.test_concurrency import race

    _, codes, _ = dispensed(world, issue)
    headers = {"Authorization": f"Bearer {world.pharmacy.token}"}

    def undo(i):
        with app.test_client() as client:
            return client.post(f"/api/v1/trace/{codes[0]}/undo", json={"reason": f"退回 {i}"},
                               headers=headers).status_code

    assert sorted(race(6, undo)) == [200] + [409] * 5
    assert stock(world) == 49
    assert len(world.pharmacy.get(f"/api/v1/trace/{codes[0]}").get_json()["returns"]) == 1


def test_settlement_pays_only_the_packs_kept_after_an_undo(world, issue):
    from tests.api.test_settlement import EMPLOYEE

    assert world.bureau.post("/api/v1/settlement-policies", EMPLOYEE).status_code == 201
    rx = issue("SAC", 2).get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": world.patient_id_number})
    review(world.pharmacy, rx["id"])
    codes = trace_codes(2)
    assert world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                               {"items": [{"drug_code": "SAC", "trace_codes": codes}]}).status_code == 200
    assert world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "原包装未拆封退回"}).status_code == 200
    settled = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/settlement", {},
                                  headers={"Idempotency-Key": "undo-then-settle"})
    assert settled.status_code == 201, settled.get_json()
    body = settled.get_json()
    assert [line["quantity"] for line in body["lines"]] == [1] and body["total"] == "91.00"
