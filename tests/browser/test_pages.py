"""Through the pages alone, in headless Chromium: the physician issues and routes, the pharmacy
verifies, its pharmacist reviews (审方), the pharmacy scans and dispenses, settles and prints the split; a reused code is refused on the
page; the bureau sees the coverage map, admits a pharmacy, confronts an exit and reviews a flag.
Screenshots of each page go to test-artifacts/screenshots/."""

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import expect

from dualchannel import clock, demo
from tests.browser.conftest import screenshot, sign_in
from tests.support import trace_codes

# 孟庆华 (demo patient 6) needs no eligibility for 诺欣妥; 张三 (patient 1) has a prescription
# of 泰瑞沙 already routed to the demo pharmacy.
MENG = demo._resident_id("370811", "19770630", 106)
ZHANG = demo._resident_id("370811", "19650304", 101)
DEMO_PHARMACY = "济宁漱玉平民大药房(太白路店)"


def test_sign_in_refuses_a_bad_token_and_wrong_pages(pages, live):
    page = pages.new()
    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#token-error")).to_have_text("必须填写。")
    page.get_by_label("访问令牌", exact=True).fill("dc_not-a-token")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_contain_text("登录失败：访问令牌无效或已停用。")
    screenshot(page, "login-error")
    sign_in(page, live, "pharmacy")
    page.goto(f"{live.url}/bureau")
    expect(page.locator("#page-error")).to_contain_text("此页面不供药店账户使用")
    page.get_by_role("link", name="前往您的工作台").click()
    expect(page).to_have_url(f"{live.url}/pharmacy")
    expect(page.locator("#who")).to_contain_text("药店")  # the page's script is running
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{live.url}/login")
    page.goto(f"{live.url}/physician")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fphysician$"))


