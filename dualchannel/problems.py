"""The registry of problem codes: every `code` a problem+json of the service can carry.

Each code has its HTTP status, a zh-CN title and message (what the pages show at the desk and
the counter; `{name}` placeholders are filled from the problem's own members, e.g.
`{status_now}`), and an English explanation for integrators. `GET /problems/<code>` explains a
code, `GET /problems.json` gives the whole table (the pages translate with it), and
`/openapi.json` lists the codes. A raise names its code (`errors.DomainError(..., code=...)`);
a test keeps the registry and the raises equal, and an autouse check refuses any problem whose
code is not here.
"""

import ast
import functools
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProblemType:
    code: str
    status: int
    title: str  # zh-CN, a few words
    zh: str  # zh-CN message for the pages; {member} placeholders name members of the problem
    en: str  # English: what it means and what to do

    @property
    def placeholders(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.zh)

    def as_json(self) -> dict:
        return {**asdict(self), "type": "/problems/" + self.code}


_P = ProblemType
PROBLEMS: dict[str, ProblemType] = {p.code: p for p in (
    # --- HTTP and the edge (werkzeug, webargs, the kernel) ---
    _P("bad_request", 400, "请求有误", "请求有误。", "The request is malformed."),
    _P("malformed_json", 400, "请求格式有误", "请求格式有误（不是有效的 JSON）。", "The request body is not valid JSON."),
    _P("unauthorized", 401, "未登录", "未登录或访问令牌无效。", "Authentication is required."),
    _P("token_missing", 401, "未登录", "请先登录。", "Send `Authorization: Bearer <token>`."),
    _P("token_invalid", 401, "访问令牌无效", "访问令牌无效或已停用。",
       "The bearer token is unknown or revoked; ask for a new one."),
    _P("forbidden", 403, "无权操作", "无权执行此操作。", "The caller may not do this."),
    _P("not_found", 404, "没有找到", "没有找到（服务器没有提供此功能）。", "No such route on this server."),
    _P("problem_code_unknown", 404, "没有该错误代码", "没有该错误代码。", "No such problem code; see /problems.json."),
    _P("resource_not_found", 404, "没有找到", "没有找到该对象。", "No such resource, or not in the caller's scope."),
    _P("method_not_allowed", 405, "不支持的操作", "服务器不支持此操作。",
       "The route does not take this HTTP method; see the Allow header."),
    _P("not_acceptable", 406, "格式不支持", "服务器无法以请求的格式回答。", "No representation matches the Accept header."),
    _P("request_timeout", 408, "请求超时", "请求超时，请重试。", "The request took too long to arrive."),
    _P("conflict", 409, "与当前状态冲突", "与当前状态冲突。", "The request conflicts with the current state."),
    _P("payload_too_large", 413, "内容过大", "提交的内容过大。", "The request body is larger than the service accepts."),
    _P("unsupported_media_type", 415, "格式有误", "请求格式有误。", "Send the body as application/json."),
    _P("invalid_fields", 422, "内容有误", "提交的内容有误：",
       "Some fields are invalid; `errors` maps each field path (e.g. items.0.quantity) to its messages."),
    _P("unknown_fields", 422, "不接受的字段", "请求中含有本功能不接受的字段：",
       "The request has fields or query parameters this route does not take (listed in `errors`)."),
    _P("json_too_deep", 422, "嵌套过深", "请求内容的嵌套层数过多。", "The JSON body is nested deeper than any request needs."),
    _P("unstorable_value", 422, "无法保存的内容", "请求中含有无法保存的字符或过大的数字。",
       "A text has a NUL character or an unpaired surrogate, or a number is beyond 64 bits."),
    _P("value_out_of_range", 422, "数值过大", "有数值过大或文字过长，无法保存。",
       "The database refused a value as too large or too long."),
    _P("invalid_cursor", 422, "翻页参数无效", "翻页参数无效，请重新查询。", "The cursor is not one this service issued."),
    _P("rate_limited", 429, "操作过于频繁", "操作过于频繁，请在 {retry_after} 秒后再试。",
       "Too many requests; wait `retry_after` seconds (also in Retry-After)."),
    _P("internal_error", 500, "服务器内部错误", "服务器内部错误，已记录日志，请稍后重试或联系管理员。",
       "The server failed; the error was logged."),
    _P("unavailable", 503, "服务暂时不可用", "数据库暂时无法访问，请稍后重试。",
       "The database is not answering; retry after Retry-After seconds."),
    _P("concurrent_change", 409, "数据刚被修改", "数据刚被其他操作修改，请刷新后重试。",
       "A concurrent request changed the same records; nothing was saved. Reload and retry."),
    _P("invalid_idempotency_key", 422, "请求编号无效", "请求编号（Idempotency-Key）须为 1 至 255 个可见 ASCII 字符。",
       "Idempotency-Key must be 1 to 255 visible ASCII characters."),
    _P("idempotency_key_reused", 422, "请求编号重复", "该请求编号已用于另一内容不同的请求，请使用新的编号。",
       "This Idempotency-Key was used with a different request body; use a new key."),
    _P("idempotency_key_in_progress", 409, "请求处理中", "相同编号的请求正在处理中，请稍后重试。",
       "A request with this Idempotency-Key is still in progress; retry shortly."),
    # --- accounts, tokens, regions ---
    _P("role_forbidden", 403, "无权操作", "当前账户无权执行此操作。", "The caller's role may not do this."),
    _P("role_unknown", 422, "未知的账户类型", "未知的账户类型。", "The role is not one of the service's roles."),
    _P("subject_required", 422, "缺少账户对象", "此类账户须指定所代表的机构或地区。", "This role needs a subject."),
    _P("bureau_subject_invalid", 422, "行政区划代码有误", "医保局账户须对应其辖区的 6 位行政区划代码。",
       "A bureau's subject is the 6-digit adcode of its region."),
    _P("token_unspecified", 422, "未指明令牌", "请指明要停用的访问令牌：令牌本身、其编号，或角色与账户。",
       "Say which token to revoke: the token, its id, or a role and subject."),
    _P("outside_region", 403, "超出辖区", "医保局只能在本辖区内办理此事项。", "A bureau acts only inside its own region."),
    _P("region_not_found", 404, "没有该地区", "辖区内没有该行政区域。", "No such region in the caller's scope."),
    _P("adcode_invalid", 422, "行政区划代码有误", "须为 6 位行政区划代码。", "Not a 6-digit administrative division code."),
    _P("database_not_empty", 409, "数据库非空", "数据库不是空的：演示数据只能载入空数据库。",
       "The demo data set loads only into an empty database."),
    # --- institutions, physicians, pharmacists, drugs ---
    _P("institution_exists", 409, "已经登记", "该医疗机构已经登记。", "An institution with this code exists."),
    _P("institution_not_found", 404, "没有找到", "没有找到该医疗机构。", "No such institution."),
    _P("institution_unknown", 422, "未知的医疗机构", "未知的医疗机构或药店。", "The institution (or pharmacy) code is unknown."),
    _P("institution_required", 422, "缺少医疗机构", "请指定医疗机构。", "Say which institution."),
    _P("institution_own_only", 403, "只能为本机构办理", "医疗机构只能为本机构办理此事项。", "An institution acts only for itself."),
    _P("physician_exists", 409, "已经登记", "该医师已经登记。", "A physician with this code exists."),
    _P("physician_not_found", 404, "没有找到", "没有找到该医师。", "No such physician."),
    _P("physician_unknown", 422, "未知的医师", "未知的医师。", "The physician code is unknown."),
    _P("physician_not_responsible", 403, "不是责任医师", "只有医保责任医师可以办理此事项。",
       "Only a responsible physician (医保责任医师) may do this."),
    _P("pharmacist_exists", 409, "已经登记", "该执业药师注册证编号已经登记。", "A pharmacist with this licence exists."),
    _P("pharmacist_unknown", 422, "未知的药师", "没有找到该执业药师（或不是本药店的药师）。",
       "No pharmacist with this licence (at this pharmacy)."),
    _P("pharmacist_needs_pharmacy", 422, "只能绑定药店账户", "只有药店账户可以绑定药师。",
       "Only a pharmacy's token is bound to a pharmacist."),
    _P("pharmacist_required", 403, "须由药师办理", "审方须由执业药师完成：请使用药师本人的账户登录。",
       "Sign in with a pharmacist's token (a pharmacy token bound to a pharmacist)."),
    _P("drug_exists", 409, "已经登记", "该药品已经登记。", "A drug with this code exists."),
    _P("drug_not_found", 404, "没有找到", "没有找到该药品。", "No such drug."),
    _P("drug_unknown", 422, "未知药品", "有未知的药品：", "A drug code is unknown (see `errors`)."),
    _P("trace_prefix_taken", 422, "药品标识码已被使用", "药品标识码已属于其他药品。",
       "A product identification code (药品标识码) belongs to another drug."),
    _P("insurance_unknown", 422, "未知的参保类型", "未知的参保类型。", "The insurance type is not employee or resident."),
    # --- pharmacies ---
    _P("pharmacy_exists", 409, "已经登记", "该药店已经登记。", "A pharmacy with this code exists."),
    _P("pharmacy_not_found", 404, "没有找到", "没有找到该药店。", "No such pharmacy, or not in the caller's scope."),
    _P("pharmacy_unknown", 422, "未知药店", "未知药店。", "A pharmacy code is unknown."),
    _P("pharmacy_invalid_transition", 409, "药店状态不允许", "药店当前为“{status_now}”，不能{action}。",
       "The pharmacy's status does not allow this action (`status_now`)."),
    _P("last_pharmacy_in_county", 409, "区县唯一药店",
       "该药店是{county_name}唯一在用的双通道药店，退出后该区县将没有双通道药店。如确需退出，请填写理由并勾选“仍然强制退出”。",
       "It is the county's only active dual-channel pharmacy; send force: true with a reason to do it anyway."),
    _P("traceability_required", 409, "未实现药品追溯", "该药店尚未实现所售药品电子追溯，不符合双通道药店准入条件。",
       "A pharmacy is admitted only with electronic traceability of the drugs it sells (seed 003)."),
    _P("pharmacy_suspended", 409, "药店已暂停", "本药店已被暂停双通道资格：不能核验、发药、结算或退药。",
       "The pharmacy is suspended: it may not verify, dispense, settle or undo."),
    _P("pharmacy_exited", 409, "药店已退出", "本药店已退出双通道：不能核验、发药、结算或退药。",
       "The pharmacy has exited: it may not verify, dispense, settle or undo."),
    _P("pharmacy_not_admitted", 409, "药店尚未准入", "本药店尚未准入双通道：不能核验、发药、结算或退药。",
       "The pharmacy is not admitted yet: it may not verify, dispense, settle or undo."),
    _P("stock_own_pharmacy_only", 403, "只能设置本店库存", "只有药店本身可以设置库存。", "Only the pharmacy itself sets its stock."),
    _P("point_outside_china", 422, "位置不在中国境内", "该位置不在中国境内，请检查经纬度和坐标来源。",
       "The location is not in China; check lat, lon and crs."),
    _P("point_outside_counties", 422, "位置不在任何区县", "该位置不在任何县级区划内，请检查经纬度。",
       "The location lies in no county of the boundary data."),
    _P("reason_required", 422, "须填写理由", "此操作必须填写理由。", "This action needs a reason."),
    # --- patients and eligibility ---
    _P("invalid_id_number", 422, "身份证号无效", "不是有效的居民身份证号，请核对。",
       "Not a valid resident ID number (format, birth date or check digit)."),
    _P("invalid_name", 422, "姓名有误", "姓名不能为空，且不超过 100 个字符。", "The name is blank or too long."),
    _P("patient_exists", 409, "已经登记", "该身份证号的参保人已经登记。", "A patient with this ID number exists (`patient_id`)."),
    _P("patient_not_found", 404, "没有找到", "没有找到身份证号与姓名相符的参保人（或无权查看）：请核对身份证号和姓名。", "No such patient in the caller's scope."),
    _P("patient_unknown", 422, "未知患者", "未知患者。", "The patient id names no patient the caller may see."),
    _P("eligibility_not_required", 422, "无需认定资格", "该药品无需认定待遇资格。", "The drug does not require eligibility."),
    _P("valid_until_past", 422, "有效期有误", "有效期不能早于今天。", "valid_until is in the past."),
    _P("assistance_category_unknown", 422, "未知的救助类别", "患者的医疗救助类别在结算政策中没有规定。",
       "The policy has no ratio for the patient's assistance category."),
    # --- prescriptions ---
    _P("prescription_not_found", 404, "没有找到处方", "没有找到处方 {prescription_id}（或无权查看）。", "No such prescription in the caller's scope."),
    _P("prescription_rules", 422, "处方不符合规定", "处方不符合双通道管理规定：",
       "The prescription breaks dual-channel rules; `errors` lists every refused field at once."),
    _P("validity_too_long", 422, "处方有效期有误", "处方有效期为 1 至 3 天。", "A prescription is valid 1 to 3 days."),
    _P("drug_listed_twice", 422, "药品重复", "同一药品在一张处方中只能出现一次。", "Each drug appears once on a prescription."),
    _P("invalid_transition", 409, "处方状态不允许", "处方当前为“{status_now}”，不能{action}。",
       "The prescription's status (`status_now`) does not allow the action."),
    _P("settlement_invalid_transition", 409, "结算状态不允许", "该结算（报销）当前的状态不允许此操作。",
       "The settlement's status (`status_now`) does not allow the action (approve, reject, reverse)."),
    _P("prescription_expired", 409, "处方已过期", "处方已过期，不能继续办理。", "The prescription is past its validity."),
    _P("not_prescribing_physician", 403, "不是开方医师", "只有开方医师可以办理此处方。",
       "Only the prescribing physician may do this."),
    _P("not_routed_pharmacy", 403, "不是处方流转药店", "只有处方流转到的药店可以办理此处方。",
       "Only the pharmacy the prescription is routed to may do this."),
    _P("pharmacy_not_active", 422, "药店不在用", "该药店不是在用的双通道药店。", "The pharmacy is not an active dual-channel one."),
    _P("pharmacy_outside_region", 422, "药店不在统筹地区", "该药店不在患者的统筹地区（或备案地区）内。",
       "The pharmacy is outside the patient's coordinating (and filed) region."),
    _P("pharmacy_without_cold_chain", 422, "药店无冷链", "该药店没有冷链条件，不能调配冷链药品。",
       "The pharmacy has no cold chain for a cold-chain drug."),
    _P("reason_code_invalid", 422, "须选择原因", "请从列表中选择原因：", "Give a `reason_code` this action accepts (`accepted`)."),
    _P("reason_code_unexpected", 422, "无需填写原因", "审方通过时不填写不通过原因。", "An approval carries no reason code."),
    _P("coordinates_incomplete", 422, "坐标不完整", "请同时填写纬度和经度。", "Give lat and lon together."),
    _P("region_required", 422, "须指定地区", "请指定统筹地区（系统管理员没有本级地区）。",
       "Name the `region` (an admin has no region of its own)."),
    _P("thresholds_changed_concurrently", 409, "稽核参数已被修改", "该地区的稽核参数刚被他人修改，请刷新后重试。",
       "The region's thresholds were changed meanwhile; read them and retry."),
    _P("exemption_patient_unknown", 422, "没有该患者", "本地区没有该患者（请填写患者编号）。",
       "`value` must be the id of a patient of the region."),
    _P("exemption_drug_unknown", 422, "没有该药品", "没有该药品代码。", "`value` must be a drug code."),
    _P("exemption_generic_unknown", 422, "没有该通用名", "没有以该通用名登记的药品。", "`value` must be the generic name of a drug."),
    _P("exemption_expired", 422, "豁免已过期", "豁免的截止日期须为今天或以后。", "`valid_until` must be today or later."),
    _P("exemption_not_found", 404, "没有该豁免", "没有找到该豁免。", "No such exemption in the caller's region."),
    _P("exemption_revoked", 409, "豁免已撤销", "该豁免已被撤销。", "The exemption was already revoked."),
    _P("id_number_invalid", 422, "身份证号无效", "不是有效的 18 位居民身份证号（请核对校验位）。",
       "Not a valid resident ID number (GB 11643: 18 characters, date of birth and check digit)."),
    _P("no_pharmacy_serves_patient", 409, "无药店可取药",
       "患者统筹地区（及异地备案地区）内没有在用的双通道药店，处方开具后无处取药，已拒绝开具。请为患者办理异地就医备案，或联系医保局。",
       "No active dual-channel pharmacy serves the patient's coordinating (or filed) region; the prescription "
       "could not be filled anywhere, so it is not issued."),
    _P("no_cold_chain_pharmacy_serves_patient", 409, "无冷链药店可取药",
       "患者统筹地区内没有具备冷链条件的在用双通道药店，含冷链药品的处方无处取药，已拒绝开具。",
       "No active pharmacy with a cold chain serves the patient's regions (`regions`); a prescription with a "
       "cold-chain drug could not be filled."),
    _P("id_number_mismatch", 422, "身份证号不一致", "身份证号与处方患者不一致，请核对后重试。",
       "The ID number is not the prescription's patient's."),
    _P("agent_is_patient", 422, "代取人是患者本人", "代取人就是患者本人：患者本人取药时无需填写代取人。",
       "The agent picking up is the patient; leave pickup out."),
    _P("pickup_not_by_agent", 404, "不是代办取药", "该处方不是由代办人取药的。", "No agent picked up this prescription."),
    _P("review_required", 409, "尚未审方", "处方须经药师审方通过后才能发药。",
       "A pharmacist reviews (审方) a prescription before it is dispensed."),
    _P("signature_invalid", 409, "电子签名验证未通过", "处方电子签名验证未通过：{reason}。已向医保局报告，请勿发药。",
       "The prescription's signature is not trusted (`reason`); the bureau was told. Do not dispense."),
    _P("out_of_stock", 409, "库存不足", "本药店库存不足，无法发药。", "Not enough stock to dispense."),
    _P("duplicate_trace_code", 409, "追溯码重复", "追溯码已被使用过：同一盒药不能销售两次。请核对药盒后重新扫码。",
       "A trace code was already dispensed (`trace_codes`); one pack is sold once. An audit flag was raised."),
    _P("trace_codes_invalid", 422, "追溯码与处方不符", "追溯码与处方不符：",
       "The trace codes do not match the prescription; `errors` names each one."),
    _P("trace_code_malformed", 422, "追溯码格式有误", "不是有效的药品追溯码（应为 20 位数字）。", "A trace code is 20 ASCII digits."),
    _P("trace_code_unknown", 404, "追溯码无记录", "该追溯码没有发药记录。", "No pack with this trace code was dispensed."),
    _P("pack_already_returned", 409, "已退药", "该药盒已退药撤销。", "This pack was already returned."),
    _P("pack_opened", 409, "已拆零", "该药盒已拆零发药：已拆封的药盒不能退药。", "An opened (拆零) pack cannot be returned."),
    _P("settled_reverse_first", 409, "处方已结算", "处方已结算：请先冲正结算，再退药。",
       "Reverse the settlement (冲正) before undoing a pack."),
    _P("undo_window_passed", 409, "超过退药期限", "已超过退药期限（{undo_until}）。", "Packs are undone within a few days of dispensing."),
    # --- signatures ---
    _P("signing_key_missing", 409, "没有有效签名密钥", "您的电子签名密钥已吊销或过期，暂不能签名：请联系医保局或系统管理员签发新密钥。",
       "The holder has no valid signing key; an admin or the bureau issues one (dualchannel keys issue)."),
    _P("signing_key_not_found", 404, "没有找到密钥", "没有找到该签名密钥。", "No such signing key."),
    _P("signing_key_revoked", 409, "密钥已吊销", "该签名密钥已经吊销。", "The signing key is already revoked."),
    _P("holder_required", 422, "须指定持有人", "请填写医师编码或药师执业注册证编号（二选一）。",
       "Name one holder: physician_code or pharmacist."),
    _P("revocation_in_future", 422, "吊销时间有误", "密钥只能从现在或过去的某一时刻起吊销。",
       "A key is revoked from now or from a past instant."),
    # --- settlements and claims ---
    _P("policy_missing", 422, "没有结算政策", "参保地在该日期没有有效的结算政策：请联系医保局录入。",
       "No settlement policy of the region is in force on the day; a bureau adds one."),
    _P("policy_exists", 409, "政策版本已存在", "该地区、参保类型和生效日期的结算政策已经存在：请以更晚的生效日期新增版本。",
       "Policy versions are not edited; add one with a later effective_from."),
    _P("policy_invalid", 422, "结算政策有误", "结算政策内容有误。", "The policy's figures are not valid."),
    _P("policy_not_found", 404, "没有找到", "没有找到该结算政策。", "No such settlement policy."),
    _P("policy_versions_differ", 409, "政策版本不一致", "文件中的政策版本与已保存的不同：已保存的版本不能覆盖。",
       "Stored versions differ from the file's and are never overwritten."),
    _P("ratio_too_precise", 422, "比例小数位过多", "比例的小数位过多。", "A ratio has too many decimal places."),
    _P("note_too_long", 422, "说明过长", "政策说明最多 500 个字符。", "A policy note is at most 500 characters."),
    _P("settlement_not_found", 404, "没有找到", "没有找到该结算记录。", "No such settlement."),
    _P("already_settled", 409, "已经结算", "该处方已经结算（结算号 {settlement_id}）。",
       "The prescription is already settled (`settlement_id`)."),
    _P("double_claim", 409, "重复报销", "该处方已经结算或报销过（结算号 {settlement_id}）：不能重复报销。已向医保局报告。",
       "The prescription was already settled; a second claim is refused and flagged."),
    _P("nothing_to_settle", 409, "没有可结算的药品", "处方的药盒已全部退药，没有可结算的内容。",
       "Every pack was returned; there is nothing to settle."),
    _P("prices_invalid", 422, "价格无法结算", "处方药品的价格无法结算：请联系医保局核对支付标准和协议价。",
       "The prices of the prescription cannot be settled (payment standard or agreed price)."),
    _P("direct_settlement_out_of_region", 422, "不能直接结算", "该患者不属于本药店统筹地区：不能直接结算，须手工报销。",
       "Direct settlement is only for patients of the pharmacy's region; this is a manual claim."),
    _P("accumulators_inconsistent", 409, "累计数据不一致", "患者年度累计数据与结算记录不一致，请联系医保局。",
       "The patient's yearly accumulators do not contain the settlement."),
    _P("not_a_claim", 409, "不是手工报销", "该结算为直接结算，只有手工报销需要审核。", "Only manual claims are decided."),
    _P("claim_of_another_region", 403, "由参保地审核", "该报销申请由患者参保地（{region}）医保局审核。",
       "A manual claim is decided by a bureau of the patient's insured region (`region`)."),
    _P("claim_policy_missing", 409, "参保地政策缺失", "该报销申请已全额自付：请先录入参保地（{region}）的结算政策，再审核。",
       "Add the insured region's policy in force on the day before approving the claim."),
    _P("claim_reversed_by_bureau", 403, "须由医保局冲正", "医保局已审核的报销只能由医保局冲正。",
       "A claim the bureau approved is reversed by a bureau, not by the pharmacy."),
    # --- audit ---
    _P("flag_not_found", 404, "没有找到预警", "没有找到该预警。", "No such flag in the caller's scope."),
    _P("flag_already_reviewed", 409, "预警已审核", "该预警已经审核过了。", "The flag was already reviewed."),
    _P("search_parameter_invalid", 422, "查询参数有误", "查询参数有误。", "A FHIR search parameter is not valid."),
    _P("search_parameter_unsupported", 422, "不支持的查询参数", "不支持的查询参数。", "A FHIR search parameter is not supported."),
    # --- procurement ---
    _P("batch_exists", 409, "已经存在", "该集采批次已经存在。", "A batch with this code exists."),
    _P("batch_not_found", 404, "没有找到", "没有找到该集采批次。", "No such batch."),
    _P("batch_of_other_region", 403, "不能修改", "医保局只能修改本辖区的集采批次；国家批次由系统管理员维护。",
       "A bureau changes only its own region's batches; national ones are the admin's."),
    _P("cycle_ends_before_start", 422, "采购周期有误", "采购周期的结束日期早于开始日期。", "The cycle ends before it starts."),
    _P("effective_date_outside_cycle", 422, "执行日期有误", "执行日期不在采购周期内。", "The effective date is outside the cycle."),
    _P("first_year_end_invalid", 422, "首个协议年度有误", "首个协议年度须在采购周期内结束，且短于 13 个月。",
       "The first agreement year ends inside the cycle, less than 13 months after its start."),
    _P("not_an_agreement_year", 422, "不是协议年度", "该日期不是此集采批次的协议年度起始日。",
       "year_start does not start an agreement year of the batch."),
    _P("product_exists", 409, "已经存在", "该集采产品已经存在。", "A product with this code exists."),
    _P("product_not_found", 404, "没有找到", "没有找到该集采产品。", "No such procurement product."),
    _P("product_unknown", 422, "未知的集采产品", "未知的集采产品。", "The product code is unknown."),
    _P("product_invalid", 422, "产品信息有误", "产品信息有误：", "The product is invalid (see `errors`)."),
    _P("product_not_selected", 422, "不是中选产品", "只有中选产品可以报告供应问题。", "Supply problems concern selected products."),
    _P("ratio_out_of_range", 422, "约定比例有误", "约定比例须在 {low} 至 {high} 之间。", "The ratio is outside its bounds."),
    _P("base_period_empty", 422, "基期有误", "基期为空：开始日期须早于结束日期。", "The base period is empty."),
    _P("purchase_date_invalid", 422, "采购日期有误", "采购日期不符合要求：", "The purchase date is not allowed (see `errors`)."),
    _P("purchase_exists", 409, "已经登记", "该采购单号已经登记过了。", "A purchase with this reference is recorded."),
    _P("declaration_own_only", 403, "只能申报本机构", "需求量由医疗机构自行申报。", "Institutions declare their own demand."),
    _P("declaration_pending", 409, "已经申报", "该产品本年度的申报已经提交或已被确认。",
       "A declaration for this product and year is already submitted or accepted (`declaration_status`)."),
    _P("explanation_required", 422, "须填写说明", "申报量低于本机构历史使用量 {history}，请填写书面说明。",
       "A declaration below the institution's history needs an explanation."),
    _P("declaration_not_found", 404, "没有找到", "没有找到该申报。", "No such declaration."),
    _P("declaration_not_pending", 409, "不在待审核状态", "该申报不在待审核状态。", "The declaration is not awaiting a decision."),
    _P("no_such_date", 404, "没有该日期", "没有该日期的设置。", "No calendar setting for the day."),
    _P("supply_problem_not_found", 404, "没有找到", "没有找到该供应问题。", "No such supply problem."),
    _P("supply_problem_institution_only", 403, "由医疗机构报告", "供应问题由医疗机构报告，医保局负责跟进。",
       "Institutions report supply problems; the bureau follows them up."),
    _P("supply_problem_invalid_transition", 409, "处理阶段不允许", "供应问题当前的处理阶段不允许此操作。",
       "The supply problem's stage (`stage`) cannot become `target`."),
    _P("supply_problem_confirmed", 409, "已经确认", "该供应问题已经确认过了。", "The supply problem is already confirmed."),
    _P("promised_fix_out_of_range", 422, "承诺日期有误", "承诺解决日期须在 5 个工作日内（最晚 {latest_fix_date}）。",
       "The promised fix is within 5 working days (`latest_fix_date`)."),
    _P("date_in_future", 422, "日期有误", "日期不能晚于今天。", "The date is in the future."),
    _P("date_too_early", 422, "日期有误", "日期过早。", "The date is before the earliest allowed."),
    _P("file_unreadable", 422, "文件无法读取", "文件既不是 UTF-8 也不是 GB18030 编码的文本。", "The file is neither UTF-8 nor GB18030."),
    _P("malformed_file", 422, "文件格式有误", "文件格式有误，无法读取。", "The CSV or XLSX file cannot be read."),
    _P("file_too_large", 422, "文件过大", "文件解压后过大。", "The XLSX file unpacks to too much data."),
    _P("file_without_header", 422, "缺少表头", "文件没有表头行。", "The file has no header row."),
    _P("file_without_rows", 422, "没有数据", "文件没有数据行。", "The file has no data rows."),
    _P("file_columns_missing", 422, "缺少列", "文件缺少必需的列：", "Required columns are missing (see `errors`)."),
    _P("file_too_many_rows", 422, "行数过多", "文件行数过多。", "The file has more rows than one import takes."),
    _P("rows_invalid", 422, "数据有误", "文件中有数据行有误，未导入任何数据：",
       "Some rows are invalid (`rows`); nothing was imported."),
)}


