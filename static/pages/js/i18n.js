// Chinese labels for the API's codes, and Chinese messages for its problem+json errors.
// The API speaks English to integrators; the people at the desk and the counter read Chinese.
import { PROBLEMS } from "/problems.js";

export const PRESCRIPTION_STATUS = {
  issued: "已开具", routed: "已流转", verified: "已核验", reviewed: "已审方", dispensed: "已发药",
  settled: "已结算", cancelled: "已作废", expired: "已过期", not_dispensed: "未发药结束",
};
export const PHARMACY_STATUS = { applied: "申请中", active: "在用（双通道）", suspended: "暂停", exited: "已退出" };
export const INSURANCE = { employee: "职工医保", resident: "居民医保" };
export const ASSISTANCE = {
  none: "无", low_income: "低保对象", low_income_marginal: "低保边缘家庭成员", extreme_poverty: "特困人员",
};
export const ROLE = { admin: "系统管理员", bureau: "医保局", physician: "医师", pharmacy: "药店", institution: "医疗机构" };
export const STORAGE = { normal: "常温", cold_chain: "冷链" };
export const ACTION = {
  issue: "开具", route: "流转", return: "退回", verify: "实名核验", dispense: "发药", settle: "结算",
  reverse: "冲正", cancel: "作废", expire: "过期", admit: "准入", suspend: "暂停", exit: "退出", apply: "申请",
  not_dispense: "未发药结束", review: "审方通过", refuse_review: "审方不通过", undo_pack: "退药",
};
export const FLAG_TYPE = {
  duplicate_trace_code: "追溯码重复使用",
  pharmacy_shopping: "多处购药",
  overlapping_supply: "重复开药（用药时间重叠）",
  county_mismatch: "药店申报区县与实际位置不符",
  expired_dispense_attempt: "处方过期后尝试发药",
  price_above_agreement: "售价高于协议价",
  volume_outlier: "发药量异常",
  double_claim: "重复报销",
  procurement_behind_schedule: "集采进度落后",
  non_selected_share_high: "非中选产品占比过高",
  supply_overdue: "集采供应逾期",
  selected_price_renegotiated: "中选产品未按中选价格采购（再次议价）",
  unevaluated_generic_above_selected_price: "未过评仿制药采购价高于中选价格",
  pharmacy_refusals: "药店频繁退回或未发药（同一原因）",
  signature_invalid: "处方电子签名验证失败",
  history_broken: "历史记录链被篡改",
};
export const STAGE = { reported: "待企业答复", replied: "企业已答复", resolved: "已解决" };
export const SUPPLY_STATE = {
  awaiting_reply: "等待企业答复", reply_overdue: "答复逾期", in_progress: "整改中", fix_overdue: "整改逾期", resolved: "已解决",
};
export const DECLARATION_STATUS = { submitted: "待医保局审核", returned: "已退回（需重新申报）", accepted: "已确认" };
export const PRODUCT_STATUS = { selected: "中选", non_selected: "非中选", backup: "备供" };
export const PROCUREMENT_ALERTS = ["procurement_behind_schedule", "non_selected_share_high", "supply_overdue",
  "selected_price_renegotiated", "unevaluated_generic_above_selected_price"];
export const SEVERITY = { high: "高", medium: "中", low: "低" };
export const FLAG_STATUS = { open: "待审核", confirmed: "已确认", dismissed: "已排除" };
export const SETTLEMENT_MODE = { direct: "直接结算", manual: "手工报销（异地备案）" };

