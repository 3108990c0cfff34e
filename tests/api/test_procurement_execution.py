"""Procurement execution through the API: progress against the schedule, alerts, reports,
scopes, and the money endpoints."""

import csv
import io
from datetime import date

import pytest

from tests.api.procurement_support import (
    API,
    agree,
    batch,
    buy,
    execution,
    flags_of,
    item_of,
    product,
    travel_to,
)
from tests.api.test_prescription_flow import problem

H1 = "H370811001"


@pytest.fixture
def amlodipine(world):
    """A 2026 drug batch with a selected product and a non-selected one, 1,200 agreed at H1 on
    the first day of the year; the clock then stands at 1 July 2026."""
    batch(world.admin)
    product(world.admin, "B2026", "AML-SEL", price="0.1500")
    product(world.admin, "B2026", "AML-NON", status="non_selected", price="0.9000", manufacturer="辉瑞制药")
    travel_to(date(2026, 1, 1))
    agree(world.bureau, H1, "AML-SEL", 1200)
    travel_to(date(2026, 7, 1))
    return world


def test_a_purchase_behind_schedule_raises_an_alert_and_buying_clears_it(amlodipine):
    world = amlodipine
    assert flags_of(world.bureau) == []  # on 1 January nothing is behind
    buy(world.admin, H1, "AML-SEL", 400, "2026-06-30", amount="60.00")  # the write raises the alert

    report = execution(world.bureau, region="370800", as_of="2026-07-01")
    line = item_of(report, H1, "AML-SEL")
    assert line["agreed"] == 1200 and line["purchased"] == 400
    assert round(line["completed_share"], 2) == 0.33 and line["schedule_share"] == 0.5
    assert line["behind"] is True and line["alerts"] == ["procurement_behind_schedule"]
    assert report["items"][0]["product_code"] == "AML-SEL"  # alerts first
    assert report["summary"]["behind"] == 1
    alert, = flags_of(world.bureau, type="procurement_behind_schedule", status="open")
    assert alert["subject"] == f"institution:{H1}" and alert["region"] == "370811"
    assert alert["evidence"]["completed_share"] == "0.333333" and alert["evidence"]["schedule_share"] == "0.500000"

    # Another purchase still behind does not raise it twice.
    buy(world.admin, H1, "AML-SEL", 1, "2026-06-30", amount="0.15")
    assert len(flags_of(world.bureau, type="procurement_behind_schedule")) == 1

    buy(world.admin, H1, "AML-SEL", 199, "2026-07-01", amount="29.85")  # the write resolves it
    report = execution(world.bureau, region="370800", as_of="2026-07-01")
    line = item_of(report, H1, "AML-SEL")
    assert line["completed_share"] == 0.5 and line["behind"] is False and line["alerts"] == []
    assert flags_of(world.bureau, type="procurement_behind_schedule", status="open") == []
    resolved, = flags_of(world.bureau, type="procurement_behind_schedule", status="resolved")
    assert resolved["id"] == alert["id"] and resolved["reviewed_by"] == "system"


def test_a_relapse_raises_a_new_alert_and_looking_back_does_not_close_todays(amlodipine, runner):
    world = amlodipine
    buy(world.admin, H1, "AML-SEL", 600, "2026-06-30")
    assert execution(world.bureau, as_of="2026-07-01")["summary"]["behind"] == 0
    travel_to(date(2026, 10, 1))  # 600 of 1,200 at 75 %: the scan finds it behind
    assert item_of(execution(world.bureau), H1, "AML-SEL")["behind"] is True
    assert flags_of(world.bureau, type="procurement_behind_schedule") == []  # reading raised nothing
    assert runner.invoke(args=["procurement", "scan"]).output.startswith("1 alert(s) raised")
    first, = flags_of(world.bureau, type="procurement_behind_schedule", status="open")
    # A scan at an earlier date, when the line was on schedule, leaves the later alert open.
    assert runner.invoke(args=["procurement", "scan", "--as-of", "2026-07-01"]).exit_code == 0
    assert [f["id"] for f in flags_of(world.bureau, type="procurement_behind_schedule", status="open")] == [first["id"]]
    buy(world.admin, H1, "AML-SEL", 300, "2026-09-30")
    assert flags_of(world.bureau, type="procurement_behind_schedule", status="open") == []
    travel_to(date(2026, 12, 1))
    buy(world.admin, H1, "AML-SEL", 1, "2026-10-02")  # 901 of 1,200 at 11/12
    again, = flags_of(world.bureau, type="procurement_behind_schedule", status="open")
    assert again["id"] != first["id"]


