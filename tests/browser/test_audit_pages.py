"""The bureau tunes its audit on its page (thresholds with a what-if and their history,
exemptions), and reads a patient's timeline across pharmacies; the physician opens the same
timeline from the patient it found. Data is set up through the API."""

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from dualchannel import auth, db
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_pages import MENG
from tests.support import trace_codes


@pytest.fixture
def history(live):
    """孟庆华 gets 诺欣妥 at the demo pharmacy; another prescription is handed back by a second
    pharmacy (P370811002). Returns the patient id and a client for the API."""
    client = live.app.test_client()
    with live.app.app_context(), db.new_session() as session:
        second = auth.create_token(session, role="pharmacy", subject="P370811002", name="second pharmacy")

    def send(token, method, path, body=None):
        response = client.open(f"/api/v1{path}", method=method, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    physician, pharmacy, pharmacist = (live.tokens[r] for r in ("physician", "pharmacy", "pharmacist"))
    stock = send(pharmacy, "GET", "/pharmacies/P370811001/stock")["XC09DX04"]
    patient = send(physician, "POST", "/patients/search", {"id_number": MENG, "name": "孟庆华"})
    body = {"patient_id": patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": "XC09DX04", "quantity": 1, "days_supply": 28, "dosage": "每日两次，每次1片"}]}
    handed = send(physician, "POST", "/prescriptions", body)
    send(physician, "POST", f"/prescriptions/{handed['id']}/route", {"pharmacy_code": "P370811002"})
    send(second, "POST", f"/prescriptions/{handed['id']}/return", {"reason_code": "out_of_stock"})
    filled = send(physician, "POST", "/prescriptions", body)
    send(physician, "POST", f"/prescriptions/{filled['id']}/route", {"pharmacy_code": "P370811001"})
    send(pharmacy, "POST", f"/prescriptions/{filled['id']}/verify", {"id_number": MENG})
    send(pharmacist, "POST", f"/prescriptions/{filled['id']}/review", {"outcome": "approved"})
    send(pharmacy, "POST", f"/prescriptions/{filled['id']}/dispense",
         {"items": [{"drug_code": "XC09DX04", "trace_codes": trace_codes(1, product="8100001")}]})
    yield SimpleNamespace(patient_id=patient["id"], send=send, handed=handed["id"], filled=filled["id"])
    send(pharmacy, "PUT", "/pharmacies/P370811001/stock", {"XC09DX04": stock})


def test_the_bureau_and_the_physician_read_a_patients_timeline(pages, live, history):
    bureau = pages.new()
    sign_in(bureau, live, "bureau")
    bureau.get_by_role("link", name="患者跨药店用药时间轴").click()
    expect(bureau).to_have_url(f"{live.url}/timeline")
    bureau.get_by_label("患者编号").fill(str(history.patient_id))
    bureau.get_by_role("button", name="查看").click()
    expect(bureau.locator("#timeline-patient-title")).to_have_text("孟庆华 的用药时间轴")
    expect(bureau).to_have_url(f"{live.url}/timeline?patient={history.patient_id}")
    rows = bureau.locator("#timeline-events tbody tr")
    kinds = rows.locator("td:nth-child(2)").all_inner_texts()
    # The hand-back at the second pharmacy comes before the dispensing at the first, in time order.
    assert kinds.index("药店退回") < kinds.index("发药")
    expect(rows.filter(has_text="药店退回")).to_contain_text("济宁医药大药房(建设路店)（P370811002）")
    expect(rows.filter(has_text="发药").last).to_contain_text("P370811001")
    chart = bureau.locator("#timeline-chart")
    expect(chart.locator("rect.timeline-supply")).not_to_have_count(0)
    expect(chart.locator(f'rect.timeline-supply[data-prescription="{history.filled}"]')).to_have_count(1)
    expect(chart).to_contain_text("济宁医药大药房(建设路店)")
    expect(bureau.locator("#timeline-facts")).to_contain_text("370811********")
    screenshot(bureau, "timeline-bureau")

    doctor = pages.new()
    sign_in(doctor, live, "physician")
    doctor.get_by_label("患者身份证号").fill(MENG)
    doctor.get_by_label("患者姓名").fill("孟庆华")
    doctor.get_by_role("button", name="查找").click()
    doctor.get_by_role("link", name="查看跨药店用药时间轴").click()
    expect(doctor.locator("#timeline-patient-title")).to_have_text("孟庆华 的用药时间轴")
    bars = doctor.locator(f'#timeline-chart rect.timeline-supply[data-prescription="{history.filled}"]')
    expect(bars).to_have_count(1)


def test_the_bureau_tunes_thresholds_with_a_what_if_and_exempts_a_diagnosis(pages, live, history):
    bureau_token = live.tokens["bureau"]
    page = pages.new()
    sign_in(page, live, "bureau")
    page.get_by_role("tab", name="稽核参数与豁免").click()
    table = page.locator("#thresholds-table")
    expect(table.locator('[data-in-force="shopping_min_pharmacies"]')).to_have_text("3")
    expect(table.locator('tr[data-field="shopping_min_pharmacies"]')).to_contain_text("系统默认")
    page.get_by_label("同一通用名的药店数 ≥").fill("2")
    page.get_by_role("button", name="试算（近 90 天）").click()
    summary = page.locator("#whatif-summary")
    expect(summary).to_contain_text("尚未保存")
    expected = history.send(bureau_token, "POST", "/audit/thresholds/what-if?region=370800",
                            {"thresholds": {"shopping_min_pharmacies": 2}})
    expect(summary).to_contain_text(f"将新增 {expected['raise_total']} 条预警")
    expect(table.locator('[data-in-force="shopping_min_pharmacies"]')).to_have_text("3")  # not saved
    page.get_by_role("button", name="保存阈值").click()
    expect(page.locator("#thresholds-reason-error")).not_to_be_empty()  # a reason is required
    page.get_by_label("调整理由（必填，记入调整记录）").fill("县域药店少，两家即属异常")
    page.get_by_role("button", name="保存阈值").click()
    expect(table.locator('[data-in-force="shopping_min_pharmacies"]')).to_have_text("2")
    expect(table.locator('tr[data-field="shopping_min_pharmacies"]')).to_contain_text("本地区")
    expect(page.locator("#thresholds-history tbody tr")).to_have_count(1)
    expect(page.locator("#thresholds-history")).to_contain_text("县域药店少，两家即属异常")
    expect(page.locator("#thresholds-history")).to_contain_text("bureau:370800")

    page.get_by_label("按").select_option("diagnosis")
    page.get_by_label("内容", exact=True).fill("肺癌")
    page.get_by_label("有效至（含当日）").fill("2099-12-31")
    page.get_by_label("理由", exact=True).fill("肿瘤方案需多处取药")
    page.get_by_role("button", name="添加豁免").click()
    exemption = page.locator("#exemptions-table tbody tr")
    expect(exemption).to_have_count(1)
    expect(exemption).to_contain_text("肺癌")
    screenshot(page, "bureau-audit-tuning")
    exemption.get_by_role("button", name="撤销").click()
    expect(page.locator("#exemptions-table tbody tr")).to_have_count(0)
    expect(page.locator("#exemptions-empty")).to_be_visible()
    # Leave the demo's region as it was for the other page tests.
    history.send(bureau_token, "PUT", "/audit/thresholds?region=370800", {"thresholds": {}, "reason": "测试结束恢复"})
    assert re.search(r"系统默认", page.locator("#thresholds-table").inner_text())
