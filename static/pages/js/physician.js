// The physician's page: find a patient, eligibility and re-examinations due, issue a
// prescription, choose a pharmacy (nearest first, with stock) and route, follow recent ones.

import { api } from "./api.js";
import {
  ASSISTANCE, INSURANCE, PRESCRIPTION_STATUS, STORAGE, chinaToday, formatInstant, formatLastDay, pickupLabel,
  reviewLabel,
} from "./i18n.js";
import { slip } from "./physician-slip.js";
import { loadWorklist } from "./physician-worklist.js";
import { pageSettings, startPage, whenStarted } from "./session.js";
import { reasonFields, trackerView } from "./tracker.js";
import {
  $, badge, busy, clearProblem, facts, fill, h, latestLoads, notify, show, showMessage, showProblem, statusBadge,
  validate,
} from "./ui.js";

// An eligibility ending within this many days is due for re-examination (复查评估).
const REEXAMINATION_NOTICE_DAYS = 30;
const CUSTOM = "custom";

const settings = pageSettings();
const state = { drugs: [], patient: null, latest: new Map(), target: null, detailId: null, detailStatus: null };

async function start() {
  if (account.responsible === false) {
    showMessage($("#page-error"), "您不是医保责任医师：可以查询，但不能认定待遇资格或开具双通道处方。");
  }
  fill($("#valid-days"), Array.from({ length: settings.maxValidDays }, (_, i) =>
    h("option", { value: i + 1, selected: i + 1 === settings.maxValidDays }, `${i + 1} 天`)));
  fill($("#recent-status"), h("option", { value: "" }, "全部"),
    Object.entries(PRESCRIPTION_STATUS).map(([code, label]) => h("option", { value: code }, label)));
  setUpLocations();
  $("#patient-search").addEventListener("submit", findPatient);
  $("#register-form").addEventListener("submit", registerPatient);
  $("#eligibility-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!validate(event.target)) return;
    recordEligibility($("#eligibility-drug").value, $("#eligibility-until").value || null, event.submitter);
  });
  $("#issue-form").addEventListener("submit", issuePrescription);
  $("#add-item").addEventListener("click", () => addItemRow());
  $("#location-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (validate(event.target)) loadOptions();
  });
  $("#recent-filter").addEventListener("submit", (event) => { event.preventDefault(); loadRecent(); });
  $("#recent-status").addEventListener("change", () => loadRecent());
  try {
    state.drugs = (await api("/drugs", { query: { dual_channel: "true" } })).items;
  } catch (error) {
    showProblem($("#issue-error"), error, "无法读取双通道药品目录");
  }
  fillEligibilityDrugs();
  addItemRow();
  $("#slip-print").addEventListener("click", () => window.print());
  await Promise.all([loadWorklist(openPatientById), loadRecent()]);
  // Follow the status of recent prescriptions while the page is in view.
  setInterval(() => { if (!document.hidden) loadRecent(); }, 30000);
  $("#patient-id-number").focus();
}

// --- Patient -------------------------------------------------------------------------------

async function findPatient(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  await busy(form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#patient-error"));
    show($("#register-patient"), false);
    try {
      // The person, not just a number: a wrong name is answered as an unknown number.
      const patient = await api("/patients/search", { method: "POST", body: {
        id_number: $("#patient-id-number").value.trim(), name: $("#patient-name").value.trim() } });
      await choosePatient(patient);
    } catch (error) {
      choosePatient(null);
      showProblem($("#patient-error"), error);
      if (error.status === 404) {
        $("#register-region").value = (account.region && account.region.adcode) || "";
        show($("#register-patient"), true);
      }
    }
  });
}

