"""Policy fidelity (issue 21): one API test per rule where the service departed from the seed
notices in `/work/shared/seeds/`, each citing its seed file and clause. Run on SQLite and on
PostgreSQL (TEST_DATABASE_URL). Item 6 (cross-region manual claims) is the settlement
service's and not tested here yet (README, "Seed rules").
"""

import io
from datetime import date
from decimal import Decimal

import pytest

from tests.api.procurement_support import API, agree, batch, buy, execution, flags_of, item_of, product, travel_to
from tests.api.conftest import created
from tests.api.test_prescription_flow import problem
from tests.api.test_settlement import desk  # noqa: F401 - fixture
from tests.support import PLACES

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


# ---------------------------------------------------------------------------------------------
# 2. Generics without consistency evaluation (未过评)
# ---------------------------------------------------------------------------------------------


def test_a_generic_without_consistency_evaluation_is_paid_and_bought_at_most_at_the_selected_price(world):
    """Seed 000 (000_712c45607079be69.txt, 鲁医保发〔2020〕25号 五): "同一通用名下未通过一致性评价的
    仿制药，采购价、支付标准不高于中选价格". Its payment standard is the selected price at once (no
    step-down), and buying it above the selected price is flagged for the bureau."""
    travel_to(date(2026, 3, 10))
    for code, evaluated in (("ROS-U", False), ("ROS-E", True)):
        body = {"code": code, "generic_name": "瑞舒伐他汀钙片", "name": code, "unit": "盒", "agreed_price": "28.00",
                "payment_standard": "28.00",
                "consistency_evaluated": evaluated}
        assert world.admin.post("/api/v1/drugs", body).get_json()["consistency_evaluated"] is evaluated
    assert world.admin.get("/api/v1/drugs/ROS-U").get_json()["consistency_evaluated"] is False
    misspelt = problem(world.admin.post("/api/v1/drugs", {"code": "ROS-X", "generic_name": "瑞舒伐他汀钙片",
                                                          "name": "x", "unit": "盒", "consistency_evaluation": False}),
                       422)
    assert "consistency_evaluation" in misspelt["errors"]

    batch(world.admin, "B2026", effective="2026-03-01")
    product(world.admin, "B2026", "ROS-SEL", generic="瑞舒伐他汀钙片", price="10.0000", unit="盒")

    def standard(code, on):
        return world.pharmacy.get(f"/api/v1/drugs/{code}/payment-standard?on={on}").get_json()["standard"]

    assert standard("ROS-U", "2026-03-01") == "10.00"  # at once, not 70 % of 28.00
    assert standard("ROS-E", "2026-03-01") == "19.60"  # an evaluated generic steps down
    assert standard("ROS-U", "2026-02-28") == "28.00"  # before the batch takes effect

    # The procurement product carries it too; bought above the selected price, it is flagged.
    listed = product(world.admin, "B2026", "ROS-UNEV", generic="瑞舒伐他汀钙片", status="non_selected",
                     price="12.0000", unit="盒", manufacturer="某药业", consistency_evaluated=False)
    assert listed["consistency_evaluated"] is False
    assert world.admin.get(f"{API}/products/ROS-SEL").get_json()["consistency_evaluated"] is True
    misspelt = problem(world.admin.post(f"{API}/batches/B2026/products", {
        "code": "ROS-Y", "generic_name": "瑞舒伐他汀钙片", "manufacturer": "某药业", "name": "x", "unit": "盒",
        "price": "9.0000", "status": "non_selected", "consistency_evaluted": False}), 422)
    assert "consistency_evaluted" in misspelt["errors"]

    at_selected = buy(world.admin, H1, "ROS-UNEV", 10, "2026-03-09", amount="100.00")
    assert at_selected["price_deviation"] is None
    above = buy(world.admin, H1, "ROS-UNEV", 10, "2026-03-10", amount="120.00")
    assert above["price_deviation"] == "unevaluated_generic_above_selected_price"
    flag, = flags_of(world.bureau, type="unevaluated_generic_above_selected_price")
    assert flag["region"] == "370811" and flag["subject"] == f"institution:{H1}"
    assert flag["evidence"]["purchase_id"] == above["id"]
    assert (flag["evidence"]["unit_price_paid"], flag["evidence"]["unit_price_allowed"]) == ("12.0000", "10.0000")
    assert "未通过一致性评价的仿制药" in flag["evidence"]["rule"]