def test_prescription_from_desk_to_counter(pages, live):
    # --- The physician: patient, prescription, nearest pharmacies, route.
    doctor = pages.new()
    sign_in(doctor, live, "physician")
    expect(doctor.locator("#who")).to_contain_text("王建国")
    doctor.get_by_label("患者身份证号").fill(MENG[:-1] + ("0" if MENG[-1] != "0" else "1"))
    doctor.get_by_role("button", name="查找").click()
    expect(doctor.locator("#patient-id-number-error")).to_contain_text("不是有效的 18 位居民身份证号")
    doctor.get_by_label("患者身份证号").fill(MENG)
    doctor.get_by_label("患者姓名").fill("孟庆")  # the person, not just a number: a wrong name is not found
    doctor.get_by_role("button", name="查找").click()
    expect(doctor.locator("#patient-error")).to_contain_text("没有找到身份证号与姓名相符的参保人")
    expect(doctor.locator("#register-patient")).to_be_visible()
    doctor.get_by_label("患者姓名").fill(" 孟庆华 ")
    doctor.get_by_role("button", name="查找").click()
    expect(doctor.locator("#patient-facts")).to_contain_text("孟庆华")
    expect(doctor.locator("#patient-facts")).to_contain_text("370811********")
    expect(doctor.locator("#eligibility-empty")).to_be_visible()

    # Eligibility near its end is listed as a re-examination due; renewing extends it.
    soon = (clock.today() + timedelta(days=10)).isoformat()
    doctor.get_by_label("认定药品").select_option("XL04AB04")
    doctor.get_by_label("有效期至（可不填，默认180天）").fill(soon)
    doctor.get_by_role("button", name="认定资格").click()
    expect(doctor.locator("#reexam-summary")).to_have_text("需复查评估：1 项")
    expect(doctor.locator("#eligibility-table")).to_contain_text("10 天后到期，需复查评估")
    screenshot(doctor, "physician-reexamination")
    doctor.get_by_role("button", name="复查评估并续期 阿达木单抗注射液（修美乐 40mg/0.8ml）").click()
    expect(doctor.locator("#reexam-summary")).to_have_text("所有资格均在有效期内")
    expect(doctor.locator("#eligibility-table")).to_contain_text((clock.today() + timedelta(days=180)).isoformat())

    # Picker holds dual-channel drugs only: the ordinary amoxicillin is not offered.
    picker = doctor.get_by_label("药品", exact=True)
    assert "阿莫西林" not in picker.inner_text() and "沙库巴曲缬沙坦钠片" in picker.inner_text()
    doctor.get_by_label("诊断").fill("慢性心力衰竭")
    picker.select_option("XC09DX04")
    doctor.get_by_label("数量").fill("10")  # 910 yuan: past the 800 deductible
    doctor.get_by_label("用药天数").fill("90")
    doctor.get_by_label("用法用量").fill("每日两次，每次1片")
    doctor.get_by_role("button", name="开具处方").click()
    expect(doctor.locator("#item-0-days-error")).to_have_text("不能大于 84。")
    doctor.get_by_label("用药天数").fill("28")
    doctor.get_by_role("button", name="开具处方").click()

    expect(doctor.locator("#route-section")).to_be_visible()
    rows = doctor.locator("#options-table tbody tr")
    expect(rows.first).to_be_visible()
    distances = [float(t.replace(" 公里", "")) for t in doctor.locator("#options-table tbody td.num").all_inner_texts()]
    assert distances == sorted(distances) and len(distances) >= 5, distances
    expect(rows.filter(has_text=DEMO_PHARMACY)).to_contain_text("诺欣妥 100mg×14片：30盒")
    prescription_id = int(re.search(r"处方 (\d+)", doctor.locator("#route-target").inner_text()).group(1))
    screenshot(doctor, "physician-options")
    rows.filter(has_text=DEMO_PHARMACY).get_by_role("button", name=f"流转至{DEMO_PHARMACY}").click()
    expect(doctor.locator("#notice")).to_contain_text(f"处方 {prescription_id} 已流转至 {DEMO_PHARMACY}")
    recent = doctor.locator("#recent-table tbody tr").filter(has=doctor.get_by_role("cell", name=str(prescription_id), exact=True))
    expect(recent).to_contain_text("已流转")
    recent.get_by_role("button", name=f"查看处方 {prescription_id}").click()
    expect(doctor.locator("#prescription-detail")).to_contain_text("流转 → 已流转")
    screenshot(doctor, "physician")

    # --- The pharmacy: inbox, verification, one scan field, dispensing.
    counter = pages.new()
    sign_in(counter, live, "pharmacy")
    counter.locator(f'#inbox-list button[data-id="{prescription_id}"]').click()
    expect(counter.locator("#rx-facts")).to_contain_text("孟庆华")
    counter.get_by_label("患者身份证号").fill(ZHANG)  # a real ID, but not this patient's
    counter.get_by_role("button", name="核验身份").click()
    expect(counter.locator("#verify-error")).to_contain_text("身份证号与处方患者不一致")
    counter.get_by_label("患者身份证号").fill(MENG)
    counter.get_by_role("button", name="核验身份").click()
    # The counter's account is not a pharmacist's: it is told who reviews (审方), and cannot dispense yet.
    expect(counter.locator("#review-need-pharmacist")).to_be_visible()
    expect(counter.locator("#review-form")).to_be_hidden()
    expect(counter.locator("#scan-section")).to_be_hidden()

    # --- The pharmacist reviews with their own account; the review is signed in their name.
    pharmacist = pages.new()
    sign_in(pharmacist, live, "pharmacist", expect="/pharmacy")
    pharmacist.locator(f'#inbox-list button[data-id="{prescription_id}"]').click()
    expect(pharmacist.locator("#review-who")).to_contain_text("审方药师：周敏")
    expect(pharmacist.locator("#review-reason option")).to_have_count(9)
    screenshot(pharmacist, "pharmacy-review")
    pharmacist.get_by_role("button", name="提交审方（电子签名）").click()
    expect(pharmacist.locator("#rx-title")).to_contain_text("已审方")
    expect(pharmacist.locator("#rx-facts")).to_contain_text("药师 周敏（执业药师注册证 YS3708110001）审方通过")

    counter.locator(f'#inbox-list button[data-id="{prescription_id}"]').click()
    expect(counter.locator("#rx-facts")).to_contain_text("审方通过")
    scan = counter.get_by_label("药品追溯码（扫码枪扫描后自动回车，可连续扫描）")
    scan.click()

    codes = trace_codes(10, product="8100001")
    first = codes[0]
    scan.type("12345")
    scan.press("Enter")
    expect(counter.locator("#scan-message")).to_contain_text("追溯码格式错误：“12345”")
    scan.type(first)
    scan.press("Enter")
    expect(counter.locator("#scan-message")).to_have_text("已扫描 诺欣妥 100mg×14片：1 / 10盒")
    scan.type(first)
    scan.press("Enter")
    expect(counter.locator("#scan-message")).to_contain_text(f"重复扫码：追溯码 {first} 已经扫描过")
    expect(counter.locator("#dispense-button")).to_be_disabled()
    screenshot(counter, "pharmacy-scan-error")
    for code in codes[1:]:
        scan.type(code)
        scan.press("Enter")
    expect(counter.locator("#scan-message")).to_contain_text("全部扫描完成")
    expect(counter.locator("#scan-items")).to_contain_text("10 / 10")
    counter.get_by_role("button", name="确认发药").click()
    expect(counter.locator("#rx-title")).to_contain_text("已发药")

    # --- Settlement and its printable receipt.
    with counter.expect_request(re.compile(r"/settlement$")) as sent:
        counter.get_by_role("button", name="结算").click()
    key = sent.value.headers.get("idempotency-key", "")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key), key
    receipt = counter.locator("#receipt")
    expect(receipt).to_contain_text("医保双通道药品结算单")
    parts = {name: Decimal(receipt.locator(f'[data-part="{name}"]').inner_text().replace("¥", "").replace(",", "").strip())
             for name in ("total", "basic_fund", "critical_illness", "medical_assistance", "patient_pays")}
    assert parts["total"] == Decimal("910.00") and parts["basic_fund"] > 0 and parts["patient_pays"] > 0
    assert parts["total"] == parts["basic_fund"] + parts["critical_illness"] + parts["medical_assistance"] + parts["patient_pays"]
    expect(receipt).to_contain_text("孟庆华")
    expect(receipt).to_contain_text("个人自付")
    screenshot(counter, "pharmacy-receipt")
    counter.emulate_media(media="print")
    screenshot(counter, "pharmacy-receipt-print", full_page=False)
    assert counter.evaluate("getComputedStyle(document.querySelector('.topbar')).visibility") == "hidden"
    assert counter.evaluate("getComputedStyle(document.querySelector('#receipt')).visibility") == "visible"
    counter.emulate_media(media="screen")

    # --- 诺欣妥's pack on 张三's 泰瑞沙 prescription, picked up by an agent: another product's code,
    # refused on the page with the drug it belongs to.
    counter.locator('#inbox-list button').filter(has_text="处方").first.click()
    expect(counter.locator("#rx-facts")).to_contain_text("张三")
    counter.get_by_label("患者身份证号").fill(ZHANG)
    counter.get_by_label("由代办人取药").check()
    counter.get_by_label("代办人姓名").fill("张小明")
    counter.get_by_label("代办人身份证号").fill(demo._resident_id("370811", "19900101", 555))
    counter.get_by_label("与患者关系").select_option("子女")
    counter.get_by_role("button", name="核验身份").click()
    expect(counter.locator("#rx-facts")).to_contain_text("代办人 张小明（子女，370811********")
    rx_zhang = counter.locator("#rx-title").inner_text().split()[1]
    pharmacist.get_by_role("button", name="刷新").click()
    pharmacist.locator(f'#inbox-list button[data-id="{rx_zhang}"]').click()
    pharmacist.get_by_role("button", name="提交审方（电子签名）").click()
    expect(pharmacist.locator("#rx-title")).to_contain_text("已审方")
    counter.locator(f'#inbox-list button[data-id="{rx_zhang}"]').click()
    expect(counter.locator("#scan-section")).to_be_visible()
    scan.click()
    scan.type(first)
    scan.press("Enter")
    counter.get_by_role("button", name="确认发药").click()
    problem = counter.locator("#dispense-error")
    expect(problem).to_contain_text("发药失败：追溯码与处方不符")
    expect(problem).to_contain_text(f"第1项药品的第1个追溯码：追溯码 {first} 不是泰瑞沙 80mg×30片的药品追溯码")
    expect(problem).to_contain_text("它属于诺欣妥 100mg×14片")
    expect(counter.locator("#scan-codes li.rejected")).to_contain_text(first)
    expect(counter.locator("#dispense-button")).to_be_disabled()
    screenshot(counter, "pharmacy-wrong-product-code")


