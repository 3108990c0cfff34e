"""The everyday tasks of each user on the pages (issue 20), by role, in headless Chromium at
1366×768: the pharmacy's worklist, search, closed prescriptions with the reason, confirmation
before 退回, 冲正, 退药 and receipt reprint, stock; the physician's worklist, full registration,
slip and refusal where no pharmacy serves; the bureau's suspend/re-admit, flag detail and
export, declarations and supply problems, and maps at every level. Prescriptions are set up
through the API for patients no other browser test uses (王芳, 李四)."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dualchannel import clock, demo
from tests.browser.conftest import screenshot, sign_in

WANG = demo._resident_id("370883", "19800527", 103)  # 王芳: eligible for 爱博新 (XL01EF01)
PALBO = "XL01EF01"
_serial = iter(range(7_000_001, 7_100_000))


def api_as(live, role):
    client = live.app.test_client()
    headers = {"Authorization": f"Bearer {live.tokens[role]}"}

    def send(method, path, body=None):
        response = client.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    return send


def routed_for_wang(live, quantity=1):
    """A new prescription of 爱博新 for 王芳, routed to the demo pharmacy."""
    send = api_as(live, "physician")
    patient = send("POST", "/patients/search", {"id_number": WANG, "name": "王芳"})
    rx = send("POST", "/prescriptions", {"patient_id": patient["id"], "diagnosis": "乳腺癌（HR+/HER2-）", "valid_days": 3,
                                         "items": [{"drug_code": PALBO, "quantity": quantity, "days_supply": 21,
                                                    "dosage": "每日一次，每次125mg"}]})
    send("POST", f"/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    return rx


def open_entry(page, rx_id):
    page.locator(f'#inbox-list button[data-id="{rx_id}"]').click()
    expect(page.locator("#rx-title")).to_contain_text(f"处方 {rx_id}")


def dispense_on_page(page, rx_id, quantity):
    open_entry(page, rx_id)
    page.get_by_label("患者身份证号").fill(WANG)
    page.get_by_role("button", name="核验身份").click()
    page.get_by_role("button", name="提交审方（电子签名）").click()
    expect(page.locator("#rx-title")).to_contain_text("已审方")
    scan = page.get_by_label("药品追溯码（扫码枪扫描后自动回车，可连续扫描）")
    codes = [demo.trace_code(PALBO, next(_serial)) for _ in range(quantity)]
    for code in codes:
        scan.type(code)
        scan.press("Enter")
    page.get_by_role("button", name="确认发药").click()
    expect(page.locator("#rx-title")).to_contain_text("已发药")
    return codes


def test_pharmacy_worklist_search_and_closed_prescriptions(pages, live):
    first, second, handed = routed_for_wang(live), routed_for_wang(live), routed_for_wang(live)
    page = pages.new()
    sign_in(page, live, "pharmacist", expect="/pharmacy")
    entry = page.locator(f'#inbox-list button[data-id="{first["id"]}"]')
    expect(entry).to_contain_text("王*")
    expect(entry).to_contain_text("370883********1032")
    expect(entry).to_contain_text("爱博新 125mg×21粒 ×1盒")
    expect(entry).to_contain_text(re.compile(r"有效期至 \d{4}-\d{2}-\d{2}（含当日）"))
    expect(page.locator("#inbox-list")).not_to_contain_text("王芳")  # masked in the list
    screenshot(page, "tasks-pharmacy-worklist")

    # A card reader types the 18 characters and Enter: her prescriptions, in every status.
    search = page.get_by_label("身份证号或处方号（可刷身份证）")
    search.type(WANG)
    search.press("Enter")
    expect(page.locator("#worklist-status")).to_have_value("")
    ids = {int(x) for x in page.locator("#inbox-list [data-id]").evaluate_all("els => els.map(e => e.dataset.id)")}
    assert {first["id"], second["id"], handed["id"]} <= ids
    expect(page.locator("#inbox-list")).not_to_contain_text("孟*")
    # By prescription number: that one only.
    search.fill(second["number"])
    search.press("Enter")
    expect(page.locator("#inbox-list > li")).to_have_count(1)
    expect(page.locator("#inbox-list")).to_contain_text(f"处方 {second['id']}")
    page.get_by_role("button", name="清除").click()
    expect(page.locator("#worklist-status")).to_have_value("open")

    # 退回 asks first; 取消 leaves it where it was.
    open_entry(page, handed["id"])
    expect(page.locator("#rx-facts")).to_contain_text("开方医师王建国（D370811001）")
    expect(page.locator("#rx-facts")).to_contain_text("开方机构济宁市第一人民医院（H370811001）")
    back = page.locator("#return-section")
    back.get_by_label("退回原因").select_option("out_of_stock")
    back.get_by_role("button", name="退回处方").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"将处方 {handed['id']}（患者 王芳）退回开方医师？")
    screenshot(page, "tasks-pharmacy-return-confirm", full_page=False)
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#rx-title")).to_contain_text("已流转")
    back.get_by_role("button", name="退回处方").click()
    dialog.get_by_role("button", name="确认退回").click()
    expect(page.locator("#notice")).to_contain_text(f"处方 {handed['id']} 已退回开方医师")

    # Closed ones stay findable, each with why: handed back here, and one past its validity.
    try:
        clock.travel(timedelta(days=4))
        page.get_by_label("状态").select_option("closed")
        closed = page.locator("#inbox-list")
        expect(closed.locator(f'[data-id="{handed["id"]}"]')).to_contain_text("本店退回，原因：药品缺货，无法按时供药")
        expect(closed.locator(f'[data-id="{first["id"]}"]')).to_contain_text("已过期")
        expect(closed.locator(f'[data-id="{first["id"]}"]')).to_contain_text("已过有效期")
        screenshot(page, "tasks-pharmacy-closed")
    finally:
        clock.reset()


def test_pharmacy_reversal_pack_undo_reprint_and_stock(pages, live):
    api_as(live, "pharmacy")("PUT", "/pharmacies/P370811001/stock", {"XN07XX06": 2})
    sold, undone = routed_for_wang(live, quantity=2), routed_for_wang(live)
    page = pages.new()
    sign_in(page, live, "pharmacist", expect="/pharmacy")
    stock = page.locator("#stock-table")
    expect(stock.locator('tr[data-drug="XN07XX06"]')).to_contain_text("库存不足")
    expect(stock.locator('tr[data-drug="XN07XX06"]')).to_have_class(re.compile("low-stock"))
    expect(stock.locator('tr[data-drug="XL01XC13"]')).to_contain_text("正常")
    before = int(stock.locator(f'tr[data-drug="{PALBO}"] td.num').inner_text().split()[0])

    # 退药: a pack returned unopened within the window goes back to stock.
    [code] = dispense_on_page(page, undone["id"], 1)
    expect(stock.locator(f'tr[data-drug="{PALBO}"] td.num')).to_contain_text(f"{before - 1} 盒")
    after = page.locator("#aftercare-section")
    expect(after).to_contain_text("发药后 7 天内可退回未拆封的整盒药")
    after.get_by_role("button", name=f"退药 {code}").click()
    expect(page.locator("#aftercare-error")).to_contain_text("请填写退药原因。")
    after.get_by_label("退药原因").fill("患者住院，未拆封退回")
    after.get_by_role("button", name=f"退药 {code}").click()
    expect(page.locator("#confirm-dialog")).to_contain_text(f"追溯码 {code}")
    page.get_by_role("button", name="确认退药").click()
    expect(page.locator("#notice")).to_contain_text(f"追溯码 {code} 已退药")
    expect(stock.locator(f'tr[data-drug="{PALBO}"] td.num')).to_contain_text(f"{before} 盒")

    # Settled: the receipt names prescriber and institution, the deductible, every fund part, the codes.
    codes = dispense_on_page(page, sold["id"], 2)
    page.locator("#settle-section").get_by_role("button", name="结算", exact=True).click()
    receipt = page.locator("#receipt")
    for text in ("开方医师王建国", "开方机构济宁市第一人民医院", "济宁漱玉平民大药房(太白路店)",
                 "起付标准", "基本医保统筹基金支付", "大病保险支付", "医疗救助支付", "个人自付", *codes):
        expect(receipt).to_contain_text(text)
    expect(receipt).not_to_contain_text("D370811001")  # names, not codes
    expect(receipt.locator('[data-part="deductible"]')).to_have_text("¥ 800.00")
    screenshot(page, "tasks-pharmacy-receipt")

    # 冲正 with a reason, after a confirmation: back to dispensed, settled again, reprinted.
    after.get_by_label("冲正原因").fill("收费金额录入错误")
    after.get_by_role("button", name="冲正（撤销结算）").click()
    page.get_by_role("button", name="确认冲正").click()
    expect(page.locator("#notice")).to_contain_text("已冲正")
    expect(page.locator("#rx-title")).to_contain_text("已发药")
    page.locator("#settle-section").get_by_role("button", name="结算", exact=True).click()
    expect(page.locator("#rx-title")).to_contain_text("已结算")
    page.get_by_label("状态").select_option("settled")
    expect(page.locator("#inbox-list")).not_to_contain_text("已流转")  # settled ones only now
    page.locator(f'#inbox-list button[data-id="{sold["id"]}"]').click()
    expect(after.locator("#aftercare-settlement")).to_contain_text("结算号")
    page.evaluate("() => { window.print = () => { window.__printed = (window.__printed || 0) + 1; }; }")
    after.get_by_role("button", name="补打收据").click()
    reprinted = page.locator("#aftercare-receipt .receipt")
    expect(reprinted).to_contain_text("医保双通道药品结算单（补打）")
    expect(reprinted).to_contain_text(codes[0])
    assert page.evaluate("window.__printed") == 1
    screenshot(page, "tasks-pharmacy-reprint")
    page.emulate_media(media="print")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "tasks-pharmacy-reprint-print", full_page=False)
    assert page.evaluate("getComputedStyle(document.querySelector('#aftercare-receipt .receipt')).visibility") == "visible"
    assert page.evaluate("getComputedStyle(document.querySelector('#stock-section')).visibility") == "hidden"
    page.emulate_media(media="screen")


def reused_trace_code_flag(live):
    """Two prescriptions of 王芳; the second dispensed with the first's code: a duplicate-code flag."""
    pharmacist = api_as(live, "pharmacist")
    code = demo.trace_code(PALBO, next(_serial))
    ids = []
    for _ in range(2):
        rx = routed_for_wang(live)
        pharmacist("POST", f"/prescriptions/{rx['id']}/verify", {"id_number": WANG})
        pharmacist("POST", f"/prescriptions/{rx['id']}/review", {"outcome": "approved"})
        ids.append(rx["id"])
    pharmacist("POST", f"/prescriptions/{ids[0]}/dispense", {"items": [{"drug_code": PALBO, "trace_codes": [code]}]})
    client = live.app.test_client()
    refused = client.post(f"/api/v1/prescriptions/{ids[1]}/dispense", json={"items": [{"drug_code": PALBO, "trace_codes": [code]}]},
                          headers={"Authorization": f"Bearer {live.tokens['pharmacist']}"})
    assert refused.status_code == 409
    return ids, code