# ---------------------------------------------------------------------------------------------
# 5. No renegotiation of the selected price
# ---------------------------------------------------------------------------------------------


def test_a_selected_product_bought_at_another_price_is_flagged_for_the_bureau(world, as_role):
    """Seed 001 (001_e288b4fc89ed54f5.txt, 二(四)): "严格执行中选药品的国家集中采购价格，各医疗机构及
    医联体不得再次议价". A purchase of a selected product at any price but its selected price —
    cheaper or dearer — is recorded (it happened) and flagged for the bureau of the institution."""
    travel_to(date(2026, 3, 10))
    batch(world.admin, "B2026")
    product(world.admin, "B2026", "AML-SEL", price="10.0000", unit="盒")
    institution = as_role("institution", H1)
    assert buy(institution, H1, "AML-SEL", 3, "2026-03-02", amount="30.00")["price_deviation"] is None
    cheaper = buy(institution, H1, "AML-SEL", 1, "2026-03-03", amount="7.00")
    assert cheaper["price_deviation"] == "selected_price_renegotiated"
    dearer = buy(institution, H1, "AML-SEL", 2, "2026-03-04", amount="20.02")
    assert dearer["price_deviation"] == "selected_price_renegotiated"
    flags = flags_of(world.bureau, type="selected_price_renegotiated")
    assert sorted(f["evidence"]["purchase_id"] for f in flags) == [cheaper["id"], dearer["id"]]
    cheap_flag = next(f for f in flags if f["evidence"]["purchase_id"] == cheaper["id"])
    assert (cheap_flag["evidence"]["unit_price_paid"], cheap_flag["evidence"]["unit_price_allowed"]) == (
        "7.0000", "10.0000")
    assert "不得再次议价" in cheap_flag["evidence"]["rule"] and cheap_flag["status"] == "open"
    # The purchases count all the same, and the bureau reviews the flag like any other.
    assert institution.get(f"{API}/purchases").get_json()["items"][0]["id"] == dearer["id"]
    reviewed = world.bureau.post(f"/api/v1/flags/{cheap_flag['id']}/review",
                                 {"decision": "confirmed", "note": "约谈医院，责令按中选价格结算"})
    assert reviewed.status_code == 200 and reviewed.get_json()["status"] == "confirmed"
    # Imports are checked the same way.
    csv = "institution_code,product_code,quantity,amount,date\n" \
          f"{H1},AML-SEL,5,50.00,2026-03-05\n{H1},AML-SEL,5,45.00,2026-03-06\n"
    imported = institution.post(f"{API}/purchases/import", data={"file": (io.BytesIO(csv.encode()), "p.csv")},
                                content_type="multipart/form-data")
    assert imported.status_code == 201 and imported.get_json() == {"imported": 2, "price_deviations": 1}
    assert len(flags_of(world.bureau, type="selected_price_renegotiated")) == 3
    # Other institutions' bureaus do not see it.
    assert flags_of(world.as_role("bureau", "370900"), type="selected_price_renegotiated") == []


# ---------------------------------------------------------------------------------------------
# 8. Negotiated drugs include their same-generic copies
# ---------------------------------------------------------------------------------------------


