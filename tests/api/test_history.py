"""The tamper-evident history (issue 24): every prescription's and settlement's events are
chained by keyed SM3; `dualchannel history verify` names the first broken link of each chain,
flags it for the bureau and leaves its count in the metric `dualchannel_history_broken_links`."""

import re
from datetime import timedelta

import pytest

from dualchannel import clock
from tests.api.test_concurrency import race
from tests.api.test_prescription_flow import ready_to_dispense
from tests.api.test_settlement import desk  # noqa: F401 - fixture
from tests.api.test_signatures import sql
from tests.support import resident_id, review, trace_codes


def verify(runner, *args):
    return runner.invoke(args=["history", "verify", *args])


def broken_links(client) -> float | None:
    found = re.search(r"^dualchannel_history_broken_links (\S+)$", client.get("/metrics").get_data(as_text=True), re.M)
    return None if found is None else float(found.group(1))


def everything(world, desk):  # noqa: F811
    """A prescription through every kind of step: agent, review, two packs, an undo, settlement,
    reversal and settlement again; a manual claim approved; a refused review; a cancellation."""
    patient = desk.patient()
    rx = desk.dispensed(patient, [("SAC", 2)])
    codes = world.pharmacy.get(f"/api/v1/prescriptions/{rx}").get_json()["items"][0]["trace_codes"]
    assert world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "原包装未拆封退回"}).status_code == 200
    settled = desk.settle(rx).get_json()
    assert world.pharmacy.post(f"/api/v1/settlements/{settled['id']}/reverse", {"reason": "金额有误"}).status_code == 200
    assert desk.settle(rx).status_code == 201
    claim = desk.settle(desk.dispensed(patient, [("SAC", 1)]), {"mode": "manual"}).get_json()
    assert world.bureau.post(f"/api/v1/settlements/{claim['id']}/approve", {"note": "材料齐全"}).status_code == 200
    refused = world.physician.post("/api/v1/prescriptions", {
        "patient_id": patient.id, "diagnosis": "测试", "valid_days": 3,
        "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 28, "dosage": "qd"}]}).get_json()
    world.physician.post(f"/api/v1/prescriptions/{refused['id']}/route", {"pharmacy_code": "P370811001"})
    agent = {"name": "张小三", "id_number": resident_id("370811", "19900101"), "relation": "子女"}
    assert world.pharmacy.post(f"/api/v1/prescriptions/{refused['id']}/verify",
                               {"id_number": patient.id_number, "pickup": agent}).status_code == 200
    assert review(world.pharmacy, refused["id"], "refused", reason_code="interaction").status_code == 200
    assert world.physician.post(f"/api/v1/prescriptions/{refused['id']}/cancel",
                                {"reason_code": "treatment_changed", "note": "改开"}).status_code == 200
    return rx, settled["id"], claim["id"]


def test_an_intact_history_verifies_and_the_metric_says_so(world, desk, runner, client):  # noqa: F811
    assert broken_links(client) is None  # no run yet
    everything(world, desk)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert re.search(r"^\d+ chain\(s\), \d+ link\(s\) checked: 0 broken\.$", result.output, re.M), result.output
    chains, links = map(int, re.search(r"(\d+) chain\(s\), (\d+) link", result.output).groups())
    assert chains == 6 and links >= 20  # 3 prescriptions, 3 settlements
    assert broken_links(client) == 0.0
    assert "dualchannel_history_checked_timestamp_seconds" in client.get("/metrics").get_data(as_text=True)


def test_a_changed_event_is_named_as_the_first_broken_link(app, world, desk, runner, client):  # noqa: F811
    rx, _, _ = everything(world, desk)
    events = sql(app, "SELECT id, action FROM prescription_event WHERE prescription_id = :id ORDER BY id", id=rx).all()
    target = next(event_id for event_id, action in events if action == "verify")
    position = [event_id for event_id, _ in events].index(target) + 1
    sql(app, "UPDATE prescription_event SET actor = 'pharmacy:P370881001' WHERE id = :id", id=target)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN prescription:{rx} link {position} (prescription_event:{target} verify at " in result.output
    assert "1 broken." in result.output
    assert broken_links(client) == 1.0
    flags = world.bureau.get("/api/v1/flags?type=history_broken").get_json()["items"]
    assert [(f["subject"], f["evidence"]["link"]) for f in flags] == [(f"prescription:{rx}", position)]
    assert verify(runner).exit_code == 1  # a second run names it again, without a second flag
    assert len(world.bureau.get("/api/v1/flags?type=history_broken").get_json()["items"]) == 1


@pytest.mark.parametrize("change, named", [
    ("DELETE FROM prescription_event WHERE id = (SELECT max(id) FROM prescription_event WHERE prescription_id = :id)",
     "history head does not follow"),
    ("DELETE FROM prescription_event WHERE id = (SELECT min(id) + 1 FROM prescription_event WHERE prescription_id = :id)",
     "link 2 (prescription_event:"),
    ("UPDATE prescription_item SET quantity = 9 WHERE prescription_id = :id", "link 1 (prescription_event:"),
    ("UPDATE prescription SET status = 'dispensed' WHERE id = :id", "its status is dispensed, its history ends in settled"),
    ("UPDATE dispensed_pack SET units = 3 WHERE prescription_id = :id", "its dispensed packs"),
    ("UPDATE prescription_event SET detail = NULL WHERE prescription_id = :id AND action = 'undo_pack'",
     "prescription_event:"),
    ("UPDATE prescription_event SET chain_hash = NULL WHERE prescription_id = :id AND action = 'route'",
     "the row has no link"),
], ids=["last-event-removed", "event-removed", "content-changed", "status-changed", "pack-changed", "undo-changed",
        "link-removed"])
def test_each_kind_of_change_is_named(app, world, desk, runner, change, named):  # noqa: F811
    rx, _, _ = everything(world, desk)
    sql(app, change, id=rx)
    result = verify(runner)
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if line.startswith(f"BROKEN prescription:{rx}"))
    assert named in line, result.output


@pytest.mark.parametrize("change, named", [
    ("UPDATE settlement SET basic_fund = basic_fund + 100, patient_pays = patient_pays - 100 WHERE id = :id", "link 1"),
    ("UPDATE settlement_line SET unit_price = 1 WHERE settlement_id = :id", "link 1"),
    ("UPDATE settlement SET status = 'settled' WHERE id = :id", "its status is settled, its history ends in reversed"),
    ("DELETE FROM settlement_event WHERE id = (SELECT max(id) FROM settlement_event WHERE settlement_id = :id)",
     "history head does not follow"),
], ids=["amount", "line", "status", "last-event-removed"])
def test_a_changed_settlement_is_named(app, world, desk, runner, change, named):  # noqa: F811
    _, settlement, _ = everything(world, desk)
    sql(app, change, id=settlement)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN settlement:{settlement}" in result.output and named in result.output, result.output


def test_since_walks_only_the_chains_written_since(app, world, issue, runner):
    old = ready_to_dispense(world, issue)
    clock.travel(timedelta(days=2))
    new = ready_to_dispense(world, issue)
    sql(app, "UPDATE prescription_event SET reason = 'x' WHERE prescription_id = :id", id=old["id"])
    since = clock.today().isoformat()
    recent = verify(runner, "--since", since)
    assert recent.exit_code == 0 and recent.output.startswith("1 chain(s)"), recent.output
    full = verify(runner)
    assert full.exit_code == 1 and f"BROKEN prescription:{old['id']} link 1" in full.output
    assert f"prescription:{new['id']}" not in full.output


def test_racing_undos_of_one_prescription_keep_one_chain(app, world, issue, runner):
    rx = ready_to_dispense(world, issue, quantity=2)
    codes = trace_codes(2)
    assert world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                               {"items": [{"drug_code": "SAC", "trace_codes": codes}]}).status_code == 200
    headers = {"Authorization": f"Bearer {world.pharmacy.token}"}

    def undo(i):
        with app.test_client() as client:
            return client.post(f"/api/v1/trace/{codes[i]}/undo", json={"reason": "原包装未拆封退回"},
                               headers=headers).status_code

    assert sorted(race(2, undo)) == [200, 200]
    result = verify(runner)
    assert result.exit_code == 0, result.output


def test_a_claim_charged_in_full_and_adjudicated_keeps_an_intact_chain(app, world, desk, runner):  # noqa: F811
    """The adjudication of a claim charged in full (issue 21) is a link of its own: the chain
    verifies after it, and a changed adjudicated amount is named."""
    who = desk.patient("resident", region="370900", filed_region="370800")  # Tai'an's policy not held
    claim = desk.settle(desk.dispensed(who, [("D400", 1)])).get_json()
    assert claim["policy_id"] is None
    taian = world.as_role("bureau", "370900")
    assert taian.post("/api/v1/settlement-policies", {
        "region": "370900", "insurance": "resident", "effective_from": "2024-01-01", "deductible": "100.00",
        "fund_ratio": "0.50", "fund_cap": "10000.00", "ci_threshold": "2000.00",
        "ci_tiers": [{"up_to": None, "ratio": "0.5"}], "ci_cap": "3000.00", "assistance_cap": "1000.00"}).status_code == 201
    approved = taian.post(f"/api/v1/settlements/{claim['id']}/approve", {"note": "补录政策后审核"}).get_json()
    assert [e["action"] for e in approved["history"]] == ["claim", "adjudicate", "approve"]
    intact = verify(runner)
    assert intact.exit_code == 0, intact.output
    sql(app, "UPDATE settlement SET basic_fund = basic_fund + 100, patient_pays = patient_pays - 100 WHERE id = :id",
        id=claim["id"])
    result = verify(runner)
    assert result.exit_code == 1 and f"BROKEN settlement:{claim['id']} link 2" in result.output, result.output