def test_a_slow_answer_to_an_earlier_filter_does_not_replace_the_pharmacy_list(pages, live):
    """The bureau switches the pharmacies' filter while the answer to the previous one is still
    on its way: the list drawn is the one last asked for (CI once saw the stale answer win,
    when the reload after a re-admission arrived after the next filter's)."""
    page = pages.new()
    sign_in(page, live, "bureau")
    page.get_by_role("tab", name="药店准入与退出").click()
    held = []
    page.route(re.compile(r".*/api/v1/pharmacies\?status=exited$"), lambda route: held.append(route))  # answered later
    page.get_by_label("状态", exact=True).select_option("exited")
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the list of exited pharmacies was never asked for"
    page.get_by_label("状态", exact=True).select_option("active")
    suspend = page.get_by_role("button", name=re.compile("^暂停 "))
    expect(suspend.first).to_be_visible()
    active = suspend.count()
    with page.expect_response(re.compile(r".*/api/v1/pharmacies\?status=exited$")):
        held[0].continue_()
    page.wait_for_timeout(300)  # the stale answer's handler has run by now
    expect(page.get_by_role("button", name=re.compile("^暂停 "))).to_have_count(active)
    expect(page.locator("#pharmacies-empty")).to_be_hidden()


def test_bureau_suspend_readmit_mismatch_flags_and_procurement(pages, live, tmp_path):
    (first, second), code = reused_trace_code_flag(live)
    page = pages.new()
    sign_in(page, live, "bureau")
    expect(page.locator("#map-crumbs")).to_have_text("济宁市")  # its own region is as far up as it goes

    # Suspension: the same what-if as an exit; the only pharmacy of 邹城市 needs force.
    page.get_by_role("tab", name="药店准入与退出").click()
    page.get_by_label("状态", exact=True).select_option("active")
    page.get_by_role("button", name="暂停 邹城市孟府大药房").click()
    dialog = page.locator("#exit-dialog")
    expect(dialog.locator("#exit-title")).to_have_text("暂停药店双通道资格")
    expect(dialog.locator("#whatif")).to_contain_text("暂停后以下县级区划将没有在用的双通道药店：邹城市")
    dialog.get_by_label("暂停原因").fill("飞行检查发现追溯码未扫码销售，暂停整改")
    dialog.get_by_role("button", name="确认暂停").click()
    expect(dialog.locator("#exit-error")).to_contain_text("暂停未完成")
    screenshot(page, "tasks-bureau-suspend-whatif", full_page=False)
    dialog.get_by_label("仍然强制暂停（该区县将没有在用的双通道药店）").check()
    dialog.get_by_role("button", name="确认暂停").click()
    expect(page.locator("#notice")).to_contain_text("邹城市孟府大药房 已暂停双通道资格")
    # Re-admission says what it restores.
    page.get_by_label("状态", exact=True).select_option("suspended")
    page.get_by_role("button", name="恢复 邹城市孟府大药房").click()
    expect(page.locator("#confirm-text")).to_contain_text("恢复后 邹城市 将重新有在用的双通道药店（目前未覆盖）")
    page.get_by_role("button", name="确认恢复").click()
    expect(page.locator("#notice")).to_contain_text("邹城市孟府大药房 已恢复双通道管理")

    # Admission of a pharmacy declared in one county and standing in another: warned first.
    page.get_by_label("状态", exact=True).select_option("applied")
    page.get_by_role("button", name="准入 济宁仁和大药房(北湖店)").click()
    expect(page.locator("#confirm-text")).to_contain_text("申报所在区县为 任城区，但按位置实际位于 兖州区")
    screenshot(page, "tasks-bureau-mismatch-warning", full_page=False)
    page.locator("#confirm-dialog").get_by_role("button", name="取消").click()
    expect(page.locator("#pharmacies-table")).to_contain_text("济宁仁和大药房(北湖店)")

    # The flag opens into its prescription, the code's trace chain, the patient's timeline.
    page.get_by_role("tab", name="稽核预警").click()
    flag = page.locator("article.flag").filter(has_text=code).first
    expect(flag.get_by_role("button", name=f"处方 {first}")).to_be_visible()
    flag.get_by_role("button", name=f"追溯链 {code}").click()
    expect(flag.locator(".trace-chain")).to_contain_text(f"追溯码 {code}：已发药")
    expect(flag.locator(".trace-chain")).to_contain_text("济宁漱玉平民大药房(太白路店)")
    flag.get_by_role("button", name="患者时间线…").click()
    timeline = flag.get_by_role("link", name="患者 王芳 时间线")
    expect(timeline).to_have_attribute("href", re.compile(r"^/timeline\?patient=\d+$"))
    screenshot(page, "tasks-bureau-flag-detail")
    with page.expect_download() as download:
        page.get_by_role("button", name="导出 CSV").click()
    saved = tmp_path / "flags.csv"
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"duplicate_trace_code" in data
    assert data.decode("utf-8-sig").splitlines()[0].startswith("id,type,severity,status")
    flag.get_by_role("button", name=f"处方 {first}").click()
    expect(page.locator("#tracker-result")).to_contain_text("已发药")
    expect(page.locator("#tracker-id")).to_have_value(str(first))

    # 集采: the declaration awaiting the bureau is accepted; the supply problem confirmed.
    page.get_by_role("tab", name="集采执行").click()
    declaration = page.locator("#declarations-list li").filter(has_text="邹城市人民医院")
    expect(declaration).to_contain_text("申报 20000")
    expect(declaration).to_contain_text("说明：心内科部分患者转诊")
    expect(page.locator("#supply-list")).to_contain_text("兖州区人民医院")
    screenshot(page, "tasks-bureau-procurement")
    declaration.get_by_role("button", name="退回申报").click()
    expect(declaration).to_contain_text("退回申报须填写审核意见。")
    declaration.get_by_role("button", name="确认申报").click()
    # The agreed volume: the declaration at the default ratio (70 %).
    expect(page.locator("#notice")).to_contain_text("已确认 邹城市人民医院 的申报，约定采购量 14000")
    expect(declaration).to_have_count(0)
    problem = page.locator("#supply-list li").filter(has_text="兖州区人民医院")
    problem.get_by_role("button", name="核实供应问题").click()
    expect(page.locator("#notice")).to_contain_text("已核实 济宁市兖州区人民医院 报告的供应问题")
    expect(problem).to_have_count(0)


