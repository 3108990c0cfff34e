"""Every POST that changes a prescription takes `Idempotency-Key`, as settlement does: one key,
one effect, the same answer byte for byte; the same key with another body is 422; old keys are
purged by `dualchannel idempotency purge` after the configured retention."""

from datetime import timedelta

import pytest
from sqlmodel import select

from dualchannel import clock, db
from dualchannel.idempotency import IdempotencyKey
from tests.api.test_settlement import EMPLOYEE, RESIDENT, created
from tests.support import review, trace_codes

URL = "/api/v1/prescriptions/{}/{}"


def history(world, rx_id):
    return world.admin.get(f"/api/v1/prescriptions/{rx_id}").get_json()["history"]


def once(client, url, body, other_body, key):
    """Send `body` three times with one key and `other_body` once with it; return the first answer."""
    headers = {"Idempotency-Key": key}
    first = client.post(url, body, headers=headers)
    assert 200 <= first.status_code < 300, (url, first.status_code, first.get_json())
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = client.post(url, body, headers=headers)
        assert again.status_code == first.status_code and again.get_data() == first.get_data(), url
        assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(url, other_body, headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused", other.get_json()
    return first


def stock(world, drug="SAC"):
    return world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()[drug]


def test_each_prescription_write_is_once_per_key(world, issue):
    body = {"patient_id": world.patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": "SAC", "quantity": 2, "days_supply": 28, "dosage": "每日两次"}]}
    before = world.physician.get("/api/v1/prescriptions?limit=500").get_json()["items"]
    rx = once(world.physician, "/api/v1/prescriptions", body, {**body, "diagnosis": "高血压"}, "issue-1").get_json()
    after = world.physician.get("/api/v1/prescriptions?limit=500").get_json()["items"]
    assert len(after) == len(before) + 1  # one prescription issued, not three

    steps = [  # (client, action, body, another body)
        (world.physician, "route", {"pharmacy_code": "P370881001"}, {"pharmacy_code": "P370811001"}),
        (world.other_pharmacy, "return", {"reason_code": "out_of_stock"}, {"reason_code": "patient_request_release"}),
        (world.physician, "route", {"pharmacy_code": "P370811001"}, {"pharmacy_code": "P370881001"}),
        (world.pharmacy, "verify", {"id_number": world.patient_id_number}, {"id_number": "370811196503040000"}),
        (world.pharmacy, "review", {"outcome": "approved"}, {"outcome": "approved", "note": "已审"}),
    ]
    for number, (client, action, step_body, other) in enumerate(steps):
        length = len(history(world, rx["id"]))
        once(client, URL.format(rx["id"], action), step_body, other, f"{action}-{number}")
        assert len(history(world, rx["id"])) == length + 1, action  # one event per key

    codes = trace_codes(2)
    held = stock(world)
    dispensed = once(world.pharmacy, URL.format(rx["id"], "dispense"),
                     {"items": [{"drug_code": "SAC", "trace_codes": codes}]},
                     {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}, "dispense-1")
    assert dispensed.get_json()["status"] == "dispensed" and stock(world) == held - 2
    assert [h["to_status"] for h in history(world, rx["id"])].count("dispensed") == 1

    undone = once(world.pharmacy, f"/api/v1/trace/{codes[0]}/undo", {"reason": "原包装未拆封退回"},
                  {"reason": "另一个理由"}, "undo-1")
    assert undone.status_code == 200 and stock(world) == held - 1
    assert len(world.pharmacy.get(f"/api/v1/trace/{codes[0]}").get_json()["returns"]) == 1


def test_cancel_and_not_dispensed_are_once_per_key(world, issue):
    first, second = issue().get_json(), issue().get_json()
    once(world.physician, URL.format(first["id"], "cancel"), {"reason_code": "patient_request"},
         {"reason_code": "other", "note": "换药"}, "cancel-1")
    assert [h["to_status"] for h in history(world, first["id"])] == ["issued", "cancelled"]
    assert world.physician.post(URL.format(second["id"], "route"), {"pharmacy_code": "P370811001"}).status_code == 200
    once(world.pharmacy, URL.format(second["id"], "not-dispensed"), {"reason_code": "patient_declined"},
         {"reason_code": "clinically_unsuitable"}, "nd-1")
    assert [h["to_status"] for h in history(world, second["id"])] == ["issued", "routed", "not_dispensed"]


@pytest.fixture
def settled(world, issue):
    """settled() -> a settlement of a dispensed prescription, through the API."""
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))

    def make():
        rx = issue("SAC", 1).get_json()
        world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"})
        world.pharmacy.post(URL.format(rx["id"], "verify"), {"id_number": world.patient_id_number})
        assert review(world.pharmacy, rx["id"]).status_code == 200
        assert world.pharmacy.post(URL.format(rx["id"], "dispense"),
                                   {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]}).status_code == 200
        return created(world.pharmacy.post(URL.format(rx["id"], "settlement"), {},
                                           headers={"Idempotency-Key": f"settle-{rx['id']}"}))

    return make


def test_reversal_is_once_per_key(world, settled):
    settlement = settled()
    url = f"/api/v1/settlements/{settlement['id']}/reverse"
    reversed_ = once(world.pharmacy, url, {"reason": "收费错误"}, {"reason": "另一个理由"}, "reverse-1")
    assert reversed_.get_json()["status"] == "reversed"
    reversals = [h for h in reversed_.get_json()["history"] if h["action"] == "reverse"]
    assert len(reversals) == 1
    rx_history = history(world, settlement["prescription_id"])
    assert [h["to_status"] for h in rx_history].count("dispensed") == 2  # dispensed, then back once


