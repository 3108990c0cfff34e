// The pharmacy's page: inbox, real-name verification (patient or agent), the pharmacist's review
// (审方, with a pharmacist's account), scanning trace codes into one field, dispensing,
// settlement with a printable receipt, handing a prescription back.
//
// Through a network outage (outbox.js): the page starts from this tab's account and the last
// copies of its lists and prescriptions, keeps every scan in the browser, and queues the
// confirmed dispensing with the Idempotency-Key made at confirmation; the queue is sent in
// order when the network is back, and a refusal is shown with the server's reason.

import { api, newIdempotencyKey } from "./api.js";
import { confirmAction } from "./confirm.js";
import {
  INSURANCE, PRESCRIPTION_STATUS, STORAGE, describeError, formatInstant, formatLastDay, pickupLabel, reviewLabel,
} from "./i18n.js";
import { Outbox, unreachable } from "./outbox.js";
import { loadStock, renderAftercare } from "./pharmacy-aftercare.js";
import { wireWorklist, worklistEntry, worklistQuery } from "./pharmacy-inbox.js";
import { receipt } from "./receipt.js";
import { TraceScanner } from "./scanner.js";
import { pageSettings, startPage, whenStarted } from "./session.js";
import { reasonFields, trackerView } from "./tracker.js";
import {
  $, busy, clearProblem, facts, fill, h, latestLoads, notify, show, showMessage, showProblem, statusBadge, validate,
} from "./ui.js";

const settings = pageSettings();
// rejected: code -> why the server refused it; reasons: the reason fields of return and not-dispensed
// outbox: the queued writes; offline: the last request could not reach the service; waiting:
// prescriptions with a dispensing queued
const state = { open: null, scanner: null, rejected: new Map(), reasons: {}, outbox: null, offline: false,
  waiting: new Set() };
const SECTIONS = ["#rx-section", "#verify-section", "#review-section", "#scan-section", "#settle-section",
  "#aftercare-section", "#return-section", "#not-dispensed-section"];

async function start() {
  state.outbox = new Outbox(`${account.role}:${account.subject}`);
  window.addEventListener("online", () => { setOffline(false); flushOutbox(); });
  window.addEventListener("offline", () => setOffline(true));
  setOffline(!navigator.onLine);
  await renderOutbox();
  $("#inbox-refresh").addEventListener("click", loadLists);
  wireWorklist(loadLists);
  const stock = loadStock(account.subject);
  $("#verify-agent").addEventListener("change", () => {
    show($("#agent-fields"), $("#verify-agent").checked);
    if ($("#verify-agent").checked) $("#agent-name").focus();
  });
  $("#verify-form").addEventListener("submit", verify);
  $("#review-form").addEventListener("submit", submitReview);
  for (const radio of document.querySelectorAll("#review-form input[name=outcome]")) {
    radio.addEventListener("change", () => show($("#review-refusal"), $("#review-refused").checked));
  }
  $("#scan-input").addEventListener("keydown", (event) => {
    // A keyboard-wedge scanner types the code and then Enter.
    if (event.key !== "Enter") return;
    event.preventDefault();
    scan(event.target.value);
    event.target.value = "";
  });
  $("#dispense-button").addEventListener("click", dispense);
  $("#settle-button").addEventListener("click", settle);
  $("#print-button").addEventListener("click", () => window.print());
  $("#return-form").addEventListener("submit", handBack);
  $("#not-dispensed-form").addEventListener("submit", closeWithoutDispensing);
  await Promise.all([loadLists(), stock]);
  setInterval(() => { if (!document.hidden) loadLists(); }, 30000);
  // Retry the queue now and then too: an 'online' event is not the only sign of recovery.
  setInterval(() => { if (state.waiting.size && navigator.onLine) flushOutbox(); }, 5000);
  if (navigator.onLine) await flushOutbox();
}

// --- Network and the outbox ----------------------------------------------------------------

