"""Reason codes of return, cancel and not-dispensed; the not-dispensed outcome; the tracker."""

from datetime import timedelta

import pytest

from dualchannel import clock
from dualchannel.prescriptions import rules
from tests.api.conftest import created
from tests.api.test_prescription_flow import problem
from tests.api.test_settlement import EMPLOYEE
from tests.support import review, trace_codes

URL = "/api/v1/prescriptions/{}/{}"
# action -> (endpoint, the state a prescription is brought to first, who acts, the rest of the body)
ACTIONS = {"return": ("return", "routed", "pharmacy", {}), "cancel": ("cancel", "issued", "physician", {}),
           "not_dispense": ("not-dispensed", "verified", "pharmacy", {}),
           "refuse_review": ("review", "verified", "pharmacy", {"outcome": "refused"})}


@pytest.fixture
def bring(world, issue):
    """bring(status) -> the id of a new prescription moved to `status`."""

    def make(status):
        rx = issue().get_json()
        if status in ("routed", "verified", "dispensed"):
            assert world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"}).status_code == 200
        if status in ("verified", "dispensed"):
            assert world.pharmacy.post(URL.format(rx["id"], "verify"),
                                       {"id_number": world.patient_id_number}).status_code == 200
        if status == "dispensed":
            assert review(world.pharmacy, rx["id"]).status_code == 200
            assert world.pharmacy.post(URL.format(rx["id"], "dispense"),
                                       {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}).status_code == 200
        return rx["id"]

    return make


def test_the_published_list(world):
    body = world.pharmacy.get("/api/v1/reason-codes").get_json()
    listed = {item["code"]: item for item in body["items"]}
    assert set(listed) == set(rules.REASONS)
    assert listed["out_of_stock"]["actions"] == ["not_dispense", "return"]
    assert listed["patient_deceased"]["actions"] == ["cancel"]
    assert listed["other"]["needs_note"] is True and set(listed["other"]["actions"]) == set(ACTIONS)
    assert all(item["label"] and not item["label"].isascii() for item in body["items"])  # zh-CN


@pytest.mark.parametrize("code", sorted(rules.REASONS))
def test_every_code_is_accepted_only_by_its_actions(world, bring, code):
    accepted = {item["code"]: set(item["actions"]) for item in world.admin.get("/api/v1/reason-codes").get_json()["items"]}
    for action, (endpoint, status, who, rest) in ACTIONS.items():
        rx_id = bring(status)
        actor = getattr(world, who)
        body = {**rest, "reason_code": code, **({"note": "见附件说明"} if rules.REASONS[code].needs_note else {})}
        response = actor.post(URL.format(rx_id, endpoint), body)
        if action in accepted[code]:
            assert response.status_code == 200, (code, action, response.get_json())
            event = response.get_json()["history"][-1]
            assert event["action"] == action and event["reason_code"] == code
            assert event["reason_label"] == rules.REASONS[code].label
        else:
            refused = problem(response, 422)
            assert refused["code"] == "reason_code_invalid" and "reason_code" in refused["errors"]
            assert world.physician.get(f"/api/v1/prescriptions/{rx_id}").get_json()["status"] == status


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_free_text_alone_or_a_bare_other_is_422_and_changes_nothing(world, bring, action):
    endpoint, status, who, rest = ACTIONS[action]
    rx_id, actor = bring(status), getattr(world, who)
    for body in ({}, {"reason": "缺货"}, {"note": "缺货"}, {"reason_code": "no_such_code"}, {"reason_code": "other"},
                 {"reason_code": "other", "note": "   "}, {"reason_code": ""}):
        response = actor.post(URL.format(rx_id, endpoint), {**rest, **body})
        assert response.status_code == 422, (body, response.get_json())
    assert world.physician.get(f"/api/v1/prescriptions/{rx_id}").get_json()["status"] == status
    done = actor.post(URL.format(rx_id, endpoint), {**rest, "reason_code": "other", "note": "  患者外出  "})
    assert done.status_code == 200 and done.get_json()["history"][-1]["reason"] == "患者外出"


