// The bureau's decisions in 集采 on its page: demand declarations awaiting it (确认 or 退回 with a
// note) and supply problems reported by institutions (核实: while confirmed, non-selected
// purchases of the product are not counted against the institution).

import { api } from "./api.js";
import { DECLARATION_STATUS, SUPPLY_STATE } from "./i18n.js";
import { $, badge, busy, clearProblem, fill, h, notify, show, showMessage, showProblem } from "./ui.js";

/** Load both lists; `institutionName(code)` names an institution; `refresh()` reloads the report. */
export async function loadBureauDecisions({ institutionName, refresh }) {
  clearProblem($("#decisions-error"));
  try {
    const [declarations, problems] = await Promise.all([
      api("/procurement/declarations", { query: { status: "submitted", limit: 50 } }),
      api("/procurement/supply-problems", { query: { limit: 50 } }),
    ]);
    const open = problems.items.filter((p) => !p.confirmed_on && p.state !== "resolved");
    fill($("#declarations-list"), declarations.items.map((d) => declarationItem(d, institutionName, refresh)));
    show($("#declarations-empty"), declarations.items.length === 0);
    fill($("#supply-list"), open.map((p) => problemItem(p, institutionName, refresh)));
    show($("#supply-empty"), open.length === 0);
  } catch (error) {
    showProblem($("#decisions-error"), error, "无法读取待处理事项");
  }
}

function declarationItem(d, institutionName, refresh) {
  const id = `declaration-${d.id}`;
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  const note = h("input", { id: `${id}-note`, maxlength: 500, autocomplete: "off" });
  const below = d.quantity < d.history;
  const item = h("li", { class: "decision", dataset: { declaration: d.id } },
    h("p", {}, h("strong", {}, `${institutionName(d.institution_code)} · ${d.product_code}`), " ",
      badge(DECLARATION_STATUS[d.status] || d.status, "warn")),
    h("p", { class: "sub" }, `协议年度自 ${d.year_start}，申报 ${d.quantity}，上年用量 ${d.history}`
      + (below ? "（低于历史用量）" : "")),
    d.explanation ? h("p", { class: "sub" }, `说明：${d.explanation}`) : null,
    h("div", { class: "inline-form" },
      h("div", { class: "field grow" }, h("label", { for: `${id}-note` }, "审核意见（退回时必填）"), note),
      h("button", { type: "button", class: "primary small", onclick: (e) => decide(e.currentTarget, "accept") }, "确认申报"),
      h("button", { type: "button", class: "small", onclick: (e) => decide(e.currentTarget, "return") }, "退回申报")),
    problem);

  async function decide(button, action) {
    const text = note.value.trim();
    if (action === "return" && !text) { showMessage(problem, "退回申报须填写审核意见。"); note.focus(); return; }
    await busy(button, async () => {
      clearProblem(problem);
      try {
        const done = await api(`/procurement/declarations/${d.id}/${action}`, { method: "POST",
          body: action === "return" ? { note: text } : {} });
        notify(action === "accept" ? `已确认 ${institutionName(d.institution_code)} 的申报，约定采购量 ${done.agreed}。`
          : `已退回 ${institutionName(d.institution_code)} 的申报。`);
        item.remove();
        show($("#declarations-empty"), !$("#declarations-list").children.length);
        refresh();
      } catch (error) {
        showProblem(problem, error, action === "accept" ? "确认失败" : "退回失败");
      }
    });
  }
  return item;
}

function problemItem(p, institutionName, refresh) {
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  const item = h("li", { class: "decision", dataset: { supplyProblem: p.id } },
    h("p", {}, h("strong", {}, `${institutionName(p.institution_code)} · ${p.product_code}（${p.company}）`), " ",
      badge(SUPPLY_STATE[p.state] || p.state, p.escalate ? "bad" : "warn")),
    h("p", { class: "sub" }, `${p.reported_on} 报告：${p.description}`),
    p.reply ? h("p", { class: "sub" }, `企业答复（${p.replied_on}）：${p.reply}`) : h("p", { class: "sub" }, `企业应于 ${p.reply_due} 前答复`),
    h("button", { type: "button", class: "primary small", onclick: async (event) => {
      await busy(event.currentTarget, async () => {
        clearProblem(problem);
        try {
          await api(`/procurement/supply-problems/${p.id}/confirm`, { method: "POST", body: {} });
          notify(`已核实 ${institutionName(p.institution_code)} 报告的供应问题：其间非中选产品采购不计入考核。`);
          item.remove();
          show($("#supply-empty"), !$("#supply-list").children.length);
          refresh();
        } catch (error) {
          showProblem(problem, error, "核实失败");
        }
      });
    } }, "核实供应问题"),
    problem);
  return item;
}
