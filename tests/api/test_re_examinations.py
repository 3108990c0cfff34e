"""Eligibility (待遇准入) ending soon shows on the re-examination (复查评估) list; ended blocks prescribing."""

from datetime import timedelta

from dualchannel import clock
from tests.api.conftest import created
from tests.api.test_prescription_flow import problem
from tests.support import resident_id

URL = "/api/v1/physician/re-examinations"


def eligibility(physician, patient_id, days, drug="OSI"):
    until = (clock.today() + timedelta(days=days)).isoformat()
    return created(physician.post(f"/api/v1/patients/{patient_id}/eligibility",
                                  {"drug_code": drug, "valid_until": until}))


def came_to(physician, patient_id_number, name):
    """The patient came to the physician's hospital: found by number and name, now in its care."""
    found = physician.post("/api/v1/patients/search", {"id_number": patient_id_number, "name": name})
    assert found.status_code == 200, found.get_json()


def listed(physician, query=""):
    response = physician.get(f"{URL}?within_days=30{query}")
    assert response.status_code == 200, response.get_json()
    return [(i["patient_name"], i["days_left"], i["expired"], i["recorded_by"]) for i in response.get_json()["items"]]


def test_re_examination_flow(world, issue):
    admin = world.admin
    created(admin.post("/api/v1/institutions", {"code": "H370881001", "name": "曲阜市人民医院", "adcode": "370881"}))
    created(admin.post("/api/v1/physicians", {"code": "D370811003", "name": "张医生",
                                              "institution_code": "H370811001", "responsible": True}))
    created(admin.post("/api/v1/physicians", {"code": "D370881001", "name": "孔医生",
                                              "institution_code": "H370881001", "responsible": True}))
    colleague, elsewhere = world.as_role("physician", "D370811003"), world.as_role("physician", "D370881001")
    numbers = {name: resident_id("370881", born)
               for name, born in (("李四", "19700101"), ("王五", "19750505"), ("赵六", "19800808"))}
    patients = {name: created(admin.post("/api/v1/patients", {
        "id_number": number, "name": name, "insurance": "resident", "region": "370800"}))["id"]
        for name, number in numbers.items()}
    for physician, name in ((colleague, "李四"), (elsewhere, "王五"), (world.physician, "赵六"), (elsewhere, "李四")):
        came_to(physician, numbers[name], name)
    zhang = world.patient["id"]
    eligibility(world.physician, zhang, 10)
    eligibility(colleague, patients["李四"], 20)  # a colleague's patient: same hospital, listed
    eligibility(elsewhere, patients["王五"], 5)  # another hospital's: not listed here
    eligibility(world.physician, patients["赵六"], 100)  # not due yet

    assert listed(world.physician) == [("张三", 10, False, "D370811001"), ("李四", 20, False, "D370811003")]
    assert listed(colleague) == listed(world.physician)
    assert listed(elsewhere) == [("王五", 5, False, "D370881001")]
    item = world.physician.get(URL).get_json()["items"][0]
    assert item["id_number_masked"] == world.patient["id_number_masked"] and item["drug_name"] == "泰瑞沙 80mg×30片"
    assert item["valid_until"] == (clock.today() + timedelta(days=10)).isoformat()

    assert issue("OSI", 1).status_code == 201
    clock.travel(timedelta(days=11))
    assert listed(world.physician) == [("张三", -1, True, "D370811001"), ("李四", 9, False, "D370811003")]
    assert listed(world.physician, "&expired_days=0") == [("李四", 9, False, "D370811003")]
    blocked = problem(issue("OSI", 1), 422)
    reason = blocked["errors"]["items.0.drug_code"][0]
    assert "expired on" in reason and "复查评估" in reason

    eligibility(world.physician, zhang, 180)  # the re-examination renews it
    assert issue("OSI", 1).status_code == 201
    eligibility(elsewhere, patients["李四"], 180)  # renewed at another hospital: the latest counts
    assert listed(world.physician) == []


def test_re_examinations_page_and_refuse_others(world):
    for born in ("19600101", "19610101", "19620101"):
        number = resident_id("370811", born)
        patient = created(world.admin.post("/api/v1/patients", {
            "id_number": number, "name": "患者", "insurance": "employee", "region": "370800"}))
        came_to(world.physician, number, "患者")
        eligibility(world.physician, patient["id"], 3)
    first = world.physician.get(f"{URL}?limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = world.physician.get(f"{URL}?limit=2&cursor={first['next_cursor']}").get_json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [i["patient_id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    listing = world.admin.get("/api/v1/access-log?action=list").get_json()["items"][0]
    assert listing["resource_type"] == "patient" and listing["detail"]["view"] == "re-examinations"

    problem(world.ordinary_physician.get(URL), 403)
    problem(world.pharmacy.get(URL), 403)
    problem(world.bureau.get(URL), 403)
    problem(world.physician.get(f"{URL}?within_days=-1"), 422)
    problem(world.physician.get(f"{URL}?within_days=many"), 422)
    problem(world.physician.get(f"{URL}?cursor=!!"), 422)
