"""The dual-channel pharmacy network through the API: where a pharmacy really is, admission,
suspension and exit, and the rule that no county is left without an active pharmacy."""

import pytest

from dualchannel.geo.crs import CRS_NAMES, wgs84_to
from tests.api.test_concurrency import race
from tests.api.test_prescription_flow import problem

# Real WGS-84 coordinates in known county-level divisions of Jining.
KNOWN_PLACES = [
    pytest.param(35.5978, 116.9914, "370881", "曲阜市", id="Qufu Confucius Temple"),
    # 650 m inside 泗水县's eastern border: GCJ-02 or BD-09 input taken as WGS-84 would land in
    # 平邑县 (Linyi), so this point fails if any conversion is skipped.
    pytest.param(35.4819, 117.4363, "370831", "泗水县", id="Sishui near the Pingyi border"),
]


def register(admin, code, lat, lon, crs="wgs84", adcode="370881", **extra):
    return admin.post("/api/v1/pharmacies", {
        "code": code, "name": f"{code}药房", "address": "测试路1号", "adcode": adcode,
        "lat": lat, "lon": lon, "crs": crs, "traceability": True, **extra})


@pytest.mark.parametrize("crs", CRS_NAMES)
@pytest.mark.parametrize(("lat", "lon", "adcode", "name"), KNOWN_PLACES)
def test_pharmacy_lands_in_its_county_in_every_coordinate_system(as_role, lat, lon, adcode, name, crs):
    admin = as_role("admin")
    sent_lat, sent_lon = wgs84_to(lat, lon, crs)  # what a client on that map sends
    response = register(admin, "P1", sent_lat, sent_lon, crs=crs, adcode=adcode)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["county_adcode"] == adcode and body["city_adcode"] == "370800"
    assert body["county_mismatch"] is False and body["status"] == "applied"
    # Stored in one system, WGS-84, whatever came in.
    assert body["crs"] == "wgs84"
    assert body["lat"] == pytest.approx(lat, abs=1e-7) and body["lon"] == pytest.approx(lon, abs=1e-7)


def test_declared_county_differs_from_where_it_stands(as_role):
    admin, bureau = as_role("admin"), as_role("bureau", "370800")
    body = register(admin, "P2", 35.5978, 116.9914, adcode="370811").get_json()
    assert body["adcode"] == "370811" and body["county_adcode"] == "370881" and body["county_mismatch"] is True
    flags = bureau.get("/api/v1/flags?type=county_mismatch").get_json()["items"]
    assert [f["subject"] for f in flags] == ["pharmacy:P2"]
    assert flags[0]["evidence"]["declared_adcode"] == "370811"
    assert flags[0]["evidence"]["computed_adcode"] == "370881" and flags[0]["evidence"]["computed_name"] == "曲阜市"


@pytest.mark.parametrize(("lat", "lon", "crs", "field"), [
    (48.8584, 2.2945, "wgs84", "lat"),       # Paris
    (37.5665, 126.9780, "gcj02", "lat"),     # Seoul: inside China's bounding box, in no county
    (30.0, 124.5, "wgs84", "lat"),            # East China Sea
    (91.0, 116.0, "wgs84", "lat"),            # not a latitude
    (35.0, 181.0, "wgs84", "lon"),            # not a longitude
    (35.5978, 116.9914, "utm", "crs"),        # unknown coordinate system
])
def test_out_of_china_or_invalid_coordinates_are_422(as_role, lat, lon, crs, field):
    body = problem(register(as_role("admin"), "P3", lat, lon, crs=crs), 422)
    assert field in body["errors"]


def test_nan_coordinate_is_422(as_role):
    admin = as_role("admin")
    raw = (b'{"code": "P4", "name": "x", "address": "y", "adcode": "370881", "lat": NaN, "lon": 116.99, '
           b'"crs": "wgs84"}')
    response = admin.client.post("/api/v1/pharmacies", data=raw, content_type="application/json",
                                 headers={"Authorization": f"Bearer {admin.token}"})
    assert "lat" in problem(response, 422)["errors"]


def coverage(client, region="370800"):
    return client.get(f"/api/v1/coverage?region={region}").get_json()


def test_admitting_in_the_uncovered_county_covers_it(demo):
    before = coverage(demo.bureau)
    assert before["uncovered"] == ["370831"]
    admitted = demo.bureau.post("/api/v1/pharmacies/P370831001/admit", {})
    assert admitted.status_code == 200 and admitted.get_json()["status"] == "active"
    after = coverage(demo.bureau)
    assert after["uncovered"] == [] and after["covered"] == after["total"] == 11
    sishui = next(c for c in after["counties"] if c["adcode"] == "370831")
    assert sishui["covered"] is True and sishui["active_pharmacies"] == 1


@pytest.mark.parametrize("action", ["exit", "suspend"])
def test_taking_out_the_only_pharmacy_of_a_county_is_409_naming_it(demo, action):
    url = f"/api/v1/pharmacies/P370826001/{action}"
    body = problem(demo.bureau.post(url, {"reason": "协议到期"}), 409)
    assert "微山县" in body["detail"] and "370826" in body["detail"]
    assert body["uncovered"] == ["370826"] and body["counties"] == [{"adcode": "370826", "name": "微山县"}]
    assert demo.bureau.get("/api/v1/pharmacies/P370826001").get_json()["status"] == "active"
    what_if = demo.bureau.get("/api/v1/coverage/what-if?region=370800&exclude=P370826001").get_json()
    assert what_if["would_uncover"] == ["370826"]
    assert [(c["adcode"], c["name"]) for c in what_if["counties"]] == [("370826", "微山县")]
    assert "微山县" in what_if["summary"]


