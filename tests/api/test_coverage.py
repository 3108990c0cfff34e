"""County coverage of the dual-channel network through the API, on the Jining demo data and the
real county boundaries."""

import csv
import io

import pytest
from geopy.distance import geodesic
from shapely.geometry import Point, shape

from dualchannel.geo.boundaries import Boundaries
from dualchannel.geo.crs import wgs84_to
from tests.api.test_prescription_flow import problem
from tests.unit.test_geo_boundaries import JINING_DIVISIONS

COUNTY_KEYS = {"adcode", "name", "city_adcode", "city_name", "province_adcode", "province_name",
               "active_pharmacies", "applied_pharmacies", "suspended_pharmacies", "covered"}


@pytest.fixture(scope="module")
def boundaries():
    return Boundaries()


def test_jining_lists_its_county_level_divisions_and_the_uncovered_one(demo):
    response = demo.bureau.get("/api/v1/coverage?region=370800")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["region"], body["region_name"], body["level"]) == ("370800", "济宁市", "city")
    assert {c["adcode"]: c["name"] for c in body["counties"]} == JINING_DIVISIONS
    assert [c["adcode"] for c in body["counties"]] == sorted(JINING_DIVISIONS)
    assert all(set(c) == COUNTY_KEYS for c in body["counties"])
    assert (body["total"], body["covered"], body["uncovered"]) == (11, 10, ["370831"])
    sishui = next(c for c in body["counties"] if c["adcode"] == "370831")
    assert sishui == {"adcode": "370831", "name": "泗水县", "city_adcode": "370800", "city_name": "济宁市",
                      "province_adcode": "370000", "province_name": "山东省", "active_pharmacies": 0,
                      "applied_pharmacies": 1, "suspended_pharmacies": 0, "covered": False}
    assert "泗水县 (370831)" in body["summary"] and "10 of 11" in body["summary"]
    # Counted where pharmacies stand: P370811003 declares 任城区 but stands in 兖州区.
    by_code = {c["adcode"]: c for c in body["counties"]}
    assert by_code["370811"]["active_pharmacies"] == 2 and by_code["370811"]["applied_pharmacies"] == 0
    assert by_code["370812"]["applied_pharmacies"] == 1
    assert body["cities"] == [] and body["provinces"] == []


def test_county_and_province_regions(demo, as_role, boundaries):
    county = demo.bureau.get("/api/v1/coverage?region=370831").get_json()
    assert (county["level"], county["region_name"], county["total"], county["uncovered"]) == \
        ("county", "泗水县", 1, ["370831"])

    province = as_role("bureau", "370000").get("/api/v1/coverage?region=370000").get_json()
    shandong = boundaries.counties_in("370000")
    assert (province["level"], province["region_name"]) == ("province", "山东省")
    assert province["total"] == len(shandong) == len(province["counties"])
    assert province["covered"] == 10
    cities = {c["adcode"]: c for c in province["cities"]}
    assert len(cities) == 16 and sum(c["total"] for c in cities.values()) == province["total"]
    assert cities["370800"] == {"adcode": "370800", "name": "济宁市", "total": 11, "covered": 10,
                                "uncovered": ["370831"]}
    assert cities["370100"]["name"] == "济南市" and cities["370100"]["covered"] == 0
    assert len(province["uncovered"]) == province["total"] - 10


def test_national_report_lists_every_county_level_division(demo, boundaries):
    body = demo.admin.get("/api/v1/coverage?region=100000").get_json()
    assert (body["level"], body["region_name"]) == ("national", "全国")
    assert body["total"] == len(body["counties"]) == len(boundaries) == 2875
    assert len({c["adcode"] for c in body["counties"]}) == 2875
    assert body["covered"] == 10 and len(body["uncovered"]) == 2865
    provinces = {p["adcode"]: p for p in body["provinces"]}
    assert provinces["370000"]["covered"] == 10 and provinces["110000"]["name"] == "北京市"
    assert sum(p["total"] for p in provinces.values()) == 2875
    assert sum(c["total"] for c in body["cities"]) == 2875


@pytest.mark.parametrize("path", ["/api/v1/coverage", "/api/v1/coverage.geojson", "/api/v1/coverage.csv",
                                  "/api/v1/coverage/suggestions"])
