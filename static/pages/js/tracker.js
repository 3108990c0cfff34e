// The tracker of a prescription (GET /prescriptions/{id}/tracker): where it is now, who holds
// it, what happens next and by when, and its timed history with the reasons given.

import { ACTION, PRESCRIPTION_STATUS, formatInstant, formatLastDay } from "./i18n.js";
import { badge, facts, h } from "./ui.js";

const PHASE_KIND = {
  issued: "info", returned: "warn", routed: "info", verified: "warn", dispensed: "ok", settled: "ok",
  cancelled: "", expired: "bad", not_dispensed: "bad",
};

function holderText(holder) {
  if (!holder) return "无（流程已结束）";
  if (holder.kind === "physician") return `开方医师 ${holder.name}${holder.institution_name ? `（${holder.institution_name}）` : ""}`;
  return `药店 ${holder.name}（${holder.code}）`;
}

function reasonText(reason) {
  return `${reason.label || reason.code}${reason.note ? `：${reason.note}` : ""}`;
}

/** The tracker as an element, for the physician's, the pharmacy's and the bureau's pages. */
export function trackerView(t) {
  return h("section", { class: "tracker", "aria-label": `处方 ${t.prescription_id} 追踪` },
    h("h4", {}, `处方 ${t.prescription_id} 追踪 `, badge(t.phase_label, PHASE_KIND[t.phase] || "")),
    facts(h("dl", { class: "facts" }), [
      ["当前环节", t.phase_label],
      ["持有方", holderText(t.holder)],
      ["下一步", t.next.summary],
      ["截止时间", t.next.by ? `${formatLastDay(t.next.by)} 当日结束前（逾期处方自动失效）` : "—"],
      ["原因", t.reason ? `${reasonText(t.reason)}（${ACTION[t.reason.action] || t.reason.action}，${formatInstant(t.reason.at)}）` : undefined],
      ["患者", `${t.patient.name}（${t.patient.id_number_masked}）`],
      ["药品", t.items.map((i) => `${i.drug_name} × ${i.quantity}${i.unit || ""}`).join("、")],
    ]),
    h("ol", { class: "timeline" }, t.history.map((e) => h("li", {},
      h("time", { datetime: e.at }, formatInstant(e.at)), " ",
      h("strong", {}, ACTION[e.action] || e.action),
      e.to_status ? ` → ${PRESCRIPTION_STATUS[e.to_status] || e.to_status}` : "",
      e.reason_code ? h("span", { class: "reason" }, `原因：${reasonText({ label: e.reason_label, code: e.reason_code, note: e.reason })}`)
        : (e.reason ? h("span", { class: "reason" }, `说明：${e.reason}`) : null),
      h("span", { class: "sub" }, e.actor)))));
}

/**
 * A reason-code select and a note field for a transition of `next_actions` that takes reason
 * codes (return, cancel, not-dispensed). `read()` gives the body to send.
 */
export function reasonFields(prefix, transition, label) {
  const select = h("select", { id: `${prefix}-code`, required: true, "aria-describedby": `${prefix}-code-error` },
    h("option", { value: "" }, "请选择原因"),
    transition.reason_codes.map((c) => h("option", { value: c.code, dataset: { note: c.needs_note ? "1" : "" } }, c.label)));
  const note = h("input", { id: `${prefix}-note`, maxlength: 500, "aria-describedby": `${prefix}-note-error` });
  const noteLabel = h("label", { for: `${prefix}-note` }, "说明（可不填）");
  select.addEventListener("change", () => {
    const needed = Boolean(select.selectedOptions[0] && select.selectedOptions[0].dataset.note);
    note.required = needed;
    noteLabel.textContent = needed ? "说明（必填）" : "说明（可不填）";
  });
  return {
    fields: [
      h("div", { class: "field" }, h("label", { for: `${prefix}-code` }, label), select,
        h("p", { class: "field-error", id: `${prefix}-code-error` })),
      h("div", { class: "field grow" }, noteLabel, note, h("p", { class: "field-error", id: `${prefix}-note-error` })),
    ],
    read() {
      const text = note.value.trim();
      return { reason_code: select.value, ...(text ? { note: text } : {}) };
    },
  };
}