@dataclass(frozen=True)
class FieldCode:
    """The code of one field's message (a value of a 422's `errors`): `error_codes` carries it
    beside the English message, with the values its zh-CN text names."""

    code: str
    zh: str  # zh-CN, what the pages show beside the field; {name} placeholders are the message's values
    en: str  # English: when it is given

    @property
    def placeholders(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.zh)


_F = FieldCode
FIELDS: dict[str, FieldCode] = {f.code: f for f in (
    # --- marshmallow's and webargs' own messages (matched from the libraries' texts, below) ---
    _F("required", "必须填写。", "Missing data for required field."),
    _F("null", "必须填写。", "Field may not be null."),
    _F("invalid_value", "取值无效。", "Invalid value."),
    _F("not_a_string", "须为文字。", "Not a valid string."),
    _F("not_an_integer", "须为整数。", "Not a valid integer."),
    _F("not_a_number", "须为数字。", "Not a valid number."),
    _F("number_too_large", "数值过大。", "Number too large."),
    _F("number_special", "不能为 NaN 或无穷大。", "Special numeric values (nan or infinity) are not permitted."),
    _F("not_a_boolean", "须为是或否。", "Not a valid boolean."),
    _F("not_a_date", "日期格式有误（应为 YYYY-MM-DD）。", "Not a valid date."),
    _F("not_a_datetime", "应为日期时间（ISO 8601，含时区）。", "Not a valid datetime."),
    _F("not_a_list", "应为列表。", "Not a valid list."),
    _F("not_an_object", "应为对象（JSON object）。", "Invalid type / input type / mapping type."),
    _F("unknown_field", "不接受此字段。", "Unknown field."),
    _F("too_short", "至少 {min} 项。", "Shorter than minimum length."),
    _F("too_long", "至多 {max} 个。", "Longer than maximum length."),
    _F("length_between", "长度须为 {min} 至 {max} 个字符。", "Length must be between min and max."),
    _F("length_exactly", "长度应为 {equal}。", "Length must be exactly `equal`."),
    _F("not_one_of", "取值不在允许范围内。", "Must be one of `choices`."),
    _F("pattern_mismatch", "格式不符合要求。", "String does not match expected pattern."),
    _F("at_least", "不能小于 {min}。", "Must be greater than or equal to `min`."),
    _F("greater_than", "应大于 {min}。", "Must be greater than `min`."),
    _F("at_most", "不能大于 {max}。", "Must be less than or equal to `max`."),
    _F("less_than", "应小于 {max}。", "Must be less than `max`."),
    _F("between", "须在 {min} 至 {max} 之间。", "Must be between `min` and `max` (inclusive)."),
    _F("between_open", "应在 {min} 与 {max} 之间（按规定是否含端点）。", "Must be between `min` and `max`, an end excluded."),
    _F("json_invalid", "不是有效的 JSON。", "Invalid JSON body."),
    _F("uncoded", "此项有误。", "A message without a code (a defect: every message should have one)."),
    # --- the kernel ---
    _F("value_unstorable", "含有无法保存的字符（空字符或不成对的代理字符），或数值超出 64 位。",
       "A NUL character, an unpaired surrogate, or an integer beyond 64 bits."),
    _F("json_too_deep", "嵌套不能超过 {levels} 层。", "JSON nested more than `levels` deep."),
    _F("code_format", "须为 1 至 32 位字母、数字、- 或 _。", "A code: 1-32 letters, digits, - or _."),
    _F("adcode_format", "须为 6 位行政区划代码。", "A 6-digit administrative division code."),
    _F("adcode_unknown", "没有这个行政区划代码。", "No such administrative division."),
    _F("date_out_of_range", "日期须在 {min} 至 {max} 之间。", "A date from `min` to `max`."),
    _F("cursor_invalid", "翻页参数无效，请重新查询。", "The cursor is not one this service issued."),
    _F("not_a_decimal", "应为金额（十进制数）。", "Not a decimal amount."),
    _F("too_many_decimal_places", "至多 {places} 位小数。", "At most `places` decimal places."),
    _F("text_blank_or_long", "不能为空，且不超过 {max} 个字。", "Blank, or longer than `max` characters."),
    _F("role_unknown", "角色应为以下之一：{roles}。", "Not a role of the service."),
    _F("pharmacist_needs_pharmacy", "只有药店账户可以绑定药师。", "Only a pharmacy's token is bound to a pharmacist."),
    _F("idempotency_key_reused", "该幂等键已用于另一请求，请使用新的键。", "The key was used with a different body."),
    _F("idempotency_key_format", "须为 1 至 255 个可见 ASCII 字符。", "1 to 255 visible ASCII characters."),
    _F("id_number_not_text", "格式有误。", "The ID number is not text."),
    _F("id_number_length", "应为 18 位。", "An ID number has 18 characters."),
    _F("id_number_characters", "应为 17 位数字加 1 位校验码（数字或 X）。", "17 digits and a check digit or X."),
    _F("id_number_check_digit", "校验码不正确。", "The check digit does not match (ISO 7064 MOD 11-2)."),
    _F("id_number_birth_date", "出生日期不存在。", "The birth date is not a real date."),
    _F("id_number_birth_date_range", "出生日期超出范围。", "The birth date is out of range."),
    # --- patients and identity ---
    _F("name_blank", "不能为空。", "The name is blank."),
    _F("name_too_long", "最多 {max} 个字符。", "The name is longer than `max` characters."),
    _F("eligibility_not_needed", "{drug}无需认定待遇资格。", "The drug requires no eligibility (待遇准入) to be recorded."),
    _F("valid_until_past", "不能早于今天。", "An eligibility's valid_until is in the past."),
    # --- prescriptions, packs, traceability ---
    _F("patient_unknown", "未知患者。", "No patient in the physician's care has this id."),
    _F("drug_listed_twice", "同一药品列出了两次。", "A drug appears twice on a prescription or a dispensing."),
    _F("drug_not_dual_channel", "{drug}不是双通道药品。", "The drug is not a dual-channel drug."),
    _F("eligibility_missing", "{drug}尚未认定待遇资格（待遇准入），请先认定。",
       "The drug requires eligibility (待遇准入) and the patient has none recorded."),
    _F("eligibility_expired", "{drug}的待遇资格已于 {expired_on} 到期，须复查评估后续期。",
       "The patient's eligibility for the drug expired; a re-examination (复查评估) renews it."),
    _F("days_supply_too_long", "用药天数最多 {max} 天（长期处方不超过 12 周）。",
       "More than the longest supply (84 days, 12 weeks for a long-term prescription)."),
    _F("pharmacy_unknown", "未知药店。", "No pharmacy has this code."),
    _F("pharmacy_status_not_active", "药店当前为“{status_now}”。", "The pharmacy is not an active dual-channel one."),
    _F("pharmacy_outside_patient_region", "不在患者的统筹地区内。",
       "The pharmacy is outside the patient's coordinating (or filed) region."),
    _F("pharmacy_without_cold_chain", "没有冷链贮存条件。", "The pharmacy has no cold chain for a cold-chain drug."),
    _F("reason_code_required", "请从列表中选择原因。", "The action needs a reason code from its published list."),
    _F("reason_code_not_for_action", "该原因不适用于{action}，请从列表中选择。",
       "The reason code is not one the action accepts."),
    _F("reason_note_required", "选择“其他原因”时须填写说明。", "This reason code needs a note saying what happened."),
    _F("reason_code_only_for_refusal", "仅在审方不通过时填写。", "An approving review carries no reason code."),
    _F("id_number_not_patients", "与处方患者的身份证号不一致。", "The ID number is not the prescription's patient's."),
    _F("agent_id_is_patients", "这是患者本人的身份证号；本人取药时不要填写代取人。",
       "The agent's ID number is the patient's own; leave pickup out."),
    _F("drug_not_on_prescription", "{drug_code} 不在此处方上。", "The drug is not on this prescription."),
    _F("too_many_trace_codes", "处方数量为 {quantity}，最多 {quantity} 个追溯码，实际 {given} 个。",
       "More trace codes than units prescribed."),
    _F("trace_codes_one_per_unit", "处方数量为 {quantity}，须每盒一个追溯码，实际 {given} 个。",
       "A drug dispensed whole takes one trace code per unit prescribed."),
    _F("trace_code_malformed", "不是有效的药品追溯码（应为 20 位数字）。", "A traceability code (药品追溯码) is 20 digits."),
    _F("trace_code_scanned_twice", "追溯码 {trace_code} 重复扫描：一个追溯码就是一盒药。",
       "The same trace code is given twice in one dispensing."),
    _F("trace_code_not_this_drug", "追溯码 {trace_code} 不是{drug}的药品追溯码（药品标识码应为 {prefixes}）。",
       "The code's product identification code (药品标识码) is not the drug's."),
    _F("trace_code_of_other_drug",
       "追溯码 {trace_code} 不是{drug}的药品追溯码（药品标识码应为 {prefixes}），它属于{owner}。",
       "The code's product identification code (药品标识码) belongs to another drug (`owner`)."),
    _F("trace_code_not_needed", "前面的药盒已够 {quantity} 个单位，追溯码 {trace_code} 多余：只扫实际使用的药盒。",
       "The packs scanned before this code already hold the units prescribed (拆零)."),
    _F("packs_fall_short", "所扫药盒只剩 {held} 个单位，处方需要 {quantity} 个。",
       "The packs scanned hold fewer units than prescribed (拆零)."),
    _F("drugs_not_dispensed", "以下药品未扫码：{drug_codes}。", "Drugs of the prescription have no trace codes."),
    _F("fhir_parameter_unsupported", "本服务器不支持该查询参数。", "Not a FHIR search parameter of this server."),
    _F("fhir_last_updated_invalid",
       "应为日期（YYYY-MM-DD）或带时区的时刻，年份在 2000 至 2100 之间，可加前缀 gt、ge、lt、le 或 eq。",
       "_lastUpdated: a date or an instant with its offset, from 2000 to 2100, after gt, ge, lt, le or eq."),
    _F("fhir_prefix_unsupported", "不支持前缀 {prefix}：只能是 gt、ge、lt、le 或 eq。",
       "_lastUpdated takes the prefixes gt, ge, lt, le or eq."),
    _F("fhir_patient_reference_invalid", "应为患者编号，或 Patient/<编号>。", "patient: an id, or Patient/<id>."),
    _F("fhir_status_unknown", "含有 {resource_type} 不支持的状态。", "A status that is not one of the resource type's."),
    # --- pharmacies, drugs, institutions, signatures, accounts ---
    _F("drug_unknown", "未知药品。", "No drug has this code."),
    _F("trace_prefix_format", "药品标识码应为 7 位数字。", "A product identification code (药品标识码): 7 ASCII digits."),
    _F("trace_prefix_taken", "药品标识码 {prefix} 已属于 {drug}。", "The product identification code is another drug's."),
    _F("point_outside_china", "不在中国境内。", "The location is outside China."),
    _F("point_in_no_county", "不在任何县级区划内。", "The location lies in no county of China."),
    _F("stock_not_an_object", "应为“药品编码: 数量”形式的对象。", "A stock update is an object of drug code to quantity."),
    _F("stock_too_many_drugs", "每次最多更新 {max} 种药品的库存。", "More than `max` drugs in one stock update."),
    _F("stock_line_invalid", "药品编码须为 1 至 32 位字母、数字、- 或 _，数量须为不小于 0 的整数。",
       "A stock line: a drug code and a whole number of units, 0 or more."),
    _F("licence_number_format", "须为 6 至 32 位字母或数字。", "A pharmacist's licence number: 6 to 32 letters and digits."),
    _F("pharmacist_not_of_pharmacy", "不是本药店的药师。", "No pharmacist with this licence at this pharmacy."),
    _F("pharmacist_unknown", "未知的药师。", "No pharmacist has this licence number."),
    _F("institution_unknown", "未知的医疗机构。", "No institution has this code."),
    _F("physician_unknown", "未知的医师。", "No physician has this code."),
    _F("lat_lon_together", "请同时填写纬度和经度。", "lat and lon are given together or not at all."),
    _F("key_holder_required", "请填写医师编码或药师执业注册证编号（二选一）。",
       "A signing key names one holder: physician_code or pharmacist."),
    _F("revocation_in_future", "不能晚于现在：密钥只能从现在或过去的某一时刻起吊销。",
       "compromised_since is in the future."),
    # --- settlements ---
    _F("direct_settlement_out_of_region", "药店不在患者的统筹地区内，不能直接结算，请按手工报销办理。",
       "Direct settlement is only for patients of the pharmacy's coordinating region; settle as a manual claim."),
    _F("policy_note_too_long", "最多 {max} 个字符。", "A policy's note is at most `max` characters."),
    _F("policy_rules_broken",
       "结算政策不符合规则：金额须精确到分，比例须在 0 至 1 之间，大病保险各段上限须为正数且逐段递增（只有最后一段可不设上限），"
       "救助类别 none 的比例须为 0。",
       "The policy breaks a rule of policies (the English message says which)."),
    _F("policy_not_in_force", "统筹地区 {region} 在 {on} 没有有效的结算政策，须由本地区医保局录入。",
       "No settlement policy of the region is in force on the day; a bureau of the region adds one."),
    _F("assistance_category_not_in_policy", "结算政策中没有规定患者的医疗救助类别。",
       "The policy has no ratio for the patient's medical-assistance category."),
    _F("agreed_price_missing", "{drug}没有协议价格，请填写单价。", "The drug has no agreed price: give its unit price."),
    # --- procurement ---
    _F("file_unreadable_text", "无法读取文件：不是 UTF-8 或 GB18030 编码的文本。",
       "An uploaded table is neither UTF-8 nor GB18030 text."),
    _F("file_malformed_csv", "CSV 文件格式有误，无法读取。", "An uploaded CSV file cannot be parsed."),
    _F("file_too_large_unpacked", "XLSX 文件解压后过大（超过 256 MB）。", "An uploaded XLSX file unpacks to more than 256 MB."),
    _F("file_malformed_xlsx", "XLSX 文件格式有误，无法读取。", "An uploaded XLSX file cannot be read."),
    _F("file_without_header", "文件为空或缺少表头行。", "An uploaded table is empty or has no header row."),
    _F("file_column_missing", "缺少“{column}”列。", "An uploaded table lacks the required `column`."),
    _F("file_too_many_rows", "行数过多：每个文件至多 {max} 行。", "An uploaded table has more than `max` rows."),
    _F("file_without_rows", "文件中没有数据行。", "An uploaded table has a header but no data rows."),
    _F("row_invalid", "第 {line} 行有误（{columns}），整个文件均未导入。",
       "Row `line` of an import is invalid in `columns` (the message gives the reasons); nothing was imported."),
    _F("product_exists", "集采产品 {product} 已经存在。", "A procurement product with this code already exists."),
    _F("row_code_repeated", "与第 {line} 行的产品编码重复。", "An import repeats the product code of row `line`."),
    _F("row_reference_repeated", "与第 {line} 行的单号重复。", "An import repeats the purchase reference of row `line`."),
    _F("purchase_reference_recorded", "该单号已经登记过了。", "A purchase with this reference is already recorded."),
    _F("institution_own_only", "医疗机构只能为本机构办理此事项。", "An institution acts only for itself."),
    _F("institution_outside_region", "医保局只能在本辖区内办理此事项。",
       "The institution lies outside the bureau's region."),
    _F("product_unknown", "未知的集采产品。", "No procurement product has this code."),
    _F("date_in_future", "不能晚于今天。", "The date is in the future."),
    _F("date_before_earliest", "不能早于 {earliest}。", "The date is before `earliest`."),
    _F("date_outside_procurement_cycle", "不在集采批次 {batch} 的采购周期（{start} 至 {end}）内。",
       "The date is outside the procurement cycle `start`..`end` of `batch`."),
    _F("agreement_year_start_unknown", "不是协议年度的开始日期，应为以下之一：{starts}。",
       "Not the first day of an agreement year of the batch; one of `starts`."),
    _F("cycle_end_before_start", "早于周期开始日期。", "cycle_end is before cycle_start."),
    _F("first_year_end_out_of_range", "须在采购周期内，且距周期开始不足 {months} 个月。",
       "first_year_end is outside the cycle, or `months` or more after cycle_start."),
    _F("effective_date_outside_cycle", "不在采购周期内。", "The effective date is outside the cycle."),
    _F("selected_price_not_positive", "中选产品的价格须大于 0。", "A selected product's price is 0."),
    _F("conversion_out_of_range", "须大于 0 且不超过 1,000,000。", "A conversion factor above 0 and at most 1,000,000."),
    _F("base_start_not_before_end", "须早于基期结束日期。", "base_start is not before base_end."),
    _F("explanation_required_below_history", "低于历史使用量 {history}（{unit}）时必须填写。",
       "A declaration below the institution's history (`history` `unit`) must explain why."),
    _F("product_not_selected", "不是中选产品。", "Supply problems concern selected products only."),
    _F("promised_fix_out_of_range", "承诺解决日期须在 {earliest} 至 {latest} 之间（答复后不超过 5 个工作日）。",
       "The promised fix is outside `earliest`..`latest` (5 working days after the reply)."),
    # --- audit, flags, coverage, access log ---
    _F("region_required_for_admin", "请指定地区（管理员没有所属辖区）。", "An admin names the region it acts on."),
    _F("exemption_patient_unknown", "须为本辖区内患者的编号。", "No patient with this id in the region."),
    _F("exemption_generic_unknown", "没有该通用名的药品。", "No drug has this generic name."),
    _F("pharmacy_not_found", "没有找到药店 {pharmacy}。", "No pharmacy has this code."),
    _F("reason_required", "请填写原因。", "Say why (a reason with words in it)."),
)}


