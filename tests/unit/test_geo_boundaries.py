"""Tests for dualchannel.geo.boundaries on the shipped county data."""

import gzip
import json
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from dualchannel.geo import boundaries as boundaries_module
from dualchannel.geo.boundaries import DEFAULT_PATH, Boundaries, County
from dualchannel.geo.crs import CRS_NAMES, to_wgs84, wgs84_to

REPO_ROOT = Path(__file__).resolve().parents[2]

# WGS-84 (lat, lon) of landmarks, far enough (> 200 m) from any county border
# that simplification of the shipped boundaries cannot move them.
LANDMARKS = [
    pytest.param(35.5978, 116.9914, "370881", "曲阜市", id="Qufu Confucius Temple"),
    pytest.param(39.9075, 116.3913, "110101", "东城区", id="Tiananmen"),
    pytest.param(35.4118, 116.5856, "370811", "任城区", id="Jining Taibai Tower, Rencheng"),
    pytest.param(23.1066, 113.3245, "440105", "海珠区", id="Canton Tower"),
    pytest.param(30.3627, 113.4540, "429004", "仙桃市", id="Xiantao"),
    pytest.param(23.0207, 113.7518, "441900", "东莞市", id="Dongguan"),
    pytest.param(29.6578, 91.1169, "540102", "城关区", id="Potala Palace"),
    pytest.param(44.3060, 86.0800, "659001", "石河子市", id="Shihezi"),
]

JINING_DIVISIONS = {
    "370811": "任城区",
    "370812": "兖州区",
    "370826": "微山县",
    "370827": "鱼台县",
    "370828": "金乡县",
    "370829": "嘉祥县",
    "370830": "汶上县",
    "370831": "泗水县",
    "370832": "梁山县",
    "370881": "曲阜市",
    "370883": "邹城市",
}


@pytest.fixture(scope="module")
def boundaries():
    return Boundaries()


@pytest.mark.parametrize("crs", CRS_NAMES)
@pytest.mark.parametrize(("lat", "lon", "adcode", "name"), LANDMARKS)
def test_landmark_lands_in_its_county_from_any_crs(boundaries, lat, lon, adcode, name, crs):
    sent = wgs84_to(lat, lon, crs)  # what a client on that map would send
    county = boundaries.county_of(*to_wgs84(*sent, crs))
    assert county is not None
    assert (county.adcode, county.name) == (adcode, name)


def test_qufu_hierarchy(boundaries):
    assert boundaries.county_of(35.5978, 116.9914) == County(
        adcode="370881",
        name="曲阜市",
        city_adcode="370800",
        city_name="济宁市",
        province_adcode="370000",
        province_name="山东省",
    )


def test_unconverted_gcj02_is_off_by_hundreds_of_metres():
    lat, lon = 39.9075, 116.3913
    g_lat, g_lon = wgs84_to(lat, lon, "gcj02")
    assert 100 < shapely.Point(lon, lat).distance(shapely.Point(g_lon, g_lat)) * 111_000 < 1000


def test_jining_has_exactly_its_eleven_divisions(boundaries):
    counties = boundaries.counties_in("370800")
    assert {c.adcode: c.name for c in counties} == JINING_DIVISIONS
    assert {(c.city_name, c.province_adcode, c.province_name) for c in counties} == {
        ("济宁市", "370000", "山东省")
    }


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        pytest.param(30.0, 125.0, id="East China Sea"),
        pytest.param(20.0, 150.0, id="Pacific"),
        pytest.param(47.92, 106.92, id="Ulaanbaatar"),
        pytest.param(37.5665, 126.9780, id="Seoul"),
        pytest.param(48.8566, 2.3522, id="Paris"),
        pytest.param(-33.87, 151.21, id="Sydney"),
    ],
)
def test_points_outside_china_have_no_county(boundaries, lat, lon):
    assert boundaries.county_of(lat, lon) is None


def test_point_in_a_hole_has_no_county(boundaries):
    # University of Macau's Hengqin campus: Macau jurisdiction, a hole in
    # 香洲区 that the Amap Macau parishes do not cover.
    assert boundaries.county_of(22.1297, 113.5437) is None
    assert boundaries.county_of(22.1297, 113.5437 - 0.02).adcode == "440402"  # Hengqin


def test_total_count(boundaries):
    # Mainland 2,844 county-level units (2023) + 东莞, 中山, 儋州, 嘉峪关 as
    # their own units + 18 Hong Kong districts + 8 Macau parishes + Taiwan.
    assert 2800 <= len(boundaries) <= 2950
    assert len(boundaries) == 2875
    assert len({c.adcode for c in boundaries.counties}) == len(boundaries)
    assert [c.adcode for c in boundaries.counties] == sorted(c.adcode for c in boundaries.counties)