def test_access_to_a_region(demo, as_role, path):
    other_city = as_role("bureau", "370900")
    problem(other_city.get(f"{path}?region=370800"), 404)
    problem(other_city.get(f"{path}?region=370831"), 404)
    problem(demo.bureau.get(f"{path}?region=370000"), 404)  # larger than its own region
    problem(demo.bureau.get(f"{path}?region=100000"), 404)  # national: admin only
    problem(as_role("bureau", "370000").get(f"{path}?region=100000"), 404)
    problem(demo.physician.get(f"{path}?region=370800"), 403)
    problem(demo.pharmacy.get(f"{path}?region=370800"), 403)
    problem(demo.bureau.client.get(f"{path}?region=370800"), 401)
    # Well-formed, but no region of the boundary data (or not ASCII digits): the input is wrong.
    for region in ("370899", "３７０８００"):
        assert "region" in problem(demo.admin.get(f"{path}?region={region}"), 422)["errors"]
    assert "region" in problem(demo.admin.get(f"{path}?region=3708"), 422)["errors"]
    assert "region" in problem(demo.admin.get(path), 422)["errors"]
    assert demo.bureau.get(f"{path}?region=370831").status_code == 200
    assert other_city.get(f"{path}?region=370900").status_code == 200


def test_geojson_has_county_polygons_and_pharmacy_points(demo, boundaries):
    response = demo.bureau.get("/api/v1/coverage.geojson?region=370800")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    report = demo.bureau.get("/api/v1/coverage?region=370800").get_json()
    assert body["type"] == "FeatureCollection" and body["uncovered"] == ["370831"]
    counties = [f for f in body["features"] if f["properties"]["kind"] == "county"]
    points = [f for f in body["features"] if f["properties"]["kind"] == "pharmacy"]
    assert [{k: v for k, v in f["properties"].items() if k != "kind"} for f in counties] == report["counties"]
    for feature in counties:
        assert feature["type"] == "Feature" and feature["id"] == feature["properties"]["adcode"]
        polygon = shape(feature["geometry"])
        assert feature["geometry"]["type"] == "MultiPolygon" and polygon.is_valid
        assert polygon.equals_exact(boundaries.geometry(feature["id"]), 1e-9)
    assert len(points) == 13  # every demo pharmacy; none has exited
    polygons = {f["id"]: shape(f["geometry"]) for f in counties}
    for feature in points:
        p = feature["properties"]
        assert {"code", "name", "status"} <= set(p) and feature["geometry"]["type"] == "Point"
        stored = demo.bureau.get(f"/api/v1/pharmacies/{p['code']}").get_json()
        assert feature["geometry"]["coordinates"] == [stored["lon"], stored["lat"]]
        assert (p["status"], p["county_adcode"]) == (stored["status"], stored["county_adcode"])
        assert polygons[p["county_adcode"]].contains(Point(feature["geometry"]["coordinates"]))
    statuses = {f["properties"]["code"]: f["properties"]["status"] for f in points}
    assert statuses["P370831001"] == "applied" and statuses["P370811001"] == "active"


