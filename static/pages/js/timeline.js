// A patient's timeline across pharmacies (the PDMP lookup): for the bureau of the patient's region
// and a physician with the patient in care. One row of event marks per pharmacy (and one for the
// hospital's prescribing), one bar per dispensed item from its dispensing for its days of supply,
// so overlapping supplies and several pharmacies show at a glance; the table lists every event.

import { api } from "./api.js";
import { PRESCRIPTION_STATUS, formatInstant, formatMoney } from "./i18n.js";
import { startPage, whenStarted } from "./session.js";
import { $, busy, clearProblem, facts, fill, h, show, showProblem, validate } from "./ui.js";

const KIND = {
  prescription: "开具处方", route: "流转至药店", return: "药店退回", verify: "实名核验", review: "药师审方通过",
  review_refused: "审方不通过", dispensing: "发药", pack_return: "整盒退回（撤销发药）", cancel: "作废",
  not_dispensed: "未发药结束", expire: "过期", settlement: "结算", settlement_reversed: "结算冲正",
  claim_approved: "手工报销通过", claim_rejected: "手工报销驳回",
};
// Mark classes: what a bureau looks for first.
const MARK = {
  prescription: "issue", dispensing: "dispense", return: "return", pack_return: "return", settlement: "settle",
  settlement_reversed: "return", claim_approved: "settle", claim_rejected: "return", cancel: "return",
  not_dispensed: "return",
};
const DAY = 86400000;
const SVG = { width: 1100, left: 230, right: 20, top: 34, row: 24 };

async function start() {
  const wanted = new URLSearchParams(window.location.search).get("patient");
  $("#timeline-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) load($("#timeline-patient").value.trim(), event.submitter);
  });
  if (wanted && /^[1-9][0-9]{0,9}$/.test(wanted)) {
    $("#timeline-patient").value = wanted;
    await load(wanted);
  }
}

async function load(id, button) {
  const work = async () => {
    clearProblem($("#timeline-error"));
    try {
      const timeline = await api(`/patients/${id}/timeline`);
      window.history.replaceState(null, "", `/timeline?patient=${id}`);
      render(timeline);
    } catch (error) {
      show($("#timeline-result"), false);
      showProblem($("#timeline-error"), error, "无法读取时间轴");
    }
  };
  return button ? busy(button, work) : work();
}

function dayLabel(ms) {
  const china = new Date(ms + 8 * 3600000);
  return `${china.getUTCMonth() + 1}-${String(china.getUTCDate()).padStart(2, "0")}`;
}

function render(t) {
  show($("#timeline-result"), true);
  fill($("#timeline-patient-title"), `${t.patient.name} 的用药时间轴`);
  const dispensed = t.supplies.length;
  facts($("#timeline-facts"), [
    ["身份证号", t.patient.id_number_masked],
    ["统筹地区", t.patient.region],
    ["处方", `${t.prescriptions.length} 张（已发药 ${dispensed} 项）`],
    ["涉及药店", t.pharmacies.length ? `${t.pharmacies.length} 家` : "无"],
    ["开方医师", [...new Set(t.prescriptions.map((p) => `${p.physician_name || p.physician_code}（${p.institution_name || p.institution_code}）`))].join("、") || "—"],
  ]);
  drawChart(t);
  fill($("#timeline-events tbody"), t.events.map((e) => h("tr", { dataset: { kind: e.kind } },
    h("td", {}, formatInstant(e.at)),
    h("td", {}, KIND[e.kind] || e.kind),
    h("td", {}, `处方 ${e.prescription_id}`, e.status ? h("span", { class: "sub" }, PRESCRIPTION_STATUS[e.status] || e.status) : null),
    h("td", {}, e.pharmacy_code ? `${e.pharmacy_name || ""}（${e.pharmacy_code}）` : "—"),
    h("td", {}, [
      e.drugs.map((d) => `${d.drug_name} × ${d.quantity}，${d.days_supply} 天`).join("；"),
      e.amount ? `金额 ${formatMoney(e.amount)}` : "",
      e.reason_code ? `原因：${e.reason_label || e.reason_code}` : "",
    ].filter(Boolean).join(" · ") || "—"))));
}