def test_a_past_as_of_counts_only_purchases_up_to_it(amlodipine):
    world = amlodipine
    buy(world.admin, H1, "AML-SEL", 100, "2026-03-31")
    buy(world.admin, H1, "AML-SEL", 500, "2026-04-01")
    assert item_of(execution(world.bureau, as_of="2026-03-31"), H1, "AML-SEL")["purchased"] == 100
    assert item_of(execution(world.bureau, as_of="2026-04-01"), H1, "AML-SEL")["purchased"] == 600
    early = execution(world.bureau, as_of="2025-12-31")
    assert early["items"] == [] and early["years"] == []


def test_scopes_of_the_execution_report(amlodipine, as_role):
    world = amlodipine
    buy(world.admin, H1, "AML-SEL", 10, "2026-02-01")
    problem(as_role("bureau", "370900").get(f"{API}/execution?region=370800"), 404)
    assert execution(as_role("bureau", "370900"))["items"] == []
    problem(world.physician.get(f"{API}/execution"), 403)
    own = execution(as_role("institution", H1), as_of="2026-07-01")
    assert [i["institution_code"] for i in own["items"]] == [H1]
    assert execution(as_role("institution", "H370811999"))["items"] == []
    county = execution(as_role("bureau", "370811"), as_of="2026-07-01")
    assert [i["institution_code"] for i in county["items"]] == [H1]
    problem(as_role("bureau", "370811").get(f"{API}/execution?region=370800"), 404)


