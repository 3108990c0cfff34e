"""A patient's timeline across pharmacies: in order, with supply bars, for whom it is meant, logged."""

from datetime import datetime, timedelta

from dualchannel import clock
from tests.api.conftest import created
from tests.api.test_settlement import EMPLOYEE
from tests.support import review, trace_codes

URL = "/api/v1/prescriptions/{}/{}"


def fill(world, pharmacy_client, pharmacy_code, *, quantity=1, days_supply=28, hand_back_first=False):
    rx = created(world.physician.post("/api/v1/prescriptions", {
        "patient_id": world.patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
        "items": [{"drug_code": "SAC", "quantity": quantity, "days_supply": days_supply, "dosage": "每日两次"}]}))
    route = lambda: world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": pharmacy_code})  # noqa: E731
    assert route().status_code == 200
    if hand_back_first:
        clock.travel(timedelta(hours=1))
        assert pharmacy_client.post(URL.format(rx["id"], "return"), {"reason_code": "out_of_stock"}).status_code == 200
        clock.travel(timedelta(hours=1))
        assert route().status_code == 200
    clock.travel(timedelta(hours=1))
    verified = pharmacy_client.post(URL.format(rx["id"], "verify"), {"id_number": world.patient_id_number})
    assert verified.status_code == 200
    assert review(pharmacy_client, rx["id"]).status_code == 200
    clock.travel(timedelta(minutes=5))
    done = pharmacy_client.post(URL.format(rx["id"], "dispense"),
                                {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(quantity)}]})
    assert done.status_code == 200, done.get_json()
    return rx["id"]


def test_the_timeline_lists_a_patients_events_across_two_pharmacies_in_order(world):
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))
    first = fill(world, world.pharmacy, "P370811001", quantity=2, days_supply=28)
    clock.travel(timedelta(minutes=10))
    settled = created(world.pharmacy.post(URL.format(first, "settlement"), {}, headers={"Idempotency-Key": "t-1"}))
    clock.travel(timedelta(days=20))
    second = fill(world, world.other_pharmacy, "P370881001", days_supply=14, hand_back_first=True)

    response = world.bureau.get(f"/api/v1/patients/{world.patient['id']}/timeline")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["patient"]["id_number_masked"].startswith("370811") and "*" in body["patient"]["id_number_masked"]
    assert body["pharmacies"] == ["P370811001", "P370881001"]
    events = [(e["kind"], e["prescription_id"], e["pharmacy_code"]) for e in body["events"]]
    assert events == [
        ("prescription", first, None), ("route", first, "P370811001"), ("verify", first, "P370811001"),
        ("review", first, "P370811001"), ("dispensing", first, "P370811001"), ("settlement", first, "P370811001"),
        ("prescription", second, None), ("route", second, "P370881001"), ("return", second, "P370881001"),
        ("route", second, "P370881001"), ("verify", second, "P370881001"), ("review", second, "P370881001"),
        ("dispensing", second, "P370881001")]
    times = [datetime.fromisoformat(e["at"]) for e in body["events"]]
    assert times == sorted(times) and all(e["at"].endswith("+08:00") for e in body["events"])
    assert body["events"][5]["amount"] == settled["total"] and body["events"][5]["settlement_id"] == settled["id"]
    assert body["events"][8]["reason_code"] == "out_of_stock"
    assert body["events"][4]["drugs"][0]["days_supply"] == 28 and body["events"][4]["pharmacy_name"]
    # One supply bar per dispensed item: from the dispensing for its days of supply.
    bars = [(s["prescription_id"], s["pharmacy_code"], s["days_supply"]) for s in body["supplies"]]
    assert bars == [(first, "P370811001", 28), (second, "P370881001", 14)]
    for bar in body["supplies"]:
        start, end = datetime.fromisoformat(bar["start"]), datetime.fromisoformat(bar["end"])
        assert end - start == timedelta(days=bar["days_supply"])
    assert [p["id"] for p in body["prescriptions"]] == [first, second]
    assert body["prescriptions"][0]["physician_name"] == "王医生"


def test_who_may_read_the_timeline_and_every_read_is_logged(world, as_role):
    fill(world, world.pharmacy, "P370811001")
    url = f"/api/v1/patients/{world.patient['id']}/timeline"
    assert world.physician.get(url).status_code == 200  # in care at the physician's institution
    assert world.admin.get(url).status_code == 200
    assert as_role("bureau", "370811").get(url).status_code == 404  # a county: the patient is the city's
    assert as_role("bureau", "370900").get(url).status_code == 404
    assert world.pharmacy.get(url).status_code == 403
    assert as_role("institution", "H370811001").get(url).status_code == 403
    created(world.admin.post("/api/v1/institutions", {"code": "H370902001", "name": "泰安市中心医院", "adcode": "370902"}))
    created(world.admin.post("/api/v1/physicians", {"code": "D370902001", "name": "赵医生",
                                                    "institution_code": "H370902001", "responsible": True}))
    assert as_role("physician", "D370902001").get(url).status_code == 404  # not in care there
    assert world.admin.get("/api/v1/patients/999999/timeline").status_code == 404
    assert world.bureau.get(url).status_code == 200
    log = world.bureau.get(f"/api/v1/access-log?patient_id={world.patient['id']}&resource_type=patient_timeline")
    assert log.status_code == 200, log.get_json()
    readers = sorted(entry["actor"] for entry in log.get_json()["items"])
    assert readers == ["admin:-", "bureau:370800", "physician:D370811001"]