async function registerPatient(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form) || !validate($("#patient-search"))) return;
  await busy(form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#register-error"));
    try {
      const patient = await api("/patients", { method: "POST", body: {
        id_number: $("#patient-id-number").value.trim(), name: $("#patient-name").value.trim(),
        insurance: $("#register-insurance").value, region: $("#register-region").value.trim(),
        assistance_category: $("#register-assistance").value,
        filed_region: $("#register-filed-region").value.trim() || null } });
      notify(`已登记参保人 ${patient.name}。`);
      show($("#register-patient"), false);
      clearProblem($("#patient-error"));
      await choosePatient(patient);
    } catch (error) {
      if (error.status === 409 && error.problem && error.problem.patient_id) {
        // Already registered, and found by this number and name: the patient is in our care now.
        show($("#register-patient"), false);
        clearProblem($("#patient-error"));
        await choosePatient(await api(`/patients/${error.problem.patient_id}`));
        return;
      }
      showProblem($("#register-error"), error, "登记失败");
    }
  });
}

/** From the re-examination worklist: the patient opened as if found. */
async function openPatientById(id) {
  clearProblem($("#patient-error"));
  try {
    const patient = await api(`/patients/${id}`);
    $("#patient-name").value = patient.name;
    $("#patient-id-number").value = "";
    await choosePatient(patient);
    $("#eligibility-title").focus();
  } catch (error) {
    showProblem($("#patient-error"), error, "无法打开患者");
  }
}

/** A new patient starts from empty forms: nothing of the previous one's stays selected. */
function resetForNewPatient() {
  $("#issue-form").reset();
  fill($("#items"));
  rowSerial = 0;  // no row left: the first is item-0 again
  addItemRow();
  $("#eligibility-form").reset();
  $("#register-form").reset();
  for (const box of ["#issue-error", "#eligibility-error", "#route-error", "#register-error", "#slip-error"]) clearProblem($(box));
  state.target = null;
  show($("#route-section"), false);
  show($("#slip-section"), false);
  fill($("#slip-area"));
  setUpLocations();
  for (const part of document.querySelectorAll(".custom-location")) part.hidden = true;
}

async function choosePatient(patient) {
  if (!patient || !state.patient || state.patient.id !== patient.id) resetForNewPatient();
  state.patient = patient;
  show($("#patient-card"), Boolean(patient));
  show($("#eligibility-section"), Boolean(patient));
  show($("#issue-section"), Boolean(patient));
  if (!patient) return;
  facts($("#patient-facts"), [
    ["姓名", patient.name],
    ["身份证号", patient.id_number_masked],
    ["参保类型", INSURANCE[patient.insurance] || patient.insurance],
    ["统筹地区", patient.region],
    ["异地备案地区", patient.filed_region || "无"],
    ["医疗救助类别", ASSISTANCE[patient.assistance_category] || patient.assistance_category || "无"],
  ]);
  // Before prescribing: what the patient already got, at every pharmacy (the PDMP lookup).
  $("#patient-facts").append(h("dt", {}, "用药记录"), h("dd", {}, h("a", {
    href: `/timeline?patient=${patient.id}`, id: "patient-timeline-link" },
  "查看跨药店用药时间轴")));
  await loadEligibility();
}

// --- Eligibility (待遇准入) and re-examination (复查评估) -------------------------------------

function daysUntil(isoDate) {
  return Math.round((Date.parse(`${isoDate}T00:00:00Z`) - Date.parse(`${chinaToday()}T00:00:00Z`)) / 86400000);
}

function eligibilityState(record) {
  if (!record) return { code: "none", label: "未认定", kind: "bad" };
  const left = daysUntil(record.valid_until);
  if (left < 0) return { code: "expired", label: "已过期，须复查评估", kind: "bad" };
  if (left <= REEXAMINATION_NOTICE_DAYS) return { code: "due", label: `${left} 天后到期，需复查评估`, kind: "warn" };
  return { code: "valid", label: "有效", kind: "ok" };
}

function drugName(code) {
  const drug = state.drugs.find((d) => d.code === code);
  return drug ? `${drug.generic_name}（${drug.name}）` : code;
}

