// The designated institution's procurement (集采) page: declare its demand for a product and
// agreement year (with a written explanation when below its history), follow its declarations,
// and report supply problems of selected products with their reply and fix deadlines.

import { api } from "./api.js";
import { DECLARATION_STATUS, PRODUCT_STATUS, STAGE, SUPPLY_STATE } from "./i18n.js";
import { lastDay } from "./procurement.js";
import { startPage, whenStarted } from "./session.js";
import { $, badge, busy, clearProblem, facts, fill, h, notify, show, showProblem, validate } from "./ui.js";

const state = { products: new Map(), years: new Map() };
const DECLARATION_KIND = { submitted: "warn", returned: "bad", accepted: "ok" };
const SUPPLY_KIND = { awaiting_reply: "warn", reply_overdue: "bad", in_progress: "info", fix_overdue: "bad", resolved: "ok" };

async function start() {
  $("#declare-form").addEventListener("submit", declare);
  $("#supply-form").addEventListener("submit", reportProblem);
  $("#declare-product").addEventListener("change", fillYears);
  $("#supply-product").addEventListener("change", () => {
    const product = state.products.get($("#supply-product").value);
    $("#supply-company").placeholder = product ? product.manufacturer : "";
  });
  await loadProducts();
  await Promise.all([loadDeclarations(), loadProblems()]);
}

function productLabel(code) {
  const p = state.products.get(code);
  return p ? `${p.name}（${p.specification}，${p.manufacturer}）` : code;
}

async function loadProducts() {
  try {
    const batches = (await api("/procurement/batches")).items.filter((b) => b.status !== "ended");
    const lists = await Promise.all(batches.map((b) => api(`/procurement/batches/${encodeURIComponent(b.code)}/products`)));
    batches.forEach((batch, i) => {
      for (const product of lists[i].items) {
        state.products.set(product.code, product);
        state.years.set(product.code, batch.agreement_years);
      }
    });
    const options = (selectedOnly) => [h("option", { value: "" }, "请选择"),
      ...batches.map((batch, i) => h("optgroup", { label: batch.name },
        lists[i].items.filter((p) => !selectedOnly || p.status === "selected").map((p) => h("option", { value: p.code },
          `${p.name}（${p.specification}，${p.manufacturer}）${selectedOnly ? "" : ` · ${PRODUCT_STATUS[p.status] || p.status}`}`))))];
    fill($("#declare-product"), options(false));
    fill($("#supply-product"), options(true));
    fillYears();
  } catch (error) {
    showProblem($("#declare-error"), error, "无法读取集采产品");
  }
}

function fillYears() {
  const years = state.years.get($("#declare-product").value) || [];
  fill($("#declare-year"), years.length ? years.map((y) => h("option", { value: y.start }, `${y.start} 至 ${lastDay(y.end)}`))
    : h("option", { value: "" }, "请先选择产品"));
}

// --- Declarations --------------------------------------------------------------------------

async function declare(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  const explained = !$("#explanation-field").hidden;
  await busy(event.submitter || form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#declare-error"));
    try {
      const made = await api("/procurement/declarations", { method: "POST", body: {
        product_code: $("#declare-product").value, year_start: $("#declare-year").value,
        quantity: Number($("#declare-quantity").value),
        explanation: explained ? $("#declare-explanation").value.trim() : null } });
      notify(`已提交 ${productLabel(made.product_code)} 的需求量申报：${made.quantity}。`);
      form.reset();
      fillYears();
      show($("#explanation-field"), false);
      await loadDeclarations();
    } catch (error) {
      showProblem($("#declare-error"), error, "申报未提交");
      // Below the institution's history: the server asks for the written explanation.
      if (error.status === 422 && error.problem.errors && error.problem.errors.explanation) {
        show($("#explanation-field"), true);
        $("#declare-explanation").focus();
      }
    }
  });
}

async function loadDeclarations() {
  clearProblem($("#declarations-error"));
  try {
    const { items } = await api("/procurement/declarations", { query: { limit: 100 } });
    fill($("#declarations-table tbody"), items.map((d) => h("tr", {},
      h("td", {}, productLabel(d.product_code), h("span", { class: "sub" }, d.product_code)),
      h("td", { class: "nowrap" }, d.year_start),
      h("td", { class: "num" }, d.quantity),
      h("td", { class: "num" }, d.history),
      h("td", {}, badge(DECLARATION_STATUS[d.status] || d.status, DECLARATION_KIND[d.status] || ""),
        d.status === "accepted" && d.agreed !== null ? h("span", { class: "sub" }, `约定采购量 ${d.agreed}`) : null,
        d.bureau_note ? h("span", { class: "sub" }, `医保局意见：${d.bureau_note}`) : null,
        d.explanation ? h("span", { class: "sub" }, `说明：${d.explanation}`) : null))));
    show($("#declarations-empty"), items.length === 0);
  } catch (error) {
    showProblem($("#declarations-error"), error, "无法读取申报");
  }
}

// --- Supply problems -----------------------------------------------------------------------

async function reportProblem(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  await busy(event.submitter || form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#supply-error"));
    try {
      const made = await api("/procurement/supply-problems", { method: "POST", body: {
        product_code: $("#supply-product").value, company: $("#supply-company").value.trim() || null,
        description: $("#supply-description").value.trim() } });
      notify(`供应问题 #${made.id} 已报告，企业须在 ${made.reply_due} 前答复。`);
      form.reset();
      $("#supply-company").placeholder = "";
      await loadProblems();
    } catch (error) {
      showProblem($("#supply-error"), error, "报告未提交");
    }
  });
}

function problemCard(p) {
  const overdue = p.state === "reply_overdue" || p.state === "fix_overdue";
  return h("article", { class: `flag ${overdue ? "high" : p.state === "resolved" ? "low" : ""}`, "aria-labelledby": `problem-${p.id}` },
    h("header", {},
      h("h3", { id: `problem-${p.id}` }, `#${p.id} ${productLabel(p.product_code)}`),
      badge(SUPPLY_STATE[p.state] || p.state, SUPPLY_KIND[p.state] || ""),
      overdue ? badge(`已逾期 ${p.overdue_working_days} 个工作日`, "bad") : null,
      p.escalate ? badge("已上报上级医保部门", "bad") : null),
    facts(h("dl", { class: "facts" }), [
      ["企业", p.company], ["问题描述", p.description], ["报告日期", p.reported_on],
      ["处理阶段", STAGE[p.stage] || p.stage], ["答复期限", p.reply_due],
      ["企业答复", p.reply ? `${p.reply}（${p.replied_on}）` : "尚未答复"],
      ["承诺解决日期", p.promised_fix], ["解决期限", p.latest_fix_date],
      ["解决情况", p.resolution ? `${p.resolution}（${p.resolved_on}）` : null],
      ["医保局确认", p.confirmed_on],
    ].filter(([, value]) => value !== null && value !== undefined)));
}

async function loadProblems() {
  clearProblem($("#problems-error"));
  try {
    const { items } = await api("/procurement/supply-problems", { query: { limit: 50 } });
    fill($("#problem-list"), items.map(problemCard));
    show($("#problems-empty"), items.length === 0);
  } catch (error) {
    showProblem($("#problems-error"), error, "无法读取供应问题");
  }
}

// Start last: every declaration above is initialised by then.
const account = await startPage(["institution"]);
await whenStarted(account && start());
