"""The public list of dual-channel pharmacies in headless Chromium, without signing in (seed
003 三(二): 及时向社会公布): every admitted pharmacy with its county, cold chain and opening
state; a region filter; nearest first from a point typed from a phone map (GCJ-02)."""

from playwright.sync_api import expect

from dualchannel.geo import crs
from tests.browser.conftest import screenshot

SUSPENDED = "P370811002"  # 任城区 keeps another active pharmacy: its coverage does not change


def test_anyone_reads_the_pharmacy_list_without_signing_in(pages, live):
    client = live.app.test_client()
    admin = {"Authorization": f"Bearer {live.tokens['admin']}"}
    suspended = client.post(f"/api/v1/pharmacies/{SUSPENDED}/suspend", json={"reason": "门店装修"}, headers=admin)
    assert suspended.status_code == 200, suspended.get_json()
    try:
        page = pages.new()
        sent = []
        page.on("request", lambda request: sent.append(request) if "/api/" in request.url else None)
        page.goto(f"{live.url}/login")
        page.get_by_role("link", name="查看双通道药店名单（无需登录）").click()
        expect(page).to_have_url(f"{live.url}/pharmacies")
        expect(page.locator("h1")).to_have_text("双通道药店名单")
        table = page.locator("#pharmacy-table")
        expect(table).to_contain_text("济宁漱玉平民大药房(太白路店)")
        expect(table).to_contain_text("兖州区国大药房(建设东路店)")
        expect(table).not_to_contain_text("济宁仁和大药房(北湖店)")  # applied, not admitted
        row = table.locator(f"tr[data-code='{SUSPENDED}']")
        expect(row).to_contain_text("暂停服务")
        expect(table.locator("tr[data-code='P370811001']")).to_contain_text("可提供冷链")
        expect(table.locator("tr[data-code='P370811001']")).to_contain_text("济宁市 任城区")
        expect(page.locator("#list-summary")).to_contain_text("已显示")
        screenshot(page, "public-pharmacies")

        # One county.
        page.get_by_label("地区").select_option("370811")
        page.get_by_role("button", name="查询").click()
        codes = table.locator("tbody tr")
        expect(codes).to_have_count(2)
        expect(table).not_to_contain_text("兖州区国大药房(建设东路店)")

        # Nearest first, from the 兖州区 pharmacy's own spot as a phone map (GCJ-02) shows it.
        page.get_by_label("地区").select_option("")
        lat, lon = crs.wgs84_to(35.5530, 116.7830, "gcj02")
        page.get_by_label("纬度").fill(f"{lat:.6f}")
        page.get_by_label("经度").fill(f"{lon:.6f}")
        page.get_by_role("button", name="查询").click()
        first = table.locator("tbody tr").first
        expect(first).to_contain_text("兖州区国大药房(建设东路店)")
        expect(first).to_contain_text("0.00 公里")
        expect(page.locator("#list-summary")).to_contain_text("按距离由近到远排列")
        screenshot(page, "public-pharmacies-nearest", full_page=False)

        # Only a latitude: the page asks for both, and sends nothing.
        asked = len(sent)
        page.get_by_label("经度").fill("")
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#near-lon-error")).to_have_text("请同时填写纬度和经度。")
        assert len(sent) == asked
        assert sent and all("authorization" not in request.headers for request in sent)
        assert all("/api/v1/public/pharmacies" in request.url for request in sent)
    finally:
        admitted = client.post(f"/api/v1/pharmacies/{SUSPENDED}/admit", json={}, headers=admin)
        assert admitted.status_code == 200, admitted.get_json()