function setOffline(offline) {
  state.offline = offline;
  show($("#offline-banner"), offline);
  document.body.classList.toggle("offline", offline);
  const who = $("#who");
  if (!offline && who.textContent.endsWith("（离线）")) who.textContent = who.textContent.slice(0, -"（离线）".length);
}

/** Show what is queued, what the server refused on replay (with its reason), and the receipts
 * of queued dispensings applied since the page opened. */
async function renderOutbox() {
  const [queued, refused] = await Promise.all([state.outbox.queued(), state.outbox.refused()]);
  state.waiting = new Set(queued.map((e) => e.prescription_id));
  fill($("#outbox-list"), queued.map((e) => h("li", { dataset: { seq: e.seq } },
    e.label, h("span", { class: "sub" }, `确认于 ${formatInstant(e.queued_at)} · 等待联网提交`))));
  fill($("#outbox-refused"), refused.map((e) => {
    const { message, fields, original } = describeError({ status: e.refused.status, problem: e.refused.problem });
    return h("li", { class: "refused" }, h("strong", {}, `${e.label}：提交被拒绝，未发药`),
      h("p", {}, message), fields.length ? h("ul", {}, fields.map(([l, t]) => h("li", {}, l ? `${l}：${t}` : t))) : null,
      original ? h("p", { class: "sub" }, `服务器信息：${original}`) : null,
      h("button", { type: "button", class: "small quiet", onclick: async () => { await state.outbox.remove(e.seq); await renderOutbox(); } },
        "知道了"));
  }));
  show($("#outbox-list"), queued.length > 0);
  show($("#outbox-refused"), refused.length > 0);
  show($("#outbox-empty"), queued.length === 0);
  fill($("#outbox-count"), queued.length ? `（${queued.length} 项待提交）` : "");
  show($("#outbox-section"), queued.length > 0 || refused.length > 0 || state.offline
    || $("#outbox-done").children.length > 0);
}

/** Send the queue in order; show each applied dispensing's receipt and each refusal's reason. */
async function flushOutbox() {
  const done = await state.outbox.flush(async (entry, result) => {
    if (result.sent) {
      await state.outbox.saveScans(entry.prescription_id, []);
      $("#outbox-done").prepend(dispensingReceipt(result.sent, entry));
      notify(`暂存的处方 ${entry.prescription_id} 发药已提交成功。`);
    } else {
      notify(`暂存的处方 ${entry.prescription_id} 发药被服务器拒绝，请查看原因。`, "warn");
    }
  });
  if (done !== false) setOffline(!navigator.onLine);
  await renderOutbox();
  if (state.open) await openPrescription(state.open.id, false);
  if (done) await loadLists();
}

/** The dispensing receipt (发药凭证) of a dispensing applied from the outbox: the server's answer. */
function dispensingReceipt(p, entry) {
  const last = [...p.history].reverse().find((e) => e.to_status === "dispensed");
  return h("li", { class: "receipt-card", dataset: { prescription: p.id } },
    h("strong", {}, `发药凭证 · 处方 ${p.id}`),
    h("p", {}, `${p.patient.name}（${p.patient.id_number_masked}）· 发药时间 ${formatInstant(last ? last.at : p.updated_at)}`),
    h("ul", {}, p.items.map((i) => h("li", {}, `${i.drug_name} × ${i.quantity}：追溯码 ${(i.trace_codes || []).join("、")}`))),
    h("p", { class: "sub" }, `本机于 ${formatInstant(entry.queued_at)} 确认，恢复联网后提交（幂等键 ${entry.key.slice(0, 8)}…）`));
}

// --- Lists ---------------------------------------------------------------------------------

const listLoads = latestLoads();  // a later query (another filter) answers instead

function listEntry(p) {
  return worklistEntry(p, { current: state.open && state.open.id === p.id, onOpen: openPrescription });
}

