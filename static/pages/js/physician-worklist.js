// The physician's re-examination worklist (复查评估): eligibilities at the institution ending
// within 30 days or already ended, overdue first (GET /api/v1/physician/re-examinations).

import { api } from "./api.js";
import { $, badge, clearProblem, fill, h, show, showProblem } from "./ui.js";

export const WITHIN_DAYS = 30;

/** Load the worklist; `openPatient(id)` opens the patient for the re-examination. */
export async function loadWorklist(openPatient) {
  clearProblem($("#worklist-error"));
  let items;
  try {
    items = (await api("/physician/re-examinations", { query: { within_days: WITHIN_DAYS, limit: 100 } })).items;
  } catch (error) {
    if (error.status === 403) { show($("#worklist-section"), false); return; }  // not a responsible physician
    showProblem($("#worklist-error"), error, "无法读取复查评估清单");
    return;
  }
  // Overdue first (most overdue on top), then soonest due.
  items.sort((a, b) => (a.expired === b.expired ? a.valid_until.localeCompare(b.valid_until) : a.expired ? -1 : 1));
  const overdue = items.filter((i) => i.expired).length;
  fill($("#worklist-summary"), items.length
    ? [`${items.length} 项需复查评估`, overdue ? badge(`已过期 ${overdue} 项`, "bad") : null]
    : badge(`${WITHIN_DAYS} 天内没有到期的待遇资格`, "ok"));
  fill($("#worklist-table tbody"), items.map((item) => h("tr", { class: item.expired ? "alert-row" : "" },
    h("td", {}, item.patient_name, h("span", { class: "sub" }, item.id_number_masked)),
    h("td", {}, item.drug_name),
    h("td", { class: "nowrap" }, item.valid_until),
    h("td", {}, item.expired ? badge(`已过期 ${-item.days_left} 天`, "bad") : badge(`${item.days_left} 天后到期`, "warn")),
    h("td", {}, h("button", { type: "button", class: "small", "aria-label": `复查 ${item.patient_name} ${item.drug_name}`,
      onclick: () => openPatient(item.patient_id) }, "打开")))));
  show($("#worklist-table"), items.length > 0);
}
