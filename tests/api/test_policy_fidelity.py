"""Policy fidelity (issue 21): one API test per rule where the service departed from the seed
notices in `/work/shared/seeds/`, each citing its seed file and clause. Run on SQLite and on
PostgreSQL (TEST_DATABASE_URL). Item 6 (cross-region manual claims) is the settlement
service's and not tested here yet (README, "Seed rules").
"""

from datetime import date

from tests.api.procurement_support import API, agree, batch, buy, execution, flags_of, item_of, product, travel_to
from tests.api.test_prescription_flow import problem

H1 = "H370811001"


# ---------------------------------------------------------------------------------------------
# 1. Agreement years follow the batch's own cycle
# ---------------------------------------------------------------------------------------------


def test_agreement_years_follow_the_batchs_stated_first_year(world):
    """Seed 004 (004_61ff265ac555f13c.txt, 鲁医保函〔2024〕28号 一): "采购周期为2年，购销协议每年
    一签……首年协议期为 2024 年 5 月 27 日—2025 年 5 月 31 日". The batch states its first year; the
    second runs to the same year end; purchases count in the year they fall in."""
    travel_to(date(2025, 7, 15))
    stated = batch(world.admin, "GH2024", kind="consumable", start="2024-05-27", end="2026-05-31",
                   effective="2024-05-31", first_year_end="2025-05-31")
    assert stated["first_year_end"] == "2025-05-31"
    assert stated["agreement_years"] == [{"start": "2024-05-27", "end": "2025-06-01"},
                                         {"start": "2025-06-01", "end": "2026-06-01"}]
    # Without it, as before: anniversaries of the start, the last "year" 5 days long.
    old = batch(world.admin, "GH-ANNIV", kind="consumable", start="2024-05-27", end="2026-05-31")
    assert old["first_year_end"] is None and old["agreement_years"][-1] == {"start": "2026-05-27",
                                                                             "end": "2026-06-01"}

    product(world.admin, "GH2024", "LENS-SEL", generic="人工晶体", unit="个", price="800.0000")
    agree(world.bureau, H1, "LENS-SEL", 12, year_start="2024-05-27")
    agree(world.bureau, H1, "LENS-SEL", 10, year_start="2025-06-01")
    wrong = problem(world.bureau.put(f"{API}/agreed-volumes", {"institution_code": H1, "product_code": "LENS-SEL",
                                                              "year_start": "2025-05-27", "quantity": 1}), 422)
    assert wrong["code"] == "not_an_agreement_year" and "2025-06-01" in wrong["errors"]["year_start"][0]

    buy(world.admin, H1, "LENS-SEL", 6, "2025-05-31", amount="4800.00")  # the first year's last day
    buy(world.admin, H1, "LENS-SEL", 5, "2025-06-01", amount="4000.00")  # the second year's first
    first = item_of(execution(world.bureau, as_of="2025-05-31", batch="GH2024"), H1, "LENS-SEL")
    assert (first["year_start"], first["year_end"], first["agreed"], first["purchased"]) == (
        "2024-05-27", "2025-06-01", 12, 6)
    # At the start of its last day 12 months and 4/31 of the 13th have elapsed, of 12 and 5/31: 376/377.
    assert first["schedule_share"] == 0.997347 and first["behind"] is True
    second = item_of(execution(world.bureau, as_of="2025-07-01", batch="GH2024"), H1, "LENS-SEL")
    assert (second["year_start"], second["agreed"], second["purchased"]) == ("2025-06-01", 10, 5)
    # Monthly report of the first year: twelve months, the twelfth running to 31 May.
    report = world.bureau.get(f"{API}/reports?batch=GH2024&as_of=2025-05-31").get_json()["items"]
    assert [r["period"] for r in report][-1] == "M12" and len(report) == 12
    assert (report[-1]["period_start"], report[-1]["period_end"], report[-1]["purchased"]) == (
        "2025-04-27", "2025-06-01", 6)

    # A first year ending outside the cycle, or 13 months or more after its start, is refused.
    for first_year_end in ("2024-05-26", "2026-06-01", "2025-06-27"):
        refused = problem(world.admin.post(f"{API}/batches", {
            "code": "GH-BAD", "name": "x", "kind": "consumable", "cycle_start": "2024-05-27",
            "cycle_end": "2026-05-31", "first_year_end": first_year_end}), 422)
        assert refused["code"] == "first_year_end_invalid" and "first_year_end" in refused["errors"]
    # A misspelt field is not dropped silently.
    misspelt = problem(world.admin.post(f"{API}/batches", {
        "code": "GH-BAD", "name": "x", "kind": "consumable", "cycle_start": "2024-05-27",
        "cycle_end": "2026-05-31", "first_year_ends": "2025-05-31"}), 422)
    assert "first_year_ends" in misspelt["errors"]


# ---------------------------------------------------------------------------------------------
# 9. The service's own choices: a step-down without a cliff
# ---------------------------------------------------------------------------------------------


def test_the_payment_standard_steps_down_without_a_cliff(world):
    """Seed 001 (001_e288b4fc89ed54f5.txt, 二(四)): "患者使用药品价格与中选药品集中采购价格差异较大的，
    通过另行制定配套措施，渐进调整支付标准，3年内调整到位". The seeds name no multiple: the
    service's step-down (README, "The service's own choices") is continuous in the price — 19.99
    and 20.00 against a selected 10.00 are paid 13.99 and 14.00, not 10.00 and 14.00."""
    for code, price in (("ROS-A", "19.99"), ("ROS-B", "20.00"), ("ROS-C", "14.00")):
        assert world.admin.post("/api/v1/drugs", {"code": code, "generic_name": "瑞舒伐他汀钙片", "name": code,
                                                  "unit": "盒", "agreed_price": price}).status_code == 201
    batch(world.admin, "B2026", effective="2026-03-01")
    product(world.admin, "B2026", "ROS-SEL", generic="瑞舒伐他汀钙片", price="10.0000")

    def standard(code, on):
        response = world.pharmacy.get(f"/api/v1/drugs/{code}/payment-standard?on={on}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["standard"]

    assert [standard(c, "2026-03-01") for c in ("ROS-C", "ROS-A", "ROS-B")] == ["10.00", "13.993", "14.00"]
    assert [standard(c, "2027-03-01") for c in ("ROS-A", "ROS-B")] == ["11.9965", "12.00"]
    assert [standard(c, "2028-03-01") for c in ("ROS-A", "ROS-B")] == ["10.00", "10.00"]
