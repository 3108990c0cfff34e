// The bureau's page: coverage map of its region, admission and exit of pharmacies (with the
// what-if of an exit before confirming it), the audit flags queue with review, and the
// execution of volume-based procurement (集采) against its schedule, alerts first, and the
// tracker of a prescription found by its number.

import { ApiError, api } from "./api.js";
import { loadTuning, setupTuning } from "./audit-tuning.js";
import { countyOfPharmacy, drawCoverageMap, lostCounties, readCoverage } from "./coverage-map.js";
import {
  EVIDENCE, FLAG_STATUS, FLAG_TYPE, PHARMACY_STATUS, PROCUREMENT_ALERTS, SEVERITY, chinaToday, describeError,
  formatInstant,
} from "./i18n.js";
import { exportFlags, flagDetail } from "./bureau-flags.js";
import { loadBureauDecisions } from "./bureau-procurement.js";
import { confirmAction } from "./confirm.js";
import { executionRow, lastDay, openAlertItem } from "./procurement.js";
import { startPage, whenStarted } from "./session.js";
import { trackerView } from "./tracker.js";
import {
  $, badge, busy, clearProblem, facts, fill, h, latestLoads, notify, show, showMessage, showProblem, statusBadge, tabs,
  validate,
} from "./ui.js";

const state = {
  coverage: null, map: null, region: null, selected: null, names: new Map(), pharmacyNames: new Map(), drugNames: new Map(),
  flagCursor: null, exiting: null, executionCursor: null, institutionNames: new Map(),
};
const SUBJECT = {
  pharmacy: "药店", patient: "患者", trace: "追溯码", physician: "医师", prescription: "处方", institution: "机构",
  supply_problem: "供应问题",
};

async function start() {
  for (const area of account.areas || []) state.names.set(area.adcode, area.name);
  const region = (account.region && account.region.adcode) || account.subject || "";
  $("#coverage-region").value = region;
  fill($("#flag-type"), h("option", { value: "" }, "全部类型"),
    Object.entries(FLAG_TYPE).map(([code, label]) => h("option", { value: code }, label)));
  tabs($(".tabs"), (tab) => {
    if (tab.id === "tab-pharmacies") loadPharmacies();
    if (tab.id === "tab-flags") loadFlags();
    if (tab.id === "tab-procurement") loadExecution();
    if (tab.id === "tab-tuning") loadTuning();
  });
  setupTuning(region);
  $("#execution-region").value = region;
  $("#execution-as-of").value = chinaToday();
  $("#execution-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) loadExecution();
  });
  $("#execution-behind").addEventListener("change", () => loadExecution());
  $("#execution-more").addEventListener("click", () => loadExecution(true));
  $("#coverage-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) loadCoverage($("#coverage-region").value.trim());
  });
  $("#pharmacy-filter").addEventListener("submit", (event) => { event.preventDefault(); loadPharmacies(); });
  $("#pharmacy-status").addEventListener("change", loadPharmacies);
  $("#flag-filter").addEventListener("submit", (event) => { event.preventDefault(); loadFlags(); });
  $("#flag-status").addEventListener("change", () => loadFlags());
  $("#flag-type").addEventListener("change", () => loadFlags());
  $("#flags-more").addEventListener("click", () => loadFlags(true));
  $("#flags-export").addEventListener("click", (event) => busy(event.currentTarget, () => exportFlags(
    { status: $("#flag-status").value, type: $("#flag-type").value }, $("#flags-error"))));
  $("#exit-form").addEventListener("submit", confirmExit);
  $("#tracker-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) trackPrescription($("#tracker-id").value.trim(), event.submitter);
  });
  $("#exit-cancel").addEventListener("click", () => $("#exit-dialog").close());
  if (region) await loadCoverage(region);
}

// --- Prescription tracker: search by prescription number -----------------------------------

/** From a flag: the prescription on the tracker tab. */
function openOnTracker(id) {
  $("#tab-tracker").click();
  $("#tracker-id").value = String(id);
  return trackPrescription(String(id), $("#tracker-form button[type=submit]"));
}

