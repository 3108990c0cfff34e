// Chinese labels for the API's codes, and Chinese messages for its problem+json errors.
// The API speaks English to integrators; the people at the desk and the counter read Chinese.
import { FIELDS, PROBLEMS } from "/problems.js";

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

/**
 * A field's message in Chinese, from its code (`error_codes`, beside `errors`), filled with the
 * values the problem gives; null for a code this page does not know.
 */
export function fieldMessage(entry) {
  const zh = entry && FIELDS[entry.code];
  if (!zh || entry.code === "uncoded") return null;
  return zh.replace(/\{(\w+)\}/g, (_, name) => {
    const value = entry[name];
    if (value === undefined || value === null) return "";
    return FILL[name] ? FILL[name](String(value)) : String(value);
  });
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
  const codes = problem.error_codes || {};
  const seen = {};
  const fields = flatten(problem.errors).map(([key, text]) => {
    const index = (seen[key] = (seen[key] ?? -1) + 1);
    return [fieldLabel(key), fieldMessage((codes[key] || [])[index]) || text];
  });
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