async function loadLists() {
  clearProblem($("#inbox-error"));
  const query = worklistQuery();
  if (!query) return;
  const latest = listLoads();
  try {
    const [inbox, unsettled] = await Promise.all([
      api("/pharmacy/prescriptions", { query }),
      api("/pharmacy/prescriptions", { query: { status: "dispensed", limit: 20 } }),
    ]);
    if (!latest()) return;
    showLists(inbox, unsettled);
    if (state.offline && navigator.onLine) setOffline(false);
    await state.outbox.keep("lists", { inbox, unsettled });
  } catch (error) {
    const copy = unreachable(error) && await state.outbox.copy("lists");
    if (!copy) {
      showProblem($("#inbox-error"), error, "无法读取处方列表");
      return;
    }
    setOffline(true);
    showLists(copy.inbox, copy.unsettled);
  }
}

let shownLists = null;

function showLists(inbox, unsettled) {
  // The page loads its lists more than once as it starts (and on every refresh): drawing the
  // same lists again would replace the buttons under a click that is landing on them.
  const shown = JSON.stringify([inbox.items, unsettled.items, state.open && state.open.id]);
  if (shown === shownLists) return;
  shownLists = shown;
  fill($("#inbox-list"), inbox.items.map(listEntry));
  show($("#inbox-empty"), inbox.items.length === 0);
  fill($("#unsettled-list"), unsettled.items.map(listEntry));
  show($("#unsettled-empty"), unsettled.items.length === 0);
}

// --- One prescription ----------------------------------------------------------------------

async function openPrescription(id, focus = true) {
  let prescription;
  try {
    prescription = await api(`/prescriptions/${id}`);
    await state.outbox.keep(`prescription:${id}`, prescription);
  } catch (error) {
    prescription = unreachable(error) && await state.outbox.copy(`prescription:${id}`);
    if (!prescription) {
      showProblem($("#inbox-error"), error, `无法打开处方 ${id}`);
      return;
    }
    setOffline(true);
  }
  const changed = !state.open || state.open.id !== prescription.id;
  state.open = prescription;
  for (const button of document.querySelectorAll(".pick-list button")) {
    button.setAttribute("aria-current", String(Number(button.dataset.id) === id));
  }
  await render(prescription, changed);
  if (!state.offline) loadTracker(prescription.id);
  if (focus) $("#rx-title").focus();
}

async function loadTracker(id) {
  try {
    fill($("#rx-tracker"), trackerView(await api(`/prescriptions/${id}/tracker`)));
  } catch (error) {
    const problem = h("div", { class: "problem", role: "alert" });
    fill($("#rx-tracker"), problem);
    showProblem(problem, error, "无法读取处方追踪");
  }
}