def test_geojson_for_a_chinese_map_and_without_exited_pharmacies(demo):
    demo.bureau.post("/api/v1/pharmacies/P370811002/exit", {"reason": "退出"})
    body = demo.bureau.get("/api/v1/coverage.geojson?region=370800&crs=gcj02").get_json()
    assert body["coordinate_system"] == "gcj02"
    points = {f["id"]: f for f in body["features"] if f["properties"]["kind"] == "pharmacy"}
    assert "P370811002" not in points and len(points) == 12
    stored = demo.bureau.get("/api/v1/pharmacies/P370881001").get_json()
    lat, lon = wgs84_to(stored["lat"], stored["lon"], "gcj02")
    assert points["P370881001"]["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-12)
    assert lon - stored["lon"] > 0.003  # really moved, by GCJ-02's few hundred metres
    assert "crs" in problem(demo.bureau.get("/api/v1/coverage.geojson?region=370800&crs=osgb"), 422)["errors"]


def test_csv_opens_in_excel_with_chinese_names(demo):
    response = demo.bureau.get("/api/v1/coverage.csv?region=370800")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="coverage-370800.csv"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 11 and set(rows[0]) == COUNTY_KEYS
    assert {r["adcode"]: r["name"] for r in rows} == JINING_DIVISIONS
    sishui = next(r for r in rows if r["adcode"] == "370831")
    assert (sishui["covered"], sishui["active_pharmacies"], sishui["city_name"]) == ("false", "0", "济宁市")
    assert sum(r["covered"] == "true" for r in rows) == 10


def test_what_if_names_the_counties_and_changes_nothing(demo, as_role):
    url = "/api/v1/coverage/what-if?region=370800&exclude="
    both = demo.bureau.get(url + "P370826001,P370811001,P370827001").get_json()
    assert both["would_uncover"] == ["370826", "370827"]  # 任城区 keeps P370811002
    assert [c["name"] for c in both["counties"]] == ["微山县", "鱼台县"]
    assert (both["covered"], both["covered_after"]) == (10, 8)
    assert both["uncovered_after"] == ["370826", "370827", "370831"]
    assert [p["code"] for p in both["excluded"]] == ["P370811001", "P370826001", "P370827001"]
    rencheng = demo.bureau.get(url + "P370811001,P370811002").get_json()
    assert rencheng["would_uncover"] == ["370811"]
    # Not active, or outside the region: nothing to lose.
    nothing = demo.bureau.get(url + "P370831001").get_json()
    assert nothing["would_uncover"] == [] and nothing["counties"] == []
    assert nothing["summary"] == "No county would lose coverage."
    assert demo.bureau.get("/api/v1/pharmacies/P370826001").get_json()["status"] == "active"
    assert demo.bureau.get("/api/v1/coverage?region=370800").get_json()["covered"] == 10


def test_what_if_errors(demo, as_role):
    url = "/api/v1/coverage/what-if?region=370800"
    assert "exclude" in problem(demo.bureau.get(url), 422)["errors"]
    assert "exclude" in problem(demo.bureau.get(url + "&exclude=P370826001,NOPE"), 422)["errors"]
    # A bad item of a list is named by its index (one 422 shape: field paths).
    assert list(problem(demo.bureau.get(url + "&exclude=bad%20code"), 422)["errors"]) == ["exclude.0"]
    # A pharmacy of another city is unknown to this bureau: never revealed.
    taian = as_role("bureau", "370900")
    created = demo.admin.post("/api/v1/pharmacies", {
        "code": "P370902001", "name": "泰山药房", "address": "泰山区", "adcode": "370902",
        "lat": 36.1863, "lon": 117.1297, "crs": "wgs84"})
    assert created.status_code == 201
    body = problem(demo.bureau.get(url + "&exclude=P370902001"), 422)
    assert body["errors"]["exclude"] == ["No pharmacy P370902001."]
    assert taian.get("/api/v1/coverage/what-if?region=370900&exclude=P370902001").get_json()["would_uncover"] == []
    problem(taian.get(url + "&exclude=P370826001"), 404)


def test_suggestions_for_sishui_rank_its_applicants(demo):
    body = demo.bureau.get("/api/v1/coverage/suggestions?region=370800").get_json()
    assert body["uncovered"] == ["370831"] and len(body["items"]) == 1
    sishui = body["items"][0]
    assert (sishui["adcode"], sishui["name"], sishui["covered"]) == ("370831", "泗水县", False)
    assert [c["code"] for c in sishui["candidates"]] == ["P370831001"] and sishui["nearest"] == []
    first = sishui["candidates"][0]
    assert first["rank"] == 1 and first["status"] == "applied"
    assert first["readiness"] == {"traceability": True, "cold_chain": False, "drugs_in_stock": 13,
                                  "status": "applied", "documented": True}
    assert "P370831001" in sishui["advice"]

    # A better equipped applicant and a suspended one join; the readiest comes first.
    admin = demo.admin
    for code, cold, trace in (("P370831002", True, True), ("P370831003", True, False)):
        response = admin.post("/api/v1/pharmacies", {
            "code": code, "name": f"泗水{code}", "address": "泗水县", "adcode": "370831",
            "lat": 35.6650, "lon": 117.2600, "crs": "wgs84", "cold_chain": cold, "traceability": trace})
        assert response.status_code == 201
    ranked = demo.bureau.get("/api/v1/coverage/suggestions?region=370831").get_json()["items"][0]["candidates"]
    assert [(c["code"], c["rank"]) for c in ranked] == [("P370831002", 1), ("P370831001", 2), ("P370831003", 3)]


def test_suggestions_across_the_border_when_nobody_applied_inside(demo, boundaries):
    demo.bureau.post("/api/v1/pharmacies/P370826001/exit", {"force": True, "reason": "解除协议"})
    body = demo.bureau.get("/api/v1/coverage/suggestions?region=370800&nearest=2").get_json()
    assert [i["adcode"] for i in body["items"]] == ["370826", "370831"]
    weishan = body["items"][0]
    assert weishan["candidates"] == [] and len(weishan["nearest"]) == 2
    point = (weishan["point"]["lat"], weishan["point"]["lon"])
    assert boundaries.county_of(*point).adcode == "370826"
    active = demo.admin.get("/api/v1/pharmacies?status=active").get_json()["items"]
    expected = sorted((round(geodesic(point, (p["lat"], p["lon"])).km, 2), p["code"]) for p in active)[:2]
    assert [(n["distance_km"], n["code"]) for n in weishan["nearest"]] == expected
    assert all(n["status"] == "active" and n["county_adcode"] != "370826" for n in weishan["nearest"])
    assert weishan["nearest"][0]["county_name"] and weishan["nearest"][0]["code"] in weishan["advice"]
    problem(demo.bureau.get("/api/v1/coverage/suggestions?region=370800&nearest=0"), 422)


def test_every_county_covered_has_no_suggestions(demo):
    demo.bureau.post("/api/v1/pharmacies/P370831001/admit", {})
    body = demo.bureau.get("/api/v1/coverage/suggestions?region=370800").get_json()
    assert body["uncovered"] == [] and body["items"] == []
    assert "every one is covered" in demo.bureau.get("/api/v1/coverage?region=370800").get_json()["summary"]