async function loadEligibility() {
  clearProblem($("#eligibility-error"));
  let items = [];
  try {
    items = (await api(`/patients/${state.patient.id}/eligibility`)).items;
  } catch (error) {
    showProblem($("#eligibility-error"), error, "无法读取待遇资格");
  }
  // The newest end date per drug is what counts (a renewal adds a record).
  state.latest = new Map();
  for (const record of items) {
    const seen = state.latest.get(record.drug_code);
    if (!seen || record.valid_until > seen.valid_until) state.latest.set(record.drug_code, record);
  }
  const rows = [...state.latest.values()].sort((a, b) => a.valid_until.localeCompare(b.valid_until));
  const due = rows.filter((r) => eligibilityState(r).code !== "valid");
  fill($("#reexam-summary"), rows.length === 0 ? "" : due.length
    ? badge(`需复查评估：${due.length} 项`, "warn") : badge("所有资格均在有效期内", "ok"));
  fill($("#eligibility-table tbody"), rows.map((record) => {
    const status = eligibilityState(record);
    return h("tr", {},
      h("td", {}, drugName(record.drug_code)),
      h("td", { class: "nowrap" }, record.valid_from),
      h("td", { class: "nowrap" }, record.valid_until),
      h("td", {}, badge(status.label, status.kind)),
      h("td", {}, h("button", { type: "button", class: "small",
        "aria-label": `复查评估并续期 ${drugName(record.drug_code)}`,
        onclick: (event) => recordEligibility(record.drug_code, null, event.currentTarget) }, "复查续期")));
  }));
  show($("#eligibility-table"), rows.length > 0);
  show($("#eligibility-empty"), rows.length === 0);
  refreshItemNotes();
}

function fillEligibilityDrugs() {
  fill($("#eligibility-drug"), h("option", { value: "" }, "请选择需认定资格的药品"),
    state.drugs.filter((d) => d.requires_eligibility).map((d) =>
      h("option", { value: d.code }, `${d.generic_name}（${d.name}）`)));
}

async function recordEligibility(drugCode, validUntil, button) {
  const work = async () => {
    clearProblem($("#eligibility-error"));
    try {
      const record = await api(`/patients/${state.patient.id}/eligibility`, {
        method: "POST", body: { drug_code: drugCode, ...(validUntil ? { valid_until: validUntil } : {}) } });
      notify(`${drugName(drugCode)} 的待遇资格有效期至 ${record.valid_until}。`);
      await loadEligibility();
    } catch (error) {
      showProblem($("#eligibility-error"), error, "资格认定失败");
    }
  };
  return button ? busy(button, work) : work();
}

// --- Issue ---------------------------------------------------------------------------------

let rowSerial = 0;

function addItemRow() {
  const n = rowSerial++;
  const id = (name) => `item-${n}-${name}`;
  const field = (name, label, control) => h("div", { class: "field" },
    h("label", { for: id(name) }, label), control, h("p", { class: "field-error", id: `${id(name)}-error` }));
  const select = h("select", { id: id("drug"), name: "drug_code", required: true, "aria-describedby": `${id("drug")}-error` },
    h("option", { value: "" }, "请选择双通道药品"),
    state.drugs.map((d) => h("option", { value: d.code },
      `${d.generic_name}（${d.name}）${d.storage === "cold_chain" ? " · 冷链" : ""}${d.requires_eligibility ? " · 需资格认定" : ""}`)));
  const row = h("div", { class: "item-row", dataset: { row: n } },
    field("drug", "药品", select),
    field("quantity", `数量`, h("input", { id: id("quantity"), name: "quantity", type: "number", min: 1, max: 10000, step: 1, value: 1, required: true, "aria-describedby": `${id("quantity")}-error` })),
    field("days", "用药天数", h("input", { id: id("days"), name: "days_supply", type: "number", min: 1, max: settings.maxDaysSupply, step: 1, value: 28, required: true, "aria-describedby": `${id("days")}-error` })),
    field("dosage", "用法用量", h("input", { id: id("dosage"), name: "dosage", maxlength: 200, required: true, placeholder: "如：每日一次，每次1片", "aria-describedby": `${id("dosage")}-error` })),
    h("button", { type: "button", class: "quiet small", "aria-label": "删除此药品",
      onclick: () => { if ($("#items").children.length > 1) { row.remove(); } } }, "删除"),
    h("p", { class: "item-note", id: id("note"), "aria-live": "polite" }));
  select.addEventListener("change", refreshItemNotes);
  $("#items").append(row);
  refreshItemNotes();
  return row;
}