async function trackPrescription(id, button) {
  await busy(button, async () => {
    clearProblem($("#tracker-error"));
    try {
      fill($("#tracker-result"), trackerView(await api(`/prescriptions/${id}/tracker`)));
    } catch (error) {
      fill($("#tracker-result"));
      showProblem($("#tracker-error"), error, "查询失败");
    }
  });
}

function countyName(adcode) { return state.names.get(adcode) || adcode || "—"; }

// --- Coverage map --------------------------------------------------------------------------

async function loadCoverage(region) {
  clearProblem($("#coverage-error"));
  state.region = region;
  let collection;
  try {
    // The display layer: national by province, a province by city, a city by county (gzip).
    collection = await api("/coverage/map", { query: { region } });
  } catch (error) {
    state.coverage = null;
    $("#coverage-map").replaceChildren();
    fill($("#coverage-summary"), "");
    show($("#uncovered-box"), false);
    showProblem($("#coverage-error"), error, "无法读取覆盖情况");
    return;
  }
  const coverage = readCoverage(collection);
  state.coverage = coverage;
  state.unitLevel = collection.unit_level || "county";
  $("#coverage-region").value = region;
  for (const county of coverage.counties) state.names.set(county.adcode, county.name);
  const byCounty = state.unitLevel === "county";
  state.map = drawCoverageMap($("#coverage-map"), coverage, { onSelect: byCounty ? selectCounty : descend });
  drawCrumbs(collection.parents || [], region);
  const unit = { province: "省级区划", city: "地市", county: "县级区划" }[state.unitLevel];
  fill($("#map-title"), `${collection.region_name || region}：${byCounty ? "县级区划" : `按${unit}`}双通道药店覆盖`
    + (byCounty ? "" : "（点击下钻）"));
  const uncovered = collection.uncovered || [];
  fill($("#coverage-summary"), `共 ${collection.total} 个县级区划，已覆盖 ${collection.covered} 个。`,
    h("br"), uncovered.length ? badge(`未覆盖 ${uncovered.length} 个`, "bad") : badge("全部县级区划均已覆盖", "ok"));
  const lacking = coverage.counties.filter((c) => !c.covered);
  fill($("#uncovered-list"), lacking.slice(0, 40).map((c) => h("li", {},
    h("button", { type: "button", class: "small quiet", onclick: () => (byCounty ? selectCounty(c.adcode) : descend(c.adcode)) },
      byCounty ? c.name : `${c.name}（${c.uncovered_counties} 个）`))));
  fill($("#uncovered-box h3"), byCounty ? "未覆盖的县级区划" : `有未覆盖县级区划的${unit}`);
  show($("#uncovered-box"), lacking.length > 0);
  fill($("#county-title"), byCounty ? "点击地图上的区县查看药店" : `点击地图上的${unit}查看下一级`);
  fill($("#county-pharmacies"));
  if (state.selected && byCounty) selectCounty(state.selected, false);
}

/** Go down one level: a province to its cities, a city to its counties. */
function descend(adcode) {
  state.selected = null;
  return loadCoverage(adcode);
}

/** 全国 › 山东省 › 济宁市: the levels above, as far as the account may look. */
function drawCrumbs(parents, region) {
  const own = account.role === "admin" ? "100000" : ((account.region && account.region.adcode) || account.subject);
  const reachable = parents.findIndex((p) => p.adcode === own);
  const shown = account.role === "admin" ? parents : parents.slice(Math.max(reachable, 0));
  fill($("#map-crumbs"), shown.flatMap((p, i) => [
    i ? h("span", { "aria-hidden": "true" }, "›") : null,
    p.adcode === region
      ? h("span", { "aria-current": "page" }, p.name)
      : h("button", { type: "button", class: "small quiet", onclick: () => descend(p.adcode) }, p.name)]));
}

