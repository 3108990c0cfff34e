"""GET /api/v1/me: who the token is, and what the pages need to know about what it acts for."""

from dualchannel.geo.boundaries import Boundaries
from tests.api.test_prescription_flow import PROBLEM

JINING = {"370811": "任城区", "370812": "兖州区", "370826": "微山县", "370827": "鱼台县", "370828": "金乡县",
          "370829": "嘉祥县", "370830": "汶上县", "370831": "泗水县", "370832": "梁山县", "370881": "曲阜市",
          "370883": "邹城市"}


def me(role_client):
    response = role_client.get("/api/v1/me")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_physician_gets_institution_home_area_and_the_city_counties(world):
    body = me(world.physician)
    assert body["role"] == "physician" and body["subject"] == "D370811001"
    assert body["display_name"] == "王医生" and body["responsible"] is True
    assert body["organisation"] == {"code": "H370811001", "name": "济宁市第一人民医院", "adcode": "370811"}
    assert body["region"]["adcode"] == "370800" and body["region"]["name"] == "济宁市"
    home = body["home"]
    assert home["adcode"] == "370811" and home["name"] == "任城区" and home["crs"] == "wgs84"
    assert Boundaries().county_of(home["lat"], home["lon"]).adcode == "370811"
    assert {a["adcode"]: a["name"] for a in body["areas"]} == JINING
    for area in body["areas"]:  # each point lies inside its own county
        assert Boundaries().county_of(area["lat"], area["lon"]).adcode == area["adcode"]
    assert me(world.ordinary_physician)["responsible"] is False


def test_pharmacy_bureau_and_admin(world, as_role):
    pharmacy = me(world.pharmacy)
    assert pharmacy["display_name"] == "P370811001大药房"
    assert pharmacy["organisation"]["status"] == "active" and pharmacy["home"]["adcode"] == "370811"
    bureau = me(world.bureau)
    assert bureau["display_name"] == "济宁市医疗保障局" and bureau["region"]["name"] == "济宁市"
    assert {a["adcode"] for a in bureau["areas"]} == set(JINING)
    county = me(as_role("bureau", "370831"))
    assert county["region"]["name"] == "泗水县" and [a["name"] for a in county["areas"]] == ["泗水县"]
    province = me(as_role("bureau", "370000"))
    assert province["region"]["name"] == "山东省" and len(province["areas"]) > 100
    admin = me(world.admin)
    assert admin["role"] == "admin" and admin["display_name"] == "系统管理员" and admin["areas"] == []


def test_a_token_whose_subject_is_not_registered_is_described_by_its_role(as_role):
    body = me(as_role("physician", "D999"))
    assert body["display_name"] == "D999" and body["organisation"] is None and body["home"] is None
    unknown_region = me(as_role("bureau", "990100"))
    assert unknown_region["region"]["name"] == "990100" and unknown_region["areas"] == []


def test_without_a_valid_token_is_401(client):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401 and response.mimetype == PROBLEM


def test_institution_is_described_by_its_hospital_or_pharmacy(world, as_role):
    hospital = me(as_role("institution", "H370811001"))
    assert hospital["role"] == "institution" and hospital["display_name"] == "济宁市第一人民医院"
    assert hospital["organisation"] == {"code": "H370811001", "name": "济宁市第一人民医院", "adcode": "370811"}
    assert hospital["home"]["adcode"] == "370811"
    pharmacy = me(as_role("institution", "P370811001"))
    assert pharmacy["display_name"] == "P370811001大药房" and pharmacy["organisation"]["adcode"] == "370811"
    unknown = me(as_role("institution", "H999"))
    assert unknown["display_name"] == "H999" and unknown["organisation"] is None