function refreshItemNotes() {
  for (const row of $("#items").children) {
    const code = row.querySelector("select").value;
    const note = row.querySelector(".item-note");
    const drug = state.drugs.find((d) => d.code === code);
    note.className = "item-note";
    note.textContent = "";
    if (!drug) continue;
    const unit = drug.unit ? `数量单位：${drug.unit}` : "";
    if (drug.requires_eligibility && state.patient) {
      const status = eligibilityState(state.latest.get(code));
      if (status.code === "none" || status.code === "expired") {
        note.className = "item-note warn";
        note.textContent = `此药品需待遇资格认定：${status.label}。请先在上方认定或复查续期。`;
        continue;
      }
    }
    note.textContent = unit;
  }
}

async function issuePrescription(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) return;
  const items = [...$("#items").children].map((row) => ({
    drug_code: row.querySelector('[name="drug_code"]').value,
    quantity: Number(row.querySelector('[name="quantity"]').value),
    days_supply: Number(row.querySelector('[name="days_supply"]').value),
    dosage: row.querySelector('[name="dosage"]').value.trim(),
  }));
  await busy(event.submitter || form.querySelector("button[type=submit]"), async () => {
    clearProblem($("#issue-error"));
    try {
      const prescription = await api("/prescriptions", { method: "POST", body: {
        patient_id: state.patient.id, diagnosis: $("#diagnosis").value.trim(),
        valid_days: Number($("#valid-days").value), items } });
      notify(`处方 ${prescription.id} 已开具，请选择药店流转。`);
      $("#diagnosis").value = "";
      fill($("#items"));
      addItemRow();
      await loadRecent();
      await chooseTarget(prescription);
    } catch (error) {
      showProblem($("#issue-error"), error, "开具失败");
    }
  });
}

// --- Pharmacy options and routing ------------------------------------------------------------

// The hospital's own location, when the institution has one: the default start of distances.
const HOSPITAL = "hospital";
let locationsWired = false;

function setUpLocations() {
  const areas = account.areas || [];
  const home = account.home;
  // A home named like one of the areas is a county centre; otherwise it is the hospital itself.
  const located = Boolean(home && home.lat !== null && home.lat !== undefined && !areas.some((a) => a.name === home.name));
  fill($("#location-area"),
    located ? h("option", { value: HOSPITAL, selected: true }, `${home.name}（本院位置）`) : null,
    areas.map((a) => h("option", { value: a.adcode, selected: !located && home && a.adcode === home.adcode },
      `${a.name}${home && a.adcode === home.adcode ? "（本院所在区县中心）" : "（区县中心）"}`)),
    h("option", { value: CUSTOM }, "输入经纬度…"));
  if (locationsWired) return;
  locationsWired = true;
  $("#location-area").addEventListener("change", () => {
    const custom = $("#location-area").value === CUSTOM;
    for (const part of document.querySelectorAll(".custom-location")) part.hidden = !custom;
    if (!custom) loadOptions();
    else $("#location-lat").focus();
  });
}

function origin() {
  const chosen = $("#location-area").value;
  if (chosen === CUSTOM) {
    return { lat: $("#location-lat").value, lon: $("#location-lon").value, crs: $("#location-crs").value };
  }
  if (chosen === HOSPITAL) return { lat: account.home.lat, lon: account.home.lon, crs: "wgs84" };
  const area = (account.areas || []).find((a) => a.adcode === chosen) || account.home;
  return area && area.lat !== null && area.lat !== undefined ? { lat: area.lat, lon: area.lon, crs: "wgs84" } : {};
}

