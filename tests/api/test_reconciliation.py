"""Reconciliation per pharmacy per day and month, as JSON and CSV, with the lines check."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

from dualchannel import clock
from tests.api.conftest import created
from tests.api.test_prescription_flow import problem
from tests.api.test_settlement import RESIDENT, desk  # noqa: F401 (fixture)


def test_reconciliation_by_day_and_month(desk):
    world = desk.world
    resident = desk.patient("resident")
    a = created(desk.settle(desk.dispensed(resident, [("D150", 2), ("D400", 1)])))  # 700: fund 120
    b = created(desk.settle(desk.dispensed(resident, [("SEP", 1)])))  # 1000: fund 600
    reversed_ = created(desk.settle(desk.dispensed(resident, [("D150", 1)])))
    assert world.pharmacy.post(f"/api/v1/settlements/{reversed_['id']}/reverse", {"reason": "错"}).status_code == 200
    created(world.as_role("bureau", "370900").post("/api/v1/settlement-policies", {**RESIDENT, "region": "370900"}))
    visitor = desk.patient("resident", region="370900", filed_region="370800")
    manual = created(desk.settle(desk.dispensed(visitor, [("D400", 1)])))

    today = clock.today()
    report = world.bureau.get(f"/api/v1/settlements/reconciliation?period=day&date={today}").get_json()
    assert report["label"] == today.isoformat() and report["period"] == "day"
    rows = {(r["pharmacy_code"], r["mode"], r["status"]): r for r in report["items"]}
    direct = rows[("P370811001", "direct", "settled")]
    assert direct["count"] == 2 and direct["total"] == "1700.00" and direct["lines_total"] == "1700.00"
    assert (a["basic_fund"], b["basic_fund"]) == ("120.00", "600.00")
    assert direct["basic_fund"] == "720.00" and direct["fund_outside_budget"] == b["basic_fund"]
    assert rows[("P370811001", "direct", "reversed")]["count"] == 1
    assert rows[("P370811001", "manual", "pending")]["total"] == manual["total"]
    totals = report["totals"]
    assert totals["count"] == 3 and totals["total"] == "2100.00"
    assert sum(float(totals[p]) for p in ("basic_fund", "critical_illness", "medical_assistance", "patient_pays")) \
        == float(totals["total"])
    assert report["invariant"] == {"settlements_total": "2250.00", "lines_total": "2250.00", "balanced": True,
                                   "unbalanced_settlements": []}

    month = world.bureau.get("/api/v1/settlements/reconciliation?period=month").get_json()
    assert month["label"] == today.strftime("%Y-%m") and month["start"] == today.replace(day=1).isoformat()
    assert month["totals"] == totals
    tomorrow = world.bureau.get(f"/api/v1/settlements/reconciliation?date={today + timedelta(days=1)}").get_json()
    assert tomorrow["items"] == [] and tomorrow["totals"]["count"] == 0 and tomorrow["invariant"]["balanced"]

    # The pharmacy sees its own; another pharmacy nothing; a Tai'an bureau only its patient's claim.
    assert world.pharmacy.get("/api/v1/settlements/reconciliation").get_json()["totals"] == totals
    assert world.other_pharmacy.get("/api/v1/settlements/reconciliation").get_json()["items"] == []
    taian = world.as_role("bureau", "370900").get("/api/v1/settlements/reconciliation").get_json()
    assert [(r["mode"], r["count"]) for r in taian["items"]] == [("manual", 1)]
    assert world.bureau.get("/api/v1/settlements/reconciliation?pharmacy=P370881001").get_json()["items"] == []


def test_reconciliation_csv(desk):
    world = desk.world
    created(desk.settle(desk.dispensed(desk.patient(), [("D150", 2), ("D400", 1)])))
    response = world.bureau.get("/api/v1/settlements/reconciliation.csv?period=month&pharmacy=P370811001")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, like every CSV (api.csv_response)
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["pharmacy_code"], row["mode"], row["count"], row["total"], row["basic_fund"], row["balanced"]) == \
        ("P370811001", "direct", "1", "700.00", "120.00", "true")
    assert row["period"] == clock.today().strftime("%Y-%m")


def test_reconciliation_flags_an_unbalanced_settlement(app, desk):
    import sqlalchemy as sa

    from dualchannel import db
    from dualchannel.settlements.models import Settlement

    body = created(desk.settle(desk.dispensed(desk.patient(), [("D150", 1)])))
    with app.app_context(), db.new_session() as session:
        # Someone edits a stored total behind the service's back.
        session.execute(sa.update(Settlement).where(Settlement.id == body["id"])
                        .values(total=Decimal(body["total"]) + Decimal("0.01")))
        session.commit()
    report = desk.world.admin.get("/api/v1/settlements/reconciliation").get_json()
    assert report["invariant"]["balanced"] is False
    assert report["invariant"]["unbalanced_settlements"] == [body["id"]]
    assert report["items"][0]["balanced"] is False


def test_reconciliation_access_and_arguments(desk):
    world = desk.world
    problem(world.physician.get("/api/v1/settlements/reconciliation"), 403)
    problem(world.physician.get("/api/v1/settlements/reconciliation.csv"), 403)
    problem(world.bureau.get("/api/v1/settlements/reconciliation?period=week"), 422)
    problem(world.bureau.get("/api/v1/settlements/reconciliation?date=2026-13-01"), 422)
    problem(world.bureau.get("/api/v1/settlements/reconciliation.csv?period=year"), 422)