def test_maps_at_every_level(pages, live):
    page = pages.new()
    sign_in(page, live, "admin", expect="/bureau")
    page.get_by_label("区域代码").first.fill("100000")
    page.get_by_role("button", name="显示覆盖情况").click()
    areas = page.locator("#coverage-map path.county")
    expect(areas).to_have_count(34, timeout=60_000)  # the national layer is built on first use
    expect(page.locator("#map-title")).to_contain_text("全国：按省级区划双通道药店覆盖（点击下钻）")
    expect(page.locator("#coverage-map")).to_contain_text("内蒙古")
    screenshot(page, "tasks-map-national", full_page=False)
    page.get_by_role("button", name=re.compile(r"^山东省：\d+\D136 个县级区划已覆盖")).click()
    expect(areas).to_have_count(16)
    expect(page.locator("#map-crumbs")).to_have_text(re.compile("全国\\s*›\\s*山东省"))
    screenshot(page, "tasks-map-province", full_page=False)
    page.get_by_role("button", name=re.compile(r"^济宁市：")).click()
    expect(areas).to_have_count(11)
    expect(page.locator("#coverage-map circle.pharmacy-point").first).to_be_attached()
    page.get_by_role("button", name="泗水县：没有在用的双通道药店（未覆盖）").or_(
        page.get_by_role("button", name=re.compile(r"^泗水县：\d 家在用"))).click()
    expect(page.locator("#county-pharmacies")).to_contain_text("泗水县泉林大药房")
    screenshot(page, "tasks-map-city", full_page=False)
    page.locator("#map-crumbs").get_by_role("button", name="全国").click()
    expect(areas).to_have_count(34)


