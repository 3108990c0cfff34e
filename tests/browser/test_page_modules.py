"""The pages' pure modules (scanning, ID check digits, messages, money, the map's projection),
run in the same headless Chromium as ES modules served by the app."""

import math

import pytest


@pytest.fixture
def run(pages, live):
    page = pages.new()
    page.goto(f"{live.url}/login")

    def evaluate(module: str, body: str):
        """`body` is the body of an async function of `m`, the imported module."""
        return page.evaluate(f"async () => {{ const m = await import('/static/pages/js/{module}.js'); {body} }}")

    return evaluate


def test_scanner_counts_refuses_malformed_repeated_and_extra_codes(run):
    result = run("scanner", """
        const s = new m.TraceScanner([{drug_code: "A", quantity: 2}, {drug_code: "B", quantity: 1}], /^\\d{20}$/);
        const codes = ["81000000000000000001", "81000000000000000002", "81000000000000000003"];
        return [s.accept("  ").reason, s.accept("123").reason, s.accept(codes[0]).ok, s.accept(codes[0]).reason,
                s.accept(codes[1]).item.drug_code, s.complete, s.accept(codes[2]).item.drug_code, s.complete,
                s.accept("81000000000000000004").reason, JSON.stringify(s.payload()),
                (s.remove(codes[1]), s.scanned), s.target().drug_code];
    """)
    assert result == ["empty", "format", True, "duplicate", "A", False, "B", True, "full",
                      '{"items":[{"drug_code":"A","trace_codes":["81000000000000000001","81000000000000000002"]},'
                      '{"drug_code":"B","trace_codes":["81000000000000000003"]}]}', 2, "A"]


def test_scanner_follows_the_chosen_item(run):
    result = run("scanner", """
        const s = new m.TraceScanner([{drug_code: "A", quantity: 1}, {drug_code: "B", quantity: 1}], /^\\d{20}$/);
        s.select(1);
        return [s.accept("81000000000000000001").item.drug_code, s.target().drug_code];
    """)
    assert result == ["B", "A"]


def test_scanner_counts_packs_of_split_drugs_and_reads_full_width_digits(run):
    result = run("scanner", """
        const s = new m.TraceScanner([{drug_code: "T", quantity: 40, units_per_pack: 28}], /^[0-9]{20}$/);
        const first = s.accept("81000000000000000001".replace(/[0-9]/g, (d) => String.fromCharCode(0xFF10 + Number(d))));
        return [first.code, s.complete, s.needed, s.accept("81000000000000000002").ok, s.complete,
                s.accept("81000000000000000003").reason];
    """)
    assert result == ["81000000000000000001", False, 2, True, True, "full"]


def test_resident_id_check_digit(run):
    assert run("idcard", """return ["11010519491231002X", "11010519491231002x", "110105194912310021",
                                    "1101051949123100", "abc"].map(m.isResidentId);""") == [True, True, False, False, False]


