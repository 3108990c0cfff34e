// The coverage map: county-level divisions of a region drawn as SVG from the coverage GeoJSON
// (GET /api/v1/coverage.geojson), coloured by their number of active dual-channel pharmacies,
// uncovered ones hatched in red, pharmacies as points. No tiles, no library: lon/lat are
// projected equirectangularly (x scaled by cos of the middle latitude) to the region's bounds.

import { h } from "./ui.js";

const WIDTH = 760;
const PADDING = 16;

function isArea(feature) {
  const type = feature && feature.geometry && feature.geometry.type;
  return type === "Polygon" || type === "MultiPolygon";
}

function isPoint(feature) { return feature && feature.geometry && feature.geometry.type === "Point"; }

function polygons(geometry) {
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
}

/** Split a FeatureCollection into counties and pharmacies (their properties, with location). */
export function readCoverage(collection) {
  const features = (collection && collection.features) || [];
  const counties = features.filter(isArea).map((f) => ({
    ...f.properties, adcode: String(f.properties.adcode ?? f.id), geometry: f.geometry,
    active_pharmacies: Number(f.properties.active_pharmacies ?? 0),
  }));
  const pharmacies = features.filter(isPoint).map((f) => ({
    ...f.properties, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
  }));
  for (const county of counties) {
    if (county.covered === undefined) county.covered = county.active_pharmacies > 0;
  }
  return { counties, pharmacies };
}

/** The county a pharmacy point belongs to (its computed county, as the API names it). */
export function countyOfPharmacy(pharmacy) {
  return String(pharmacy.county_adcode ?? pharmacy.adcode ?? "");
}

/** A projection fitted to the counties' bounds: ([lon, lat]) -> [x, y], and the map's height. */
export function fitProjection(counties) {
  let minLon = Infinity; let maxLon = -Infinity; let minLat = Infinity; let maxLat = -Infinity;
  for (const county of counties) {
    for (const polygon of polygons(county.geometry)) {
      for (const [lon, lat] of polygon[0]) {
        if (lon < minLon) minLon = lon;
        if (lon > maxLon) maxLon = lon;
        if (lat < minLat) minLat = lat;
        if (lat > maxLat) maxLat = lat;
      }
    }
  }
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * k, 1e-6);
  const spanY = Math.max(maxLat - minLat, 1e-6);
  const height = Math.round(Math.min(Math.max((WIDTH * spanY) / spanX, 360), 640));
  const scale = Math.min((WIDTH - 2 * PADDING) / spanX, (height - 2 * PADDING) / spanY);
  const offsetX = (WIDTH - spanX * scale) / 2;
  const offsetY = (height - spanY * scale) / 2;
  const project = ([lon, lat]) => [offsetX + (lon - minLon) * k * scale, offsetY + (maxLat - lat) * scale];
  return { project, width: WIDTH, height };
}

