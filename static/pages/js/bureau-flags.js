// A flag opened into what it is about: its prescriptions (the tracker tab), the trace chain of
// its traceability codes (GET /trace/{code}), and the patient's timeline page
// (/timeline?patient=<id>); and the filtered flags as a CSV file (UTF-8 with BOM, for Excel).

import { api, signIn } from "./api.js";
import { PRESCRIPTION_STATUS, formatInstant } from "./i18n.js";
import { facts, fill, h, showProblem } from "./ui.js";

const TRACE_STATUS = { dispensed: "已发药", returned: "已退药", available: "未发药", partial: "拆零发药中" };

/** Values under keys ending in `suffix` (single or list) anywhere in the evidence, de-duplicated. */
function collect(evidence, pattern) {
  const found = new Set();
  for (const [key, value] of Object.entries(evidence || {})) {
    if (!pattern.test(key)) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && typeof item !== "object") found.add(String(item));
    }
  }
  return [...found];
}

/** Links of a flag: prescriptions, trace codes, patients (the subject counts too). */
export function flagLinks(flag) {
  const evidence = flag.evidence || {};
  const [kind, value] = String(flag.subject || "").split(":");
  const prescriptions = collect(evidence, /prescription_ids?$/);
  const traces = collect(evidence, /^trace_codes?$|_trace_code$/).filter((c) => /^\d{20}$/.test(c));
  const patients = collect(evidence, /patient_ids?$/);
  if (kind === "prescription" && value && !prescriptions.includes(value)) prescriptions.unshift(value);
  if (kind === "trace" && value && !traces.includes(value)) traces.unshift(value);
  if (kind === "patient" && value && !patients.includes(value)) patients.unshift(value);
  return { prescriptions, traces, patients };
}

/** The links block of a flag card; `openPrescription(id)` shows it on the tracker tab. */
export function flagDetail(flag, { openPrescription }) {
  const { prescriptions, traces, patients } = flagLinks(flag);
  if (!prescriptions.length && !traces.length && !patients.length) return null;
  const chain = h("div", { class: "trace-chain", "aria-live": "polite" });
  return h("div", { class: "flag-links" },
    h("span", { class: "sub" }, "查看："),
    prescriptions.map((id) => h("button", { type: "button", class: "small quiet",
      onclick: () => openPrescription(id) }, `处方 ${id}`)),
    traces.map((code) => h("button", { type: "button", class: "small quiet", "aria-label": `追溯链 ${code}`,
      onclick: () => showChain(chain, code) }, `追溯链 ${code}`)),
    patients.map((id) => timelineLink(id, `患者 ${id} 时间线`)),
    // No patient in the evidence: found through the prescription, when asked (a read is logged).
    !patients.length && prescriptions.length ? patientFinder(prescriptions[0]) : null,
    chain);
}

function timelineLink(id, text) {
  return h("a", { href: `/timeline?patient=${encodeURIComponent(id)}`, class: "button small quiet" }, text);
}

function patientFinder(prescriptionId) {
  const button = h("button", { type: "button", class: "small quiet" }, "患者时间线…");
  button.addEventListener("click", async () => {
    try {
      const p = await api(`/prescriptions/${prescriptionId}`);
      button.replaceWith(timelineLink(p.patient_id, `患者 ${p.patient.name} 时间线`));
    } catch (error) {
      const problem = h("div", { class: "problem", role: "alert" });
      button.after(problem);
      showProblem(problem, error, "无法找到患者");
    }
  });
  return button;
}

async function showChain(box, code) {
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  fill(box, h("p", { class: "sub" }, `正在读取追溯码 ${code} 的追溯链…`));
  try {
    const t = await api(`/trace/${code}`);
    fill(box, h("h4", {}, `追溯码 ${t.trace_code}：${TRACE_STATUS[t.status] || t.status}`),
      facts(h("dl", { class: "facts" }), [
        ["药品", `${t.drug_name}（${t.generic_name}）`],
        ["发药药店", t.pharmacy_name ? `${t.pharmacy_name}（${t.pharmacy_code}）` : t.pharmacy_code],
        ["处方", `${t.prescription_id}（${PRESCRIPTION_STATUS[t.prescription_status] || t.prescription_status}）`],
        ["开方医师", t.physician_name ? `${t.physician_name}，${t.institution_name}` : t.physician_code],
        ["患者身份证号", t.patient_id_number_masked],
      ]),
      (t.parts || []).length ? h("ol", { class: "timeline" }, t.parts.map((p) => h("li", {},
        `${formatInstant(p.dispensed_at)} ${p.pharmacy_code} 处方 ${p.prescription_id} 发药 ${p.units} `,
        p.returned_at ? `（${formatInstant(p.returned_at)} 退药）` : ""))) : null);
  } catch (error) {
    fill(box, problem);
    showProblem(problem, error, "无法读取追溯链");
  }
}

/** Download GET /flags.csv with the current filters (the token goes in a header, so fetch it). */
export async function exportFlags(query, problemBox) {
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v));
  const response = await fetch(`/api/v1/flags.csv?${params}`, { headers: { Authorization: `Bearer ${signIn.token()}` } });
  if (!response.ok) {
    showProblem(problemBox, { status: response.status, problem: await response.json().catch(() => ({})) }, "导出失败");
    return null;
  }
  const blob = await response.blob();
  const link = h("a", { href: URL.createObjectURL(blob), download: `稽核预警-${new Date().toISOString().slice(0, 10)}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return blob;
}