async function selectCounty(adcode, focus = true) {
  state.selected = adcode;
  const coverage = state.coverage;
  if (!coverage) return;
  state.map.select(adcode);
  const county = coverage.counties.find((c) => c.adcode === adcode);
  fill($("#county-title"), `${county ? county.name : adcode}：${county && county.active_pharmacies
    ? `${county.active_pharmacies} 家在用双通道药店` : "没有在用的双通道药店"}`);
  let list = coverage.pharmacies.filter((p) => countyOfPharmacy(p) === adcode);
  if (!list.length) {
    // The GeoJSON may carry active pharmacies only: the applicants inside are the remedy.
    try {
      list = (await api("/pharmacies", { query: { region: adcode } })).items;
    } catch { list = []; }
  }
  fill($("#county-pharmacies"), list.length ? list.map((p) => h("li", {},
    p.name || p.code, " ", statusBadge(p.status || "active", PHARMACY_STATUS),
    h("span", { class: "sub" }, [p.code, p.address].filter(Boolean).join(" · ")),
    p.county_mismatch ? h("span", { class: "sub" }, badge(`申报为 ${countyName(p.adcode)}，与实际位置不符`, "warn")) : null,
    (p.status === "applied" || p.status === "suspended") ? h("button", { type: "button", class: "small",
      onclick: (event) => admit(p, event.currentTarget) }, p.status === "suspended" ? "恢复" : "准入") : null))
    : h("li", { class: "hint" }, "此区县没有登记的药店。"));
  if (focus) $("#county-title").focus();
}

// --- Pharmacies: admission and exit --------------------------------------------------------

// The reload after an admission can still be on its way when the filter changes.
const pharmacyLoads = latestLoads();
const flagLoads = latestLoads();
const executionLoads = latestLoads();

async function loadPharmacies() {
  clearProblem($("#pharmacies-error"));
  const latest = pharmacyLoads();
  try {
    const { items } = await api("/pharmacies", { query: { status: $("#pharmacy-status").value } });
    if (!latest()) return;
    for (const p of items) state.pharmacyNames.set(p.code, p.name);
    fill($("#pharmacies-table tbody"), items.map((p) => h("tr", {},
      h("td", {}, p.name, h("span", { class: "sub" }, p.code)),
      h("td", {}, p.address),
      h("td", {}, countyName(p.county_adcode),
        p.county_mismatch ? h("span", { class: "sub" }, badge(`申报为 ${countyName(p.adcode)}，与实际位置不符`, "warn")) : null),
      h("td", {}, statusBadge(p.status, PHARMACY_STATUS)),
      h("td", {},
        p.status === "applied" ? h("button", { type: "button", class: "small primary",
          "aria-label": `准入 ${p.name}`, onclick: (event) => admit(p, event.currentTarget) }, "准入") : null,
        p.status === "suspended" ? h("button", { type: "button", class: "small primary",
          "aria-label": `恢复 ${p.name}`, onclick: (event) => admit(p, event.currentTarget) }, "恢复") : null,
        p.status === "active" ? h("button", { type: "button", class: "small",
          "aria-label": `暂停 ${p.name}`, onclick: () => openExit(p, "suspend") }, "暂停") : null,
        p.status !== "exited" ? h("button", { type: "button", class: "small",
          "aria-label": `${p.name} 退出双通道`, onclick: () => openExit(p) }, "退出") : null))));
    show($("#pharmacies-empty"), items.length === 0);
  } catch (error) {
    if (latest()) showProblem($("#pharmacies-error"), error, "无法读取药店");
  }
}

/** Before 准入 or 恢复: a declared county that is not where the pharmacy stands, and what the
 * admission changes on the map (an uncovered county covered again). False if the bureau declines. */
async function confirmAdmission(pharmacy) {
  const again = pharmacy.status === "suspended";
  const county = countyName(pharmacy.county_adcode);
  const lines = [];
  if (pharmacy.county_mismatch) {
    lines.push(`注意：申报所在区县为 ${countyName(pharmacy.adcode)}，但按位置实际位于 ${county}。准入后按实际位置计入 ${county} 的覆盖。`);
  }
  let uncovered = null;
  try {
    const region = pharmacy.county_adcode;
    uncovered = (await api("/coverage", { query: { region } })).uncovered.includes(region);
  } catch { /* the effect is a convenience; the admission itself is checked by the server */ }
  if (uncovered === true) lines.push(`${again ? "恢复" : "准入"}后 ${county} 将重新有在用的双通道药店（目前未覆盖）。`);
  else if (uncovered === false) lines.push(`${county} 目前已有在用的双通道药店，覆盖不变。`);
  return confirmAction(lines.join(" "), { title: `${again ? "恢复" : "准入"} ${pharmacy.name}（${pharmacy.code}）`,
    yes: again ? "确认恢复" : "确认准入" });
}