def test_not_dispensed_ends_the_prescription_at_its_pharmacy(world, bring):
    rx_id = bring("routed")
    problem(world.physician.post(URL.format(rx_id, "not-dispensed"), {"reason_code": "patient_declined"}), 403)
    problem(world.other_pharmacy.post(URL.format(rx_id, "not-dispensed"), {"reason_code": "patient_declined"}), 404)
    headers = {"Idempotency-Key": "nd-1"}
    first = world.pharmacy.post(URL.format(rx_id, "not-dispensed"), {"reason_code": "clinically_unsuitable"},
                                headers=headers)
    assert first.status_code == 200 and first.get_json()["status"] == "not_dispensed"
    again = world.pharmacy.post(URL.format(rx_id, "not-dispensed"), {"reason_code": "clinically_unsuitable"},
                                headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()
    assert first.get_json()["next_actions"] == [] and first.get_json()["pharmacy_code"] == "P370811001"
    assert world.pharmacy.get("/api/v1/pharmacy/inbox").get_json()["items"] == []
    problem(world.pharmacy.post(URL.format(rx_id, "not-dispensed"), {"reason_code": "clinically_unsuitable"}), 409)
    problem(world.pharmacy.post(URL.format(rx_id, "dispense"),
                                {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}), 409)
    problem(world.physician.post(URL.format(rx_id, "cancel"), {"reason_code": "patient_request"}), 409)
    # Not from a dispensed prescription, and not after its validity (it expires instead).
    problem(world.pharmacy.post(URL.format(bring("dispensed"), "not-dispensed"), {"reason_code": "patient_declined"}),
            409)
    late = bring("routed")
    clock.travel(timedelta(days=4))
    assert problem(world.pharmacy.post(URL.format(late, "not-dispensed"), {"reason_code": "patient_declined"}),
                   409)["code"] == "prescription_expired"


def test_a_verified_prescription_is_offered_every_reason_of_its_actions(world, bring):
    actions = {a["action"]: a for a in world.pharmacy.get(f"/api/v1/prescriptions/{bring('verified')}")
               .get_json()["next_actions"]}
    assert [c["code"] for c in actions["not_dispense"]["reason_codes"]] == list(rules.NOT_DISPENSED_REASONS)
    assert [c["code"] for c in actions["return"]["reason_codes"]] == list(rules.RETURN_REASONS)
    assert actions["not_dispense"]["needs_reason"] and not actions["review"]["needs_reason"]
    assert [c["code"] for c in actions["refuse_review"]["reason_codes"]] == list(rules.REVIEW_REFUSALS)


# -- tracker ------------------------------------------------------------------------------------

def tracked(client, rx_id):
    response = client.get(f"/api/v1/prescriptions/{rx_id}/tracker")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_tracker_for_each_status(world, bring):
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))
    seen = {}
    issued = tracked(world.physician, bring("issued"))
    assert issued["holder"]["kind"] == "physician" and issued["holder"]["name"] == "王医生"
    assert issued["holder"]["institution_name"] == "济宁市第一人民医院"
    assert issued["next"]["by"] == issued["valid_until"] and not issued["ended"]
    assert [a["action"] for a in issued["next"]["actions"]] == ["route", "cancel"]
    seen["issued"] = issued

    rx_id = bring("routed")
    routed = tracked(world.pharmacy, rx_id)
    assert routed["holder"] == {"kind": "pharmacy", "code": "P370811001", "name": "P370811001大药房"}
    seen["routed"] = routed
    world.pharmacy.post(URL.format(rx_id, "return"), {"reason_code": "out_of_stock", "note": "周三到货"})
    returned = tracked(world.physician, rx_id)
    assert returned["status"] == "issued" and returned["phase"] == "returned"
    assert returned["phase_label"] == "药店已退回" and returned["holder"]["kind"] == "physician"
    assert returned["reason"]["code"] == "out_of_stock" and returned["reason"]["note"] == "周三到货"
    assert returned["reason"]["label"] == rules.REASONS["out_of_stock"].label
    assert [e["action"] for e in returned["history"]] == ["issue", "route", "return"]
    assert returned["history"][-1]["detail"] == {"pharmacy_code": "P370811001"}
    seen["returned"] = returned
    # Routed again, it is no longer "returned" (the old reason stays in its history).
    world.physician.post(URL.format(rx_id, "route"), {"pharmacy_code": "P370811001"})
    assert tracked(world.physician, rx_id)["phase"] == "routed"

    seen["verified"] = tracked(world.pharmacy, bring("verified"))
    reviewed_id = bring("verified")
    assert review(world.pharmacy, reviewed_id).status_code == 200
    seen["reviewed"] = tracked(world.pharmacy, reviewed_id)
    assert "dispense" in [a["action"] for a in seen["reviewed"]["next"]["actions"]]
    dispensed_id = bring("dispensed")
    seen["dispensed"] = tracked(world.pharmacy, dispensed_id)
    assert seen["dispensed"]["next"]["by"] is None and seen["dispensed"]["next"]["actions"][0]["action"] == "settle"
    assert world.pharmacy.post(f"/api/v1/prescriptions/{dispensed_id}/settlement", {}).status_code == 201
    seen["settled"] = tracked(world.bureau, dispensed_id)

    cancelled_id = bring("routed")
    world.physician.post(URL.format(cancelled_id, "cancel"), {"reason_code": "patient_deceased"})
    seen["cancelled"] = tracked(world.bureau, cancelled_id)
    assert seen["cancelled"]["reason"]["code"] == "patient_deceased" and seen["cancelled"]["reason"]["action"] == "cancel"

    closed_id = bring("verified")
    world.pharmacy.post(URL.format(closed_id, "not-dispensed"), {"reason_code": "patient_declined"})
    seen["not_dispensed"] = tracked(world.pharmacy, closed_id)
    assert seen["not_dispensed"]["reason"]["actor"] == "pharmacy:P370811001"

    late = bring("routed")
    clock.travel(timedelta(days=4))
    seen["expired"] = tracked(world.physician, late)  # a live one past its validity expires on read

    assert set(seen) == set(rules.STAGES)
    for phase, body in seen.items():
        stage = rules.STAGES[phase]
        assert body["phase"] == phase and body["phase_label"] == stage.label, phase
        assert body["next"]["summary"] == stage.next_step
        assert body["ended"] == (stage.holder is None) and (body["holder"] is None) == (stage.holder is None)
        assert (body["next"]["by"] is not None) == stage.timed
        assert all(e["at"].endswith("+08:00") for e in body["history"])
        assert body["patient"]["id_number_masked"].count("*") == 8
    for phase in ("cancelled", "expired", "not_dispensed"):
        assert seen[phase]["next"]["actions"] == [], phase