def test_claim_decisions_are_once_per_key(world, as_role):
    from tests.support import resident_id

    taian = as_role("bureau", "370900")
    created(taian.post("/api/v1/settlement-policies", {**RESIDENT, "region": "370900"}))
    claims = []
    for n in range(2):
        number = resident_id("370811", f"1970010{n + 1}")
        who = created(world.admin.post("/api/v1/patients", {"id_number": number, "name": "患者", "insurance": "resident",
                                                            "region": "370900", "filed_region": "370800"}))
        assert world.physician.post("/api/v1/patients/search", {"id_number": number, "name": "患者"}).status_code == 200
        rx = created(world.physician.post("/api/v1/prescriptions", {
            "patient_id": who["id"], "diagnosis": "测试", "valid_days": 3,
            "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 28, "dosage": "qd"}]}))
        world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"})
        world.pharmacy.post(URL.format(rx["id"], "verify"), {"id_number": number})
        assert review(world.pharmacy, rx["id"]).status_code == 200
        assert world.pharmacy.post(URL.format(rx["id"], "dispense"),
                                   {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]}).status_code == 200
        claims.append(created(world.pharmacy.post(URL.format(rx["id"], "settlement"), {})))
    approved = once(taian, f"/api/v1/settlements/{claims[0]['id']}/approve", {"note": "材料齐全"}, {"note": "另"},
                    "approve-1")
    assert [h["action"] for h in approved.get_json()["history"]].count("approve") == 1
    rejected = once(taian, f"/api/v1/settlements/{claims[1]['id']}/reject", {"reason": "未备案"}, {"reason": "另"},
                    "reject-1")
    assert rejected.get_json()["status"] == "rejected"


def test_a_key_is_per_prescription_and_a_refusal_is_not_stored(world, issue):
    first, second = issue().get_json(), issue().get_json()
    headers = {"Idempotency-Key": "same-key"}
    # Verify before routing is refused; the refusal is not stored, the key stays free.
    refused = world.pharmacy.post(URL.format(first["id"], "verify"), {"id_number": world.patient_id_number},
                                  headers=headers)
    assert refused.status_code in (404, 409)
    for rx in (first, second):  # one key on two prescriptions: two endpoints, two effects
        routed = world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"}, headers=headers)
        assert routed.status_code == 200 and routed.get_json()["id"] == rx["id"]
    verified = world.pharmacy.post(URL.format(first["id"], "verify"), {"id_number": world.patient_id_number},
                                   headers=headers)
    assert verified.status_code == 200 and "Idempotent-Replayed" not in verified.headers


def test_purge_removes_only_keys_older_than_the_retention(app, runner, world, issue):
    rx = issue().get_json()
    old = world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"},
                               headers={"Idempotency-Key": "old"})
    assert old.status_code == 200
    clock.travel(timedelta(days=app.config["IDEMPOTENCY_RETENTION_DAYS"] + 1))
    later = issue().get_json()
    young = world.physician.post(URL.format(later["id"], "route"), {"pharmacy_code": "P370811001"},
                                 headers={"Idempotency-Key": "young"})
    assert young.status_code == 200
    result = runner.invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0, result.output
    assert "1 idempotency key(s) older than 30 day(s) purged." in result.output
    with app.app_context(), db.new_session() as session:
        assert list(session.exec(select(IdempotencyKey.key))) == ["young"]
    # The young key still replays its first answer.
    again = world.physician.post(URL.format(later["id"], "route"), {"pharmacy_code": "P370811001"},
                                 headers={"Idempotency-Key": "young"})
    assert again.get_data() == young.get_data() and again.headers["Idempotent-Replayed"] == "true"
    result = runner.invoke(args=["idempotency", "purge", "--days", "0"])
    assert "1 idempotency key(s) older than 0 day(s) purged." in result.output


def test_the_retention_is_checked_at_start():
    from dualchannel.config import ConfigurationError, validate

    import dualchannel.config as defaults

    config = {k: getattr(defaults, k) for k in dir(defaults) if k.isupper()}
    validate(config)
    with pytest.raises(ConfigurationError, match="DUALCHANNEL_IDEMPOTENCY_RETENTION_DAYS"):
        validate({**config, "IDEMPOTENCY_RETENTION_DAYS": 0})


def test_concurrent_retries_of_one_dispensing_key_dispense_once(app, world, issue):
    from tests.api.test_concurrency import race
    from tests.api.test_settlement_concurrency import post

    rx = issue("SAC", 2).get_json()
    world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"})
    world.pharmacy.post(URL.format(rx["id"], "verify"), {"id_number": world.patient_id_number})
    assert review(world.pharmacy, rx["id"]).status_code == 200
    held = stock(world)
    body = {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}
    # A counter back from an outage, and a second tab, send the queued dispensing at once.
    responses = race(8, lambda i: post(app, world.pharmacy.token, URL.format(rx["id"], "dispense"), "outbox-1", body))
    assert {r.status_code for r in responses} <= {200, 409} and any(r.status_code == 200 for r in responses)
    assert all(r.get_json()["code"] == "idempotency_key_in_progress" for r in responses if r.status_code == 409)
    assert len({r.get_data() for r in responses if r.status_code == 200}) == 1
    assert stock(world) == held - 2
    assert [h["to_status"] for h in history(world, rx["id"])].count("dispensed") == 1
    again = post(app, world.pharmacy.token, URL.format(rx["id"], "dispense"), "outbox-1", body)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
