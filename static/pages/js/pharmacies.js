// The public list of dual-channel pharmacies (seed 003: 及时向社会公布): no sign-in. Filter by
// region, or sort nearest first from a point typed from a phone map or given by the browser.

import { api } from "./api.js";
import { $, badge, busy, clearProblem, fill, h, setFieldError, show, showProblem, validate } from "./ui.js";

const PAGE_SIZE = 50;
const OPENING = { open: ["正常服务", "ok"], suspended: ["暂停服务", "warn"] };
const state = { query: {}, cursor: null, shown: 0 };

/** The API without a token: an empty one is sent as none, and a 401 would not sign anyone out. */
const published = (query) => api("/public/pharmacies", { query, token: "" });

async function start() {
  $("#filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(event.submitter || $("#filter-form button[type=submit]"));
  });
  $("#more").addEventListener("click", () => busy($("#more"), () => load(false)));
  $("#locate").addEventListener("click", locate);
  await Promise.all([fillRegions(), load(true)]);
}

/** Regions to filter by: the cities and counties that have a published pharmacy. */
async function fillRegions() {
  const cities = new Map();
  let cursor = null;
  for (let page = 0; page < 20; page += 1) {
    const answer = await published({ limit: 500, cursor });
    for (const p of answer.items) {
      if (!p.city_adcode || !p.county_adcode) continue;
      const city = cities.get(p.city_adcode) || { name: p.city_name, counties: new Map() };
      city.counties.set(p.county_adcode, p.county_name);
      cities.set(p.city_adcode, city);
    }
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  const select = $("#filter-region");
  for (const [adcode, city] of [...cities].sort()) {
    select.append(h("optgroup", { label: city.name || adcode },
      h("option", { value: adcode }, `${city.name || adcode}（全部）`),
      [...city.counties].sort().map(([code, name]) => h("option", { value: code }, `${city.name || ""} ${name || code}`))));
  }
}

function search(button) {
  const lat = $("#near-lat"), lon = $("#near-lon");
  const form = $("#filter-form");
  if (!validate(form)) return;
  if (Boolean(lat.value) !== Boolean(lon.value)) {
    setFieldError(lat.value ? lon : lat, "请同时填写纬度和经度。");
    return;
  }
  state.query = {
    region: $("#filter-region").value, lat: lat.value, lon: lon.value,
    crs: lat.value ? $("#near-crs").value : "",
  };
  busy(button, () => load(true));
}

async function load(fresh) {
  const box = $("#list-error");
  clearProblem(box);
  try {
    const answer = await published({ ...state.query, limit: PAGE_SIZE, cursor: fresh ? null : state.cursor });
    const body = $("#pharmacy-table tbody");
    if (fresh) { body.replaceChildren(); state.shown = 0; }
    body.append(...answer.items.map(row));
    state.cursor = answer.next_cursor;
    state.shown += answer.items.length;
    show($("#more"), Boolean(state.cursor));
    show($("#list-empty"), state.shown === 0);
    show($("#pharmacy-table"), state.shown > 0);
    const near = Boolean(state.query.lat);
    fill($("#list-summary"), state.shown === 0 ? "" : `已显示 ${state.shown} 家双通道药店${near ? "，按距离由近到远排列" : ""}${state.cursor ? "，还有更多" : ""}。`);
  } catch (error) {
    showProblem(box, error, "无法读取药店名单");
  }
}

function row(p) {
  const [label, kind] = OPENING[p.opening_state] || [p.opening_state, "info"];
  return h("tr", { dataset: { code: p.code } },
    h("td", {}, h("strong", {}, p.name), h("span", { class: "sub" }, `医保编码 ${p.code}`)),
    h("td", {}, p.address),
    h("td", {}, `${p.city_name || ""} ${p.county_name || p.county_adcode || ""}`.trim()),
    h("td", {}, p.cold_chain ? badge("可提供冷链", "info") : "—"),
    h("td", {}, badge(label, kind)),
    h("td", { class: "num" }, p.distance_km === null ? "—" : `${p.distance_km.toFixed(2)} 公里`));
}

function locate() {
  const box = $("#list-error");
  clearProblem(box);
  if (!navigator.geolocation) {
    fill(box, h("p", { class: "problem-title" }, "此浏览器不能提供位置，请手工填写经纬度。"));
    show(box);
    return;
  }
  navigator.geolocation.getCurrentPosition((position) => {
    $("#near-lat").value = position.coords.latitude.toFixed(6);
    $("#near-lon").value = position.coords.longitude.toFixed(6);
    $("#near-crs").value = "wgs84";  // browsers give GPS coordinates
    search($("#locate"));
  }, () => {
    fill(box, h("p", { class: "problem-title" }, "未能取得您的位置（可能未允许定位），请手工填写经纬度。"));
    show(box);
  }, { timeout: 10000 });
}

start();