def test_force_needs_a_reason_and_is_in_the_history(demo):
    url = "/api/v1/pharmacies/P370826001/exit"
    assert "reason" in problem(demo.bureau.post(url, {"force": True}), 422)["errors"]
    assert demo.bureau.get("/api/v1/pharmacies/P370826001").get_json()["status"] == "active"
    forced = demo.bureau.post(url, {"force": True, "reason": "严重违规，解除协议"})
    assert forced.status_code == 200 and forced.get_json()["status"] == "exited"
    last = demo.bureau.get("/api/v1/pharmacies/P370826001/history").get_json()["items"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("exit", "active", "exited")
    assert last["forced"] is True and last["reason"] == "严重违规，解除协议" and last["actor"] == "bureau:370800"
    assert "370826" in coverage(demo.bureau)["uncovered"]


def test_exit_while_another_pharmacy_covers_the_county_needs_no_force(demo):
    # 任城区 has two active pharmacies: the first may go, then the second is the last one.
    first = demo.bureau.post("/api/v1/pharmacies/P370811002/exit", {"reason": "主动退出"})
    assert first.status_code == 200
    history = demo.bureau.get("/api/v1/pharmacies/P370811002/history").get_json()["items"]
    assert [e["action"] for e in history] == ["apply", "admit", "exit"] and history[-1]["forced"] is False
    problem(demo.bureau.post("/api/v1/pharmacies/P370811001/suspend", {"reason": "整改"}), 409)


def test_lifecycle_transitions_and_their_errors(demo):
    bureau = demo.bureau
    assert "reason" in problem(bureau.post("/api/v1/pharmacies/P370811002/suspend", {}), 422)["errors"]
    assert bureau.post("/api/v1/pharmacies/P370811002/suspend", {"reason": "整改"}).get_json()["status"] == "suspended"
    again = problem(bureau.post("/api/v1/pharmacies/P370811002/suspend", {"reason": "整改"}), 409)
    assert again["status_now"] == "suspended"
    assert bureau.post("/api/v1/pharmacies/P370811002/admit", {}).get_json()["status"] == "active"
    problem(bureau.post("/api/v1/pharmacies/P370811002/admit", {}), 409)
    # An applicant may leave without covering anything: no force needed.
    assert bureau.post("/api/v1/pharmacies/P370831001/exit", {"reason": "撤回申请"}).get_json()["status"] == "exited"
    problem(bureau.post("/api/v1/pharmacies/P370831001/admit", {}), 409)


def test_admission_is_for_the_bureau_of_the_region(demo, as_role):
    problem(as_role("bureau", "370900").post("/api/v1/pharmacies/P370831001/admit", {}), 404)
    problem(demo.physician.post("/api/v1/pharmacies/P370831001/admit", {}), 403)
    problem(demo.pharmacy.post("/api/v1/pharmacies/P370811001/exit", {"reason": "x"}), 403)
    county_bureau = as_role("bureau", "370831")
    assert county_bureau.post("/api/v1/pharmacies/P370831001/admit", {}).status_code == 200


def test_two_racing_exits_cannot_both_empty_a_county(app, demo):
    # 任城区's two active pharmacies leave at the same moment: exactly one may go.
    headers = {"Authorization": f"Bearer {demo.bureau.token}"}
    codes = ["P370811001", "P370811002"]

    def leave(i):
        with app.test_client() as client:
            return client.post(f"/api/v1/pharmacies/{codes[i]}/exit", json={"reason": "退出"},
                               headers=headers).status_code

    assert sorted(race(2, leave)) == [200, 409]
    rencheng = next(c for c in coverage(demo.bureau)["counties"] if c["adcode"] == "370811")
    assert rencheng["active_pharmacies"] == 1


def test_admit_needs_no_body(demo):
    response = demo.bureau.client.post("/api/v1/pharmacies/P370831001/admit",
                                       headers={"Authorization": f"Bearer {demo.bureau.token}"})
    assert response.status_code == 200 and response.get_json()["status"] == "active"


def test_pharmacy_options_take_any_coordinate_system_and_need_both_coordinates(world, issue):
    rx = issue().get_json()
    url = f"/api/v1/prescriptions/{rx['id']}/pharmacy-options"
    answers = []
    for crs in CRS_NAMES:
        lat, lon = wgs84_to(35.5978, 116.9914, crs)
        items = world.physician.get(f"{url}?lat={lat!r}&lon={lon!r}&crs={crs}").get_json()["items"]
        answers.append([(o["code"], o["distance_km"]) for o in items])
    assert answers[0] == answers[1] == answers[2]
    assert [code for code, _ in answers[0]] == ["P370881001", "P370811001"] and answers[0][0][1] < 1
    assert "lon" in problem(world.physician.get(f"{url}?lat=35.6"), 422)["errors"]
    assert "lat" in problem(world.physician.get(f"{url}?lon=116.9"), 422)["errors"]
    problem(world.physician.get(f"{url}?lat=48.8584&lon=2.2945&crs=wgs84"), 422)


def test_a_blank_reason_is_no_reason(world):
    response = world.admin.post("/api/v1/pharmacies/P370881001/exit", {"reason": "   ", "force": True})
    assert response.status_code == 422 and "reason" in response.get_json()["errors"]
