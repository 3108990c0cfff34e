// Chinese labels for the API's codes, and Chinese messages for its problem+json errors.
// The API speaks English to integrators; the people at the desk and the counter read Chinese.

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

// Why a signature is not trusted (the English of signatures/rules.py PROBLEMS).
const SIGNATURE_PROBLEM = {
  "it carries no signature": "处方没有电子签名",
  "its signing key is not on record": "签名密钥不存在",
  "its signing key belongs to someone else": "签名密钥不属于签名人",
  "its signing key was not certified by the service's CA": "签名密钥未经本系统 CA 签发",
  "its signing key was not valid at the signing time": "签名时密钥不在有效期内",
  "its signing key was revoked before the signing time": "签名密钥在签名时间之前已被吊销",
  "its content no longer matches its signature": "处方内容在签名后被修改，与电子签名不符",
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
    const tail = rest ? `的${FIELD[rest] || rest}` : "";
    return `第${Number(parts[index]) + 1}项${head}${tail}`;
  }
  return key;
}

const status = (s) => PRESCRIPTION_STATUS[s] || PHARMACY_STATUS[s] || s;
const action = (a) => ACTION[a] || ACTION[a.replace(/e?d$/, "")] || a;

// Server messages (English) and their Chinese equivalents. Order matters: first match wins.
const MESSAGES = [
  [/^The ID number is not the patient's\.$/, () => "身份证号与处方患者不一致，请核对后重试。"],
  [/^(.+?) is not a valid resident ID number: (.+)\.$/, (m) => `${fieldLabel(m[1])}不是有效的居民身份证号（${idReason(m[2])}）。`],
  [/^No patient with this ID number and name\.$/, () => "没有找到身份证号与姓名相符的参保人：请核对身份证号和姓名。"],
  [/^The name is blank\.$/, () => "姓名不能为空。"],
  [/^The name is too long\.$/, () => "姓名过长。"],
  [/^Too many requests \((\w+): at most (.+)\); retry after (\d+) s\.$/, (m) => `操作过于频繁，请在 ${m[3]} 秒后再试。`],
  [/^Say which token: the token, its id, or a role and subject\.$/, () => "请指明要停用的访问令牌：令牌本身、其编号，或角色与账户。"],
  [/^A patient with this ID number already exists\.$/, () => "该身份证号的参保人已经登记。"],
  [/^A trace code was already dispensed; the pack cannot be sold twice\.$/, () => "追溯码已被使用过：同一盒药不能销售两次。请核对药盒后重新扫码。"],
  [/^Not enough stock to dispense this prescription\.$/, () => "本药店库存不足，无法发药。"],
  [/^The trace codes do not match the prescription\.$/, () => "追溯码与处方不符："],
  [/^The prescription breaks dual-channel rules\.$/, () => "处方不符合双通道管理规定："],
  [/^The request has invalid fields\.$/, () => "提交的内容有误："],
  [/^The request body is not valid JSON\.$/, () => "请求格式有误。"],
  [/^A prescription is valid 1 to 3 days\.$/, () => "处方有效期为 1 至 3 天。"],
  [/^Each drug appears once\.$/, () => "同一药品在一张处方中只能出现一次。"],
  [/^A prescription that is (\w+) cannot be dispensed( before verification)?\.$/,
    (m) => `处方当前为“${status(m[1])}”，不能发药${m[2] ? "：请先完成实名核验" : ""}。`],
  [/^A prescription that is (\w+) does not allow (\w+)\.$/, (m) => `处方当前为“${status(m[1])}”，不能${action(m[2])}。`],
  [/^Prescription (\d+) expired at (.+)\.$/, (m) => `处方 ${m[1]} 已于 ${formatInstant(m[2])} 过期。`],
  [/^Prescription (\d+) was changed by another request\.$/, (m) => `处方 ${m[1]} 刚被其他操作修改，请刷新后重试。`],
  [/^Prescription (\d+) is refused: (.+)\.$/,
    (m) => `处方 ${m[1]} 电子签名验证未通过：${SIGNATURE_PROBLEM[m[2]] || m[2]}。已向医保局报告，请勿发药。`],
  [/^A prescription is reviewed \(审方\) by a pharmacist: sign in with a pharmacist's token\.$/,
    () => "审方须由执业药师完成：请使用药师本人的账户登录。"],
  [/^A pharmacist reviews \(审方\) a prescription before it is dispensed\.$/, () => "处方须经药师审方通过后才能发药。"],
  [/^The token's pharmacist is not one of this pharmacy's\.$/, () => "当前账户的药师不属于本药店。"],
  [/^An approval carries no reason code\.$/, () => "审方通过时不填写不通过原因。"],
  [/^A refusal names its reason code\.$/, () => "审方不通过须选择原因。"],
  [/^A refusal for another reason says which\.$/, () => "不通过原因为“其他”时须填写审方意见。"],
  [/^Only for a refusal\.$/, () => "仅在审方不通过时填写。"],
  [/^Required with reason_code other\.$/, () => "原因为“其他”时必须填写。"],
  [/^A pharmacist with licence (\S+) is registered\.$/, (m) => `执业药师注册证编号 ${m[1]} 已经登记。`],
  [/^No pharmacist with licence (\S+)( at pharmacy (\S+))?\.$/, (m) => `没有找到执业药师注册证编号为 ${m[1]} 的药师${m[3] ? `（药店 ${m[3]}）` : ""}。`],
  [/^Not a pharmacist of this pharmacy\.$/, () => "不是本药店的药师。"],
  [/^Unknown pharmacist\.$/, () => "未知的药师。"],
  [/^Only a pharmacy's token is bound to a pharmacist\.$/, () => "只有药店账户可以绑定药师。"],
  [/^Not a pharmacy\.$/, () => "不是药店。"],
  [/^6 to 32 letters and digits\.$/, () => "须为 6 至 32 位字母或数字。"],
  [/^No valid signing key for (\S+): its keys are revoked or expired; an admin or the bureau issues a new one \(dualchannel keys issue\)\.$/,
    () => "您的电子签名密钥已吊销或过期，暂不能签名：请联系医保局或系统管理员签发新密钥。"],
  [/^Name one holder: a physician or a pharmacist\.$/, () => "请指定一位医师或药师。"],
  [/^Give physician_code or pharmacist\.$/, () => "请填写医师编码或药师执业注册证编号（二选一）。"],
  [/^No physician (\S+)\.$/, (m) => `没有找到医师 ${m[1]}。`],
  [/^Unknown physician\.$/, () => "未知的医师。"],
  [/^A bureau issues and revokes keys only inside its own region\.$/, () => "医保局只能为本辖区的医师和药师签发或吊销密钥。"],
  [/^No signing key (\S+)\.$/, (m) => `没有找到签名密钥 ${m[1]}。`],
  [/^A key is revoked from now or from a past instant\.$/, () => "密钥只能从现在或过去的某一时刻起吊销。"],
  [/^Signing key (\S+) is already revoked\.$/, (m) => `签名密钥 ${m[1]} 已经吊销。`],
  [/^Only a responsible physician \(医保责任医师\) issues dual-channel prescriptions\.$/, () => "只有医保责任医师可以开具双通道处方。"],
  [/^Only a responsible physician \(医保责任医师\) records eligibility\.$/, () => "只有医保责任医师可以认定待遇资格。"],
  [/^Only a responsible physician \(医保责任医师\) reviews re-examinations\.$/, () => "只有医保责任医师可以查看复查评估名单。"],
  [/^No such resource\.$/, () => "没有找到该对象。"],
  [/^Unknown insurance type (.+)\.$/, (m) => `未知的参保类型：${m[1]}。`],
  [/^The request has values no record can hold\.$/, () => "请求中含有无法保存的字符或过大的数字。"],
  [/^The request has fields this route does not take: (.+)\.$/, (m) => `请求中含有本功能不接受的字段：${m[1]}。`],
  [/^The JSON body is nested more than (\d+) levels deep\.$/, (m) => `请求内容的嵌套超过 ${m[1]} 层。`],
  [/^The cursor is not one this service issued\.$/, () => "翻页参数无效，请重新查询。"],
  [/^A value is too large or too long to be stored\.$/, () => "有数值过大或文字过长，无法保存。"],
  [/^The database is not (answering|reachable)/, () => "数据库暂时无法访问，请稍后重试。"],
  [/^The data value transmitted exceeds the capacity limit\.$/, () => "提交的内容过大。"],
  [/^No agent picked up prescription (\d+)\.$/, (m) => `处方 ${m[1]} 不是由代办人取药的。`],
  [/^Only the pharmacy it is routed to may (\w+) this prescription\.$/, (m) => `只有处方流转到的药店可以${action(m[1])}此处方。`],
  [/^Only the prescribing physician may (\w+) this prescription\.$/, (m) => `只有开方医师可以${action(m[1])}此处方。`],
  [/^The role (\w+) may not do this\.$/, (m) => `${ROLE[m[1]] || m[1]}账户无权执行此操作。`],
  [/^A pharmacy that is (\w+) cannot be (\w+)\.$/, (m) => `药店当前为“${status(m[1])}”，不能${action(m[2])}。`],
  [/^Pharmacy (\S+) changed meanwhile; try again\.$/, (m) => `药店 ${m[1]} 的状态刚被修改，请刷新后重试。`],
  [/^(.+) is the only active dual-channel pharmacy in (.+) \([^)]+\): to \w+ it would leave the county without one\. Send force: true with a reason to do it anyway\.$/,
    (m) => `${m[1]}是${m[2]}唯一在用的双通道药店，退出后该区县将没有双通道药店。如确需退出，请填写理由并勾选“仍然强制退出”。`],
  [/^Forcing needs a reason\.$/, () => "强制退出必须填写理由。"],
  [/^A reason is required to (\w+)\.$/, (m) => `${action(m[1])}必须填写理由。`],
  [/^A reason code of the published list is required to (\w+)\.$/, (m) => `${action(m[1])}须选择原因：`],
  [/^Required: one of (.+)\.$/, () => "请从列表中选择原因。"],
  [/^Not a reason code for (\w+): one of (.+)\.$/, (m) => `该原因不适用于${action(m[1])}，请从列表中选择。`],
  [/^Reason (\S+) needs a note saying what happened\.$/, () => "选择“其他原因”时须填写说明。"],
  [/^Flag (\d+) was already reviewed\.$/, (m) => `预警 ${m[1]} 已经审核过了。`],
  [/^(.+) is not an active dual-channel pharmacy\.$/, (m) => `${m[1]}不是在用的双通道药店。`],
  [/^(.+) is outside the patient's coordinating region\.$/, (m) => `${m[1]}不在患者的统筹地区内。`],
  [/^(.+) has no cold chain for a cold-chain drug\.$/, (m) => `${m[1]}没有冷链条件，不能调配冷链药品。`],
  [/^(.+) does not require eligibility\.$/, (m) => `${m[1]}无需认定待遇资格。`],
  [/^valid_until is in the past\.$/, () => "有效期不能早于今天。"],
  [/^The location is not in China\.$/, () => "该位置不在中国境内，请检查经纬度。"],
  [/^The point is not in China\.$/, () => "该位置不在中国境内，请检查经纬度和坐标来源。"],
  [/^Give lat and lon together\.$/, () => "请同时填写纬度和经度。"],
  [/^The location is in no county of China\.$/, () => "该位置不在任何县级区划内，请检查经纬度。"],
  [/^A bureau registers only (inside its own region|patients of its own region)\.$/, () => "医保局只能在本辖区内登记。"],
  [/^A bearer token is required\.$/, () => "请先登录。"],
  [/^The token is unknown or revoked\.$/, () => "访问令牌无效或已停用。"],
  [/^The cursor is not one this service issued\.$/, () => "翻页参数无效，请刷新列表。"],
  [/^No prescription (\S+)\.$/, (m) => `没有找到处方 ${m[1]}（或无权查看）。`],
  [/^No pharmacy (\S+)\.$/, (m) => `没有找到药店 ${m[1]}。`],
  [/^No patient (\S+)\.$/, (m) => `没有找到患者 ${m[1]}。`],
  [/^No drug (\S+)\.$/, (m) => `没有找到药品 ${m[1]}。`],
  [/^No flag (\S+)\.$/, (m) => `没有找到预警 ${m[1]}。`],
  [/^(Drug|Pharmacy|Institution|Physician) (\S+) already exists\.$/,
    (m) => `${{ Drug: "药品", Pharmacy: "药店", Institution: "医疗机构", Physician: "医师" }[m[1]]} ${m[2]} 已经登记。`],
  [/^No pack with trace code (\S+) was dispensed\.$/, (m) => `追溯码 ${m[1]} 没有发药记录。`],
  [/^Only the pharmacy itself sets its stock\.$/, () => "只有药店本身可以设置库存。"],
  [/^Unknown drugs\.$/, () => "有未知的药品："],
  [/^A bureau's subject is the 6-digit adcode of its region\.$/, () => "医保局账户须对应其辖区的 6 位行政区划代码。"],
  [/^This role needs a subject\.$/, () => "此类账户须指定所代表的机构或地区。"],
  [/^Unknown role (.+)\.$/, (m) => `未知的账户类型 ${m[1]}。`],
  // Procurement (集采): batches, products, volumes, purchases, declarations, supply problems.
  [/^No region (\S+) in your scope\.$/, (m) => `辖区内没有区域 ${m[1]}。`],
  [/^An institution (.+) only for itself\.$/, () => "医疗机构只能为本机构办理此事项。"],
  [/^A bureau (.+) only inside its own region\.$/, () => "医保局只能在本辖区内办理此事项。"],
  [/^Which institution\?$/, () => "请指定医疗机构。"],
  [/^No institution or pharmacy (\S+)\.$/, (m) => `没有找到医疗机构或药店 ${m[1]}。`],
  [/^A bureau publishes batches only for its own region\.$/, () => "医保局只能发布本辖区的集采批次。"],
  [/^A bureau changes only batches of its own region; national ones are the admin's\.$/, () => "医保局只能修改本辖区的集采批次；国家批次由系统管理员维护。"],
  [/^The cycle ends before it starts\.$/, () => "采购周期的结束日期早于开始日期。"],
  [/^The effective date is outside the cycle\.$/, () => "执行日期不在采购周期内。"],
  [/^Batch (\S+) already exists\.$/, (m) => `集采批次 ${m[1]} 已经存在。`],
  [/^No batch (\S+)\.$/, (m) => `没有找到集采批次 ${m[1]}。`],
  [/^No procurement product (\S+)\.$/, (m) => `没有找到集采产品 ${m[1]}。`],
  [/^The product is invalid\.$/, () => "产品信息有误："],
  [/^Product (\S+) already exists\.$/, (m) => `集采产品 ${m[1]} 已经存在。`],
  [/^The first agreement year cannot end on (\S+): .+\.$/, (m) => `首个协议年度不能在 ${m[1]} 结束：须在采购周期内结束，且短于 13 个月。`],
  [/^Within the cycle, less than (\d+) months after cycle_start\.$/, (m) => `须在采购周期内，且距周期开始不足 ${m[1]} 个月。`],
  [/^(\S+) does not start an agreement year of batch (\S+)\.$/, (m) => `${m[1]} 不是集采批次 ${m[2]} 的协议年度起始日。`],
  [/^The ratio must be within (\S+)–(\S+)\.$/, (m) => `约定比例须在 ${m[1]} 至 ${m[2]} 之间。`],
  [/^The base period is empty\.$/, () => "基期为空：开始日期须早于结束日期。"],
  [/^The purchase date is not allowed\.$/, () => "采购日期不符合要求："],
  [/^A purchase with reference (\S+) is already recorded\.$/, (m) => `采购单号 ${m[1]} 已经登记过了。`],
  [/^Institutions declare their own demand\.$/, () => "需求量由医疗机构自行申报。"],
  [/^A declaration for this product and year is already (\w+)\.$/,
    (m) => `该产品本年度的申报已${{ submitted: "提交，正在等待医保局审核", accepted: "被医保局确认" }[m[1]] || `处于“${m[1]}”状态`}。`],
  [/^The declaration is below the institution's history of (\d+); explain why\.$/,
    (m) => `申报量低于本机构历史使用量 ${m[1]}，请填写书面说明。`],
  [/^No declaration (\S+)\.$/, (m) => `没有找到申报 ${m[1]}。`],
  [/^Declaration (\S+) is not awaiting a decision\.$/, (m) => `申报 ${m[1]} 不在待审核状态。`],
  [/^No date (\S+)\.$/, (m) => `没有日期 ${m[1]} 的设置。`],
  [/^No supply problem (\S+)\.$/, (m) => `没有找到供应问题 ${m[1]}。`],
  [/^(\w+) is in the future\.$/, (m) => `${fieldLabel(m[1])}不能晚于今天。`],
  [/^(\w+) is before (\S+)\.$/, (m) => `${fieldLabel(m[1])}不能早于 ${m[2]}。`],
  [/^Institutions report their supply problems; the bureau follows them up\.$/, () => "供应问题由医疗机构报告，医保局负责跟进。"],
  [/^Supply problems concern selected products\.$/, () => "只有中选产品可以报告供应问题。"],
  [/^Supply problem (\S+) is (\w+); it cannot become (\w+)\.$/, (m) => `供应问题 ${m[1]} 当前为“${STAGE[m[2]] || m[2]}”，不能变为“${STAGE[m[3]] || m[3]}”。`],
  [/^The promised fix must be between (\S+) and (\S+) \(5 working days\)\.$/, (m) => `承诺解决日期须在 ${m[1]} 至 ${m[2]} 之间（5 个工作日内）。`],
  [/^Supply problem (\S+) is already confirmed\.$/, (m) => `供应问题 ${m[1]} 已经确认过了。`],
  [/^The requested URL was not found on the server\./, () => "服务器没有提供此功能。"],
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
function idReason(text) { return ID_REASONS[text] || text; }

/** A server message in Chinese, or null when it is not one this page knows. */
export function translate(message) {
  if (typeof message !== "string") return null;
  for (const [pattern, render] of MESSAGES) {
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
  const known = translate(problem.detail);
  const heading = TITLE[code] || `请求失败（${code}）。`;
  const fields = flatten(problem.errors).map(([key, text]) => [fieldLabel(key), translate(text) || text]);
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