def test_pages_of_the_report(amlodipine):
    world = amlodipine
    for code in ("H370811002", "H370811003"):
        assert world.admin.post("/api/v1/institutions", {"code": code, "name": code, "adcode": "370811"}).status_code == 201
        agree(world.bureau, code, "AML-SEL", 100)
    buy(world.admin, "H370811002", "AML-SEL", 100, "2026-02-01")
    first = execution(world.bureau, as_of="2026-07-01", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert [i["behind"] for i in first["items"]] == [True, True]
    rest = execution(world.bureau, as_of="2026-07-01", limit=2, cursor=first["next_cursor"])
    assert [i["institution_code"] for i in rest["items"]] == ["H370811002"] and rest["next_cursor"] is None
    assert rest["items"][0]["behind"] is False
    only_behind = execution(world.bureau, as_of="2026-07-01", behind=True)
    assert {i["institution_code"] for i in only_behind["items"]} == {H1, "H370811003"}
    problem(world.bureau.get(f"{API}/execution?cursor=%%%"), 422)


def test_agreed_volume_errors(amlodipine, as_role):
    world = amlodipine
    body = {"institution_code": H1, "product_code": "AML-SEL", "year_start": "2026-01-01", "quantity": 5}
    problem(as_role("bureau", "370900").put(f"{API}/agreed-volumes", body), 403)
    problem(world.pharmacy.put(f"{API}/agreed-volumes", body), 403)
    assert "year_start" in problem(world.bureau.put(f"{API}/agreed-volumes", {**body, "year_start": "2026-02-01"}),
                                   422)["errors"]
    assert "product_code" in problem(world.bureau.put(f"{API}/agreed-volumes", {**body, "product_code": "NOPE"}),
                                     422)["errors"]
    assert "institution_code" in problem(world.bureau.put(f"{API}/agreed-volumes", {**body, "institution_code": "H9"}),
                                         422)["errors"]
    problem(world.bureau.put(f"{API}/agreed-volumes", {**body, "quantity": -1}), 422)
    # A pharmacy takes part like a hospital.
    assert agree(world.bureau, "P370811001", "AML-SEL", 30)["region"] == "370811"
    listed = world.bureau.get(f"{API}/agreed-volumes?product_code=AML-SEL").get_json()["items"]
    assert {i["institution_code"]: i["agreed"] for i in listed} == {H1: 1200, "P370811001": 30}
    assert world.pharmacy.get(f"{API}/agreed-volumes").get_json()["items"][0]["agreed"] == 30


def test_purchase_errors(amlodipine, as_role):
    world = amlodipine
    body = {"institution_code": H1, "product_code": "AML-SEL", "quantity": 5, "amount": "0.75", "date": "2026-03-01"}
    problem(as_role("institution", "H370811002").post(f"{API}/purchases", body), 403)
    problem(as_role("bureau", "370900").post(f"{API}/purchases", body), 403)
    problem(world.physician.post(f"{API}/purchases", body), 403)
    assert "date" in problem(world.admin.post(f"{API}/purchases", {**body, "date": "2099-01-01"}), 422)["errors"]
    assert "date" in problem(world.admin.post(f"{API}/purchases", {**body, "date": "2025-12-31"}), 422)["errors"]
    problem(world.admin.post(f"{API}/purchases", {**body, "quantity": 0}), 422)
    problem(world.admin.post(f"{API}/purchases", {**body, "amount": "1.234"}), 422)
    mine = as_role("institution", H1).post(f"{API}/purchases", {**body, "reference": "INV-1", "distributor": "国药控股"})
    assert mine.status_code == 201 and mine.get_json()["supplier"] == "浙江华海药业"
    assert mine.get_json()["created_by"] == f"institution:{H1}"
    problem(as_role("institution", H1).post(f"{API}/purchases", {**body, "reference": "INV-1"}), 409)
    by_pharmacy = world.pharmacy.post(f"{API}/purchases", {**body, "institution_code": "P370811001"})
    assert by_pharmacy.status_code == 201
    assert [p["institution_code"] for p in world.pharmacy.get(f"{API}/purchases").get_json()["items"]] == ["P370811001"]
    assert len(world.bureau.get(f"{API}/purchases").get_json()["items"]) == 2
    assert as_role("bureau", "370900").get(f"{API}/purchases").get_json()["items"] == []


def test_batch_and_product_errors(world, as_role):
    batch(world.admin)
    problem(world.admin.post(f"{API}/batches", {"code": "B2026", "name": "x", "kind": "drug",
                                                "cycle_start": "2026-01-01", "cycle_end": "2026-12-31"}), 409)
    problem(world.admin.post(f"{API}/batches", {"code": "BX", "name": "x", "kind": "drug",
                                                "cycle_start": "2026-01-01", "cycle_end": "2025-12-31"}), 422)
    problem(world.admin.post(f"{API}/batches", {"code": "BX", "name": "x", "kind": "drug", "cycle_start": "2026-01-01",
                                                "cycle_end": "2026-12-31", "effective_date": "2027-01-01"}), 422)
    problem(world.physician.post(f"{API}/batches", {"code": "BY", "name": "x", "kind": "drug",
                                                    "cycle_start": "2026-01-01", "cycle_end": "2026-12-31"}), 403)
    problem(world.bureau.post(f"{API}/batches", {"code": "BY", "name": "x", "kind": "drug", "region": "370900",
                                                 "cycle_start": "2026-01-01", "cycle_end": "2026-12-31"}), 403)
    body = {"code": "P1", "generic_name": "阿托伐他汀钙片", "manufacturer": "齐鲁制药", "name": "阿托伐他汀钙片 20mg",
            "specification": "20mg×7片", "unit": "盒", "price": "4.2100", "status": "selected"}
    problem(world.bureau.post(f"{API}/batches/B2026/products", body), 403)  # a national batch is the admin's
    problem(world.admin.post(f"{API}/batches/NOPE/products", body), 404)
    assert "price" in problem(world.admin.post(f"{API}/batches/B2026/products", {**body, "price": "0"}), 422)["errors"]
    created_product = world.admin.post(f"{API}/batches/B2026/products", body).get_json()
    assert created_product["batch_code"] == "B2026" and created_product["price"] == "4.21"
    problem(world.admin.post(f"{API}/batches/B2026/products", body), 409)
    city = world.bureau.post(f"{API}/batches", {"code": "JN2026", "name": "济宁联盟", "kind": "consumable",
                                               "cycle_start": "2024-05-31", "cycle_end": "2026-05-30"})
    assert city.status_code == 201 and city.get_json()["region"] == "370800"
    assert city.get_json()["agreement_years"] == [{"start": "2024-05-31", "end": "2025-05-31"},
                                                  {"start": "2025-05-31", "end": "2026-05-31"}]
    assert world.bureau.post(f"{API}/batches/JN2026/products", {**body, "code": "P2"}).status_code == 201
    assert world.physician.get(f"{API}/batches/B2026").get_json()["status"] in ("in_effect", "ended")
    assert [p["code"] for p in world.pharmacy.get(f"{API}/batches/JN2026/products").get_json()["items"]] == ["P2"]
    assert world.bureau.get(f"{API}/products/P1").get_json()["generic_name"] == "阿托伐他汀钙片"
    problem(world.bureau.get(f"{API}/products/NOPE"), 404)
    assert {b["code"] for b in world.bureau.get(f"{API}/batches").get_json()["items"]} == {"B2026", "JN2026"}


def test_monthly_and_quarterly_reports(amlodipine, as_role):
    world = amlodipine
    buy(world.admin, H1, "AML-SEL", 100, "2026-01-15", amount="15.00")
    buy(world.admin, H1, "AML-SEL", 200, "2026-03-31", amount="30.00")
    buy(world.admin, H1, "AML-NON", 50, "2026-02-10", amount="45.00")
    months = world.bureau.get(f"{API}/reports?as_of=2026-04-15").get_json()
    selected = [i for i in months["items"] if i["product_code"] == "AML-SEL"]
    assert [(i["period"], i["purchased"], i["cumulative_purchased"]) for i in selected] == [
        ("M01", 100, 100), ("M02", 0, 100), ("M03", 200, 300), ("M04", 0, 300)]
    assert selected[2]["schedule_share"] == 0.25 and selected[2]["completed_share"] == 0.25
    assert selected[0]["amount"] == "15.00" and selected[3]["period_end"] == "2026-04-16"
    quarters = world.bureau.get(f"{API}/reports?as_of=2026-04-15&period=quarter").get_json()["items"]
    assert [(i["period"], i["product_code"], i["purchased"]) for i in quarters] == [
        ("Q1", "AML-NON", 50), ("Q2", "AML-NON", 0), ("Q1", "AML-SEL", 300), ("Q2", "AML-SEL", 0)]
    response = world.bureau.get(f"{API}/reports.csv?as_of=2026-04-15&period=quarter")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert (rows[2]["period"], rows[2]["period_start"], rows[2]["purchased"]) == ("Q1", "2026-01-01", "300")
    assert rows[2]["generic_name"] == "苯磺酸氨氯地平片"
    assert as_role("bureau", "370900").get(f"{API}/reports?as_of=2026-04-15").get_json()["items"] == []
    problem(as_role("bureau", "370900").get(f"{API}/reports.csv?region=370800"), 404)
    problem(world.bureau.get(f"{API}/reports?period=week"), 422)


def test_prepayments_and_the_direct_settlement_ledger(amlodipine):
    world = amlodipine
    product(world.admin, "B2026", "AML-SEL2", manufacturer="石药集团", price="0.1300")
    agree(world.bureau, H1, "AML-SEL2", 1001)
    agree(world.bureau, "P370811001", "AML-SEL", 100)
    buy(world.admin, H1, "AML-SEL", 300, "2026-02-01", amount="45.00")
    buy(world.admin, H1, "AML-SEL", 500, "2026-05-01", amount="75.00")
    buy(world.admin, H1, "AML-NON", 10, "2026-05-01", amount="9.00")  # non-selected: not directly settled

    paid = world.bureau.get(f"{API}/prepayments?as_of=2026-06-30").get_json()
    assert paid["ratio"] == "0.5"
    by_code = {i["institution_code"]: i for i in paid["items"]}
    # H1: 1,200 × 0.15 = 180.00 → 90.00; 1,001 × 0.13 = 130.13 → 65.07 (rounded up to the fen)
    assert by_code[H1]["agreed_amount"] == "310.13" and by_code[H1]["prepayment"] == "155.07"
    assert {c["company"]: c["prepayment"] for c in by_code[H1]["companies"]} == {"浙江华海药业": "90.00", "石药集团": "65.07"}
    assert by_code["P370811001"]["prepayment"] == "7.50"

    ledger = world.bureau.get(f"{API}/ledger?as_of=2026-06-30").get_json()["items"]
    huahai = next(i for i in ledger if i["company"] == "浙江华海药业")
    assert huahai["prepaid"] == "97.50"  # 90.00 for H1 + 7.50 for the pharmacy
    assert [(q["quarter"], q["purchased"], q["settled"], q["closed"]) for q in huahai["quarters"]] == [
        ("Q1", "45.00", "0.00", True), ("Q2", "75.00", "22.50", True)]
    assert huahai["year_end_reconciliation"]["reconciled"] is False
    year_end = world.bureau.get(f"{API}/ledger?as_of=2026-12-31").get_json()["items"]
    shiyao = next(i for i in year_end if i["company"] == "石药集团")
    assert shiyao["year_end_reconciliation"] == {"reconciled": True, "purchased": "0.00", "prepaid": "65.07",
                                                 "owed": "0.00", "balance": "-65.07"}
    assert len(shiyao["quarters"]) == 4
    own = world.pharmacy.get(f"{API}/prepayments?as_of=2026-06-30").get_json()["items"]
    assert [i["institution_code"] for i in own] == ["P370811001"]


def test_the_scan_command_raises_due_alerts(amlodipine, runner):
    world = amlodipine
    buy(world.admin, H1, "AML-SEL", 600, "2026-06-30")  # on schedule on 1 July
    assert flags_of(world.bureau) == []
    result = runner.invoke(args=["procurement", "scan", "--as-of", "2026-07-02"])  # no write says so
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 alert(s) raised")
    assert len(flags_of(world.bureau, type="procurement_behind_schedule", status="open")) == 1
    assert runner.invoke(args=["procurement", "scan", "--region", "37"]).exit_code != 0


def test_thresholds_come_from_the_configuration(amlodipine, app):
    world = amlodipine
    app.config["PROCUREMENT_BEHIND_TOLERANCE"] = "0.2"  # 33 % + 20 points is not below 50 %
    app.config["PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD"] = "0.4"
    buy(world.admin, H1, "AML-SEL", 400, "2026-06-30")
    buy(world.admin, H1, "AML-NON", 300, "2026-06-30")  # 300 of 700: 43 % non-selected
    report = execution(world.bureau, as_of="2026-07-01")
    assert item_of(report, H1, "AML-SEL")["behind"] is False and report["summary"]["behind"] == 0
    assert flags_of(world.bureau, type="procurement_behind_schedule") == []
    alert, = flags_of(world.bureau, type="non_selected_share_high")
    assert alert["evidence"]["threshold"] == "0.4" and alert["evidence"]["non_selected_share"] == "0.428571"


def test_an_institution_token_reads_only_its_procurement_records(world, issue, as_role):
    rx = issue("SAC", 1).get_json()
    lookalike = as_role("institution", "370800")  # a subject that looks like a region
    problem(lookalike.get(f"/api/v1/prescriptions/{rx['id']}"), 404)
    assert lookalike.get("/api/v1/prescriptions").get_json()["items"] == []
    problem(lookalike.get("/api/v1/flags"), 403)
    assert execution(lookalike)["items"] == []


def test_read_endpoint_errors(amlodipine, as_role):
    world = amlodipine
    problem(world.bureau.get(f"{API}/execution?batch=NOPE"), 404)
    problem(world.bureau.get(f"{API}/execution?as_of=2026-13-01"), 422)
    problem(world.bureau.get(f"{API}/reports?batch=NOPE"), 404)
    for path in ("prepayments", "ledger"):
        problem(as_role("bureau", "370900").get(f"{API}/{path}?region=370800"), 404)
        problem(world.physician.get(f"{API}/{path}"), 403)
    for path in ("agreed-volumes", "purchases", "declarations", "supply-problems", "calendar?year=2026"):
        problem(world.physician.get(f"{API}/{path}"), 403)
    problem(world.bureau.get(f"{API}/calendar"), 422)
    problem(world.bureau.post(f"{API}/agreed-volumes/compute", {"product_code": "NOPE", "year_start": "2026-01-01"}),
            422)