def test_a_same_generic_copy_of_a_negotiated_drug_follows_it(world, issue):
    """Seed 003 (003_68cc739e2275b85d.txt, 一): "进一步做好国谈药品（含同通用名仿制药和生物类似药，
    下同）落地工作". A drug registered under the generic name of a negotiated dual-channel drug is
    negotiated and dual-channel too, with its original's policy, unless the bureau says otherwise;
    the catalogue names the original; a physician prescribes and routes it like the original."""
    bureau = world.bureau
    copy = bureau.post("/api/v1/drugs", {"code": "SAC-G", "generic_name": "沙库巴曲缬沙坦钠片",
                                         "name": "沙库巴曲缬沙坦钠片（仿制）100mg×14片", "unit": "盒",
                                         "agreed_price": "60.00", "payment_standard": "60.00"})
    assert copy.status_code == 201, copy.get_json()
    body = copy.get_json()
    assert (body["negotiated"], body["dual_channel"], body["follows"]) == (True, True, "SAC")
    biosimilar = bureau.post("/api/v1/drugs", {"code": "ADA-B", "generic_name": "阿达木单抗注射液",
                                               "name": "阿达木单抗注射液（生物类似药）", "unit": "支"}).get_json()
    assert (biosimilar["follows"], biosimilar["storage"], biosimilar["dual_channel"]) == ("ADA", "cold_chain", True)
    # The bureau may say otherwise: not dual-channel (still a negotiated copy), or not negotiated at all.
    kept_out = bureau.post("/api/v1/drugs", {"code": "SAC-H", "generic_name": "沙库巴曲缬沙坦钠片", "name": "x",
                                             "unit": "盒", "dual_channel": False}).get_json()
    assert (kept_out["negotiated"], kept_out["dual_channel"], kept_out["follows"]) == (True, False, "SAC")
    outside = bureau.post("/api/v1/drugs", {"code": "SAC-I", "generic_name": "沙库巴曲缬沙坦钠片", "name": "y",
                                            "unit": "盒", "negotiated": False, "dual_channel": False}).get_json()
    assert (outside["negotiated"], outside["follows"]) == (False, None)
    # A drug of a generic no negotiated drug has is as stated (defaults: neither).
    plain = bureau.post("/api/v1/drugs", {"code": "AMX-G", "generic_name": "阿莫西林胶囊", "name": "z",
                                          "unit": "盒"}).get_json()
    assert (plain["negotiated"], plain["dual_channel"], plain["follows"]) == (False, False, None)
    # The catalogue shows it among the dual-channel drugs, naming the original.
    listed = {d["code"]: d for d in world.physician.get("/api/v1/drugs?dual_channel=true").get_json()["items"]}
    assert listed["SAC-G"]["follows"] == "SAC" and "SAC-H" not in listed

    # Prescribing it takes the original's route: a dual-channel prescription, routed to a pharmacy.
    stock = world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"SAC-G": 10})
    assert stock.status_code == 200
    prescribed = issue("SAC-G")
    assert prescribed.status_code == 201, prescribed.get_json()
    rx_id = prescribed.get_json()["id"]
    options = world.physician.get(f"/api/v1/prescriptions/{rx_id}/pharmacy-options").get_json()["items"]
    assert "P370811001" in [o["code"] for o in options]
    routed = world.physician.post(f"/api/v1/prescriptions/{rx_id}/route", {"pharmacy_code": "P370811001"})
    assert routed.status_code == 200 and routed.get_json()["status"] == "routed"
    refused = problem(issue("SAC-H"), 422)  # the bureau kept this one out of dual-channel
    assert "not a dual-channel drug" in refused["errors"]["items.0.drug_code"][0]


# ---------------------------------------------------------------------------------------------
# 4. Escalation reaches the province
# ---------------------------------------------------------------------------------------------


