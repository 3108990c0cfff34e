"""Supply problems: working-day deadlines with holidays and make-up days, overdue alerts,
escalation, and every wrong step."""

from datetime import date

import pytest

from tests.api.procurement_support import API, batch, flags_of, product, travel_to
from tests.api.test_prescription_flow import problem

H1 = "H370811001"


@pytest.fixture
def selected(world):
    batch(world.admin)
    product(world.admin, "B2026", "AML-SEL")
    product(world.admin, "B2026", "AML-NON", status="non_selected", price="0.9000")
    return world


def report_on(world, as_role, day: date) -> dict:
    travel_to(day)
    response = as_role("institution", H1).post(f"{API}/supply-problems", {
        "product_code": "AML-SEL", "description": "中选产品配送不及时", "company": "国药控股济宁有限公司"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def state_on(world, problem_id: int, day: date) -> dict:
    travel_to(day)
    return world.bureau.get(f"{API}/supply-problems/{problem_id}").get_json()


def scan(runner) -> str:
    result = runner.invoke(args=["procurement", "scan"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("reported,due", [
    (date(2026, 3, 6), date(2026, 3, 10)),  # an ordinary Friday: Monday, Tuesday
    (date(2026, 4, 3), date(2026, 4, 8)),  # Friday before 清明: Monday 6 April is a holiday
    (date(2026, 9, 18), date(2026, 9, 21)),  # Friday before 国庆: Sunday 20 September is a make-up working day
], ids=["plain Friday", "public holiday", "make-up working day"])
def test_an_unanswered_problem_is_overdue_after_the_second_working_day(selected, as_role, runner, reported, due):
    world = selected
    assert reported.weekday() == 4
    reported_problem = report_on(world, as_role, reported)
    assert reported_problem["reply_due"] == due.isoformat() and reported_problem["state"] == "awaiting_reply"
    last_day = state_on(world, reported_problem["id"], due)
    assert last_day["state"] == "awaiting_reply" and last_day["due"] == due.isoformat()
    scan(runner)
    assert flags_of(world.bureau, type="supply_overdue") == []

    after = state_on(world, reported_problem["id"], date.fromordinal(due.toordinal() + 1))
    assert after["state"] == "reply_overdue" and after["overdue_working_days"] >= 0
    assert scan(runner).startswith("1 alert(s) raised")
    alert, = flags_of(world.bureau, type="supply_overdue", status="open")
    assert alert["subject"] == f"supply_problem:{reported_problem['id']}" and alert["region"] == "370811"
    assert alert["evidence"]["due"] == due.isoformat()


def test_a_configured_holiday_moves_the_deadline(selected, as_role, world):
    holiday = world.admin.put(f"{API}/calendar/2026-03-09", {"kind": "holiday", "name": "测试假日"})
    assert holiday.status_code == 200 and holiday.get_json()["source"] == "table"
    assert report_on(world, as_role, date(2026, 3, 6))["reply_due"] == "2026-03-11"
    assert world.admin.put(f"{API}/calendar/2026-03-09", {"kind": "normal"}).status_code == 200
    assert state_on(world, 1, date(2026, 3, 6))["reply_due"] == "2026-03-10"
    # A make-up working day on the Saturday brings it forward.
    world.admin.put(f"{API}/calendar/2026-03-07", {"kind": "workday", "name": "调休上班"})
    assert state_on(world, 1, date(2026, 3, 6))["reply_due"] == "2026-03-09"
    days = world.bureau.get(f"{API}/calendar?year=2026").get_json()["days"]
    assert {"day": "2026-02-14", "kind": "workday", "name": None, "source": "config"} in days
    assert {"day": "2026-10-01", "kind": "holiday", "name": None, "source": "config"} in days
    assert {"day": "2026-03-07", "kind": "workday", "name": "调休上班", "source": "table"} in days
    problem(world.bureau.put(f"{API}/calendar/2026-03-07", {"kind": "holiday"}), 403)
    problem(world.admin.put(f"{API}/calendar/not-a-date", {"kind": "holiday"}), 404)
    problem(world.admin.put(f"{API}/calendar/2026-03-07", {"kind": "weekend"}), 422)


def test_reply_fix_escalation_and_resolution(selected, as_role, runner):
    world = selected
    institution = as_role("institution", H1)
    reported = report_on(world, as_role, date(2026, 3, 6))
    pid = reported["id"]
    # Still unanswered 5 working days after the deadline (Tue 10 March): escalated to the city.
    state_on(world, pid, date(2026, 3, 16))
    scan(runner)
    assert world.bureau.get(f"{API}/supply-problems/{pid}").get_json()["escalated_to"] is None
    escalated = state_on(world, pid, date(2026, 3, 17))
    assert escalated["escalate"] is True and escalated["overdue_working_days"] == 5
    scan(runner)
    assert world.bureau.get(f"{API}/supply-problems/{pid}").get_json()["escalated_to"] == "370800"
    city = [f for f in flags_of(world.bureau, type="supply_overdue", status="open") if f["region"] == "370800"]
    assert len(city) == 1 and city[0]["severity"] == "high"
    county_view = flags_of(as_role("bureau", "370811"), type="supply_overdue", status="open")
    assert [f["region"] for f in county_view] == ["370811"]  # the escalation is for the level above

    # The company answers late on 17 March; it may promise at most 5 working days later (24 March).
    body = {"reply": "已安排补货", "promised_fix": "2026-03-25"}
    bad = problem(institution.post(f"{API}/supply-problems/{pid}/reply", body), 422)
    assert bad["latest_fix_date"] == "2026-03-24"
    problem(world.physician.post(f"{API}/supply-problems/{pid}/reply", {**body, "promised_fix": "2026-03-24"}), 403)
    problem(institution.post(f"{API}/supply-problems/{pid}/reply", {**body, "replied_on": "2026-03-05"}), 422)
    replied = institution.post(f"{API}/supply-problems/{pid}/reply", {**body, "promised_fix": "2026-03-23"})
    assert replied.status_code == 200 and replied.get_json()["state"] == "in_progress"
    assert flags_of(world.bureau, type="supply_overdue", status="open") == []  # the answer resolves them
    problem(institution.post(f"{API}/supply-problems/{pid}/reply", {**body, "promised_fix": "2026-03-23"}), 409)

    assert state_on(world, pid, date(2026, 3, 24))["state"] == "fix_overdue"
    scan(runner)
    fix_alert, = flags_of(world.bureau, type="supply_overdue", status="open")
    assert fix_alert["evidence"]["state"] == "fix_overdue"
    resolved = institution.post(f"{API}/supply-problems/{pid}/resolve", {"resolution": "已到货"})
    assert resolved.status_code == 200 and resolved.get_json()["state"] == "resolved"
    assert flags_of(world.bureau, type="supply_overdue", status="open") == []
    problem(institution.post(f"{API}/supply-problems/{pid}/resolve", {"resolution": "again"}), 409)


def test_supply_problem_errors_and_scopes(selected, as_role):
    world = selected
    travel_to(date(2026, 5, 11))
    institution = as_role("institution", H1)
    body = {"product_code": "AML-SEL", "description": "断货"}
    problem(world.bureau.post(f"{API}/supply-problems", body), 403)
    problem(world.physician.post(f"{API}/supply-problems", body), 403)
    problem(institution.post(f"{API}/supply-problems", {**body, "institution_code": "H370811002"}), 403)
    assert "product_code" in problem(institution.post(f"{API}/supply-problems", {**body, "product_code": "AML-NON"}),
                                     422)["errors"]
    problem(institution.post(f"{API}/supply-problems", {**body, "reported_on": "2026-05-12"}), 422)
    problem(world.admin.post(f"{API}/supply-problems", body), 422)  # an admin must name the institution
    pid = institution.post(f"{API}/supply-problems", body).get_json()["id"]
    by_pharmacy = world.pharmacy.post(f"{API}/supply-problems", body)
    assert by_pharmacy.status_code == 201 and by_pharmacy.get_json()["institution_code"] == "P370811001"
    problem(world.pharmacy.get(f"{API}/supply-problems/{pid}"), 404)
    assert [p["id"] for p in institution.get(f"{API}/supply-problems").get_json()["items"]] == [pid]
    assert len(world.bureau.get(f"{API}/supply-problems?stage=reported").get_json()["items"]) == 2
    problem(as_role("bureau", "370900").get(f"{API}/supply-problems/{pid}"), 404)
    problem(institution.post(f"{API}/supply-problems/{pid}/confirm", {}), 403)
    problem(world.bureau.post(f"{API}/supply-problems/{pid}/confirm", {"confirmed_on": "2026-05-10"}), 422)
    assert world.bureau.post(f"{API}/supply-problems/{pid}/confirm", {}).get_json()["confirmed_on"] == "2026-05-11"
    problem(world.bureau.post(f"{API}/supply-problems/{pid}/confirm", {}), 409)
    problem(world.bureau.post(f"{API}/supply-problems/{pid}/resolve", {"resolution": "x", "resolved_on": "2026-05-12"}),
            422)
    problem(world.bureau.get(f"{API}/supply-problems/999"), 404)
