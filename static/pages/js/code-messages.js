// zh-CN texts of refusals added for issue 20, keyed by the problem's stable `code` (kept apart
// from i18n.js, whose table is being re-keyed by code in another change).

export const CODE_TEXT = {
  no_pharmacy_serves_patient:
    "患者统筹地区（及异地备案地区）内没有在用的双通道药店，处方开具后无处取药，已拒绝开具。请为患者办理异地就医备案，或联系医保局。",
  no_cold_chain_pharmacy_serves_patient:
    "患者统筹地区内没有具备冷链条件的在用双通道药店，含冷链药品的处方无处取药，已拒绝开具。",
  id_number_invalid: "不是有效的 18 位居民身份证号（请核对校验位）。",
};

/** The text for a refused request's code, or null when this table does not know it. */
export function codeText(error) {
  const code = error && error.problem && error.problem.code;
  return (code && CODE_TEXT[code]) || null;
}