function drawChart(t) {
  const svg = $("#timeline-chart");
  const times = [...t.events.map((e) => Date.parse(e.at)), ...t.supplies.flatMap((s) => [Date.parse(s.start), Date.parse(s.end)])];
  if (!times.length) {
    svg.setAttribute("viewBox", `0 0 ${SVG.width} 60`);
    fill(svg, h("svg:text", { x: 20, y: 35, class: "timeline-empty" }, "暂无处方记录"));
    return;
  }
  const from = Math.min(...times) - DAY;
  const to = Math.max(...times) + DAY;
  const x = (ms) => SVG.left + ((ms - from) / (to - from)) * (SVG.width - SVG.left - SVG.right);
  // Rows: the hospital's prescribing, then per pharmacy its events and one row per supply bar.
  const rows = [{ label: "开方（医疗机构）", events: t.events.filter((e) => !e.pharmacy_code), bars: [] }];
  for (const code of t.pharmacies) {
    const name = (t.events.find((e) => e.pharmacy_code === code) || {}).pharmacy_name || code;
    rows.push({ label: name, code, events: t.events.filter((e) => e.pharmacy_code === code), bars: [] });
    for (const bar of t.supplies.filter((s) => s.pharmacy_code === code)) {
      rows.push({ label: `  ${bar.drug_name} ×${bar.quantity}`, bar, events: [] });
    }
  }
  const height = SVG.top + rows.length * SVG.row + 10;
  svg.setAttribute("viewBox", `0 0 ${SVG.width} ${height}`);
  const parts = [];
  // The axis: a tick per day, week or month depending on the span.
  const span = (to - from) / DAY;
  const step = span <= 21 ? 1 : span <= 120 ? 7 : 30;
  const first = Math.ceil(from / DAY) * DAY - 8 * 3600000;
  for (let tick = first; tick <= to; tick += step * DAY) {
    if (tick < from) continue;
    parts.push(h("svg:line", { x1: x(tick), x2: x(tick), y1: SVG.top - 6, y2: height - 10, class: "timeline-grid" }));
    parts.push(h("svg:text", { x: x(tick), y: SVG.top - 12, class: "timeline-tick" }, dayLabel(tick)));
  }
  rows.forEach((row, index) => {
    const y = SVG.top + index * SVG.row;
    parts.push(h("svg:text", { x: 8, y: y + 16, class: row.bar ? "timeline-label sub" : "timeline-label" }, row.label));
    if (row.bar) {
      const start = x(Date.parse(row.bar.start));
      const end = x(Date.parse(row.bar.end));
      parts.push(h("svg:rect", { x: start, y: y + 5, width: Math.max(2, end - start), height: SVG.row - 10, rx: 3,
        class: "timeline-supply", dataset: { prescription: row.bar.prescription_id } },
      h("svg:title", {}, `处方 ${row.bar.prescription_id}：${row.bar.drug_name} ×${row.bar.quantity}，${row.bar.days_supply} 天（${formatInstant(row.bar.start)} 至 ${formatInstant(row.bar.end)}）`)));
      parts.push(h("svg:text", { x: start + 4, y: y + 16, class: "timeline-bar-text" }, `${row.bar.days_supply} 天`));
    }
    for (const e of row.events) {
      parts.push(h("svg:circle", { cx: x(Date.parse(e.at)), cy: y + 12, r: 5, class: `timeline-mark ${MARK[e.kind] || "other"}`,
        dataset: { kind: e.kind } },
      h("svg:title", {}, `${formatInstant(e.at)} ${KIND[e.kind] || e.kind}（处方 ${e.prescription_id}）`)));
    }
  });
  fill(svg, parts);
}

const account = await startPage(["bureau", "admin", "physician"]);
await whenStarted(account && start());