async function render(p, fresh) {
  show($("#nothing-open"), false);
  fill($("#rx-title"), `处方 ${p.id} `, statusBadge(p.status, PRESCRIPTION_STATUS));
  facts($("#rx-facts"), [
    ["患者", p.patient.name],
    ["身份证号", p.patient.id_number_masked],
    ["参保类型", INSURANCE[p.patient.insurance] || p.patient.insurance],
    ["诊断", p.diagnosis],
    ["开方医师", p.physician_name ? `${p.physician_name}（${p.physician_code}）` : p.physician_code],
    ["开方机构", p.institution_name ? `${p.institution_name}（${p.institution_code}）` : p.institution_code],
    ["处方编号", p.number || "—"],
    ["有效期至", formatLastDay(p.valid_until)],
    ["取药人", pickupLabel(p)],
    ["审方", reviewLabel(p)],
  ]);
  fill($("#rx-items tbody"), p.items.map((i) => h("tr", {},
    h("td", {}, i.drug_name, h("span", { class: "sub" }, `${i.generic_name} · ${i.drug_code}`)),
    h("td", { class: "num" }, `${i.quantity} ${i.unit || ""}`),
    h("td", {}, i.dosage),
    h("td", { class: "num" }, `${i.days_supply} 天`),
    h("td", {}, STORAGE[i.storage] || i.storage))));
  // Which parts show follows the prescription's own next actions (the server's transition table).
  const mine = new Set(p.next_actions.filter((a) => a.by === "pharmacy").map((a) => a.action));
  show($("#rx-section"), true);
  show($("#verify-section"), mine.has("verify"));
  // The review is a pharmacist's act: a pharmacy account bound to one reviews, others are told who must.
  const review = p.next_actions.filter((a) => a.by === "pharmacist");
  show($("#review-section"), review.length > 0);
  show($("#review-form"), review.length > 0 && Boolean(account.pharmacist));
  show($("#review-need-pharmacist"), review.length > 0 && !account.pharmacist);
  if (review.length && account.pharmacist) {
    fill($("#review-who"), `审方药师：${account.pharmacist.name}（执业药师注册证 ${account.pharmacist.licence_number}）`);
    const refusal = review.find((a) => a.action === "refuse_review");
    fill($("#review-reason"), ((refusal && refusal.reason_codes) || []).map((r) => h("option", { value: r.code }, r.label)));
  }
  const waiting = state.waiting.has(p.id);
  show($("#scan-section"), mine.has("dispense"));
  show($("#scan-queued"), waiting);
  show($("#scan-work"), !waiting);
  show($("#settle-section"), mine.has("settle") || p.status === "settled");
  show($("#return-section"), mine.has("return"));
  show($("#not-dispensed-section"), mine.has("not_dispense"));
  // Reason selects from the transition table's codes; kept while the same prescription is open.
  for (const [action, box, label] of [["return", "#return-fields", "退回原因"],
    ["not_dispense", "#not-dispensed-fields", "未发药原因"]]) {
    const transition = p.next_actions.find((a) => a.action === action && a.by === "pharmacy");
    if (transition && (fresh || !state.reasons[action])) {
      state.reasons[action] = reasonFields(action === "return" ? "return-reason" : "not-dispensed-reason", transition, label);
      fill($(box), state.reasons[action].fields);
    } else if (!transition) {
      state.reasons[action] = null;
    }
  }
  if (fresh) {
    $("#verify-form").reset();
    $("#review-form").reset();
    show($("#review-refusal"), false);
    show($("#agent-fields"), false);
    for (const box of ["#verify-error", "#review-error", "#dispense-error", "#settle-error", "#return-error",
      "#not-dispensed-error"]) {
      clearProblem($(box));
    }
    fill($("#receipt-area"));
    show($("#print-button"), false);
    show($("#settle-button"), true);
    state.scanner = null;
  }
  if (mine.has("dispense") && !state.scanner) {
    state.scanner = new TraceScanner(p.items, settings.tracePattern);
    state.rejected = new Map();
    setScanMessage("", "");
    // Codes scanned before a reload (or an outage) are kept in the browser: put them back.
    const saved = await state.outbox.scans(p.id);
    for (const kept of saved) {
      const item = state.scanner.items.find((i) => i.drug_code === kept.drug_code);
      for (const code of kept.trace_codes) if (item && item.codes.length < item.packs) item.codes.push(code);
    }
    if (saved.length) setScanMessage(`已恢复本机保存的 ${state.scanner.scanned} 个追溯码。`, "ok");
    renderScanner();
  }
  renderAftercare(p, account, { reload, undoDays: settings.traceUndoDays });
  if (!fresh && mine.has("settle")) {  // reversed (冲正): it can be settled again
    show($("#settle-button"), true);
    clearProblem($("#settle-error"));
    fill($("#receipt-area"));
  }
  if (p.status === "settled" && fresh) {
    showMessage($("#settle-error"), "此处方已结算。");
    show($("#settle-button"), false);
  }
}

function reload() { return Promise.all([openPrescription(state.open.id, false), loadLists(), loadStock(account.subject)]); }

// --- Verify --------------------------------------------------------------------------------