def test_special_units(boundaries):
    beijing = boundaries.get("110101")
    assert (beijing.city_adcode, beijing.city_name, beijing.province_adcode) == ("110000", "北京市", "110000")
    chongqing = boundaries.get("500229")  # 城口县, a county of a municipality
    assert (chongqing.city_adcode, chongqing.province_adcode) == ("500000", "500000")
    xiantao = boundaries.get("429004")
    assert (xiantao.name, xiantao.city_adcode, xiantao.city_name) == ("仙桃市", "429000", "省直辖县级行政区划")
    shihezi = boundaries.get("659001")
    assert (shihezi.city_adcode, shihezi.city_name) == ("659000", "自治区直辖县级行政区划")
    for adcode, name in [("441900", "东莞市"), ("442000", "中山市"), ("620200", "嘉峪关市"), ("460400", "儋州市")]:
        unit = boundaries.get(adcode)
        assert (unit.name, unit.city_adcode, unit.city_name) == (name, adcode, name)
    assert boundaries.get("810001").city_adcode == "810000"
    assert boundaries.get("710000").name == "台湾省"


def test_counties_in_regions(boundaries):
    assert len(boundaries.counties_in("370000")) == 136
    assert len(boundaries.counties_in(110000)) == 16
    assert len(boundaries.counties_in("500000")) == 38
    assert [c.name for c in boundaries.counties_in("429000")] == ["仙桃市", "潜江市", "天门市", "神农架林区"]
    assert [c.adcode for c in boundaries.counties_in("441900")] == ["441900"]
    assert [c.adcode for c in boundaries.counties_in("710000")] == ["710000"]
    assert [c.name for c in boundaries.counties_in("370881")] == ["曲阜市"]
    assert len(boundaries.counties_in("100000")) == len(boundaries)


def test_counties_in_unknown_region_raises(boundaries):
    with pytest.raises(KeyError):
        boundaries.counties_in("370899")


def test_get(boundaries):
    assert boundaries.get(370881) == boundaries.get("370881")
    assert boundaries.get("370800") is None  # a city, not a county
    assert boundaries.get("999999") is None


def test_county_is_immutable(boundaries):
    with pytest.raises(FrozenInstanceError):
        boundaries.get("370881").name = "x"


def test_geometry(boundaries):
    qufu = boundaries.geometry("370881")
    assert qufu.geom_type == "MultiPolygon"
    assert qufu.is_valid
    assert qufu.intersects(shapely.Point(116.9914, 35.5978))
    with pytest.raises(KeyError):
        boundaries.geometry("370800")


def test_geojson_features(boundaries):
    features = boundaries.geojson_features(["370881", 370811])
    assert [f["id"] for f in features] == ["370881", "370811"]
    assert features[0]["properties"]["city_name"] == "济宁市"
    decoded = json.loads(json.dumps(features, ensure_ascii=False))
    assert decoded == features
    assert shape(decoded[0]["geometry"]).equals(boundaries.geometry("370881"))
    with pytest.raises(KeyError):
        boundaries.geojson_features(["000000"])