def test_an_overdue_supply_problem_is_escalated_level_by_level_to_the_province(world, as_role, runner):
    """Seed 002 (002_7d4cd5b25c89fc20.txt, 二(八)): "對醫療機構反饋問題未在承諾時間內解決的，要及時
    通過約談、督導等方式核查處置；突出問題或無法協調解決的，逐級上報至省級醫保部門" (逐级上报至省级).
    Unanswered past its deadline, a problem goes from the county to the city bureau, then from the
    city bureau to the province bureau (370000), which sees it in its own queue and acts on it."""
    batch(world.admin, "B2026")
    product(world.admin, "B2026", "AML-SEL")
    travel_to(date(2026, 3, 6))  # a Friday: the reply is due Tuesday 10 March
    reported = as_role("institution", H1).post(f"{API}/supply-problems", {
        "product_code": "AML-SEL", "description": "中选产品断供", "company": "国药控股济宁有限公司"})
    assert reported.status_code == 201, reported.get_json()
    pid = reported.get_json()["id"]
    province, city = as_role("bureau", "370000"), world.bureau

    def scan_on(day):
        travel_to(day)
        assert runner.invoke(args=["procurement", "scan"]).exit_code == 0

    def escalations(bureau):
        return sorted((f["region"], f["evidence"]["escalated_from"])
                      for f in flags_of(bureau, type="supply_overdue", status="open") if f["severity"] == "high")

    scan_on(date(2026, 3, 17))  # 5 working days overdue: up to the city
    assert escalations(city) == [("370800", "370811")]
    scan_on(date(2026, 3, 23))  # 9: still the city's
    assert escalations(province) == [("370800", "370811")]
    scan_on(date(2026, 3, 24))  # 10: on to the province
    assert escalations(province) == [("370000", "370800"), ("370800", "370811")]
    assert escalations(city) == [("370800", "370811")]  # the province's own alert is not the city's
    assert escalations(as_role("bureau", "370900")) == []

    seen = province.get(f"{API}/supply-problems/{pid}")
    assert seen.status_code == 200 and seen.get_json()["escalated_to"] == "370000"
    provincial, = [f for f in flags_of(province, type="supply_overdue", region="370000", status="open")
                   if f["region"] == "370000"]
    assert "逐级上报至省级医保部门" in provincial["evidence"]["escalation_rule"]
    # The province acts: it confirms the problem (non-selected purchases meanwhile are exempt)
    # and reviews its alert.
    confirmed = province.post(f"{API}/supply-problems/{pid}/confirm", {})
    assert confirmed.status_code == 200 and confirmed.get_json()["confirmed_by"] == "bureau:370000"
    reviewed = province.post(f"/api/v1/flags/{provincial['id']}/review",
                             {"decision": "confirmed", "note": "省局约谈中选企业"})
    assert reviewed.status_code == 200 and reviewed.get_json()["reviewed_by"] == "bureau:370000"
    # Once answered, every level's open alert is resolved; the reviewed one stays as reviewed.
    answered = as_role("institution", H1).post(f"{API}/supply-problems/{pid}/reply",
                                               {"reply": "已调货", "promised_fix": "2026-03-25"})
    assert answered.status_code == 200
    assert escalations(province) == []
    assert world.admin.get(f"/api/v1/flags/{provincial['id']}").get_json()["status"] == "confirmed"


# ---------------------------------------------------------------------------------------------
# 3. Same company, same generic: assessed together
# ---------------------------------------------------------------------------------------------