/** Labels of evidence keys in audit flags; unknown keys are shown as they are. */
export const EVIDENCE = {
  trace_code: "追溯码", drug_code: "药品", generic_name: "通用名", pharmacy_code: "药店",
  first_pharmacy_code: "首次发药药店", first_pharmacy_county: "首次发药药店所在区县",
  first_prescription_id: "首次发药处方号", first_dispensed_at: "首次发药时间",
  attempt_pharmacy_code: "再次使用药店", attempt_prescription_id: "再次使用处方号",
  pharmacies: "涉及药店", physicians: "涉及医师", prescriptions: "涉及处方", prescription_id: "处方号",
  declared_adcode: "申报区县代码", computed_adcode: "实际所在区县代码", computed_name: "实际所在区县",
  lat: "纬度", lon: "经度", valid_until: "处方有效期至", attempted_at: "尝试发药时间",
  patient_id: "患者编号", window_days: "统计天数", threshold: "阈值", count: "次数",
  remaining_share: "剩余用量占比", price: "售价", agreed_price: "协议价",
  institution_code: "医疗机构", product_code: "集采产品", batch_code: "集采批次", year_start: "协议年度起",
  year_end: "协议年度止", agreed: "约定采购量", purchased: "已采购量", completed_share: "完成比例",
  schedule_share: "时间进度", tolerance: "容差", as_of: "统计截至", rule: "依据", non_selected_share: "非中选产品占比",
  selected_quantity: "中选产品采购量", non_selected_quantity: "非中选产品采购量", compliant: "是否合规",
  reasons: "说明", supply_problem_id: "供应问题编号", company: "企业", stage: "处理阶段", due: "期限",
  overdue_working_days: "逾期工作日", escalated_from: "原所属地区", escalated_to: "上报至", line_id: "执行记录编号",
  batch_id: "批次编号", assessed_completed_share: "合并考核完成比例", escalation_rule: "上报依据", purchase_id: "采购记录编号", date: "采购日期",
  quantity: "数量", amount: "金额", unit_price_paid: "实际采购单价", unit_price_allowed: "应执行单价",
  supplier: "供应企业", reference: "订单/发票号", status: "产品状态",
  reason_code: "原因代码", reason_label: "原因", actions: "退回 / 未发药次数",
  prescription_ids: "涉及处方",
  number: "处方编号", physician_code: "开方医师", key_id: "签名密钥编号", problem: "问题",
  step: "环节", checked_at: "验证时间", chain: "记录链", link: "链节序号", row: "记录",
};

const FIELD = {
  id_number: "身份证号", "pickup.id_number": "代办人身份证号", "pickup.name": "代办人姓名",
  "pickup.relation": "与患者关系", pickup: "代办人", name: "姓名", insurance: "参保类型", region: "统筹地区",
  filed_region: "备案地区", patient_id: "患者", diagnosis: "诊断", valid_days: "处方有效期", items: "药品",
  drug_code: "药品", quantity: "数量", days_supply: "用药天数", dosage: "用法用量", pharmacy_code: "药店",
  trace_codes: "追溯码", reason: "原因", force: "强制", decision: "审核结论", note: "审核意见",
  valid_until: "有效期", lat: "纬度", lon: "经度", crs: "坐标系", body: "请求内容", cursor: "翻页参数",
  limit: "条数", status: "状态", type: "类型",
  product_code: "集采产品", year_start: "协议年度", explanation: "书面说明", institution_code: "医疗机构",
  description: "问题描述", company: "企业", reported_on: "报告日期", as_of: "统计截至", replied_on: "答复日期",
  promised_fix: "承诺解决日期", resolved_on: "解决日期", confirmed_on: "确认日期", ratio: "约定比例",
  outcome: "审方结论", reason_code: "原因", "Idempotency-Key": "请求编号", licence_number: "执业药师注册证编号", pharmacist: "药师",
  physician_code: "医师", compromised_since: "密钥泄露时间",
};

// Why a signature is not trusted: the `reason` of a signature_invalid problem (the keys of
// signatures/rules.py PROBLEMS).
const SIGNATURE_PROBLEM = {
  unsigned: "处方没有电子签名",
  key_unknown: "签名密钥不存在",
  key_of_another_holder: "签名密钥不属于签名人",
  certificate_invalid: "签名密钥未经本系统 CA 签发",
  key_not_valid_at_signing: "签名时密钥不在有效期内",
  key_revoked: "签名密钥在签名时间之前已被吊销",
  content_changed: "处方内容在签名后被修改，与电子签名不符",
};

/** A field name of an `errors` map in Chinese: `items.0.quantity` -> 第1项药品的数量. */
export function fieldLabel(key) {
  if (FIELD[key]) return FIELD[key];
  const parts = String(key).split(".");
  const index = parts.findIndex((p) => /^\d+$/.test(p));
  if (index > 0) {
    const head = FIELD[parts.slice(0, index).join(".")] || parts[0];
    const rest = parts.slice(index + 1).join(".");
    const inner = rest.match(/^(\w+)\.(\d+)$/);  // items.0.trace_codes.2 -> 第1项药品的第3个追溯码
    if (inner) return `第${Number(parts[index]) + 1}项${head}的第${Number(inner[2]) + 1}个${FIELD[inner[1]] || inner[1]}`;
    const tail = rest && (FIELD[rest] || rest) !== head ? `的${FIELD[rest] || rest}` : "";  // items.0.drug_code: 第1项药品
    return `第${Number(parts[index]) + 1}项${head}${tail}`;
  }
  return key;
}