def test_problems_become_chinese_by_code(run):
    """The message comes from the problem's `code` (the table the app generates from its
    registry), with placeholders filled from the problem, and each field's from its code in
    `error_codes` with the values given; the English is not read, only shown for a code the page
    does not know."""
    result = run("i18n", """
        const e = (status, problem) => m.describeError({status, problem});
        return [
          e(409, {code: "pharmacy_invalid_transition", status_now: "exited", action: "admit",
                  detail: "Anything at all."}).message,
          e(422, {code: "prescription_rules", detail: "The prescription breaks dual-channel rules.",
                  errors: {"items.0.drug_code": ["Eligibility for 泰瑞沙 expired on 2025-01-01; a re-examination (复查评估) must renew it."]},
                  error_codes: {"items.0.drug_code": [{code: "eligibility_expired", drug: "泰瑞沙", expired_on: "2025-01-01"}]}}).fields,
          e(422, {code: "invalid_fields", errors: {"pickup.id_number": ["Missing data for required field.", "Anything."]},
                  error_codes: {"pickup.id_number": [{code: "required"}, {code: "a_code_this_page_does_not_know"}]}}).fields,
          e(409, {code: "some_new_code", detail: "Something new the page does not know."}),
          e(0, {detail: "TypeError: Failed to fetch"}).message,
          m.fieldLabel("items.1.days_supply"),
          e(409, {code: "signature_invalid", reason: "content_changed"}).message,
          e(422, {code: "policy_missing", detail: "No employee settlement policy of region 370800 is in force."}).message,
          e(429, {code: "rate_limited", retry_after: 7}).message,
        ];
    """)
    assert result[0] == "药店当前为“已退出”，不能准入。"
    assert result[1] == [["第1项药品", "泰瑞沙的待遇资格已于 2025-01-01 到期，须复查评估后续期。"]]
    assert result[2] == [["代办人身份证号", "必须填写。"], ["代办人身份证号", "Anything."]]  # an unknown code: the English
    assert result[3] == {"message": "与当前状态冲突。", "fields": [], "original": "Something new the page does not know.",
                         "status": 409}
    assert result[4] == "无法连接服务器，请检查网络后重试。"
    assert result[5] == "第2项药品的用药天数"
    assert result[6] == "处方电子签名验证未通过：处方内容在签名后被修改，与电子签名不符。已向医保局报告，请勿发药。"
    assert result[7] == "参保地在该日期没有有效的结算政策：请联系医保局录入。"
    assert result[8] == "操作过于频繁，请在 7 秒后再试。"


def test_money_and_dates_are_shown_without_floats(run):
    assert run("i18n", """return [m.formatMoney("1234567.80"), m.formatMoney("0.10"), m.formatMoney(null),
                                  m.formatInstant("2025-11-25T16:30:00+00:00"), m.formatLastDay("2025-11-28T00:00:00+08:00")];""") \
        == ["1,234,567.80", "0.10", "—", "2025-11-26 00:30", "2025-11-27"]


def test_map_projection_fits_the_region_and_keeps_north_up(run):
    result = run("coverage-map", """
        const square = (x, y, d) => ({type: "Polygon", coordinates: [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]});
        const {counties, pharmacies} = m.readCoverage({type: "FeatureCollection", features: [
          {type: "Feature", properties: {adcode: "1", name: "西", active_pharmacies: 0, covered: false}, geometry: square(116, 35, 1)},
          {type: "Feature", properties: {adcode: "2", name: "东", active_pharmacies: 2}, geometry: square(117, 35, 1)},
          {type: "Feature", properties: {code: "P", county_adcode: "2", status: "active"}, geometry: {type: "Point", coordinates: [117.5, 35.5]}},
        ]});
        const {project, width, height} = m.fitProjection(counties);
        const round = (p) => p.map((v) => Math.round(v));
        return [counties.map((c) => [c.adcode, c.covered, m.level(c.active_pharmacies)]), pharmacies.map(m.countyOfPharmacy),
                width, height, round(project([116, 36])), round(project([118, 35])), m.labelPoint(square(116, 35, 1)),
                m.lostCounties({counties: [{adcode: "1", name: "西"}, {adcode: "2", name: "东"}]})];
    """)
    counties, owners, width, height, north_west, south_east, label, lost = result
    assert counties == [["1", False, 0], ["2", True, 2]] and owners == ["2"]
    assert width == 760 and height == round(760 / (2 * math.cos(math.radians(35.5))))  # 2° lon × cos φ : 1° lat
    assert north_west[1] < south_east[1] and north_west[0] < south_east[0]  # north up, east right
    assert north_west[0] >= 16 and abs(north_west[0] - (760 - south_east[0])) <= 1  # padded, centred
    assert label == [116.5, 35.5]
    assert lost == [{"adcode": "1", "name": "西"}, {"adcode": "2", "name": "东"}]