async function chooseTarget(prescription) {
  state.target = prescription;
  const items = prescription.items.map((i) => `${i.drug_name} × ${i.quantity}${i.unit || ""}`).join("、");
  fill($("#route-target"), `处方 ${prescription.id} · ${prescription.patient ? prescription.patient.name : ""} · ${items}`);
  show($("#route-section"), true);
  $("#route-title").focus();
  await loadOptions();
}

async function loadOptions() {
  const prescription = state.target;
  if (!prescription) return;
  clearProblem($("#route-error"));
  let options;
  try {
    options = (await api(`/prescriptions/${prescription.id}/pharmacy-options`, { query: origin() })).items;
  } catch (error) {
    showProblem($("#route-error"), error, "无法查询药店");
    return;
  }
  // Stock of the prescribed drugs at each pharmacy (the options already have enough of it).
  const stocks = await Promise.all(options.map((o) =>
    api(`/pharmacies/${encodeURIComponent(o.code)}/stock`).catch(() => null)));
  show($("#options-table"), options.length > 0);
  show($("#options-empty"), options.length === 0);
  fill($("#options-table tbody"), options.map((option, index) => h("tr", {},
    h("td", {}, option.name, h("span", { class: "sub" }, option.address)),
    h("td", { class: "num" }, option.distance_km === null || option.distance_km === undefined
      ? "—" : `${Number(option.distance_km).toFixed(1)} 公里`),
    h("td", {}, stocks[index] ? prescription.items.map((i) =>
      h("span", { class: "sub" }, `${i.drug_name}：${stocks[index][i.drug_code] ?? 0}${i.unit || ""}`)) : "—"),
    h("td", {}, option.cold_chain ? "有" : "无"),
    h("td", {}, h("button", { type: "button", class: "small primary", "aria-label": `流转至${option.name}`,
      onclick: (event) => route(option, event.currentTarget) }, "流转至此")))));
}

async function route(option, button) {
  const prescription = state.target;
  await busy(button, async () => {
    clearProblem($("#route-error"));
    try {
      const routed = await api(`/prescriptions/${prescription.id}/route`, {
        method: "POST", body: { pharmacy_code: option.code } });
      notify(`处方 ${routed.id} 已流转至 ${option.name}，请打印取药单交给患者。`);
      state.target = null;
      show($("#route-section"), false);
      await loadRecent();
      if (state.detailId === routed.id) renderDetail(routed);
      await showSlip(routed.id);
    } catch (error) {
      showProblem($("#route-error"), error, "流转失败");
    }
  });
}

async function showSlip(id) {
  clearProblem($("#slip-error"));
  show($("#slip-section"), true);
  try {
    fill($("#slip-area"), await slip(id));
    $("#slip-section-title").focus();
  } catch (error) {
    fill($("#slip-area"));
    showProblem($("#slip-error"), error, "无法生成取药单");
  }
}

// --- Recent prescriptions ------------------------------------------------------------------

const recentLoads = latestLoads();  // a filter change and the 30 s refresh can cross

async function loadRecent() {
  const latest = recentLoads();
  try {
    const page = await api("/prescriptions", { query: { limit: 20, status: $("#recent-status").value } });
    if (!latest()) return;
    clearProblem($("#recent-error"));
    fill($("#recent-table tbody"), page.items.map((p) => h("tr", { class: p.id === state.detailId ? "selected" : "" },
      h("td", {}, String(p.id)),
      h("td", {}, statusBadge(p.status, PRESCRIPTION_STATUS)),
      h("td", {}, formatInstant(p.issued_at)),
      h("td", {}, formatLastDay(p.valid_until)),
      h("td", {}, p.pharmacy_code || "—"),
      h("td", {}, h("button", { type: "button", class: "small", "aria-label": `查看处方 ${p.id}`,
        onclick: () => openDetail(p.id) }, "查看")))));
    show($("#recent-empty"), page.items.length === 0);
    $("#recent-updated").textContent = `更新于 ${formatInstant(new Date().toISOString()).slice(11)}`;
    if (state.detailId) openDetail(state.detailId, false);
  } catch (error) {
    if (latest()) showProblem($("#recent-error"), error, "无法读取近期处方");
  }
}