def _default_messages(field_class) -> dict[str, str]:
    """A marshmallow field class's messages, as an instance would merge them (base first)."""
    merged = {}
    for klass in reversed(field_class.__mro__):
        merged.update(klass.__dict__.get("default_error_messages", {}))
    return merged


def _library_messages() -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    """marshmallow's and webargs' own field messages, read from the libraries: (text -> code for
    the fixed ones, [(pattern, code)] for those with values, e.g. `Longer than maximum length 40.`)."""
    import marshmallow as ma

    fixed, patterns = {"Invalid JSON body.": "json_invalid"}, []

    def add(template: str, code: str) -> None:
        if "{" not in template:
            fixed[template] = code
        else:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.*)", re.escape(template))
            patterns.append((re.compile(f"^{pattern}$", re.DOTALL), code))

    field_codes = {"required": "required", "null": "null", "validator_failed": "invalid_value"}
    for name, key, code in (("String", "invalid", "not_a_string"), ("String", "invalid_utf8", "not_a_string"),
                            ("Integer", "invalid", "not_an_integer"), ("Number", "invalid", "not_a_number"),
                            ("Number", "too_large", "number_too_large"), ("Float", "special", "number_special"),
                            ("Decimal", "special", "number_special"), ("Boolean", "invalid", "not_a_boolean"),
                            ("Date", "invalid", "not_a_date"), ("DateTime", "invalid", "not_a_datetime"),
                            ("Nested", "type", "not_an_object"), ("List", "invalid", "not_a_list"),
                            ("Mapping", "invalid", "not_an_object")):
        add(_default_messages(getattr(ma.fields, name))[key], code)
    for key, code in field_codes.items():
        add(_default_messages(ma.fields.Field)[key], code)
    schema_messages = ma.Schema().error_messages
    add(schema_messages["type"], "not_an_object")
    add(schema_messages["unknown"], "unknown_field")
    length = ma.validate.Length
    for template, code in ((length.message_min, "too_short"), (length.message_max, "too_long"),
                           (length.message_all, "length_between"), (length.message_equal, "length_exactly")):
        add(template, code)
    add(ma.validate.OneOf.default_message, "not_one_of")
    add(ma.validate.Regexp.default_message, "pattern_mismatch")
    rng = ma.validate.Range
    for closed, op, code in ((True, rng.message_gte, "at_least"), (False, rng.message_gt, "greater_than")):
        add(rng.message_min.format(min_op=op), code)
    for closed, op, code in ((True, rng.message_lte, "at_most"), (False, rng.message_lt, "less_than")):
        add(rng.message_max.format(max_op=op), code)
    for low, high in ((rng.message_gte, rng.message_lte), (rng.message_gt, rng.message_lte),
                      (rng.message_gte, rng.message_lt), (rng.message_gt, rng.message_lt)):
        add(rng.message_all.format(min_op=low, max_op=high),
            "between" if (low, high) == (rng.message_gte, rng.message_lte) else "between_open")
    # The longest first: "Must be ≥ 1 and ≤ 84." is a range, not a minimum of "1 and ≤ 84".
    return fixed, sorted(patterns, key=lambda pair: -len(pair[0].pattern))


