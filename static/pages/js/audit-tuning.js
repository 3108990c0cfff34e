// The bureau's audit tuning (稽核参数与豁免): its region's thresholds with where each comes from,
// a what-if before saving, the history of changes, and exemptions of legitimate cases.

import { api } from "./api.js";
import { FLAG_TYPE, chinaToday, formatInstant, formatLastDay } from "./i18n.js";
import { $, busy, clearProblem, fill, h, notify, show, showProblem, validate } from "./ui.js";

// [field, rule, label, {min, max, step}]
export const THRESHOLDS = [
  ["shopping_window_days", "pharmacy_shopping", "统计窗口（天）", { min: 7, max: 365, step: 1 }],
  ["shopping_min_pharmacies", "pharmacy_shopping", "同一通用名的药店数 ≥", { min: 2, max: 50, step: 1 }],
  ["shopping_min_physicians", "pharmacy_shopping", "同一通用名的开方医师数 ≥", { min: 2, max: 50, step: 1 }],
  ["overlap_remaining_share", "overlapping_supply", "提前取药：上次供药剩余比例 >", { min: 0, max: 1, step: 0.01 }],
  ["overlap_min_days", "overlapping_supply", "且重叠天数 ≥", { min: 0, max: 84, step: 1 }],
  ["outlier_factor", "volume_outlier", "高于区县同行均值的倍数 >", { min: 1, max: 100, step: 0.1 }],
  ["outlier_min_peers", "volume_outlier", "区县同行药店数 ≥", { min: 1, max: 100, step: 1 }],
  ["outlier_min_quantity", "volume_outlier", "当月数量 ≥", { min: 1, max: 1000000, step: 1 }],
  ["refusal_window_days", "pharmacy_refusals", "统计窗口（天）", { min: 1, max: 365, step: 1 }],
  ["refusal_min_count", "pharmacy_refusals", "同一原因退回/未发药次数 ≥", { min: 1, max: 1000, step: 1 }],
];
const RULES = ["pharmacy_shopping", "overlapping_supply", "volume_outlier", "pharmacy_refusals"];
const KIND = { drug: "药品编码", generic: "通用名", diagnosis: "诊断", patient: "患者编号" };

const tuning = { region: null };

export function setupTuning(region) {
  $("#tuning-region").value = region;
  fill($("#exemption-rule"), h("option", { value: "" }, "全部规则"),
    RULES.map((rule) => h("option", { value: rule }, FLAG_TYPE[rule] || rule)));
  $("#tuning-region-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) loadTuning();
  });
  $("#thresholds-form").addEventListener("submit", saveThresholds);
  $("#thresholds-whatif").addEventListener("click", whatIf);
  $("#exemption-form").addEventListener("submit", addExemption);
}

function proposed() {
  const values = {};
  for (const [field] of THRESHOLDS) {
    const raw = $(`#threshold-${field}`).value.trim();
    if (raw !== "") values[field] = Number(raw);
  }
  return values;
}

export async function loadTuning() {
  tuning.region = $("#tuning-region").value.trim();
  clearProblem($("#tuning-error"));
  if (!tuning.region) return; // an admin names the region first
  fill($("#whatif-result"));
  try {
    const [thresholds, exemptions] = await Promise.all([
      api("/audit/thresholds", { query: { region: tuning.region } }),
      api("/audit/exemptions", { query: { region: tuning.region, limit: 200 } }),
    ]);
    renderThresholds(thresholds);
    renderExemptions(exemptions.items);
  } catch (error) {
    showProblem($("#tuning-error"), error, "无法读取稽核参数");
  }
}

function renderThresholds(t) {
  fill($("#thresholds-table tbody"), THRESHOLDS.map(([field, rule, label, range]) => {
    const source = t.sources[field];
    const own = t.own[field];
    return h("tr", { dataset: { field } },
      h("td", {}, FLAG_TYPE[rule] || rule),
      h("td", {}, h("label", { for: `threshold-${field}` }, label)),
      h("td", { class: "num", dataset: { inForce: field } }, String(t.thresholds[field])),
      h("td", {}, source === "default" ? "系统默认" : source === t.region ? "本地区" : `上级 ${source}`),
      h("td", {}, h("input", { id: `threshold-${field}`, type: "number", inputmode: "decimal", value: own ?? "",
        placeholder: String(t.thresholds[field]), min: range.min, max: range.max, step: range.step,
        "aria-describedby": `threshold-${field}-error` }), h("p", { class: "field-error", id: `threshold-${field}-error` })));
  }));
  fill($("#thresholds-history tbody"), t.history.map((c) => h("tr", {},
    h("td", {}, formatInstant(c.changed_at)), h("td", {}, c.changed_by), h("td", {}, c.reason),
    h("td", {}, describeChange(c.before, c.after)))));
}