async function admit(pharmacy, button) {
  if (!await confirmAdmission(pharmacy)) return;
  await busy(button, async () => {
    clearProblem($("#pharmacies-error"));
    try {
      await api(`/pharmacies/${encodeURIComponent(pharmacy.code)}/admit`, { method: "POST", body: {} });
      notify(`${pharmacy.name} 已${pharmacy.status === "suspended" ? "恢复" : "准入"}双通道管理。`);
    } catch (error) {
      showProblem($("#pharmacies-error"), error, "准入失败");
      if ($("#panel-pharmacies").hidden) showProblem($("#coverage-error"), error, "准入失败");
    }
  });
  await Promise.all([loadPharmacies(), state.region ? loadCoverage(state.region) : null]);
}

// Exit and suspension share the dialog: the same what-if, a reason, force when a county would be left bare.
const TAKE_OUT = {
  exit: { title: "药店退出双通道", verb: "退出", reason: "退出原因", confirm: "确认退出", done: "已退出双通道管理" },
  suspend: { title: "暂停药店双通道资格", verb: "暂停", reason: "暂停原因", confirm: "确认暂停", done: "已暂停双通道资格" },
};

async function openExit(pharmacy, action = "exit") {
  state.exiting = pharmacy;
  state.takeOut = action;
  const words = TAKE_OUT[action];
  const dialog = $("#exit-dialog");
  $("#exit-form").reset();
  clearProblem($("#exit-error"));
  show($("#exit-force-field"), false);
  fill($("#exit-title"), words.title);
  fill(document.querySelector("label[for=exit-reason]"), words.reason);
  fill(document.querySelector("label[for=exit-force]"), `仍然强制${words.verb}（该区县将没有在用的双通道药店）`);
  fill($("#exit-confirm"), words.confirm);
  fill($("#exit-pharmacy"), `${pharmacy.name}（${pharmacy.code}），位于 ${countyName(pharmacy.county_adcode)}`);
  const whatif = $("#whatif");
  whatif.className = "whatif";
  fill(whatif, `正在分析${words.verb}对区县覆盖的影响…`);
  dialog.showModal();
  $("#exit-reason").focus();
  try {
    const region = state.region || pharmacy.city_adcode || pharmacy.county_adcode;
    const answer = await api("/coverage/what-if", { query: { region, exclude: pharmacy.code } });
    const lost = lostCounties(answer);
    if (lost.length) {
      whatif.className = "whatif bad";
      fill(whatif, `${words.verb}后以下县级区划将没有在用的双通道药店：${lost.map((c) => c.name || c.adcode).join("、")}。`);
    } else {
      whatif.className = "whatif ok";
      fill(whatif, `${words.verb}后各县级区划仍有在用的双通道药店。`);
    }
    if (state.map) state.map.markLost(lost.map((c) => c.adcode));
  } catch (error) {
    whatif.className = "whatif";
    fill(whatif, `无法分析退出的影响：${error instanceof ApiError ? describeError(error).message : error}`);
  }
}

async function confirmExit(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  const pharmacy = state.exiting;
  await busy($("#exit-confirm"), async () => {
    clearProblem($("#exit-error"));
    try {
      const action = state.takeOut || "exit";
      await api(`/pharmacies/${encodeURIComponent(pharmacy.code)}/${action}`, { method: "POST",
        body: { reason: $("#exit-reason").value.trim(), force: $("#exit-force").checked } });
      $("#exit-dialog").close();
      notify(`${pharmacy.name} ${TAKE_OUT[action].done}。`);
      if (state.map) state.map.markLost([]);
      await Promise.all([loadPharmacies(), state.region ? loadCoverage(state.region) : null]);
    } catch (error) {
      showProblem($("#exit-error"), error, `${TAKE_OUT[state.takeOut || "exit"].verb}未完成`);
      if (error.status === 409 && (error.problem.uncovered || error.problem.code === "last_pharmacy_in_county")) {
        show($("#exit-force-field"), true);
        $("#exit-force").focus();
      }
    }
  });
}

