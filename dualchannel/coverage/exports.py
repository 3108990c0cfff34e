"""The coverage report as files: GeoJSON for maps, CSV for spreadsheets.

Both carry the same county properties as the JSON report (`schemas.county_properties`).
"""

import json
from typing import TYPE_CHECKING

import numpy as np
import shapely
from flask import Response

from dualchannel.api import csv_response
from dualchannel.coverage.schemas import COUNTY_FIELDS, county_properties, summary
from dualchannel.coverage.services import CoverageMap
from dualchannel.coverage.rules import Report
from dualchannel.geo import crs as geo_crs

if TYPE_CHECKING:
    from dualchannel.pharmacies.models import Pharmacy


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _to_crs(geometries: np.ndarray, crs: str) -> np.ndarray:
    if crs == "wgs84":
        return geometries

    def convert(lon_lat: np.ndarray) -> np.ndarray:
        lat, lon = geo_crs.wgs84_to(lon_lat[:, 1], lon_lat[:, 0], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geometries, convert)


def pharmacy_properties(p: "Pharmacy") -> dict:
    return {"kind": "pharmacy", "code": p.code, "name": p.name, "status": p.status, "address": p.address,
            "county_adcode": p.county_adcode, "county_mismatch": p.county_mismatch, "cold_chain": p.cold_chain,
            "traceability": p.traceability}


def geojson(found: CoverageMap, crs: str = "wgs84") -> str:
    """A FeatureCollection: one (Multi)Polygon per county with its coverage properties, and one
    Point per pharmacy (applied, active or suspended) with code, name and status.

    Geometries are serialised by shapely in C (a national map has about 1.2 million vertices);
    the text is assembled around them instead of going through Python objects.
    """
    report = found.report
    polygons = shapely.to_geojson(_to_crs(found.geometries, crs))
    located = found.pharmacies
    points = shapely.to_geojson(_to_crs(shapely.points([p.lon for p in located], [p.lat for p in located]), crs)) \
        if located else []
    features = [
        f'{{"type":"Feature","id":{_dumps(row.county.adcode)},'
        f'"properties":{_dumps({"kind": "county", **county_properties(row)})},"geometry":{polygon}}}'
        for row, polygon in zip(report.counties, polygons)
    ]
    features += [
        f'{{"type":"Feature","id":{_dumps(p.code)},"properties":{_dumps(pharmacy_properties(p))},"geometry":{point}}}'
        for p, point in zip(located, points)
    ]
    head = {"type": "FeatureCollection", "region": report.region.adcode, "region_name": report.region.name,
            "level": report.region.level, "total": report.total, "covered": report.covered,
            "uncovered": report.uncovered, "summary": summary(report), "coordinate_system": crs}
    return _dumps(head)[:-1] + ',"features":[' + ",".join(features) + "]}"


def geojson_response(found: CoverageMap, crs: str = "wgs84") -> Response:
    """The GeoJSON export as an `application/geo+json` download."""
    return Response(geojson(found, crs), mimetype="application/geo+json",
                    headers={"Content-Disposition":
                             f'inline; filename="coverage-{found.report.region.adcode}.geojson"'})


def csv_export(report: Report) -> Response:
    """The CSV export (`api.csv_response`): one line per county, COUNTY_FIELDS as the header."""
    return csv_response([county_properties(row) for row in report.counties], list(COUNTY_FIELDS),
                        f"coverage-{report.region.adcode}.csv")