MENG_ID = demo._resident_id("370811", "19770630", 106)


def test_physician_worklist_registration_reset_refusal_and_slip(pages, live):
    # 孟庆华's eligibility for 艾坦 ends in 10 days; 赵敏's (demo) for 尚杰 in 20. In 15 days hers is overdue.
    send = api_as(live, "physician")
    meng = send("POST", "/patients/search", {"id_number": MENG_ID, "name": "孟庆华"})
    send("POST", f"/patients/{meng['id']}/eligibility",
         {"drug_code": "XL01EX03", "valid_until": (clock.today() + timedelta(days=10)).isoformat()})
    page = pages.new()
    try:
        clock.travel(timedelta(days=15))
        sign_in(page, live, "physician")
        rows = page.locator("#worklist-table tbody tr")
        expect(rows.first).to_contain_text("孟庆华")
        expect(rows.first).to_contain_text("已过期 5 天")
        expect(rows.nth(1)).to_contain_text("赵敏")
        expect(rows.nth(1)).to_contain_text("5 天后到期")
        expect(page.locator("#worklist-summary")).to_contain_text("已过期 1 项")
        screenshot(page, "tasks-physician-worklist", full_page=False)
        rows.nth(1).get_by_role("button", name=re.compile("^复查 赵敏")).click()
        expect(page.locator("#patient-facts")).to_contain_text("赵敏")
        expect(page.locator("#patient-facts")).to_contain_text("特困人员")
    finally:
        clock.reset()

    # Selections made for one patient do not follow to the next.
    page.get_by_label("诊断").fill("类风湿关节炎")
    page.locator("#items select").first.select_option("XL04AA29")
    page.get_by_label("患者身份证号").fill(MENG_ID)
    page.get_by_label("患者姓名").fill("孟庆华")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#patient-facts")).to_contain_text("孟庆华")
    expect(page.get_by_label("诊断")).to_have_value("")
    expect(page.locator("#items select").first).to_have_value("")
    expect(page.locator("#items .item-row")).to_have_count(1)

    # A 威海 patient: registered with assistance category; no pharmacy in the network serves her.
    weihai = demo._resident_id("371002", "19690909", 321)
    page.get_by_label("患者身份证号").fill(weihai)
    page.get_by_label("患者姓名").fill("于海燕")
    page.get_by_role("button", name="查找").click()
    register = page.locator("#register-patient")
    expect(register).to_be_visible()
    register.locator("summary").click()
    page.get_by_label("参保类型").select_option("resident")
    page.get_by_label("统筹地区代码").fill("371000")
    page.get_by_label("医疗救助类别").select_option("low_income")
    page.get_by_label("异地备案地区代码（可不填）").fill("3710")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#register-filed-region-error")).to_have_text("请输入6位行政区划代码")
    page.get_by_label("异地备案地区代码（可不填）").fill("")
    screenshot(page, "tasks-physician-register", full_page=False)
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#patient-facts")).to_contain_text("低保对象")
    expect(page.locator("#patient-facts")).to_contain_text("异地备案地区无")
    page.get_by_label("诊断").fill("慢性心力衰竭")
    page.locator("#items select").first.select_option("XC09DX04")
    page.locator("#items input[name=dosage]").first.fill("每日两次，每次1片")
    page.get_by_role("button", name="开具处方").click()
    expect(page.locator("#issue-error")).to_contain_text("开具失败：患者统筹地区（及异地备案地区）内没有在用的双通道药店")
    screenshot(page, "tasks-physician-no-pharmacy", full_page=False)

    # 孟庆华 again: issued, the pharmacies sorted from the hospital, routed, the slip printed.
    page.get_by_label("患者身份证号").fill(MENG_ID)
    page.get_by_label("患者姓名").fill("孟庆华")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#issue-error")).to_be_hidden()
    page.get_by_label("诊断").fill("慢性心力衰竭")
    page.locator("#items select").first.select_option("XC09DX04")
    page.locator("#items input[name=dosage]").first.fill("每日两次，每次1片")
    page.get_by_role("button", name="开具处方").click()
    expect(page.locator("#location-area")).to_have_value("hospital")
    expect(page.locator("#location-area option:checked")).to_have_text("济宁市第一人民医院（本院位置）")
    options = page.locator("#options-table tbody tr")
    expect(options.first).to_contain_text("公里")
    first_pharmacy = options.first.locator("td").first.inner_text().split("\n")[0]
    options.first.get_by_role("button", name=re.compile("^流转至")).click()
    slip = page.locator("#slip")
    expect(slip).to_contain_text(first_pharmacy)
    expect(slip).to_contain_text("诺欣妥 100mg×14片")
    expect(slip).to_contain_text(re.compile(r"有效期至\d{4}-\d{2}-\d{2}（含当日"))
    expect(slip.locator("img.slip-qr")).to_have_attribute("src", re.compile("^data:image/svg\\+xml;base64,"))
    assert page.evaluate("document.querySelector('img.slip-qr').naturalWidth") > 0
    screenshot(page, "tasks-physician-slip")
    page.emulate_media(media="print")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "tasks-physician-slip-print", full_page=False)
    assert page.evaluate("getComputedStyle(document.querySelector('#worklist-section')).visibility") == "hidden"
    page.emulate_media(media="screen")


