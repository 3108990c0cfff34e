"""The counter through a network outage, in headless Chromium: offline, the pharmacist scans and
confirms two dispensings; the page is reloaded while still offline (its files come from its
service worker, its data from the browser); back online, the queue is sent in order: the first
dispensing is applied exactly once and its receipt shown, the second, cancelled by the physician
meanwhile, is shown refused with the reason. Prescriptions are set up through the API."""

from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_pages import MENG
from tests.support import trace_codes


@pytest.fixture
def reviewed(live):
    """Two prescriptions of 诺欣妥 (1 box) for 孟庆华 at the demo pharmacy, verified and reviewed."""
    client = live.app.test_client()

    def send(role, path, body):
        response = client.post(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {live.tokens[role]}"})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    pharmacy = {"Authorization": f"Bearer {live.tokens['pharmacy']}"}
    stock = client.get("/api/v1/pharmacies/P370811001/stock", headers=pharmacy).get_json()["XC09DX04"]
    patient = send("physician", "/patients/search", {"id_number": MENG, "name": "孟庆华"})
    ids = []
    for _ in range(2):
        rx = send("physician", "/prescriptions", {
            "patient_id": patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": "XC09DX04", "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]})
        send("physician", f"/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
        send("pharmacy", f"/prescriptions/{rx['id']}/verify", {"id_number": MENG})
        send("pharmacist", f"/prescriptions/{rx['id']}/review", {"outcome": "approved"})
        ids.append(rx["id"])
    yield SimpleNamespace(ids=ids, send=send, client=client)
    # The other page tests count the demo pharmacy's stock: put back the box dispensed here.
    restored = client.put("/api/v1/pharmacies/P370811001/stock", json={"XC09DX04": stock}, headers=pharmacy)
    assert restored.status_code == 200, restored.get_json()


def history(live, client, rx_id):
    response = client.get(f"/api/v1/prescriptions/{rx_id}", headers={"Authorization": f"Bearer {live.tokens['admin']}"})
    return response.get_json()


def scan_and_confirm(page, rx_id, code):
    page.locator(f'#inbox-list button[data-id="{rx_id}"]').click()
    expect(page.locator("#rx-title")).to_contain_text(f"处方 {rx_id}")
    scan = page.get_by_label("药品追溯码（扫码枪扫描后自动回车，可连续扫描）")
    scan.click()
    scan.type(code)
    scan.press("Enter")
    expect(page.locator("#scan-message")).to_contain_text("全部扫描完成")
    page.get_by_role("button", name="确认发药").click()
    expect(page.locator("#scan-queued")).to_be_visible()


def test_offline_scans_and_confirmations_replay_once_in_order(pages, live, browser, reviewed):
    first, second = reviewed.ids
    first_code, second_code = trace_codes(2, product="8100001")
    counter = pages.new()
    sign_in(counter, live, "pharmacist", expect="/pharmacy")
    # Open both once online: the page keeps copies for the outage; its service worker is ready.
    for rx_id in (first, second):
        counter.locator(f'#inbox-list button[data-id="{rx_id}"]').click()
        expect(counter.locator("#rx-title")).to_contain_text(f"处方 {rx_id}")
    assert counter.evaluate("navigator.serviceWorker.ready.then(() => true)")
    try:
        browser.context.set_offline(True)
        expect(counter.locator("#offline-banner")).to_be_visible()
        scan_and_confirm(counter, first, first_code)
        scan_and_confirm(counter, second, second_code)
        queue = counter.locator("#outbox-list > li")
        expect(queue).to_have_count(2)
        expect(queue.nth(0)).to_contain_text(f"处方 {first} 发药（孟庆华，1 个追溯码）")
        expect(queue.nth(1)).to_contain_text(f"处方 {second} 发药")
        screenshot(counter, "pharmacy-offline-queued")

        # Reloaded during the outage: the page, the account, the lists and the queue are all there.
        reloaded = counter.reload()
        assert reloaded is not None and reloaded.from_service_worker  # the page's files, kept by its worker
        expect(counter.locator("#offline-banner")).to_be_visible()
        expect(counter.locator("#who")).to_contain_text("（离线）")
        expect(counter.locator("#outbox-list > li")).to_have_count(2)
        expect(counter.locator(f'#inbox-list button[data-id="{first}"]')).to_be_visible()
        assert history(live, reviewed.client, first)["status"] == "reviewed"  # nothing sent yet
        # Meanwhile, at the hospital, the physician cancels the second prescription.
        reviewed.send("physician", f"/prescriptions/{second}/cancel",
                      {"reason_code": "treatment_changed"})
        screenshot(counter, "pharmacy-offline-reloaded")
    finally:
        browser.context.set_offline(False)

    # Back online: sent in order; the first applied once with its receipt, the second refused.
    receipt = counter.locator("#outbox-done > li")
    expect(receipt).to_have_count(1, timeout=15_000)
    expect(receipt).to_contain_text(f"发药凭证 · 处方 {first}")
    expect(receipt).to_contain_text(first_code)
    expect(counter.locator("#outbox-list > li")).to_have_count(0)
    refused = counter.locator("#outbox-refused > li")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(f"处方 {second} 发药（孟庆华，1 个追溯码）：提交被拒绝，未发药")
    expect(counter.locator("#offline-banner")).to_be_hidden()
    expect(counter.locator("#who")).not_to_contain_text("离线")
    screenshot(counter, "pharmacy-offline-replayed")

    done = history(live, reviewed.client, first)
    assert done["status"] == "dispensed"
    assert [h["to_status"] for h in done["history"]].count("dispensed") == 1
    assert done["items"][0]["trace_codes"] == [first_code]
    assert history(live, reviewed.client, second)["status"] == "cancelled"
    assert counter.evaluate("indexedDB.databases().then((d) => d.map((x) => x.name))") == ["dualchannel-counter"]

    # Reloaded again, nothing is sent twice: the queue stays empty; dismissing the refusal clears it.
    counter.reload()
    expect(counter.locator("#outbox-list > li")).to_have_count(0)
    counter.locator("#outbox-refused").get_by_role("button", name="知道了").click()
    expect(counter.locator("#outbox-refused > li")).to_have_count(0)
    assert [h["to_status"] for h in history(live, reviewed.client, first)["history"]].count("dispensed") == 1
