"""The procurement (集采) pages in headless Chromium: the bureau's execution tab lists the
behind-schedule row first with its alert; the institution declares demand (the explanation is
asked for below its history) and reports a supply problem. Data is set up through the API."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dualchannel import auth, clock, db
from dualchannel.procurement.rules import agreement as rules
from tests.browser.conftest import screenshot, sign_in

API = "/api/v1/procurement"
ON_TRACK, BEHIND = "H370811001", "H370811002"


@pytest.fixture(scope="module")
def procurement(live):
    """A batch in its first agreement year: one hospital on schedule, one far behind."""
    client = live.app.test_client()
    headers = {"Authorization": f"Bearer {live.tokens['admin']}"}

    def send(method, path, body):
        response = client.open(f"{API}{path}", method=method, json=body, headers=headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    today = clock.today()
    start = rules.add_months(today.replace(day=1), -6)
    end = rules.add_months(start, 24) - timedelta(days=1)
    send("POST", "/batches", {"code": "PAGES1", "name": "第十批国家集采", "kind": "drug", "cycle_start": start.isoformat(),
                              "cycle_end": end.isoformat(), "effective_date": start.isoformat()})
    send("POST", "/batches/PAGES1/products", {"code": "AML-SEL", "generic_name": "苯磺酸氨氯地平片", "manufacturer": "浙江华海药业",
                                              "name": "苯磺酸氨氯地平片", "specification": "5mg×28片", "unit": "盒",
                                              "price": "3.5000", "status": "selected"})
    for institution, agreed, bought in ((ON_TRACK, 1200, 1000), (BEHIND, 1000, 50)):
        send("PUT", "/agreed-volumes", {"institution_code": institution, "product_code": "AML-SEL",
                                        "year_start": start.isoformat(), "quantity": agreed})
        send("POST", "/purchases", {"institution_code": institution, "product_code": "AML-SEL", "quantity": bought,
                                    "amount": f"{bought * 3.5:.2f}", "date": (today - timedelta(days=3)).isoformat()})
    with live.app.app_context(), db.new_session() as session:
        live.tokens["institution"] = auth.create_token(session, role="institution", subject=ON_TRACK, name="demo institution")
    return {"second_year": rules.add_months(start, 12).isoformat()}


def test_bureau_sees_execution_behind_schedule_first(pages, live, procurement):
    page = pages.new()
    sign_in(page, live, "bureau")
    page.get_by_role("tab", name="集采执行").click()
    first = page.locator("#execution-table tbody tr").first
    expect(first).to_contain_text("济宁医学院附属医院")
    expect(first).to_contain_text("集采进度落后")
    expect(first).to_have_class("alert-row")
    expect(page.locator("#execution-table tbody tr").nth(1)).to_contain_text("济宁市第一人民医院")
    # The demo's own batch (GY-2026-09) has three lines behind too: 4 in all, this one the furthest.
    expect(page.locator("#execution-summary")).to_contain_text("进度落后 4 条")
    expect(page.locator("#procurement-alerts")).to_contain_text("集采进度落后")
    screenshot(page, "bureau-procurement-execution", full_page=False)
    expect(first.locator(".schedule-marker")).to_be_visible()
    page.get_by_label("只看进度落后").check()
    expect(page.locator("#execution-table tbody tr")).to_have_count(4)
    expect(page.locator("#execution-table tbody tr").filter(has_text="PAGES1")).to_have_count(1)


def test_institution_declares_demand_and_reports_a_supply_problem(pages, live, procurement):
    page = pages.new()
    sign_in(page, live, "institution")
    expect(page.locator("#who")).to_contain_text("医疗机构：济宁市第一人民医院")
    page.get_by_label("集采产品", exact=True).select_option("AML-SEL")
    page.get_by_label("协议年度").select_option(procurement["second_year"])
    page.get_by_label("申报量", exact=True).fill("500")
    explanation = page.get_by_label("书面说明（申报量低于历史使用量的原因）")
    expect(explanation).to_be_hidden()
    page.get_by_role("button", name="提交申报").click()
    expect(page.locator("#declare-error")).to_contain_text("申报量低于本机构历史使用量 1000，请填写书面说明。")
    expect(explanation).to_be_focused()
    screenshot(page, "institution-declaration-below-history", full_page=False)
    explanation.fill("部分患者转至基层医疗机构治疗")
    page.get_by_role("button", name="提交申报").click()
    row = page.locator("#declarations-table tbody tr").first
    expect(row).to_contain_text("待医保局审核")
    expect(row).to_contain_text("1000")
    expect(page.locator("#declare-error")).to_be_hidden()

    page.get_by_label("中选产品").select_option("AML-SEL")
    page.get_by_label("问题描述").fill("配送企业连续两周未按订单配送")
    page.get_by_role("button", name="报告供应问题").click()
    card = page.locator("#problem-list article").first
    expect(card).to_contain_text("等待企业答复")
    expect(card).to_contain_text("浙江华海药业")
    expect(page.locator("#notice")).to_contain_text("已报告")
    screenshot(page, "institution-procurement")