@pytest.mark.parametrize("role,path", [("physician", "/physician"), ("pharmacist", "/pharmacy"), ("bureau", "/bureau"),
                                       ("institution", "/institution")])
def test_dates_are_year_month_day_and_pages_fit_1366(pages, live, role, path):
    page = pages.new()
    sign_in(page, live, role, expect=path)
    assert page.viewport_size == {"width": 1366, "height": 768}
    page.wait_for_load_state("networkidle")
    # No browser date picker (it shows mm/dd/yyyy or the machine's locale): text fields in YYYY-MM-DD.
    assert page.locator('input[type="date"]').count() == 0
    shown = page.locator("main").inner_text()
    assert not re.search(r"\b\d{1,2}/\d{1,2}/\d{4}\b", shown), "a date shown as mm/dd/yyyy"
    # Nothing wider than the screen: no sideways scrolling at 1366×768.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    if role == "physician":
        page.get_by_label("患者身份证号").fill(MENG_ID)
        page.get_by_label("患者姓名").fill("孟庆华")
        page.get_by_role("button", name="查找").click()
        until = page.get_by_label("有效期至（可不填，默认180天）")
        expect(until).to_have_attribute("placeholder", "YYYY-MM-DD")
        page.get_by_label("认定药品").select_option("XL01EX03")
        until.fill("12/31/2026")
        page.get_by_role("button", name="认定资格").click()
        expect(page.locator("#eligibility-until-error")).to_have_text("请按 YYYY-MM-DD 填写日期，如 2026-06-30")
        until.fill((clock.today() + timedelta(days=200)).isoformat())
        page.get_by_role("button", name="认定资格").click()
        expect(page.locator("#notice")).to_contain_text(f"有效期至 {(clock.today() + timedelta(days=200)).isoformat()}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    if role == "bureau":
        page.get_by_role("tab", name="集采执行").click()
        expect(page.get_by_label("统计截至")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
        expect(page.locator("#execution-table tbody tr").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    screenshot(page, f"tasks-1366-{role}", full_page=False)