def test_a_companys_selected_specifications_of_a_generic_are_assessed_together(world):
    """Seed 002 (002_7d4cd5b25c89fc20.txt, 二(四)): "屬于中選結果供應清單內的同品種同企業中選產品,
    按照同一采購目錄進行合并考核" (同品种同企业合并考核). Purchases of one selected specification
    count towards the company's other selected specifications of that generic, after unit
    conversion (seed 001 二(二) "按比例关系折算"); another company's product is not helped."""
    travel_to(date(2026, 7, 1))
    batch(world.admin, "B2026")
    product(world.admin, "B2026", "AML-28", unit="盒", price="4.2000", conversion="28", specification="5mg×28片")
    product(world.admin, "B2026", "AML-7", unit="盒", price="1.0500", conversion="7", specification="5mg×7片")
    product(world.admin, "B2026", "AML-SY", unit="片", price="0.1500", manufacturer="石药集团")
    for code, boxes in (("AML-28", 100), ("AML-7", 100), ("AML-SY", 1000)):
        agree(world.bureau, H1, code, boxes)  # 2,800 + 700 tablets of 华海's; 1,000 of 石药's

    # 100 boxes of 7 = 700 tablets of 3,500: 20 %, behind the half-year schedule — though 100 of
    # 200 boxes would have looked on schedule without the conversion.
    buy(world.admin, H1, "AML-7", 100, "2026-03-01")
    report = execution(world.bureau, as_of="2026-07-01")
    first, second = item_of(report, H1, "AML-28"), item_of(report, H1, "AML-7")
    assert first["assessed_with"] == second["assessed_with"] == ["AML-28", "AML-7"]
    assert first["combined_completed_share"] == second["combined_completed_share"] == 0.2
    assert first["behind"] and second["behind"]

    # 400 boxes more: 3,500 tablets, the whole combined volume. The 28-tablet specification,
    # never bought, is not behind; 石药's product is.
    buy(world.admin, H1, "AML-7", 400, "2026-05-01")
    report = execution(world.bureau, as_of="2026-07-01")
    first, second, other = (item_of(report, H1, code) for code in ("AML-28", "AML-7", "AML-SY"))
    assert (first["purchased"], first["completed_share"], first["combined_completed_share"]) == (0, 0.0, 1.0)
    assert first["behind"] is False and second["behind"] is False
    assert other["assessed_with"] == [] and other["combined_completed_share"] is None and other["behind"] is True
    assert report["summary"]["behind"] == 1
    behind_alerts = flags_of(world.bureau, type="procurement_behind_schedule", status="open")
    assert [f["evidence"]["product_code"] for f in behind_alerts] == ["AML-SY"]
    # Asked for one product, the report still assesses it with the company's other specification.
    only = execution(world.bureau, as_of="2026-07-01", product_code="AML-28")
    assert [(i["product_code"], i["behind"], i["combined_completed_share"]) for i in only["items"]] == [
        ("AML-28", False, 1.0)]


@pytest.mark.app_config(PROCUREMENT_BEHIND_ALERTS_FROM_MONTH=3)
def test_behind_schedule_alerts_may_start_later_in_the_year(world, runner):
    """Seed 002 (002_7d4cd5b25c89fc20.txt, 二(九)): "對中選產品采購進度低于序時進度……通過信息系統
    自動示警" names no start; the service alerts from month 1 unless
    `PROCUREMENT_BEHIND_ALERTS_FROM_MONTH` says otherwise (here 3, as seed 002 二(二) checks 进院
    "執行第3個月起"). The report still shows the line behind from the start."""
    batch(world.admin, "B2026")
    product(world.admin, "B2026", "AML-SEL")
    travel_to(date(2026, 2, 15))
    agree(world.bureau, H1, "AML-SEL", 1200)  # the write evaluates the line: behind, too early to alert
    february = execution(world.bureau)
    assert item_of(february, H1, "AML-SEL")["behind"] is True and flags_of(world.bureau) == []
    travel_to(date(2026, 3, 15))
    assert runner.invoke(args=["procurement", "scan", "--as-of", "2026-03-01"]).output.startswith("1 alert(s) raised")
    assert [f["evidence"]["as_of"] for f in flags_of(world.bureau, type="procurement_behind_schedule")] == [
        "2026-03-01"]


# ---------------------------------------------------------------------------------------------
# 7. The pharmacy list is published
# ---------------------------------------------------------------------------------------------


