"""Routine monitoring: fund spending by drug, pharmacy and county per month, month on month."""

from datetime import timedelta
from decimal import Decimal

from dualchannel import clock
from tests.api.conftest import created
from tests.api.test_settlement import desk  # noqa: F401 (fixture)


def test_spending_by_month_with_change(desk):  # noqa: F811
    who = desk.patient("employee")
    first = created(desk.settle(desk.dispensed(who, [("D150", 4)]), key="m1"))
    clock.travel(timedelta(days=31))
    second = created(desk.settle(desk.dispensed(who, [("D150", 2)]), key="m2"))
    bureau = desk.world.bureau
    items = bureau.get("/api/v1/audit/spending?by=drug").get_json()["items"]
    assert [(i["key"], i["quantity"]) for i in items] == [("D150", 4), ("D150", 2)]
    fund = [sum(Decimal(s[p]) for p in ("basic_fund", "critical_illness", "medical_assistance"))
            for s in (first, second)]
    assert [Decimal(i["fund"]) for i in items] == fund
    assert items[0]["change"] is None
    assert Decimal(items[1]["change"]) == ((fund[1] - fund[0]) / fund[0]).quantize(Decimal("0.0001"))
    by_county = bureau.get("/api/v1/audit/spending?by=county").get_json()["items"]
    assert {i["name"] for i in by_county} == {"任城区"}
    by_pharmacy = bureau.get("/api/v1/audit/spending?by=pharmacy").get_json()["items"]
    assert {i["key"] for i in by_pharmacy} == {"P370811001"}
    csv = bureau.get("/api/v1/audit/spending.csv?by=drug")
    assert csv.status_code == 200 and csv.data.decode("utf-8-sig").startswith("key,name,month")


def test_spending_is_scoped_to_the_bureau(desk):  # noqa: F811
    who = desk.patient("employee")
    created(desk.settle(desk.dispensed(who, [("D150", 1)]), key="s1"))
    assert desk.world.as_role("bureau", "370900").get("/api/v1/audit/spending").get_json()["items"] == []
    assert desk.world.physician.get("/api/v1/audit/spending").status_code == 403
    reversed_ = desk.world.pharmacy.post("/api/v1/settlements/1/reverse", {"reason": "冲正"})
    assert reversed_.status_code == 200
    assert desk.world.bureau.get("/api/v1/audit/spending").get_json()["items"] == []


def test_scan_endpoint_is_for_admins(world):
    assert world.bureau.post("/api/v1/audit/scan", {}).status_code == 403
    response = world.admin.post("/api/v1/audit/scan", {})
    assert response.status_code == 200 and response.get_json()["new_flags"]["volume_outlier"] == 0