_LIBRARY_MESSAGES = _library_messages()


def field_code(message) -> dict:
    """`{"code": ..., **values}` of one field message: the code it carries (`errors.FieldMessage`),
    or the code of a message of marshmallow or webargs, or `uncoded`."""
    code = getattr(message, "code", None)
    if code is not None:
        return {"code": code, **message.params}
    fixed, patterns = _LIBRARY_MESSAGES
    text = str(message)
    if text in fixed:
        return {"code": fixed[text]}
    for pattern, code in patterns:
        match = pattern.match(text)
        if match:
            return {"code": code, **match.groupdict()}
    return {"code": "uncoded"}


def get(code: str) -> ProblemType | None:
    return PROBLEMS.get(code)


def table() -> dict[str, dict]:
    """code -> {code, status, title, zh, en, type}: what `/problems.json` serves."""
    return {code: problem.as_json() for code, problem in sorted(PROBLEMS.items())}


_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{{ p.title }} · {{ p.code }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.6}
code{background:#f2f2f2;padding:0 .25rem}dt{font-weight:600}</style></head>
<body>
<h1>{{ p.title }}</h1>
<p>{{ zh }}</p>
<p lang="en">{{ p.en }}</p>
<dl>
<dt>代码 / code</dt><dd><code>{{ p.code }}</code></dd>
<dt>HTTP 状态 / status</dt><dd>{{ p.status }}</dd>
<dt>类型 / type</dt><dd><code>/problems/{{ p.code }}</code></dd>
</dl>
<p lang="en">Errors are <code>application/problem+json</code>; act on <code>code</code>, not on the English
<code>detail</code>. All codes: <a href="/problems.json">/problems.json</a>, and
<code>x-problem-codes</code> in <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


def init_app(app) -> None:
    """Serve the registry: `/problems/<code>` (a page explaining one code, zh-CN and English),
    `/problems.json` (every code) and `/problems.js` (the same as an ES module the pages
    import). No token: the codes are public documentation."""
    from flask import jsonify, render_template_string

    @app.get("/problems/<code>")
    def problem_page(code: str):
        from dualchannel.errors import NotFound

        problem = PROBLEMS.get(code)
        if problem is None:
            raise NotFound(f"No problem code {code}; see /problems.json.", code="problem_code_unknown")
        zh = re.sub(r"\{(\w+)\}", r"〈\1〉", problem.zh)
        return render_template_string(_PAGE, p=problem, zh=zh)

    @app.get("/problems.json")
    def problem_table():
        return jsonify(table())

    @app.get("/problems.js")
    def problem_module():
        return app.response_class(module_source(), mimetype="text/javascript")


@functools.cache
def module_source() -> str:
    """`/problems.js`: the zh-CN text of every code as an ES module (the pages import it)."""
    return ("// Generated from dualchannel/problems.py: the zh-CN text of every problem code.\n"
            "export const PROBLEMS = " + json.dumps(
                {code: {"status": p.status, "title": p.title, "zh": p.zh} for code, p in sorted(PROBLEMS.items())},
                ensure_ascii=False, indent=0, sort_keys=True) + ";\n"
            "export const FIELDS = " + json.dumps({code: f.zh for code, f in sorted(FIELDS.items())},
                                                  ensure_ascii=False, indent=0, sort_keys=True) + ";\n")


# Calls that name a problem code: the domain exceptions, `errors.problem` and `db.commit`.
_RAISERS = {"DomainError", "NotFound", "Forbidden", "Unauthorized", "Conflict", "Invalid", "problem", "commit"}


@functools.cache
def codes_in(path: Path) -> frozenset[str]:
    """The problem codes a module (or every module of a package) names: string literals in the
    `code=` argument of a domain exception, `errors.problem` or `db.commit`, and assignments to
    a name `code`. A code built at run time would be missed; write each one out."""
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    found = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in _RAISERS:
                    for keyword in node.keywords:
                        if keyword.arg == "code":
                            found.update(c.value for c in ast.walk(keyword.value)
                                         if isinstance(c, ast.Constant) and isinstance(c.value, str))
            elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                  and isinstance(node.value.value, str) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets)):
                found.add(node.value.value)
    return frozenset(found)


def imported_features(path: Path) -> frozenset[str]:
    """The dualchannel packages a feature package imports (one level)."""
    found = set()
    for file in sorted(path.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dualchannel"):
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("dualchannel."))
    return frozenset(found)