function pathData(geometry, project) {
  const parts = [];
  for (const polygon of polygons(geometry)) {
    for (const ring of polygon) {
      parts.push(ring.map((point, i) => {
        const [x, y] = project(point);
        return `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
      }).join("") + "Z");
    }
  }
  return parts.join("");
}

function ringArea(ring) {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
  }
  return sum / 2;
}

/** Where to write a county's name: the centroid of its largest polygon's outer ring. */
export function labelPoint(geometry) {
  let best = null;
  let bestArea = 0;
  for (const polygon of polygons(geometry)) {
    const area = Math.abs(ringArea(polygon[0]));
    if (area > bestArea) { best = polygon[0]; bestArea = area; }
  }
  if (!best) return null;
  let cx = 0; let cy = 0; let a = 0;
  for (let i = 0, j = best.length - 1; i < best.length; j = i++) {
    const f = best[j][0] * best[i][1] - best[i][0] * best[j][1];
    cx += (best[j][0] + best[i][0]) * f;
    cy += (best[j][1] + best[i][1]) * f;
    a += f;
  }
  return a ? [cx / (3 * a), cy / (3 * a)] : best[0];
}

export function level(count) { return count <= 0 ? 0 : Math.min(count, 3); }

/** A province or city of a display layer (GET /coverage/map): it holds several counties. */
function isAggregate(unit) { return unit.level === "province" || unit.level === "city"; }

/** A province's or city's colour follows the share of its counties covered; a county's, its pharmacies. */
function unitClass(unit) {
  if (!isAggregate(unit)) return `level-${level(unit.active_pharmacies)}`;
  if (unit.uncovered_counties === 0) return "level-3";
  return unit.covered_counties > 0 ? "partial" : "level-0";
}

function unitLabel(unit) {
  if (isAggregate(unit)) {
    return `${unit.name}：${unit.covered_counties}/${unit.counties} 个县级区划已覆盖，${unit.active_pharmacies} 家在用双通道药店（点击查看下级）`;
  }
  return `${unit.name}：${unit.active_pharmacies > 0 ? `${unit.active_pharmacies} 家在用双通道药店` : "没有在用的双通道药店（未覆盖）"}`;
}

// 内蒙古自治区 → 内蒙古, 广西壮族自治区 → 广西: names that fit a national map.
const SHORT = /(壮族|回族|维吾尔)?(自治区|特别行政区|省|市)$/;
function shortName(name, dense) { return dense ? name.replace(SHORT, "") || name : name; }

/**
 * Draw `coverage` ({counties, pharmacies} from readCoverage) into `svg`.
 * `onSelect(adcode)` is called on a click or on Enter/Space on a focused county.
 * Returns {select(adcode), markLost(adcodes)} to update the drawing without redrawing it.
 */
export function drawCoverageMap(svg, coverage, { onSelect } = {}) {
  const { counties, pharmacies } = coverage;
  svg.replaceChildren();
  if (!counties.length) return { select() {}, markLost() {} };
  const { project, width, height } = fitProjection(counties);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.append(h("svg:defs", {},
    h("svg:pattern", { id: "coverage-hatch", patternUnits: "userSpaceOnUse", width: 8, height: 8, patternTransform: "rotate(45)" },
      h("svg:rect", { width: 8, height: 8, fill: "#fee4e2" }),
      h("svg:line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#d92d20", "stroke-width": 3 }))));
  const shapes = new Map();
  const areaLayer = h("svg:g", { class: "counties" });
  const labelLayer = h("svg:g", { class: "labels", "aria-hidden": "true" });
  const pointLayer = h("svg:g", { class: "pharmacies", "aria-hidden": "true" });
  const dense = counties.length > 20;  // a national view: 34 provinces, smaller names
  for (const county of counties) {
    const label = unitLabel(county);
    const path = h("svg:path", {
      d: pathData(county.geometry, project), class: `county ${unitClass(county)}`,
      "fill-rule": "evenodd", tabindex: 0, role: "button", "aria-label": label, "aria-pressed": "false",
      dataset: { adcode: county.adcode },
    }, h("svg:title", {}, label));
    path.addEventListener("click", () => onSelect && onSelect(county.adcode));
    path.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); if (onSelect) onSelect(county.adcode); }
    });
    shapes.set(county.adcode, path);
    areaLayer.append(path);
    const at = labelPoint(county.geometry);
    if (at) {
      const [x, y] = project(at);
      const covered = isAggregate(county) ? county.uncovered_counties === 0 : county.active_pharmacies > 0;
      const note = isAggregate(county) ? `${county.uncovered_counties} 县未覆盖` : "未覆盖";
      labelLayer.append(h("svg:text", { x: x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle",
        "dominant-baseline": "middle", class: `county-label ${covered ? "" : "uncovered"} ${dense ? "dense" : ""}` },
      covered || dense ? shortName(county.name, dense) : [
        h("svg:tspan", { x: x.toFixed(1), dy: "-0.55em" }, shortName(county.name, dense)),
        h("svg:tspan", { x: x.toFixed(1), dy: "1.2em" }, note)]));
    }
  }
  for (const pharmacy of pharmacies) {
    if (!Number.isFinite(pharmacy.lon) || !Number.isFinite(pharmacy.lat)) continue;
    const [x, y] = project([pharmacy.lon, pharmacy.lat]);
    pointLayer.append(h("svg:circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 5,
      class: `pharmacy-point ${pharmacy.status || "active"}` }, h("svg:title", {}, pharmacy.name || pharmacy.code)));
  }
  svg.append(areaLayer, pointLayer, labelLayer);
  return {
    select(adcode) {
      for (const [code, path] of shapes) {
        path.classList.toggle("selected", code === adcode);
        path.setAttribute("aria-pressed", String(code === adcode));
      }
      // Draw the selected county's outline above its neighbours.
      const chosen = shapes.get(adcode);
      if (chosen) areaLayer.append(chosen);
    },
    markLost(adcodes) {
      const lost = new Set(adcodes);
      for (const [code, path] of shapes) path.classList.toggle("would-lose", lost.has(code));
    },
  };
}

/**
 * The counties a what-if answer (`GET /api/v1/coverage/what-if`) says would lose coverage,
 * as [{adcode, name}].
 */
export function lostCounties(answer) {
  return (answer.counties || []).map((c) => ({ adcode: String(c.adcode), name: c.name }));
}