// --- Audit flags ---------------------------------------------------------------------------

async function loadFlags(more = false) {
  clearProblem($("#flags-error"));
  if (!state.pharmacyNames.size || !state.drugNames.size) {
    try {
      const [pharmacies, drugs] = await Promise.all([api("/pharmacies"), api("/drugs")]);
      for (const p of pharmacies.items) state.pharmacyNames.set(p.code, p.name);
      for (const d of drugs.items) state.drugNames.set(d.code, `${d.generic_name}（${d.name}）`);
    } catch { /* names are a convenience; codes still show */ }
  }
  const latest = flagLoads();
  try {
    const page = await api("/flags", { query: { status: $("#flag-status").value, type: $("#flag-type").value,
      limit: 20, cursor: more ? state.flagCursor : null } });
    if (!latest()) return;
    state.flagCursor = page.next_cursor;
    if (!more) fill($("#flag-list"));
    $("#flag-list").append(...page.items.map(flagCard));
    show($("#flags-empty"), !more && page.items.length === 0);
    show($("#flags-more"), Boolean(page.next_cursor));
  } catch (error) {
    if (latest()) showProblem($("#flags-error"), error, "无法读取预警");
  }
}

function pharmacyLabel(code) {
  const name = state.pharmacyNames.get(String(code));
  return name ? `${name}（${code}）` : String(code);
}

function subjectLabel(subject) {
  const [kind, ...rest] = String(subject || "").split(":");
  const value = rest.join(":");
  if (!value) return subject || "";
  if (kind === "institution" && state.institutionNames.has(value)) return `${state.institutionNames.get(value)}（${value}）`;
  return `${SUBJECT[kind] || kind} ${kind === "pharmacy" ? pharmacyLabel(value) : value}`;
}

const EVIDENCE_ORDER = Object.keys(EVIDENCE);
function evidenceRank(key) {
  const at = EVIDENCE_ORDER.indexOf(key);
  return at < 0 ? EVIDENCE_ORDER.length : at;
}

function evidenceValue(key, value) {
  if (value === null || value === undefined) return "—";
  if (key === "pharmacies" && Array.isArray(value)) return value.map(pharmacyLabel).join("、");
  if (/pharmacy_code$/.test(key)) return pharmacyLabel(value);
  if (key === "drug_code" && state.drugNames.has(value)) return `${state.drugNames.get(value)}（${value}）`;
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join("、");
  if (typeof value === "object") return JSON.stringify(value);
  if (/_at$/.test(key) || key === "valid_until") return formatInstant(value);
  if (/adcode|county/.test(key) && state.names.has(String(value))) return `${state.names.get(String(value))}（${value}）`;
  return String(value);
}

function flagCard(flag) {
  const id = (name) => `flag-${flag.id}-${name}`;
  const evidence = Object.entries(flag.evidence || {}).sort(([a], [b]) => evidenceRank(a) - evidenceRank(b));
  const card = h("article", { class: `flag ${flag.severity}`, "aria-labelledby": id("title") },
    h("header", {},
      h("h3", { id: id("title") }, `#${flag.id} ${FLAG_TYPE[flag.type] || flag.type}`),
      badge(`风险：${SEVERITY[flag.severity] || flag.severity}`, flag.severity === "high" ? "bad" : "warn"),
      statusBadge(flag.status, FLAG_STATUS),
      h("span", { class: "sub" }, `${formatInstant(flag.created_at)} · ${countyName(flag.region)} · ${subjectLabel(flag.subject)}`)),
    facts(h("dl", { class: "facts" }), evidence.map(([key, value]) => [EVIDENCE[key] || key, evidenceValue(key, value)])),
    flagDetail(flag, { openPrescription: openOnTracker }));
  if (flag.status !== "open") {
    card.append(h("p", { class: "sub" }, `审核：${FLAG_STATUS[flag.status]}，${flag.reviewed_by || ""} ${formatInstant(flag.reviewed_at)}：${flag.review_note || ""}`));
    return card;
  }
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  const form = h("form", { novalidate: true },
    h("fieldset", {}, h("legend", {}, "审核结论"),
      h("span", {}, h("input", { type: "radio", name: "decision", value: "confirmed", id: id("confirm"), required: true }),
        h("label", { for: id("confirm") }, " 确认违规")),
      h("span", {}, h("input", { type: "radio", name: "decision", value: "dismissed", id: id("dismiss") }),
        h("label", { for: id("dismiss") }, " 排除（误报）"))),
    h("div", { class: "field grow" }, h("label", { for: id("note") }, "审核意见"),
      h("input", { id: id("note"), name: "note", required: true, maxlength: 2000, "aria-describedby": `${id("note")}-error` }),
      h("p", { class: "field-error", id: `${id("note")}-error` })),
    h("button", { type: "submit", class: "primary" }, "提交审核"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = form.querySelector("input[name=decision]:checked");
    if (!validate(form)) return;
    if (!decision) { showMessage(problem, "请选择审核结论。"); return; }
    await busy(event.submitter, async () => {
      try {
        const reviewed = await api(`/flags/${flag.id}/review`, { method: "POST",
          body: { decision: decision.value, note: form.querySelector("input[name=note]").value.trim() } });
        notify(`预警 #${flag.id} 审核完成：${FLAG_STATUS[reviewed.status]}。`);
        card.replaceWith(flagCard(reviewed));
      } catch (error) {
        showProblem(problem, error, "审核失败");
      }
    });
  });
  card.append(form, problem);
  return card;
}