def _sample_points(boundaries, n, seed):
    """Random points in China's box plus points exactly on county borders."""
    rng = np.random.default_rng(seed)
    lats = rng.uniform(18.0, 53.6, n)
    lons = rng.uniform(73.4, 135.1, n)
    coords = shapely.get_coordinates(boundaries.geometries)
    on_border = coords[rng.choice(len(coords), n // 4, replace=False)]
    return np.concatenate([lats, on_border[:, 1]]), np.concatenate([lons, on_border[:, 0]])


def test_vectorised_agrees_with_per_point(boundaries):
    lats, lons = _sample_points(boundaries, 4000, seed=11)
    vectorised = boundaries.counties_of(lats, lons)
    for lat, lon, i in zip(lats, lons, vectorised):
        county = boundaries.county_of(lat, lon)
        assert (county is None and i == -1) or county == boundaries.counties[i]
    assert (vectorised >= 0).sum() > 1000
    assert (vectorised == -1).sum() > 1000


@pytest.fixture(params=["strips", "pairs"])
def candidates_by(request, monkeypatch):
    """counties_of made to find its candidates one way: longitude strips or the STRtree."""
    monkeypatch.setattr(boundaries_module, "_STRIPS_FROM", 0 if request.param == "strips" else 10**12)
    return request.param


def test_vectorised_agrees_with_strtree_intersects_query(boundaries, candidates_by):
    lats, lons = _sample_points(boundaries, 20000, seed=12)
    tree = shapely.STRtree(boundaries.geometries)
    point_idx, county_idx = tree.query(shapely.points(lons, lats), predicate="intersects")
    expected = np.full(len(lats), -1)
    for p, c in zip(point_idx, county_idx):
        expected[p] = c if expected[p] == -1 else min(expected[p], c)
    np.testing.assert_array_equal(boundaries.counties_of(lats, lons), expected)


def test_shared_border_points_get_the_lowest_adcode(boundaries, candidates_by):
    rencheng = boundaries.geometry("370811")
    yanzhou = boundaries.geometry("370812")
    shared = shapely.get_coordinates(shapely.intersection(rencheng.boundary, yanzhou.boundary))
    assert len(shared) > 10
    result = boundaries.counties_of(shared[:, 1], shared[:, 0])
    assert set(result.tolist()) == {boundaries.index("370811")}


def test_counties_of_shapes_and_missing_values(boundaries, candidates_by):
    lats = np.array([[35.5978, np.nan], [30.0, 39.9075]])
    lons = np.array([[116.9914, 116.0], [125.0, 116.3913]])
    result = boundaries.counties_of(lats, lons)
    assert result.shape == (2, 2)
    assert result.dtype.kind == "i"
    assert result[0, 1] == -1 and result[1, 0] == -1
    assert boundaries.counties[result[1, 1]].adcode == "110101"
    assert boundaries.counties_of([], []).shape == (0,)


def test_shipped_data_is_a_valid_coverage(boundaries):
    assert DEFAULT_PATH.stat().st_size <= 8_000_000
    assert shapely.is_valid(boundaries.geometries).all()
    assert shapely.coverage_is_valid(boundaries.geometries)


def test_loading_is_cached_per_path(boundaries, tmp_path):
    assert Boundaries()._data is boundaries._data
    assert Boundaries(DEFAULT_PATH)._data is boundaries._data
    path = tmp_path / "two.geojson"
    _write_squares(path)
    assert Boundaries(str(path))._data is Boundaries(path)._data
    assert Boundaries(path)._data is not boundaries._data


def test_nothing_is_loaded_at_import_time():
    code = (
        "import dualchannel.geo.boundaries as b, dualchannel.geo.crs;"
        "assert b._load.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


def _square(x0, y0, size=1.0):
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


def _write_squares(path):
    """Four unit squares around (101, 31) in a 2x2 grid; 000001 has a hole."""
    donut = _square(100.0, 30.0)
    donut.append([[100.25, 30.25], [100.25, 30.75], [100.75, 30.75], [100.75, 30.25], [100.25, 30.25]])
    cells = {"000004": _square(101.0, 31.0), "000002": _square(101.0, 30.0), "000001": donut, "000003": _square(100.0, 31.0)}
    features = [
        {
            "type": "Feature",
            "properties": {
                "adcode": adcode,
                "name": f"县{adcode}",
                "city_adcode": "000100",
                "city_name": "市",
                "province_adcode": "010000",
                "province_name": "省",
            },
            "geometry": {"type": "Polygon", "coordinates": coords},
        }
        for adcode, coords in cells.items()
    ]
    payload = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)


@pytest.mark.parametrize("name", ["grid.geojson", "grid.geojson.gz"])
def test_synthetic_grid_borders_and_holes(tmp_path, name):
    path = tmp_path / name
    _write_squares(path)
    grid = Boundaries(path)
    assert [c.adcode for c in grid.counties] == ["000001", "000002", "000003", "000004"]
    lats = np.array([30.5, 30.5, 31.0, 31.0, 31.0, 30.5, 29.0, 31.5, 32.0])
    lons = np.array([100.5, 101.0, 101.0, 101.5, 100.5, 100.1, 100.5, 101.5, 102.0])
    # hole, edge 1|2, corner of all four, edge 2|4, edge 1|3, inside 1,
    # outside, inside 4, outer corner of 4
    assert grid.counties_of(lats, lons).tolist() == [-1, 0, 0, 1, 0, 0, -1, 3, 3]
    assert grid.county_of(30.5, 100.5) is None
    assert [c.adcode for c in grid.counties_in("000100")] == ["000001", "000002", "000003", "000004"]
    assert [c.adcode for c in grid.counties_in("010000")] == ["000001", "000002", "000003", "000004"]