async function verify(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  const body = { id_number: $("#verify-id-number").value.trim() };
  if ($("#verify-agent").checked) {
    body.pickup = { name: $("#agent-name").value.trim(), id_number: $("#agent-id-number").value.trim(),
      relation: $("#agent-relation").value };
  }
  await busy(event.submitter || form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#verify-error"));
    try {
      await api(`/prescriptions/${state.open.id}/verify`, { method: "POST", body });
      notify(`处方 ${state.open.id} 实名核验通过，请药师审方。`);
      await reload();
      $("#review-title").focus();
    } catch (error) {
      showProblem($("#verify-error"), error, "核验未通过");
    }
  });
}

// --- Review (审方) ---------------------------------------------------------------------------

async function submitReview(event) {
  event.preventDefault();
  const refused = $("#review-refused").checked;
  const note = $("#review-note").value.trim();
  const body = { outcome: refused ? "refused" : "approved" };
  if (refused) {
    body.reason_code = $("#review-reason").value;
    if (note) body.note = note;
  }
  await busy(event.submitter || event.target.querySelector("button"), async () => {
    clearProblem($("#review-error"));
    try {
      await api(`/prescriptions/${state.open.id}/review`, { method: "POST", body });
      if (refused) {
        // Refused, the prescription goes back to its physician and leaves this pharmacy's lists.
        notify(`处方 ${state.open.id} 审方不通过，已退回开方医师。`);
        state.open = null;
        state.scanner = null;
        for (const section of SECTIONS) show($(section), false);
        show($("#nothing-open"), true);
        await loadLists();
        return;
      }
      notify(`处方 ${state.open.id} 审方通过，请扫描药品追溯码。`);
      await reload();
      $("#scan-input").focus();
    } catch (error) {
      showProblem($("#review-error"), error, "审方失败");
    }
  });
}

// --- Scan and dispense ---------------------------------------------------------------------

function setScanMessage(text, kind) {
  const box = $("#scan-message");
  box.className = `scan-message ${kind}`;
  box.textContent = text;
  $("#scan-input").setAttribute("aria-invalid", kind === "error" ? "true" : "false");
}

function scan(raw) {
  const scanner = state.scanner;
  if (!scanner) return;
  const result = scanner.accept(raw);
  if (result.ok) {
    const { item } = result;
    setScanMessage(`已扫描 ${item.drug_name}：${item.codes.length} / ${item.packs}${item.units_per_pack ? "盒" : item.unit || ""}`
      + (scanner.complete ? "。全部扫描完成，请确认发药。" : ""), "ok");
    clearProblem($("#dispense-error"));
  } else if (result.reason === "format") {
    setScanMessage(`追溯码格式错误：“${result.code}”不是有效的药品追溯码（应为 ${describePattern()}），请重新扫描。`, "error");
  } else if (result.reason === "duplicate") {
    setScanMessage(`重复扫码：追溯码 ${result.code} 已经扫描过（${result.item.drug_name}）。每盒药只扫一次。`, "error");
  } else if (result.reason === "full") {
    setScanMessage(`已达处方数量：所有药品都已扫满，多余的追溯码 ${result.code} 未记录。`, "error");
  }
  renderScanner();
  keepScans();
}

/** Keep the codes scanned so far in the browser: a reload or an outage loses none. */
function keepScans() {
  if (state.scanner && state.open) state.outbox.saveScans(state.open.id, state.scanner.payload().items);
}

function describePattern() {
  return "20 位数字";
}

