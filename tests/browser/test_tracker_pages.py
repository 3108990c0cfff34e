"""Reason codes and the tracker on the pages, in headless Chromium: the pharmacy closes one
prescription without dispensing and hands another back, each with a reason picked from the
published list; the physician follows the returned one on its tracker and cancels it with a
reason; the bureau finds it by its number. Prescriptions are set up through the API."""

import pytest
from playwright.sync_api import expect

from dualchannel.prescriptions import rules
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_pages import DEMO_PHARMACY, MENG


@pytest.fixture
def routed(live):
    """Two new prescriptions of 诺欣妥 for 孟庆华, routed to the demo pharmacy: their ids."""
    client = live.app.test_client()
    headers = {"Authorization": f"Bearer {live.tokens['physician']}"}

    def send(path, body):
        response = client.post(f"/api/v1{path}", json=body, headers=headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    patient = send("/patients/search", {"id_number": MENG, "name": "孟庆华"})
    ids = []
    for _ in range(2):
        rx = send("/prescriptions", {"patient_id": patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
                                     "items": [{"drug_code": "XC09DX04", "quantity": 1, "days_supply": 14,
                                                "dosage": "每日两次，每次1片"}]})
        send(f"/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
        ids.append(rx["id"])
    return ids


def test_reasons_and_the_tracker_on_every_page(pages, live, routed):
    closed, returned = routed
    counter = pages.new()
    sign_in(counter, live, "pharmacy")
    counter.locator(f'#inbox-list button[data-id="{closed}"]').click()
    tracker = counter.locator("#rx-tracker")
    expect(tracker).to_contain_text("当前环节已流转")
    expect(tracker).to_contain_text(f"药店 {DEMO_PHARMACY}（P370811001）")
    expect(tracker).to_contain_text("待患者到店，药店实名核验后发药")
    expect(tracker).to_contain_text("当日结束前")

    # Closing without dispensing: a reason from the list (its codes come from next_actions).
    section = counter.locator("#not-dispensed-section")
    options = section.get_by_label("未发药原因").locator("option").all_inner_texts()
    assert options[1:] == [rules.REASONS[c].label for c in rules.NOT_DISPENSED_REASONS]
    section.get_by_role("button", name="未发药结束").click()
    expect(section.locator("#not-dispensed-reason-code-error")).to_have_text("请选择。")
    section.get_by_label("未发药原因").select_option(label=rules.REASONS["patient_declined"].label)
    with counter.expect_request(lambda r: r.url.endswith("/not-dispensed")) as sent:
        section.get_by_role("button", name="未发药结束").click()
    assert sent.value.headers.get("idempotency-key")
    expect(counter.locator("#notice")).to_contain_text(f"处方 {closed} 已按“患者拒绝取药或不再需要”未发药结束")
    expect(counter.locator("#rx-title")).to_contain_text("未发药结束")
    expect(tracker).to_contain_text("原因：患者拒绝取药或不再需要")
    expect(tracker).to_contain_text("流程结束：须重新开具处方")
    expect(section).to_be_hidden()
    expect(counter.locator("#scan-section")).to_be_hidden()
    screenshot(counter, "pharmacy-not-dispensed-tracker")

    # Handing back with "other" needs a note.
    counter.locator(f'#inbox-list button[data-id="{returned}"]').click()
    back = counter.locator("#return-section")
    back.get_by_label("退回原因").select_option("other")
    expect(back.get_by_label("说明（必填）")).to_be_visible()
    back.get_by_role("button", name="退回处方").click()
    expect(back.locator("#return-reason-note-error")).to_have_text("必须填写。")
    back.get_by_label("说明（必填）").fill("冷链设备检修，三日内无法供药")
    back.get_by_role("button", name="退回处方").click()
    counter.get_by_role("button", name="确认退回").click()  # 退回 asks first (issue 20)
    expect(counter.locator("#notice")).to_contain_text(f"处方 {returned} 已退回开方医师")

    # The physician sees where it is and why, then cancels it with a reason.
    doctor = pages.new()
    sign_in(doctor, live, "physician")
    doctor.get_by_role("button", name=f"查看处方 {returned}").click()
    detail = doctor.locator("#prescription-detail")
    expect(detail).to_contain_text("当前环节药店已退回")
    expect(detail).to_contain_text("原因：其他原因：冷链设备检修，三日内无法供药")
    expect(detail).to_contain_text("开方医师 王建国")
    expect(detail).to_contain_text("待医师重新流转至药店或作废")
    screenshot(doctor, "physician-returned-tracker")
    detail.get_by_role("button", name="作废").click()
    detail.get_by_label("作废原因").select_option(label=rules.REASONS["patient_request"].label)
    detail.get_by_role("button", name="确认作废").click()
    expect(doctor.locator("#notice")).to_contain_text(f"处方 {returned} 已作废")
    expect(detail).to_contain_text("当前环节已作废")
    expect(detail.locator(".timeline li").last).to_contain_text("原因：患者要求作废")

    # The bureau finds it by its number.
    bureau = pages.new()
    sign_in(bureau, live, "bureau")
    bureau.get_by_role("tab", name="处方追踪").click()
    bureau.get_by_label("处方号").fill("99999999")
    bureau.get_by_role("button", name="查询").click()
    expect(bureau.locator("#tracker-error")).to_contain_text("没有找到处方 99999999")
    bureau.get_by_label("处方号").fill(str(returned))
    bureau.get_by_role("button", name="查询").click()
    result = bureau.locator("#tracker-result")
    expect(result).to_contain_text("当前环节已作废")
    expect(result).to_contain_text("持有方无（流程已结束）")
    expect(result.locator(".timeline li")).to_have_count(4)  # issued, routed, returned, cancelled
    screenshot(bureau, "bureau-tracker")
