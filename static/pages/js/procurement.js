// Pieces of the procurement (集采) pages shared by the bureau and the institution: progress
// against the schedule, alert labels, product options.

import { FLAG_TYPE, PRODUCT_STATUS, SEVERITY, formatInstant } from "./i18n.js";
import { badge, h } from "./ui.js";

/** The last day of an agreement year whose end (YYYY-MM-DD) is exclusive. */
export function lastDay(end) {
  if (!end) return "—";
  return new Date(Date.parse(`${end}T00:00:00Z`) - 86400000).toISOString().slice(0, 10);
}

/** A share (0.25) as a percentage ("25%"), or "—". */
export function percent(share) {
  return share === null || share === undefined ? "—" : `${Math.round(share * 1000) / 10}%`;
}

/**
 * A progress bar of the completed share with a marker at the schedule share. Widths go through
 * the CSSOM (the pages' Content-Security-Policy forbids style attributes).
 */
export function progressBar(completed, schedule, behind) {
  const bar = h("span", { class: `schedule-bar ${behind ? "behind" : "on-track"}`, role: "img",
    "aria-label": `完成 ${percent(completed)}，时间进度 ${percent(schedule)}` });
  const done = h("span", { class: "schedule-done" });
  const marker = h("span", { class: "schedule-marker" });
  done.style.width = `${Math.min(100, Math.max(0, (completed || 0) * 100))}%`;
  marker.style.left = `${Math.min(100, Math.max(0, (schedule || 0) * 100))}%`;
  bar.append(done, marker);
  return h("span", { class: "schedule-cell" }, bar,
    h("span", { class: "schedule-text" }, `完成 ${percent(completed)} / 时间进度 ${percent(schedule)}`));
}

/** One row of the execution report: institution, product, year, volumes, progress, alerts. */
export function executionRow(item, placeName = (code) => code) {
  const alerts = item.alerts.map((type) => badge(FLAG_TYPE[type] || type, "bad"));
  if (item.behind && !item.alerts.includes("procurement_behind_schedule")) alerts.unshift(badge("进度落后", "bad"));
  if (item.compliant === false && !item.alerts.includes("non_selected_share_high")) {
    alerts.push(badge(`非中选占比 ${percent(item.non_selected_share)}`, "warn"));
  }
  return h("tr", { class: item.behind || item.alerts.length ? "alert-row" : null, dataset: { line: item.line_id } },
    h("td", {}, item.institution_name || item.institution_code,
      h("span", { class: "sub" }, `${item.institution_code} · ${placeName(item.region)}`)),
    h("td", {}, item.product_name, " ", badge(PRODUCT_STATUS[item.status] || item.status, item.status === "selected" ? "info" : ""),
      h("span", { class: "sub" }, `${item.product_code} · ${item.manufacturer} · ${item.batch_code}`)),
    h("td", { class: "nowrap" }, item.year_start, h("span", { class: "sub" }, `至 ${lastDay(item.year_end)}`)),
    h("td", { class: "num" }, item.agreed === null ? "未约定" : item.agreed),
    h("td", { class: "num" }, item.purchased),
    h("td", {}, item.agreed === null ? h("span", { class: "hint" }, "无约定采购量")
      : progressBar(item.completed_share, item.schedule_share, item.behind),
      (item.assessed_with || []).length > 1
        ? h("span", { class: "sub" }, `同品种同企业合并考核（${item.assessed_with.join("、")}）：完成 ${percent(item.combined_completed_share)}`)
        : null),
    h("td", {}, alerts.length ? alerts : badge("正常", "ok")));
}

/** An open procurement alert (audit flag) as a list item. */
export function openAlertItem(flag, subject) {
  const e = flag.evidence || {};
  const what = [e.generic_name || e.product_code, e.batch_code, e.company].filter(Boolean).join(" · ");
  const detail = flag.type === "procurement_behind_schedule"
    ? `完成 ${percent(Number(e.assessed_completed_share ?? e.completed_share))}，时间进度 ${percent(Number(e.schedule_share))}`
    : flag.type === "non_selected_share_high" ? `非中选产品占比 ${percent(Number(e.non_selected_share))}`
      : e.unit_price_paid ? `实际采购单价 ${e.unit_price_paid}，应执行单价 ${e.unit_price_allowed}`
        : e.overdue_working_days ? `逾期 ${e.overdue_working_days} 个工作日` : "";
  return h("li", {}, `#${flag.id} ${FLAG_TYPE[flag.type] || flag.type}（风险：${SEVERITY[flag.severity] || flag.severity}）：`,
    subject, what ? `，${what}` : "", detail ? `，${detail}` : "",
    h("span", { class: "sub" }, formatInstant(flag.created_at)));
}