function renderScanner() {
  const scanner = state.scanner;
  fill($("#scan-items tbody"), scanner.items.map((item, index) => {
    const done = item.codes.length === item.packs;
    const id = `scan-target-${index}`;
    return h("tr", { class: scanner.target() === item ? "selected" : "" },
      h("td", {}, h("input", { type: "radio", name: "scan-target", id, checked: scanner.target() === item,
        disabled: done, onchange: () => { scanner.select(index); renderScanner(); $("#scan-input").focus(); } }),
      h("label", { for: id, class: "visually-hidden" }, `扫描 ${item.drug_name}`)),
      h("td", {}, item.drug_name, h("span", { class: "sub" }, item.drug_code)),
      h("td", {}, item.units_per_pack
        ? `${item.codes.length} / ${item.packs} 盒（拆零 ${item.quantity} ${item.unit || ""}，每盒 ${item.units_per_pack}）`
        : `${item.codes.length} / ${item.quantity} ${item.unit || ""}`,
      progress(item.codes.length, item.packs)));
  }));
  fill($("#scan-codes"), scanner.items.flatMap((item) => item.codes.map((code) => h("li", {
    class: state.rejected.has(code) ? "rejected" : "" },
  code, state.rejected.has(code) ? `（${state.rejected.get(code)}）` : "", ` · ${item.drug_name}`,
  h("button", { type: "button", class: "small quiet", "aria-label": `移除追溯码 ${code}`,
    onclick: () => {
      scanner.remove(code); state.rejected.delete(code); renderScanner(); keepScans(); $("#scan-input").focus();
    } }, "移除")))));
  $("#dispense-button").disabled = !scanner.complete || state.rejected.size > 0;
  fill($("#dispense-button"), scanner.complete ? "确认发药" : `确认发药（已扫 ${scanner.scanned} / ${scanner.needed}）`);
}

function progress(count, total) {
  const bar = h("span");
  bar.style.width = `${Math.min(100, (100 * count) / total)}%`;
  return h("span", { class: `progress ${count === total ? "done" : ""}`, role: "progressbar",
    "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": count, "aria-label": "扫描进度" }, bar);
}

async function dispense() {
  const button = $("#dispense-button");
  await busy(button, async () => {
    clearProblem($("#dispense-error"));
    const prescription = state.open;
    const payload = state.scanner.payload();
    // The key is made now, when the pharmacist confirms, and stored with the request before it
    // is sent: however often it is sent again (outage, reload, another tab), it dispenses once.
    const count = payload.items.reduce((n, i) => n + i.trace_codes.length, 0);
    const entry = await state.outbox.add({
      action: "dispense", path: `/prescriptions/${prescription.id}/dispense`, body: payload,
      key: newIdempotencyKey(), prescription_id: prescription.id,
      label: `处方 ${prescription.id} 发药（${prescription.patient.name}，${count} 个追溯码）`,
    });
    const result = await state.outbox.send(entry, { keepRefused: false });
    if (result.offline) {
      setOffline(true);
      notify(`网络已断开：处方 ${prescription.id} 的发药已暂存在本机，恢复联网后自动提交。`, "warn");
      state.scanner = null;
      await renderOutbox();
      await render(prescription, false);
      return;
    }
    if (result.sent) {
      await state.outbox.saveScans(prescription.id, []);
      notify(`处方 ${prescription.id} 已发药，请为患者结算。`);
      state.scanner = null;
      await reload();
      $("#settle-button").focus();
      return;
    }
    const error = result.refused;
    // A code dispensed elsewhere: the server names it; mark it so it can be removed.
    const reused = (error.problem && error.problem.trace_codes) || [];
    for (const code of reused) if (state.scanner.owner(code)) state.rejected.set(code, "已被使用");
    // A code refused by position (another product's, malformed): mark it for removal too.
    const refused = [];
    for (const key of Object.keys((error.problem && error.problem.errors) || {})) {
      const at = key.match(/^items\.(\d+)\.trace_codes\.(\d+)$/);
      const code = at && payload.items[at[1]] && payload.items[at[1]].trace_codes[at[2]];
      if (code) { state.rejected.set(code, "不能用于本药品"); refused.push(code); }
    }
    showProblem($("#dispense-error"), error, "发药失败");
    if (refused.length) {
      setScanMessage(`追溯码 ${refused.join("、")} 不能用于本处方的药品，请移除后扫描正确的药盒。`, "error");
    } else if (reused.length) {
      $("#dispense-error").append(h("p", {}, `已被使用的追溯码：${reused.join("、")}。请移除后扫描其他药盒。`));
      setScanMessage(`追溯码 ${reused.join("、")} 已有发药记录，同一盒药不能再次销售。请移除后扫描其他药盒。`, "error");
    } else {
      setScanMessage("发药未完成，请查看下方提示。", "error");
    }
    renderScanner();
    $("#scan-input").focus();
  });
  if (state.scanner) renderScanner();
}