// --- Procurement execution (集采执行) ---------------------------------------------------------

async function loadExecution(more = false) {
  clearProblem($("#execution-error"));
  let report;
  const latest = executionLoads();
  try {
    report = await api("/procurement/execution", { query: {
      region: $("#execution-region").value.trim(), as_of: $("#execution-as-of").value,
      behind: $("#execution-behind").checked ? "true" : null, limit: 50, cursor: more ? state.executionCursor : null } });
  } catch (error) {
    if (latest()) showProblem($("#execution-error"), error, "无法读取集采执行情况");
    return;
  }
  if (!latest()) return;
  state.executionCursor = report.next_cursor;
  if (!more) {
    const { summary } = report;
    const open = Object.values(summary.open_alerts || {}).reduce((a, b) => a + b, 0);
    fill($("#execution-summary"), `截至 ${report.as_of}：共 ${summary.lines} 条执行记录，其中 ${summary.with_agreement} 条有约定采购量；`,
      summary.behind ? badge(`进度落后 ${summary.behind} 条`, "bad") : badge("无进度落后", "ok"), " ",
      open ? badge(`待处理预警 ${open} 条`, "warn") : null,
      report.years.length ? h("span", { class: "sub" }, report.years.map((y) =>
        `${y.batch_code} 协议年度 ${y.year_start} 至 ${lastDay(y.year_end)}，时间进度 ${Math.round(y.schedule_share * 100)}%`).join("；")) : null);
    fill($("#execution-table tbody"));
    loadProcurementAlerts();
    loadBureauDecisions({ institutionName: (code) => state.institutionNames.get(code) || code,
      refresh: () => loadExecution() });
  }
  for (const item of report.items) if (item.institution_name) state.institutionNames.set(item.institution_code, item.institution_name);
  $("#execution-table tbody").append(...report.items.map((item) => executionRow(item, countyName)));
  show($("#execution-empty"), !more && report.items.length === 0);
  show($("#execution-more"), Boolean(report.next_cursor));
}

async function loadProcurementAlerts() {
  try {
    const pages = await Promise.all(PROCUREMENT_ALERTS.map((type) => api("/flags", { query: { status: "open", type, limit: 20 } })));
    const open = pages.flatMap((page) => page.items).sort((a, b) => (a.severity === "high" ? 0 : 1) - (b.severity === "high" ? 0 : 1));
    fill($("#procurement-alert-list"), open.map((flag) => openAlertItem(flag, subjectLabel(flag.subject))));
    show($("#procurement-alerts"), open.length > 0);
  } catch (error) {
    showProblem($("#execution-error"), error, "无法读取集采预警");
  }
}

// Start last: every declaration above is initialised by then.
const account = await startPage(["bureau", "admin"]);
await whenStarted(account && start());