function describeChange(before, after) {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  if (!fields.length) return "—";
  const label = (f) => {
    const known = THRESHOLDS.find(([field]) => field === f);
    return known ? `${FLAG_TYPE[known[1]] || known[1]} · ${known[2]}` : f;
  };
  return fields.map((f) => `${label(f)}：${before[f] ?? "沿用"} → ${after[f] ?? "沿用"}`).join("；");
}

async function whatIf(event) {
  clearProblem($("#thresholds-form-error"));
  const form = $("#thresholds-form");
  const reason = $("#thresholds-reason");
  reason.required = false; // a what-if saves nothing: no reason needed
  const ok = validate(form);
  reason.required = true;
  if (!ok) return;
  await busy(event.target, async () => {
    try {
      const r = await api("/audit/thresholds/what-if", { method: "POST", query: { region: tuning.region },
        body: { thresholds: proposed() } });
      fill($("#whatif-result"),
        h("p", { class: "summary", id: "whatif-summary" },
          `按这些阈值，近 ${r.days} 天将新增 ${r.raise_total} 条预警，现有未处理预警中 ${r.clear_total} 条不再触发（尚未保存）。`),
        h("table", { class: "grid" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "规则"), h("th", { scope: "col" }, "将新增"),
            h("th", { scope: "col" }, "将不再触发"), h("th", { scope: "col" }, "豁免"))),
          h("tbody", {}, RULES.map((rule) => h("tr", {}, h("td", {}, FLAG_TYPE[rule] || rule),
            h("td", { class: "num" }, String(r.would_raise[rule])), h("td", { class: "num" }, String(r.would_clear[rule])),
            h("td", { class: "num" }, String(r.exempted[rule])))))));
    } catch (error) {
      showProblem($("#thresholds-form-error"), error, "试算失败");
    }
  });
}

async function saveThresholds(event) {
  event.preventDefault();
  clearProblem($("#thresholds-form-error"));
  if (!validate(event.target)) return;
  await busy(event.submitter, async () => {
    try {
      const saved = await api("/audit/thresholds", { method: "PUT", query: { region: tuning.region },
        body: { thresholds: proposed(), reason: $("#thresholds-reason").value.trim() } });
      renderThresholds(saved);
      $("#thresholds-reason").value = "";
      notify(`地区 ${saved.region} 的稽核阈值已保存，下次稽核扫描起生效。`);
    } catch (error) {
      showProblem($("#thresholds-form-error"), error, "保存失败");
    }
  });
}

function renderExemptions(items) {
  fill($("#exemptions-table tbody"), items.map((e) => h("tr", { dataset: { id: e.id } },
    h("td", {}, e.region), h("td", {}, KIND[e.kind] || e.kind), h("td", {}, e.value),
    h("td", {}, e.rule ? FLAG_TYPE[e.rule] || e.rule : "全部规则"), h("td", {}, formatLastDay(e.valid_until)),
    h("td", {}, e.reason), h("td", {}, e.created_by),
    h("td", {}, h("button", { type: "button", class: "small danger", onclick: (event) => revoke(e, event.target) }, "撤销")))));
  show($("#exemptions-empty"), items.length === 0);
}

async function addExemption(event) {
  event.preventDefault();
  clearProblem($("#exemption-error"));
  const form = event.target;
  $("#exemption-until").min = chinaToday();
  if (!validate(form)) return;
  const body = { region: tuning.region, kind: $("#exemption-kind").value, value: $("#exemption-value").value.trim(),
    valid_until: $("#exemption-until").value, reason: $("#exemption-reason").value.trim() };
  if ($("#exemption-rule").value) body.rule = $("#exemption-rule").value;
  await busy(event.submitter, async () => {
    try {
      await api("/audit/exemptions", { method: "POST", body });
      form.reset();
      notify("豁免已添加，下次稽核扫描起生效。");
      await loadTuning();
    } catch (error) {
      showProblem($("#exemption-error"), error, "添加豁免失败");
    }
  });
}

async function revoke(exemption, button) {
  await busy(button, async () => {
    try {
      await api(`/audit/exemptions/${exemption.id}`, { method: "DELETE" });
      notify(`豁免 ${exemption.value} 已撤销。`);
      await loadTuning();
    } catch (error) {
      showProblem($("#exemption-error"), error, "撤销失败");
    }
  });
}