// --- Settle (POST /prescriptions/{id}/settlement) ------------------------------------------

function keyFor(id) { return `dualchannel.settlement-key.${id}`; }

async function settle() {
  const prescription = state.open;
  // One key per prescription, kept across retries: a retry after a lost answer replays the
  // first settlement instead of making a second one.
  let key = sessionStorage.getItem(keyFor(prescription.id));
  if (!key) {
    key = newIdempotencyKey();
    sessionStorage.setItem(keyFor(prescription.id), key);
  }
  await busy($("#settle-button"), async () => {
    clearProblem($("#settle-error"));
    try {
      const settlement = await api(`/prescriptions/${prescription.id}/settlement`, {
        method: "POST", body: {}, headers: { "Idempotency-Key": key } });
      fill($("#receipt-area"), receipt(settlement, prescription, account));
      show($("#print-button"), true);
      show($("#settle-button"), false);
      notify(`处方 ${prescription.id} 结算完成：个人自付 ${settlement.patient_pays} 元。`);
      await reload();
      $("#print-button").focus();
    } catch (error) {
      showProblem($("#settle-error"), error, "结算失败");
    }
  });
}

// --- Hand back, or close without dispensing (each with a reason code) -------------------------

function closeCurrent() {
  state.open = null;
  state.scanner = null;
  for (const section of SECTIONS) show($(section), false);
  show($("#nothing-open"), true);
}

async function handBack(event) {
  event.preventDefault();
  if (!validate(event.target)) return;
  const sure = await confirmAction(`将处方 ${state.open.id}（患者 ${state.open.patient.name}）退回开方医师？退回后本店不能再为其发药。`,
    { title: "确认退回处方", yes: "确认退回" });
  if (!sure) return;
  await busy(event.submitter || event.target.querySelector("button[type=submit]"), async () => {
    clearProblem($("#return-error"));
    try {
      await api(`/prescriptions/${state.open.id}/return`, { method: "POST", body: state.reasons.return.read() });
      notify(`处方 ${state.open.id} 已退回开方医师。`);
      closeCurrent();
      await loadLists();
    } catch (error) {
      showProblem($("#return-error"), error, "退回失败");
    }
  });
}

function notDispensedKey(id) { return `dualchannel.not-dispensed-key.${id}`; }

async function closeWithoutDispensing(event) {
  event.preventDefault();
  if (!validate(event.target)) return;
  const id = state.open.id;
  const body = state.reasons.not_dispense.read();
  // One key per prescription and answer: a retry after a lost answer replays it.
  const stored = JSON.parse(sessionStorage.getItem(notDispensedKey(id)) || "null");
  const key = stored && stored.body === JSON.stringify(body) ? stored.key : newIdempotencyKey();
  sessionStorage.setItem(notDispensedKey(id), JSON.stringify({ key, body: JSON.stringify(body) }));
  await busy(event.submitter || event.target.querySelector("button[type=submit]"), async () => {
    clearProblem($("#not-dispensed-error"));
    try {
      const done = await api(`/prescriptions/${id}/not-dispensed`, {
        method: "POST", body, headers: { "Idempotency-Key": key } });
      notify(`处方 ${id} 已按“${done.history[done.history.length - 1].reason_label}”未发药结束。`);
      await openPrescription(id, false);
      await loadLists();
    } catch (error) {
      showProblem($("#not-dispensed-error"), error, "操作失败");
    }
  });
}

/** The service worker keeps this page's files so it opens without a network (secure contexts only:
 * HTTPS, or localhost). */
function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/pharmacy-sw.js", { scope: "/pharmacy" }).catch((error) => {
    console.warn("离线缓存不可用", error);
  });
}

// Start last: every declaration above is initialised by then.
const account = await startPage(["pharmacy"], { offline: true });
registerServiceWorker();
await whenStarted(account && start());