def test_bureau_map_admission_exit_and_flags(pages, live):
    page = pages.new()
    sign_in(page, live, "bureau")

    # Coverage map of Jining: all 11 county-level divisions, 泗水县 uncovered.
    counties = page.locator("#coverage-map path.county")
    expect(counties).to_have_count(11)
    expect(page.locator("#uncovered-list")).to_have_text("泗水县")
    expect(page.locator("#coverage-summary")).to_contain_text("共 11 个县级区划，已覆盖 10 个")
    sishui = page.get_by_role("button", name="泗水县：没有在用的双通道药店（未覆盖）")
    sishui.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#county-pharmacies")).to_contain_text("泗水县泉林大药房")
    screenshot(page, "bureau-map")

    # Admission of the applicant covers 泗水县.
    page.get_by_role("tab", name="药店准入与退出").click()
    row = page.locator("#pharmacies-table tbody tr").filter(has_text="泗水县泉林大药房")
    row.get_by_role("button", name="准入 泗水县泉林大药房").click()
    expect(page.locator("#confirm-text")).to_contain_text("准入后 泗水县 将重新有在用的双通道药店")
    page.get_by_role("button", name="确认准入").click()
    expect(page.locator("#notice")).to_contain_text("泗水县泉林大药房 已准入双通道管理")
    expect(page.locator("#pharmacies-table")).not_to_contain_text("泗水县泉林大药房")
    expect(page.locator("#pharmacies-table")).to_contain_text("与实际位置不符")  # 北湖店 declared 任城区
    screenshot(page, "bureau-pharmacies")

    # Exit of 微山县's only pharmacy: the what-if names the county, the server refuses, force.
    page.get_by_label("状态", exact=True).select_option("active")
    page.get_by_role("button", name="微山县夏镇大药房 退出双通道").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("#whatif")).to_contain_text("退出后以下县级区划将没有在用的双通道药店：微山县")
    dialog.get_by_role("button", name="确认退出").click()
    expect(dialog.locator("#exit-reason-error")).to_have_text("必须填写。")
    dialog.get_by_label("退出原因").fill("经营场所搬迁，暂停双通道服务")
    dialog.get_by_role("button", name="确认退出").click()
    expect(dialog.locator("#exit-error")).to_contain_text("是微山县唯一在用的双通道药店")
    screenshot(page, "bureau-exit-refused", full_page=False)
    dialog.get_by_label("仍然强制退出（该区县将没有在用的双通道药店）").check()
    dialog.get_by_role("button", name="确认退出").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#notice")).to_contain_text("微山县夏镇大药房 已退出双通道管理")
    page.get_by_role("tab", name="药店覆盖地图").click()
    expect(page.locator("#uncovered-list")).to_have_text("微山县")

    # The flags queue: the county mismatch of 北湖店, with its evidence; confirm it.
    page.get_by_role("tab", name="稽核预警").click()
    flag = page.locator("article.flag").filter(has_text="药店申报区县与实际位置不符")
    expect(flag).to_contain_text("实际所在区县代码")
    expect(flag).to_contain_text("兖州区（370812）")
    flag.get_by_role("button", name="提交审核").click()
    expect(flag.locator(".field-error")).to_have_text("必须填写。")
    flag.get_by_label("确认违规").check()
    flag.get_by_label("审核意见").fill("现场核查属实，已责令更正申报区县")
    screenshot(page, "bureau-flags")
    flag.get_by_role("button", name="提交审核").click()
    expect(page.locator("#notice")).to_contain_text("审核完成：已确认")