async function openDetail(id, focus = true) {
  try {
    const prescription = await api(`/prescriptions/${id}`);
    // A periodic refresh redraws only on a change, so a half-typed reason is not lost.
    if (!focus && state.detailId === id && state.detailStatus === prescription.status) return;
    state.detailId = id;
    renderDetail(prescription);
    for (const row of $("#recent-table tbody").children) {
      row.classList.toggle("selected", row.firstChild.textContent === String(id));
    }
    if (focus) $("#prescription-detail h3").focus();
  } catch (error) {
    showProblem($("#recent-error"), error);
  }
}

function renderDetail(p) {
  const box = $("#prescription-detail");
  state.detailStatus = p.status;
  const mine = p.next_actions.filter((a) => a.by === "physician");
  const cancelling = mine.find((a) => a.action === "cancel");
  const reason = cancelling ? reasonFields("cancel-reason", cancelling, "作废原因") : null;
  const cancelForm = h("form", { class: "inline-form", hidden: true, novalidate: true },
    reason ? reason.fields : null, h("button", { type: "submit", class: "danger" }, "确认作废"));
  const problem = h("div", { class: "problem", role: "alert", hidden: true });
  const tracker = h("div", { class: "tracker-box", "aria-live": "polite" });
  cancelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!validate(cancelForm)) return;
    await busy(event.submitter, async () => {
      try {
        const done = await api(`/prescriptions/${p.id}/cancel`, { method: "POST", body: reason.read() });
        notify(`处方 ${p.id} 已作废。`);
        renderDetail(done);
        loadRecent();
      } catch (error) {
        showProblem(problem, error, "作废失败");
      }
    });
  });
  const buttons = mine.map((a) => {
    if (a.action === "route") {
      return h("button", { type: "button", class: "primary", onclick: () => chooseTarget(p) }, "选择药店流转");
    }
    if (a.action === "cancel") {
      return h("button", { type: "button", onclick: () => { cancelForm.hidden = false; $("#cancel-reason-code").focus(); } }, a.label || "作废");
    }
    return null;
  });
  fill(box,
    h("h3", { tabindex: -1 }, `处方 ${p.id} `, statusBadge(p.status, PRESCRIPTION_STATUS)),
    facts(h("dl", { class: "facts" }), [
      ["患者", `${p.patient.name}（${p.patient.id_number_masked}）`],
      ["诊断", p.diagnosis],
      ["药品", p.items.map((i) => h("span", { class: "sub" },
        `${i.drug_name} × ${i.quantity}${i.unit || ""}，${i.days_supply} 天，${i.dosage}（${STORAGE[i.storage] || i.storage}）`))],
      ["有效期至", formatLastDay(p.valid_until)],
      ["药店", p.pharmacy_name ? `${p.pharmacy_name}（${p.pharmacy_address}）` : (p.pharmacy_code || "未流转")],
      ["取药人", pickupLabel(p)],
      ["审方", reviewLabel(p)],
    ]),
    buttons.some(Boolean) || p.pharmacy_code ? h("div", { class: "inline-form" }, buttons,
      p.pharmacy_code && ["routed", "verified", "reviewed"].includes(p.status)
        ? h("button", { type: "button", onclick: () => showSlip(p.id) }, "取药单") : null) : null,
    cancelForm, problem, tracker);
  box.hidden = false;
  loadTracker(p.id, tracker);
}

// The tracker (where it is, who holds it, what next and by when, with the reasons) replaces a
// bare history list.
async function loadTracker(id, box) {
  try {
    fill(box, trackerView(await api(`/prescriptions/${id}/tracker`)));
  } catch (error) {
    const problem = h("div", { class: "problem", role: "alert" });
    fill(box, problem);
    showProblem(problem, error, "无法读取处方追踪");
  }
}

// Start last: every declaration above is initialised by then.
const account = await startPage(["physician"]);
await whenStarted(account && start());
