// The pharmacy's worklist (GET /api/v1/pharmacy/prescriptions): each line with the patient's
// masked name and ID, the drugs, the validity and the status; closed ones (expired, handed back,
// cancelled, not dispensed) with their reason. Searched by the patient's ID number — typed, or
// read by a card reader that types it as a keyboard and presses Enter — or the prescription number.

import { ACTION, PRESCRIPTION_STATUS, formatInstant, formatLastDay } from "./i18n.js";
import { isResidentId } from "./idcard.js";
import { $, h, setFieldError, statusBadge } from "./ui.js";

const STATUS = { ...PRESCRIPTION_STATUS, returned: "已退回" };
const ID_NUMBER = /^\d{17}[\dXx]$/;

/** The worklist query from the search form: an 18-character ID number, else a prescription number. */
export function worklistQuery() {
  const input = $("#worklist-search");
  const text = input.value.replace(/\s+/g, "");
  setFieldError(input, "");
  const query = { status: $("#worklist-status").value, limit: 50 };
  if (!text) return query;
  if (ID_NUMBER.test(text)) {
    if (isResidentId(text)) return { ...query, id_number: text.toUpperCase(), status: $("#worklist-status").value || null };
    setFieldError(input, "不是有效的 18 位居民身份证号（请核对校验位）");
    return null;
  }
  if (/^[0-9A-Za-z-]{1,32}$/.test(text)) return { ...query, number: text };
  setFieldError(input, "请输入18位身份证号或处方号");
  return null;
}

/** Wire the search form; `reload()` reads the lists again. A search looks in every status. */
export function wireWorklist(reload) {
  const form = $("#worklist-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if ($("#worklist-search").value.trim()) $("#worklist-status").value = "";
    reload();
  });
  $("#worklist-status").addEventListener("change", reload);
  $("#worklist-clear").addEventListener("click", () => {
    $("#worklist-search").value = "";
    $("#worklist-status").value = "open";
    setFieldError($("#worklist-search"), "");
    reload();
  });
}

function drugsLine(line) {
  return line.drugs.map((d) => `${d.drug_name} ×${d.quantity}${d.unit || ""}`).join("；");
}

function closingLine(line) {
  const c = line.closing;
  if (line.status === "expired" && !c) return `已过有效期（${formatLastDay(line.valid_until)} 止）`;
  if (!c) return null;
  const what = c.action === "return" ? "本店退回" : (ACTION[c.action] || c.action);
  const why = [c.reason_label, c.note].filter(Boolean).join("：") || (c.action === "expire" ? "超过有效期" : "");
  return `${what}${why ? `，原因：${why}` : ""}（${formatInstant(c.at)}）`;
}

/** One line of the list; `current` marks the open one; `onOpen(id)` opens it (not a returned one). */
export function worklistEntry(line, { current, onOpen }) {
  const returned = line.status === "returned";
  const closing = closingLine(line);
  const body = [
    h("span", { class: "entry-head" }, `处方 ${line.id} `, statusBadge(line.status, STATUS)),
    h("span", { class: "sub" }, `${line.patient_name_masked} · ${line.patient_id_number_masked}`),
    h("span", { class: "sub drugs" }, drugsLine(line)),
    line.valid_until && !["settled", "dispensed"].includes(line.status)
      ? h("span", { class: "sub" }, `有效期至 ${formatLastDay(line.valid_until)}（含当日）`) : null,
    closing ? h("span", { class: "sub closing" }, closing) : null,
  ];
  if (returned) return h("li", {}, h("div", { class: "entry returned", dataset: { id: line.id } }, body));
  return h("li", {}, h("button", { type: "button", class: "entry", "aria-current": current ? "true" : "false",
    dataset: { id: line.id }, onclick: () => onOpen(line.id) }, body));
}
