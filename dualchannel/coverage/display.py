"""Display layers of the coverage map: legible at every level, light enough to send.

A map shows the level under the region: the national view by province, a province by city, a
city by county (a county alone shows itself). The boundaries kept for deciding which county a
pharmacy stands in (about 1.2 million vertices, 7 MB gzipped) are far too detailed to draw a
country: each level here is simplified for its scale as one coverage (neighbours keep shared
edges, so no slivers appear), dissolved into the units it shows, and rounded to a grid that
still resolves a pixel at that scale. Layers are built on first use and kept per process.

| view          | units    | simplification (degrees) | rounding |
|---------------|----------|--------------------------|----------|
| national      | province | 0.02 (≈ 2 km)            | 0.001    |
| province      | city     | 0.004                    | 0.0005   |
| city, county  | county   | as stored (0.0015)       | 0.0001   |
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass

import shapely
from flask import Response, request

from dualchannel.coverage.rules import Report
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.geo.boundaries import NATIONAL_ADCODE

# level of the region -> (level of the units shown, simplification tolerance, rounding grid)
LEVELS = {
    "national": ("province", 0.02, 0.001),
    "province": ("city", 0.004, 0.0005),
    "city": ("county", 0.0, 0.0001),
    "county": ("county", 0.0, 0.0001),
}
# Compress answers larger than this when the client accepts gzip.
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class Layer:
    """The drawn units of one region: adcode -> GeoJSON geometry text (WGS-84)."""

    unit_level: str
    geometries: dict[str, str]


_cache: dict[tuple[int, str], Layer] = {}
_lock = threading.Lock()


def unit_of(county, unit_level: str) -> tuple[str, str]:
    """(adcode, name) of the unit a county belongs to at `unit_level`."""
    if unit_level == "province":
        return county.province_adcode, county.province_name
    if unit_level == "city":
        return county.city_adcode, county.city_name
    return county.adcode, county.name


def layer(report: Report) -> Layer:
    """The display geometry of `report`'s region, built once per process and region."""
    boundaries = geo_boundaries.current()
    key = (id(boundaries), report.region.adcode)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            return found
        built = _build(boundaries, report)
        _cache[key] = built
        return built


def _build(boundaries, report: Report) -> Layer:
    unit_level, tolerance, grid = LEVELS[report.region.level]
    indexes = [boundaries.index(row.county.adcode) for row in report.counties]
    geometries = boundaries.geometries[indexes]
    if tolerance:
        geometries = shapely.coverage_simplify(geometries, tolerance)
    groups: dict[str, list[int]] = {}
    for position, row in enumerate(report.counties):
        groups.setdefault(unit_of(row.county, unit_level)[0], []).append(position)
    drawn = {}
    for adcode, members in groups.items():
        shape = geometries[members[0]] if len(members) == 1 else shapely.coverage_union_all(geometries[members])
        shape = shapely.set_precision(shape, grid, mode="pointwise")
        drawn[adcode] = shapely.to_geojson(shape)
    return Layer(unit_level=unit_level, geometries=drawn)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def units(report: Report, unit_level: str) -> list[dict]:
    """Per drawn unit: its counties, covered and uncovered ones, and pharmacies by status."""
    found: dict[str, dict] = {}
    for row in report.counties:
        adcode, name = unit_of(row.county, unit_level)
        unit = found.setdefault(adcode, {"adcode": adcode, "name": name, "level": unit_level, "counties": 0,
                                         "covered_counties": 0, "uncovered": [], "active_pharmacies": 0,
                                         "applied_pharmacies": 0, "suspended_pharmacies": 0})
        unit["counties"] += 1
        unit["covered_counties"] += 1 if row.covered else 0
        if not row.covered:
            unit["uncovered"].append(row.county.adcode)
        unit["active_pharmacies"] += row.active
        unit["applied_pharmacies"] += row.applied
        unit["suspended_pharmacies"] += row.suspended
    for unit in found.values():
        unit["covered"] = not unit["uncovered"]
        unit["uncovered_counties"] = len(unit["uncovered"])
    return list(found.values())


def parents(report: Report) -> list[dict]:
    """The way up from the region: national, its province, its city (the region itself last)."""
    region = report.region
    chain = [{"adcode": NATIONAL_ADCODE, "name": "全国", "level": "national"}]
    if region.level == "national" or not report.counties:
        return chain
    county = report.counties[0].county
    chain.append({"adcode": county.province_adcode, "name": county.province_name, "level": "province"})
    if region.level in ("city", "county") and county.city_adcode != county.province_adcode:
        chain.append({"adcode": county.city_adcode, "name": county.city_name, "level": "city"})
    if region.level == "county":
        chain.append({"adcode": county.adcode, "name": county.name, "level": "county"})
    return chain


def feature_collection(report: Report, points: list[tuple[dict, str]] = ()) -> str:
    """The region's display layer as GeoJSON text: one feature per unit with its coverage, and
    pharmacies as points (given as (properties, geometry text)) in city and county views."""
    drawn = layer(report)
    features = [f'{{"type":"Feature","id":{_dumps(unit["adcode"])},"properties":{_dumps({"kind": "area", **unit})},'
                f'"geometry":{drawn.geometries[unit["adcode"]]}}}' for unit in units(report, drawn.unit_level)]
    features += [f'{{"type":"Feature","id":{_dumps(p["code"])},"properties":{_dumps(p)},"geometry":{geometry}}}'
                 for p, geometry in points]
    head = {"type": "FeatureCollection", "region": report.region.adcode, "region_name": report.region.name,
            "level": report.region.level, "unit_level": drawn.unit_level, "parents": parents(report),
            "total": report.total, "covered": report.covered, "uncovered": report.uncovered}
    return _dumps(head)[:-1] + ',"features":[' + ",".join(features) + "]}"


def compressed(response: Response) -> Response:
    """`response` gzipped when the client accepts gzip and it is worth it (Vary: Accept-Encoding)."""
    response.vary.add("Accept-Encoding")
    if "gzip" not in request.accept_encodings or response.direct_passthrough:
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def sizes(report: Report) -> tuple[int, int]:
    """(raw, gzipped) bytes of a region's display layer without pharmacies: for the README's table."""
    text = feature_collection(report).encode()
    return len(text), len(gzip.compress(text, compresslevel=6, mtime=0))