def test_the_tracker_answers_only_those_who_may_read_the_prescription(world, bring, as_role):
    rx_id = bring("routed")
    problem(world.other_pharmacy.get(f"/api/v1/prescriptions/{rx_id}/tracker"), 404)
    problem(world.ordinary_physician.get(f"/api/v1/prescriptions/{rx_id}/tracker"), 404)
    problem(as_role("bureau", "370900").get(f"/api/v1/prescriptions/{rx_id}/tracker"), 404)
    assert tracked(world.bureau, rx_id)["prescription_id"] == rx_id
    log = world.admin.get(f"/api/v1/prescriptions/{rx_id}/access-log").get_json()["items"]
    assert any((entry.get("detail") or {}).get("view") == "tracker" for entry in log)


# -- reports and flags group by code ----------------------------------------------------------------

def test_reports_and_flags_group_by_reason_code(world, bring, as_role):
    for _ in range(5):
        world.pharmacy.post(URL.format(bring("routed"), "return"), {"reason_code": "out_of_stock"})
    world.pharmacy.post(URL.format(bring("verified"), "not-dispensed"), {"reason_code": "out_of_stock"})
    world.pharmacy.post(URL.format(bring("routed"), "not-dispensed"), {"reason_code": "patient_declined"})
    world.physician.post(URL.format(bring("issued"), "cancel"), {"reason_code": "prescribing_error"})

    report = world.bureau.get("/api/v1/audit/reasons").get_json()
    totals = {(t["action"], t["reason_code"]): t["count"] for t in report["totals"]}
    assert totals == {("return", "out_of_stock"): 5, ("not_dispense", "out_of_stock"): 1,
                      ("not_dispense", "patient_declined"): 1, ("cancel", "prescribing_error"): 1}
    assert report["totals"][0]["label"] == rules.REASONS["out_of_stock"].label
    rows = {(r["actor"], r["action"], r["reason_code"]): r for r in report["items"]}
    assert rows[("pharmacy:P370811001", "return", "out_of_stock")]["name"] == "P370811001大药房"
    assert rows[("physician:D370811001", "cancel", "prescribing_error")]["name"] == "王医生"
    assert as_role("bureau", "370900").get("/api/v1/audit/reasons").get_json() == {"totals": [], "items": []}
    problem(world.pharmacy.get("/api/v1/audit/reasons"), 403)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert world.bureau.get(f"/api/v1/audit/reasons?from={tomorrow}").get_json()["totals"] == []

    assert world.admin.post("/api/v1/audit/scan", {}).get_json()["new_flags"]["pharmacy_refusals"] == 1
    assert world.admin.post("/api/v1/audit/scan", {}).get_json()["new_flags"]["pharmacy_refusals"] == 0
    flags = world.bureau.get("/api/v1/flags?type=pharmacy_refusals").get_json()["items"]
    assert len(flags) == 1 and flags[0]["subject"] == "pharmacy:P370811001"
    evidence = flags[0]["evidence"]
    assert evidence["reason_code"] == "out_of_stock" and evidence["count"] == 6
    assert evidence["actions"] == {"return": 5, "not_dispense": 1} and len(evidence["prescription_ids"]) == 6
