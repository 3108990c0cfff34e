"""The coverage map's display layers (issue 20): national by province, a province by city, a city
by county, simplified for their scale, gzipped for clients that accept it."""

import gzip
import json

from shapely.geometry import shape

from tests.api.test_prescription_flow import problem

MAP = "/api/v1/coverage/map"
TWO_MB = 2 * 1024 * 1024


def areas(body):
    return {f["id"]: f for f in body["features"] if f["properties"]["kind"] == "area"}


def test_national_view_is_by_province_and_small(world):
    response = world.admin.get(MAP, query_string={"region": "100000"})
    assert response.status_code == 200
    raw = response.get_data()
    assert len(raw) < TWO_MB, len(raw)
    body = json.loads(raw)
    assert (body["level"], body["unit_level"]) == ("national", "province")
    provinces = areas(body)
    assert len(provinces) == 34 and provinces["370000"]["properties"]["name"] == "山东省"
    shandong = provinces["370000"]["properties"]
    # The world's active pharmacies: two in Jining, one in Tai'an, all in Shandong.
    assert shandong["counties"] == 136 and shandong["active_pharmacies"] == 3
    assert shandong["covered_counties"] == 3 and shandong["uncovered_counties"] == 133 and not shandong["covered"]
    assert sum(p["properties"]["counties"] for p in provinces.values()) == body["total"] == 2875
    assert all(shape(p["geometry"]).is_valid or shape(p["geometry"]).buffer(0).area > 0 for p in provinces.values())
    assert not [f for f in body["features"] if f["properties"]["kind"] == "pharmacy"]

    zipped = world.admin.get(MAP, query_string={"region": "100000"}, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.get_data()) == raw
    assert len(zipped.get_data()) < len(raw) / 2


def test_province_by_city_and_city_by_county(world):
    province = world.admin.get(MAP, query_string={"region": "370000"}).get_json()
    assert (province["level"], province["unit_level"]) == ("province", "city")
    cities = areas(province)
    assert len(cities) == 16 and cities["370800"]["properties"]["name"] == "济宁市"
    assert [p["adcode"] for p in province["parents"]] == ["100000", "370000"]

    city = world.bureau.get(MAP, query_string={"region": "370800"}).get_json()
    assert (city["level"], city["unit_level"]) == ("city", "county")
    counties = areas(city)
    assert len(counties) == 11
    assert counties["370811"]["properties"]["active_pharmacies"] == 1
    assert counties["370831"]["properties"]["covered"] is False
    points = {f["id"] for f in city["features"] if f["properties"]["kind"] == "pharmacy"}
    assert {"P370811001", "P370881001", "P370811009"} <= points and "P370902001" not in points
    assert [p["name"] for p in city["parents"]] == ["全国", "山东省", "济宁市"]


def test_the_bureau_sees_its_own_region_only(world, as_role):
    problem(world.bureau.get(MAP, query_string={"region": "370900"}), 404)
    assert world.physician.get(MAP, query_string={"region": "370800"}).status_code == 403


def test_geojson_export_honours_accept_encoding(world):
    raw = world.bureau.get("/api/v1/coverage.geojson", query_string={"region": "370800"})
    assert "Content-Encoding" not in raw.headers
    zipped = world.bureau.get("/api/v1/coverage.geojson", query_string={"region": "370800"},
                              headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == raw.get_data()