def test_the_dual_channel_pharmacy_list_is_published_without_a_token(world, client):
    """Seed 003 (003_68cc739e2275b85d.txt, 三(二)): "将……定点零售药店纳入“双通道”管理，并及时向社会
    公布" (及时向社会公布). Anyone, without a token, reads the admitted pharmacies: address, county,
    cold chain and whether open, by region, nearest to a point first; nothing else."""
    admin = world.admin
    assert admin.post("/api/v1/pharmacies/P370881001/suspend", {"reason": "整改", "force": True}).status_code == 200
    everyone = client.get("/api/v1/public/pharmacies")
    assert everyone.status_code == 200 and everyone.headers["Cache-Control"] == "public, max-age=60"
    items = everyone.get_json()["items"]
    # Admitted ones only (the applied P370811009 is not), by county then code.
    assert [(p["code"], p["opening_state"]) for p in items] == [
        ("P370811001", "open"), ("P370881001", "suspended"), ("P370902001", "open")]
    first = items[0]
    assert set(first) == {"code", "name", "address", "county_adcode", "county_name", "city_adcode", "city_name",
                          "lat", "lon", "crs", "cold_chain", "opening_state", "distance_km"}
    assert (first["county_adcode"], first["county_name"], first["city_name"], first["cold_chain"]) == (
        "370811", "任城区", "济宁市", True)
    assert first["address"] == "测试地址" and first["crs"] == "gcj02" and first["distance_km"] is None

    jining = client.get("/api/v1/public/pharmacies?region=370800").get_json()["items"]
    assert [p["code"] for p in jining] == ["P370811001", "P370881001"]
    assert client.get("/api/v1/public/pharmacies?region=370881").get_json()["items"][0]["code"] == "P370881001"

    lat, lon = PLACES["370902"]  # standing in Tai'an: its pharmacy first, then Qufu's, then Jining's
    near = client.get(f"/api/v1/public/pharmacies?lat={lat}&lon={lon}&crs=wgs84").get_json()["items"]
    assert [p["code"] for p in near] == ["P370902001", "P370881001", "P370811001"]
    assert near[0]["distance_km"] == 0.0 and 60 < near[1]["distance_km"] < 80
    assert (near[0]["lat"], near[0]["lon"], near[0]["crs"]) == (lat, lon, "wgs84")
    paged = client.get(f"/api/v1/public/pharmacies?lat={lat}&lon={lon}&crs=wgs84&limit=2").get_json()
    rest = client.get(f"/api/v1/public/pharmacies?lat={lat}&lon={lon}&crs=wgs84&limit=2"
                      f"&cursor={paged['next_cursor']}").get_json()
    assert [p["code"] for p in paged["items"] + rest["items"]] == [p["code"] for p in near]
    assert rest["next_cursor"] is None

    # An exited pharmacy leaves the list.
    assert admin.post("/api/v1/pharmacies/P370881001/exit", {"reason": "退出", "force": True}).status_code == 200
    assert "P370881001" not in [p["code"] for p in client.get("/api/v1/public/pharmacies").get_json()["items"]]
    # Bad input is a 422 that names the field.
    for query, field in (("lat=35.4", "lon"), ("region=37", "region"), ("regoin=370800", "regoin"),
                         ("lat=48.85&lon=2.35&crs=wgs84", "lat"), ("limit=501", "limit"), ("cursor=%%%", "cursor")):
        assert field in problem(client.get(f"/api/v1/public/pharmacies?{query}"), 422)["errors"], query


def test_a_pharmacy_without_electronic_traceability_is_not_admitted(world):
    """Seed 003 (003_68cc739e2275b85d.txt, 三(二)): "将资质合规、管理规范、信誉良好、布局合理，并且满足
    对所售药品已实现电子追溯等条件的定点零售药店纳入“双通道”管理" (已实现电子追溯)."""
    lat, lon = PLACES["370883"]
    body = {"code": "P370883009", "name": "邹城市无追溯药房", "address": "邹城市", "adcode": "370883",
            "lat": lat, "lon": lon, "crs": "wgs84"}
    assert world.admin.post("/api/v1/pharmacies", body).get_json()["traceability"] is False
    refused = problem(world.bureau.post("/api/v1/pharmacies/P370883009/admit", {}), 409)
    assert refused["code"] == "traceability_required" and refused["criterion"] == "traceability"
    assert world.bureau.get("/api/v1/pharmacies/P370883009").get_json()["status"] == "applied"


