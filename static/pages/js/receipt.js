// The settlement receipt: the split of the total between the basic fund, critical illness
// insurance, medical assistance and the patient, per line and in total. Printable.
// Amounts are shown exactly as the API sends them (decimal strings); nothing is recomputed.

import { INSURANCE, SETTLEMENT_MODE, formatInstant, formatMoney } from "./i18n.js";
import { facts, h } from "./ui.js";

const PARTS = [
  ["basic_fund", "基本医保统筹基金支付"],
  ["critical_illness", "大病保险支付"],
  ["medical_assistance", "医疗救助支付"],
  ["patient_pays", "个人自付"],
];

const LINE_COLUMNS = [
  ["quantity", "数量", false],
  ["unit_price", "单价", true],
  ["total", "金额", true],
  ["basic_fund", "统筹基金", true],
  ["critical_illness", "大病保险", true],
  ["medical_assistance", "医疗救助", true],
  ["patient_pays", "个人自付", true],
];

/**
 * Build the receipt of `settlement` ({id, mode, total, basic_fund, critical_illness,
 * medical_assistance, patient_pays, lines}) for `prescription`, settled at `pharmacy`.
 */
/** The sum of the lines' `key` (decimal strings with 2 places), without floats. */
function sumOf(lines, key) {
  if (!lines.some((line) => line[key] !== undefined && line[key] !== null)) return null;
  const cents = lines.reduce((sum, line) => {
    const [whole, part = ""] = String(line[key] ?? "0").split(".");
    const sign = whole.startsWith("-") ? -1n : 1n;
    return sum + sign * (BigInt(whole.replace("-", "") || "0") * 100n + BigInt((part + "00").slice(0, 2)));
  }, 0n);
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  return `${negative ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

function named(name, code) { return name ? `${name}（${code}）` : code; }

export function receipt(settlement, prescription, pharmacy, { reprint = false } = {}) {
  const names = Object.fromEntries(prescription.items.map((i) => [i.drug_code, i]));
  const lines = Array.isArray(settlement.lines) ? settlement.lines : [];
  const columns = LINE_COLUMNS.filter(([key]) => lines.some((line) => line[key] !== undefined));
  const patient = prescription.patient || {};
  const deductible = sumOf(lines, "deductible");
  const codes = prescription.items.flatMap((i) => (i.trace_codes || []).map((code) => [i.drug_name, code]));
  return h("article", { class: "receipt", id: "receipt", "aria-labelledby": "receipt-title" },
    h("h3", { id: "receipt-title" }, reprint ? "医保双通道药品结算单（补打）" : "医保双通道药品结算单"),
    facts(h("dl", { class: "facts" }), [
      ["药店", prescription.pharmacy_name || (pharmacy ? pharmacy.display_name : prescription.pharmacy_code)],
      ["开方医师", prescription.physician_name || prescription.physician_code],
      ["开方机构", prescription.institution_name || prescription.institution_code],
      ["处方编号", prescription.number || undefined],
      ["结算号", settlement.id ?? "—"],
      ["处方号", prescription.id],
      ["结算方式", SETTLEMENT_MODE[settlement.mode] || settlement.mode || "—"],
      ["患者", patient.name],
      ["身份证号", patient.id_number_masked],
      ["参保类型", INSURANCE[patient.insurance] || patient.insurance],
      ["结算时间", formatInstant(settlement.settled_at || settlement.created_at || new Date().toISOString())],
    ]),
    lines.length ? h("table", { class: "grid receipt-lines" },
      h("caption", { class: "visually-hidden" }, "各药品的费用分担"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "药品"),
        columns.map(([, label]) => h("th", { scope: "col", class: "num" }, label)))),
      h("tbody", {}, lines.map((line) => {
        const item = names[line.drug_code] || {};
        return h("tr", {},
          h("td", {}, line.drug_name || item.drug_name || line.drug_code || "—"),
          columns.map(([key, , money]) => h("td", { class: "num" },
            money ? formatMoney(line[key]) : `${line[key] ?? "—"}${key === "quantity" && item.unit ? item.unit : ""}`)));
      }))) : null,
    h("table", { class: "split" },
      h("caption", { class: "visually-hidden" }, "费用分担合计（元）"),
      h("tbody", {},
        h("tr", { class: "total" }, h("th", { scope: "row" }, "费用总额"), h("td", { "data-part": "total" }, `¥ ${formatMoney(settlement.total)}`)),
        deductible !== null ? h("tr", { class: "deductible" }, h("th", { scope: "row" }, "起付标准（本次个人负担）"),
          h("td", { "data-part": "deductible" }, `¥ ${formatMoney(deductible)}`)) : null,
        PARTS.map(([key, label]) => h("tr", { class: key === "patient_pays" ? "patient" : "" },
          h("th", { scope: "row" }, label), h("td", { "data-part": key }, `¥ ${formatMoney(settlement[key])}`))))),
    codes.length ? h("div", { class: "receipt-codes" }, h("h4", {}, "药品追溯码"),
      h("ol", { class: "codes" }, codes.map(([drug, code]) => h("li", {}, `${code} · ${drug}`)))) : null,
    h("p", { class: "note" }, settlement.mode === "manual"
      ? "异地就医手工报销：本次费用由个人先行支付，凭此单向参保地医保部门申请报销。"
      : "金额单位：元。基本医保、大病保险和医疗救助由医保基金与药店直接结算，个人只需支付“个人自付”部分。"));
}