const status = (s) => PRESCRIPTION_STATUS[s] || PHARMACY_STATUS[s] || s;
const action = (a) => ACTION[a] || ACTION[a.replace(/e?d$/, "")] || a;

// The zh-CN text of every problem code, generated from the service's registry
// (dualchannel/problems.py, served as /problems.js): the pages translate codes, not sentences.
// `{member}` placeholders are filled from the problem's own members.
const FILL = {
  status_now: (v) => status(v), action: (v) => action(v), reason: (v) => SIGNATURE_PROBLEM[v] || v,
  stage: (v) => STAGE[v] || v, target: (v) => STAGE[v] || v, role: (v) => ROLE[v] || v,
};

/** The Chinese message of a problem+json, from its `code`; null for a code this page does not know. */
export function problemMessage(problem) {
  const entry = problem && PROBLEMS[problem.code];
  if (!entry) return null;
  return entry.zh.replace(/\{(\w+)\}/g, (_, name) => {
    const value = problem[name];
    if (value === undefined || value === null) return "";
    return FILL[name] ? FILL[name](String(value)) : String(value);
  });
}

// Messages of single fields (the values of a 422's `errors`): marshmallow's and the services'.
// Details are translated by code above; only these per-field texts are matched, first match wins.
const FIELD_MESSAGES = [
  [/^Too many requests \((\w+): at most (.+)\); retry after (\d+) s\.$/, (m) => `操作过于频繁，请在 ${m[3]} 秒后再试。`],
  [/^A patient with this ID number already exists\.$/, () => "该身份证号的参保人已经登记。"],
  [/^The request has invalid fields\.$/, () => "提交的内容有误："],
  [/^The request body is not valid JSON\.$/, () => "请求格式有误。"],
  [/^A prescription is valid 1 to 3 days\.$/, () => "处方有效期为 1 至 3 天。"],
  [/^Each drug appears once\.$/, () => "同一药品在一张处方中只能出现一次。"],
  [/^A pharmacist reviews \(审方\) a prescription before it is dispensed\.$/, () => "处方须经药师审方通过后才能发药。"],
  [/^An approval carries no reason code\.$/, () => "审方通过时不填写不通过原因。"],
  [/^Only for a refusal\.$/, () => "仅在审方不通过时填写。"],
  [/^A pharmacist with licence (\S+) is registered\.$/, (m) => `执业药师注册证编号 ${m[1]} 已经登记。`],
  [/^Not a pharmacist of this pharmacy\.$/, () => "不是本药店的药师。"],
  [/^Unknown pharmacist\.$/, () => "未知的药师。"],
  [/^Only a pharmacy's token is bound to a pharmacist\.$/, () => "只有药店账户可以绑定药师。"],
  [/^Not a pharmacy\.$/, () => "不是药店。"],
  [/^6 to 32 letters and digits\.$/, () => "须为 6 至 32 位字母或数字。"],
  [/^Give physician_code or pharmacist\.$/, () => "请填写医师编码或药师执业注册证编号（二选一）。"],
  [/^Unknown physician\.$/, () => "未知的医师。"],
  [/^A key is revoked from now or from a past instant\.$/, () => "密钥只能从现在或过去的某一时刻起吊销。"],
  [/^The request has fields this route does not take: (.+)\.$/, (m) => `请求中含有本功能不接受的字段：${m[1]}。`],
  [/^The cursor is not one this service issued\.$/, () => "翻页参数无效，请重新查询。"],
  [/^A value is too large or too long to be stored\.$/, () => "有数值过大或文字过长，无法保存。"],
  [/^The database is not (answering|reachable)/, () => "数据库暂时无法访问，请稍后重试。"],
  [/^Required: one of (.+)\.$/, () => "请从列表中选择原因。"],
  [/^Not a reason code for (\w+): one of (.+)\.$/, (m) => `该原因不适用于${action(m[1])}，请从列表中选择。`],
  [/^Reason (\S+) needs a note saying what happened\.$/, () => "选择“其他原因”时须填写说明。"],
  [/^(.+) has no cold chain for a cold-chain drug\.$/, (m) => `${m[1]}没有冷链条件，不能调配冷链药品。`],
  [/^(.+) does not require eligibility\.$/, (m) => `${m[1]}无需认定待遇资格。`],
  [/^valid_until is in the past\.$/, () => "有效期不能早于今天。"],
  [/^Give lat and lon together\.$/, () => "请同时填写纬度和经度。"],
  [/^The cursor is not one this service issued\.$/, () => "翻页参数无效，请刷新列表。"],
  [/^No pharmacy (\S+)\.$/, (m) => `没有找到药店 ${m[1]}。`],
  [/^No patient (\S+)\.$/, (m) => `没有找到患者 ${m[1]}。`],
  [/^(Drug|Pharmacy|Institution|Physician) (\S+) already exists\.$/,
    (m) => `${{ Drug: "药品", Pharmacy: "药店", Institution: "医疗机构", Physician: "医师" }[m[1]]} ${m[2]} 已经登记。`],
  [/^Only the pharmacy itself sets its stock\.$/, () => "只有药店本身可以设置库存。"],
  [/^A bureau's subject is the 6-digit adcode of its region\.$/, () => "医保局账户须对应其辖区的 6 位行政区划代码。"],
  [/^This role needs a subject\.$/, () => "此类账户须指定所代表的机构或地区。"],
  // Procurement (集采): batches, products, volumes, purchases, declarations, supply problems.
  [/^An institution (.+) only for itself\.$/, () => "医疗机构只能为本机构办理此事项。"],
  [/^A bureau (.+) only inside its own region\.$/, () => "医保局只能在本辖区内办理此事项。"],
  [/^The cycle ends before it starts\.$/, () => "采购周期的结束日期早于开始日期。"],
  [/^The effective date is outside the cycle\.$/, () => "执行日期不在采购周期内。"],
  [/^Batch (\S+) already exists\.$/, (m) => `集采批次 ${m[1]} 已经存在。`],
  [/^Product (\S+) already exists\.$/, (m) => `集采产品 ${m[1]} 已经存在。`],
  [/^Within the cycle, less than (\d+) months after cycle_start\.$/, (m) => `须在采购周期内，且距周期开始不足 ${m[1]} 个月。`],
  [/^The base period is empty\.$/, () => "基期为空：开始日期须早于结束日期。"],
  [/^A purchase with reference (\S+) is already recorded\.$/, (m) => `采购单号 ${m[1]} 已经登记过了。`],
  [/^Institutions declare their own demand\.$/, () => "需求量由医疗机构自行申报。"],
  [/^Supply problems concern selected products\.$/, () => "只有中选产品可以报告供应问题。"],
  [/^The server failed; the error was logged\.$/, () => "服务器内部错误，已记录日志，请稍后重试或联系管理员。"],
  // Messages of single fields.
  [/^Missing data for required field\.$/, () => "必须填写。"],
  [/^Missing\.$/, () => "必须填写。"],
  [/^Field may not be null\.$/, () => "必须填写。"],
  [/^Not a valid integer\.$/, () => "须为整数。"],
  [/^Not a valid number\.$/, () => "须为数字。"],
  [/^Not a valid string\.$/, () => "须为文字。"],
  [/^Not a valid boolean\.$/, () => "须为是或否。"],
  [/^Not a valid date\.$/, () => "日期格式有误。"],
  [/^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$/, (m) => `须在 ${m[1]} 至 ${m[2]} 之间。`],
  [/^Must be greater than or equal to (\S+)\.$/, (m) => `不能小于 ${m[1]}。`],
  [/^Length must be between (\d+) and (\d+)\.$/, (m) => `长度须为 ${m[1]} 至 ${m[2]} 个字符。`],
  [/^Must be one of: (.+)\.$/, () => "取值不在允许范围内。"],
  [/^Shorter than minimum length (\d+)\.$/, (m) => `至少 ${m[1]} 项。`],
  [/^A 6-digit administrative division code\.$/, () => "须为 6 位行政区划代码。"],
  [/^No such administrative division\.$/, () => "没有这个行政区划代码。"],
  [/^A date from (\S+) to (\S+)\.$/, (m) => `日期须在 ${m[1]} 至 ${m[2]} 之间。`],
  [/^Unknown field\.$/, () => "不接受此字段。"],
  [/^Invalid cursor\.$/, () => "翻页参数无效。"],
  [/^At most (\d+) levels of nesting\.$/, (m) => `嵌套不能超过 ${m[1]} 层。`],
  [/^1-32 letters, digits, - or _\.$/, () => "须为 1 至 32 位字母、数字、- 或 _。"],
  [/^Does not match the patient\.$/, () => "与处方患者的身份证号不一致。"],
  [/^Unknown drug\.?$/, () => "未知药品。"],
  [/^Unknown drug (\S+)\.$/, (m) => `未知药品 ${m[1]}。`],
  [/^Unknown patient\.$/, () => "未知患者。"],
  [/^Unknown pharmacy\.$/, () => "未知药店。"],
  [/^(.+) is not a dual-channel drug\.$/, (m) => `${m[1]}不是双通道药品。`],
  [/^At most 84 days' supply/, () => "用药天数最多 84 天（长期处方不超过 12 周）。"],
  [/^No eligibility \(待遇准入\) recorded for (.+)\.$/, (m) => `${m[1]}尚未认定待遇资格（待遇准入），请先认定。`],
  [/^Eligibility for (.+) expired on (\S+); a re-examination \(复查评估\) must renew it\.$/,
    (m) => `${m[1]}的待遇资格已于 ${m[2]} 到期，须复查评估后续期。`],
  [/^(\d+) units prescribed: one trace code per unit, (\d+) given\.$/, (m) => `处方数量为 ${m[1]}，须每盒一个追溯码，实际 ${m[2]} 个。`],
  [/^Not a traceability code: (.+)\.$/, (m) => `不是有效的追溯码：${m[1]}。`],
  [/^Not a traceability code \(药品追溯码\)(: 20 digits)?\.$/, () => "不是有效的药品追溯码（应为 20 位数字）。"],
  [/^20 digits\.$/, () => "应为 20 位数字。"],
  [/^(\d+) units prescribed: at most (\d+) trace codes, (\d+) given\.$/, (m) => `处方数量为 ${m[1]}，最多 ${m[2]} 个追溯码，实际 ${m[3]} 个。`],
  [/^(\d{20}) is also at (\S+): one code is one pack\.$/, (m) => `追溯码 ${m[1]} 重复扫描：一个追溯码就是一盒药。`],
  [/^(\d{20}) is not a code of (.+) \((\S+), product codes ([\d, ]+)\); it belongs to (.+) \((\S+)\)\.$/,
    (m) => `追溯码 ${m[1]} 不是${m[2]}的药品追溯码（药品标识码应为 ${m[4]}），它属于${m[5]}。`],
  [/^(\d{20}) is not a code of (.+) \((\S+), product codes ([\d, ]+)\)\.$/,
    (m) => `追溯码 ${m[1]} 不是${m[2]}的药品追溯码（药品标识码应为 ${m[4]}）。`],
  [/^(\d+) units are covered before trace code (\S+); scan only the packs used\.$/, (m) => `前面的药盒已够 ${m[1]} 个单位，追溯码 ${m[2]} 多余：只扫实际使用的药盒。`],
  [/^The packs scanned hold (\d+) of the (\d+) units prescribed\.$/, (m) => `所扫药盒只剩 ${m[1]} 个单位，处方需要 ${m[2]} 个。`],
  [/^A product identification code belongs to another drug\.$/, () => "药品标识码已属于其他药品。"],
  [/^(\d{7}) is (\S+)'s\.$/, (m) => `药品标识码 ${m[1]} 已属于 ${m[2]}。`],
  [/^No pack with this trace code was dispensed\.$/, () => "该追溯码没有发药记录。"],
  [/^Claim (\d+) is decided by the bureau of the patient's insured region \((\d+)\)\.$/,
    (m) => `报销申请 ${m[1]} 由患者参保地（${m[2]}）医保局审核。`],
  [/^Claim (\d+) was charged in full: add the (\w+) policy of region (\d+) in force on (\S+) to adjudicate it\.$/,
    (m) => `报销申请 ${m[1]} 已全额自付：请先录入参保地 ${m[3]} 在 ${m[4]} 有效的${INSURANCE[m[2]] || m[2]}结算政策，再审核。`],
  [/^Settlement (\d+) was settled directly; only manual claims are decided\.$/, (m) => `结算 ${m[1]} 为直接结算，只有手工报销需要审核。`],
  [/^This pack was already returned and undone\.$/, () => "该药盒已退药撤销。"],
  [/^The pack was undone by another request\.$/, () => "该药盒已被另一请求退药。"],
  [/^The pack was dispensed in parts \(拆零\): an opened pack cannot be returned\.$/, () => "该药盒已拆零发药：已拆封的药盒不能退药。"],
  [/^The prescription is settled: reverse the settlement \(冲正\) first, then undo the pack\.$/, () => "处方已结算：请先冲正结算，再退药。"],
  [/^The prescription is (\S+); only a pack of a dispensed, unsettled prescription can be undone\.$/,
    (m) => `处方状态为“${status(m[1])}”：只有已发药、未结算的处方才能退药。`],
  [/^Packs can be undone within (\d+) days of dispensing; this one was dispensed at (\S+)\.$/,
    (m) => `只能在发药后 ${m[1]} 天内退药；该药盒发药时间为 ${m[2]}。`],
  [/^(.+) \((\S+)\) is (\S+): only an admitted dual-channel pharmacy may verify, dispense, settle or undo\.$/,
    (m) => `${m[1]}（${m[2]}）当前状态为“${status(m[3])}”：只有在用的双通道药店才能核验、发药、结算或退药。`],
  [/^(.+) has no electronic traceability of the drugs it sells \(药品电子追溯\); seed 003 requires it for admission\.$/,
    (m) => `${m[1]}尚未实现所售药品电子追溯，不符合双通道药店准入条件。`],
  [/^The agent picking up \(代取人\) is the patient; an agent is another person\.$/, () => "代取人就是患者本人：代取人必须是另一人。患者本人取药时无需填写代取人。"],
  [/^The patient's own ID number; leave pickup out when the patient collects in person\.$/, () => "这是患者本人的身份证号；本人取药时不要填写代取人。"],
  [/^A code appears twice: (.+)\.$/, (m) => `追溯码重复：${m[1]}。`],
  [/^Not dispensed: (.+)\.$/, (m) => `以下药品未扫码：${m[1]}。`],
  [/^(\S+) is not on this prescription\.$/, (m) => `${m[1]} 不在此处方上。`],
  [/^(\S+) is listed twice\.$/, (m) => `${m[1]} 重复列出。`],
  [/^A drug is listed twice\.$/, () => "同一药品列出了两次。"],
  [/^Outside the patient's coordinating region/, () => "不在患者的统筹地区内。"],
  [/^No cold-chain storage\.$/, () => "没有冷链贮存条件。"],
  [/^Pharmacy is (\w+)\.$/, (m) => `药店当前为“${status(m[1])}”。`],
  [/^Must be today or later\.$/, () => "不能早于今天。"],
  [/^Must not be blank\.$/, () => "不能为空。"],
  [/^At most (\d+) characters\.$/, (m) => `最多 ${m[1]} 个字符。`],
  [/^1 to 3\.$/, () => "须为 1 至 3 天。"],
  [/^Outside China\.$/, () => "不在中国境内。"],
  [/^Not an adcode\.$/, () => "不是行政区划代码。"],
  [/^One of (.+)\.$/, (m) => `须为以下之一：${m[1]}。`],
  [/^In no county\.$/, () => "不在任何县级区划内。"],
  [/^Invalid cursor\.$/, () => "翻页参数无效。"],
  [/^No eligibility needed\.$/, () => "无需认定资格。"],
  [/^Unknown institution\.$/, () => "未知的医疗机构。"],
  [/^Unknown product\.$/, () => "未知的集采产品。"],
  [/^Before cycle_start\.$/, () => "早于周期开始日期。"],
  [/^Outside the cycle\.$/, () => "不在采购周期内。"],
  [/^Between (\S+) and (\S+)\.$/, (m) => `须在 ${m[1]} 至 ${m[2]} 之间。`],
  [/^Must be before base_end\.$/, () => "须早于基期结束日期。"],
  [/^Required below the history of (\d+) \((.+)\)\.$/, (m) => `低于历史使用量 ${m[1]}（${m[2]}）时必须填写。`],
  [/^In the future\.$/, () => "不能晚于今天。"],
  [/^Not before (\S+)\.$/, (m) => `不能早于 ${m[1]}。`],
  [/^Not a selected product\.$/, () => "不是中选产品。"],
  [/^Outside the procurement cycle (\S+)\.\.(\S+) of batch (\S+)\.$/, (m) => `不在集采批次 ${m[3]} 的采购周期（${m[1]} 至 ${m[2]}）内。`],
];

const ID_REASONS = {
  "must be 18 characters": "应为 18 位",
  "must be 17 digits and a check digit or X": "应为 17 位数字加 1 位校验码（数字或 X）",
  "check digit does not match (ISO 7064 MOD 11-2)": "校验码不正确",
  "birth date is not a real date": "出生日期不存在",
  "birth date is out of range": "出生日期超出范围",
  "must be a string": "格式有误",
};

/** A field message (a value of a 422's `errors`) in Chinese, or null when this page does not know it. */
export function translateField(message) {
  if (typeof message !== "string") return null;
  if (ID_REASONS[message]) return ID_REASONS[message];
  for (const [pattern, render] of FIELD_MESSAGES) {
    const match = message.match(pattern);
    if (match) return render(match);
  }
  return null;
}

const TITLE = {
  0: "无法连接服务器，请检查网络后重试。",
  400: "请求有误。",
  401: "未登录或访问令牌无效。",
  403: "无权执行此操作。",
  404: "没有找到。",
  405: "服务器不支持此操作。",
  409: "与当前状态冲突。",
  413: "提交的内容过大。",
  415: "请求格式有误。",
  422: "提交的内容不符合规则。",
  429: "操作过于频繁，请稍后再试。",
  500: "服务器内部错误。",
  503: "服务暂时不可用，请稍后再试。",
};

function flatten(errors, prefix = "") {
  // errors: {field: [messages]} possibly nested ({items: {0: {quantity: [...]}}}).
  const out = [];
  if (Array.isArray(errors)) {
    for (const item of errors) {
      if (typeof item === "string") out.push([prefix, item]);
      else out.push(...flatten(item, prefix));
    }
  } else if (errors && typeof errors === "object") {
    for (const [key, value] of Object.entries(errors)) {
      out.push(...flatten(value, prefix ? `${prefix}.${key}` : key));
    }
  } else if (errors !== undefined && errors !== null) {
    out.push([prefix, String(errors)]);
  }
  return out;
}

/**
 * What to show for a failed call: {message, fields: [[label, text]], original}.
 * Known server messages are translated; an unknown one is shown under a Chinese heading
 * with the server's own words, so nothing is hidden from the user.
 */
export function describeError(error) {
  const problem = (error && error.problem) || {};
  const code = error && typeof error.status === "number" ? error.status : 500;
  const known = problemMessage(problem);
  const heading = TITLE[code] || `请求失败（${code}）。`;
  const fields = flatten(problem.errors).map(([key, text]) => [fieldLabel(key), translateField(text) || text]);
  let message = known || heading;
  let original = null;
  if (!known && problem.detail && code !== 0) original = problem.detail;
  if (code === 0) message = TITLE[0];
  return { message, fields, original, status: code };
}

/** An ISO instant as China time, e.g. 2025-11-25 14:03. */
export function formatInstant(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = Object.fromEntries(new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** The last valid day of an exclusive end instant (midnight after it), e.g. 2025-11-28. */
export function formatLastDay(iso) {
  if (!iso) return "—";
  const end = new Date(iso);
  if (Number.isNaN(end.getTime())) return iso;
  return formatInstant(new Date(end.getTime() - 1000).toISOString()).slice(0, 10);
}

/** Today's date in China (YYYY-MM-DD), whatever the machine's zone. */
export function chinaToday() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** Money as the API gives it ("12345.60") with thousands separators, never through a float. */
export function formatMoney(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  const match = text.match(/^(-?)(\d+)(\.\d+)?$/);
  if (!match) return text;
  return `${match[1]}${match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${match[3] || ""}`;
}

/** Who reviewed a prescription (审方) and the outcome, or that no pharmacist has yet. */
export function reviewLabel(p) {
  const r = p.review;
  if (!r) return "尚未审方";
  const who = `药师 ${r.pharmacist.name}（执业药师注册证 ${r.pharmacist.licence_number}）`;
  const outcome = r.outcome === "approved" ? "审方通过" : `审方不通过：${r.reason_label || r.reason_code}${r.note ? `（${r.note}）` : ""}`;
  return `${who}${outcome}，${formatInstant(r.reviewed_at)}`;
}

/** Who collected a prescription: the patient, or an agent with relation and masked ID. */
export function pickupLabel(p) {
  if (!p.pickup) return p.verified_at ? "患者本人" : "尚未核验";
  if (!p.pickup.agent) return `患者本人（${p.pickup.id_number_masked}）`;
  return `代办人 ${p.pickup.name}（${p.pickup.relation}，${p.pickup.id_number_masked}）`;
}