def test_a_cross_region_claim_is_decided_and_counted_by_the_insured_region(world, desk):  # noqa: F811
    """Seed 003 (003_68cc739e2275b85d.txt, 三(三)): "对异地就医备案人员……符合我市政策规定的，可手工
    报销" (异地就医备案 … 可手工报销). The insured place pays the claim: its bureau decides it under its
    own policy, and the fund money counts in its spending, wherever the pharmacy stands."""
    # A Jining (370800) resident filed for care in Tai'an (370900) fills the prescription there.
    who = desk.patient("resident", region="370800", filed_region="370900")
    taian_pharmacy = world.as_role("pharmacy", "P370902001")
    assert taian_pharmacy.put("/api/v1/pharmacies/P370902001/stock", {"D400": 10}).status_code == 200
    claim = created(desk.settle(desk.dispensed(who, [("D400", 1)], pharmacy_code="P370902001"),
                                by=taian_pharmacy))
    # The desk's Jining resident policy: deductible 500, so this first 400.00 is all the patient's.
    assert (claim["mode"], claim["status"], claim["patient_region"]) == ("manual", "pending", "370800")
    url = f"/api/v1/settlements/{claim['id']}"
    taian = world.as_role("bureau", "370900")
    assert taian.get(url).status_code == 200  # where the pharmacy stands: reads it
    assert problem(taian.post(f"{url}/approve", {}), 403)["code"] == "claim_of_another_region"
    assert problem(taian.post(f"{url}/reject", {"reason": "不予报销"}), 403)["code"] == "claim_of_another_region"
    approved = world.bureau.post(f"{url}/approve", {"note": "备案材料齐全"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"

    second = created(desk.settle(desk.dispensed(who, [("D400", 2)], pharmacy_code="P370902001"),
                                 by=taian_pharmacy))
    assert Decimal(second["basic_fund"]) > 0  # past Jining's deductible: the Jining fund pays
    fund = sum(Decimal(s[p]) for s in (claim, second) for p in ("basic_fund", "critical_illness",
                                                                  "medical_assistance"))
    jining = world.bureau.get("/api/v1/audit/spending?by=pharmacy").get_json()["items"]
    assert [(i["key"], Decimal(i["fund"])) for i in jining] == [("P370902001", fund)]
    assert taian.get("/api/v1/audit/spending?by=pharmacy").get_json()["items"] == []


def test_a_filed_patient_whose_home_policy_is_not_held_is_charged_in_full(world, desk):  # noqa: F811
    """Seed 003 (003_68cc739e2275b85d.txt, 三(三)): "可手工报销" — a filed patient can still buy when
    the service does not hold the insured region's policy: the counter charges in full and the claim
    waits at the insured region, which adjudicates it under its own policy once it is held."""
    who = desk.patient("resident", region="370900", filed_region="370800")  # Tai'an-insured
    claim = created(desk.settle(desk.dispensed(who, [("D400", 1)])))
    assert (claim["status"], claim["policy_id"], claim["patient_pays"], claim["basic_fund"]) == (
        "pending", None, "400.00", "0.00")
    assert desk.accumulators(who)["deductible_used"] == "0.00"
    taian = world.as_role("bureau", "370900")
    url = f"/api/v1/settlements/{claim['id']}"
    assert problem(taian.post(f"{url}/approve", {}), 409)["code"] == "claim_policy_missing"
    created(taian.post("/api/v1/settlement-policies", {
        "region": "370900", "insurance": "resident", "effective_from": "2024-01-01", "deductible": "100.00",
        "fund_ratio": "0.50", "fund_cap": "10000.00", "ci_threshold": "2000.00",
        "ci_tiers": [{"up_to": None, "ratio": "0.5"}], "ci_cap": "3000.00", "assistance_cap": "1000.00"}))
    approved = taian.post(f"{url}/approve", {"note": "补录政策后审核"}).get_json()
    assert (approved["status"], approved["basic_fund"], approved["patient_pays"]) == ("approved", "150.00", "250.00")
    assert approved["lines"][0]["basic_fund"] == "150.00"
    assert desk.accumulators(who)["deductible_used"] == "100.00"
