"""Privacy against enumeration (issue 17): a search needs the person (number AND name), guessing
raises a flag and runs into the rate limit, physicians read only the patients in their
institution's care, and registering never confirms a number the caller may not look up."""

import pytest
import sqlalchemy as sa

from dualchannel import config, db
from tests.api.test_prescription_flow import problem
from tests.support import resident_id

SEARCH = "/api/v1/patients/search"
# The configured budgets (the suite lifts the per-address ones; these tests use them as shipped).
SHIPPED_LIMITS = {key: getattr(config, key) for key in dir(config) if key.startswith("RATELIMIT_") and "_PER_" in key}


def search(client, number, name):
    return client.post(SEARCH, {"id_number": number, "name": name})


def physician_of_qufu(world):
    """A responsible physician of another hospital of the same city (曲阜市人民医院)."""
    admin = world.admin
    assert admin.post("/api/v1/institutions", {"code": "H370881001", "name": "曲阜市人民医院",
                                               "adcode": "370881"}).status_code == 201
    assert admin.post("/api/v1/physicians", {"code": "D370881001", "name": "孔医生", "institution_code": "H370881001",
                                             "responsible": True}).status_code == 201
    return world.as_role("physician", "D370881001")


# -- the search needs the person --------------------------------------------------------------

def test_a_wrong_name_answers_exactly_as_an_unknown_number(app, world):
    unknown = resident_id("370811", "19700101")
    wrong_name = search(world.physician, world.patient_id_number, "张四")
    unknown_number = search(world.physician, unknown, "张三")
    assert wrong_name.status_code == unknown_number.status_code == 404
    assert wrong_name.get_json() == unknown_number.get_json()
    assert problem(wrong_name, 404)["code"] == "patient_not_found"
    assert dict(wrong_name.headers).keys() == dict(unknown_number.headers).keys()
    # Both leave the same record: a fruitless search by the account, in its city, no patient.
    misses = world.admin.get("/api/v1/access-log?action=search").get_json()["items"][:2]
    assert [(m["actor"], m["resource_id"], m["patient_id"], m["region"], m["detail"]) for m in misses] == [
        ("physician:D370811001", None, None, "370800", {"found": False})] * 2


def test_a_wrong_name_and_an_unknown_number_do_the_same_work(app, world):
    """The same statements in the same order (the timing class): hash, one lookup, a refusal
    written in a transaction of its own."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = app.extensions[db._ENGINE]
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        search(world.physician, world.patient_id_number, "张四")
        wrong_name, statements[:] = list(statements), []
        search(world.physician, resident_id("370811", "19700101"), "张三")
        unknown = list(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert wrong_name == unknown and any("FROM patient" in s for s in unknown)


@pytest.mark.parametrize("typed", [" 张三 ", "张\u200b三", "\u3000张三", "张三\n"])
def test_the_name_is_compared_in_its_normal_form(world, typed):
    assert search(world.physician, world.patient_id_number, typed).status_code == 200


def test_a_minority_name_matches_whatever_middle_dot_is_typed(world):
    number = resident_id("370811", "19880808")
    created = world.admin.post("/api/v1/patients", {"id_number": number, "name": "阿依古丽・买买提",
                                                    "insurance": "resident", "region": "370800"})
    assert created.status_code == 201 and created.get_json()["name"] == "阿依古丽·买买提"
    for typed in ("阿依古丽·买买提", "阿依古丽.买买提", "阿依古丽•买买提"):
        assert search(world.physician, number, typed).status_code == 200


@pytest.mark.parametrize("body", [{"id_number": "370811196503040011"}, {"name": "张三"},
                                  {"id_number": "370811196503040011", "name": " \u200b "}])
def test_a_search_without_a_number_and_a_name_is_422(world, body):
    problem(world.physician.post(SEARCH, body), 422)


def test_only_admins_bureaus_and_physicians_search(world):
    for client in (world.pharmacy, world.as_role("institution", "H370811001")):
        problem(search(client, world.patient_id_number, "张三"), 403)


# -- care relationships --------------------------------------------------------------------------

def test_a_physician_reads_only_patients_in_care_at_the_institution(world, issue):
    patient = world.patient["id"]
    qufu = physician_of_qufu(world)
    # The world's patient is in care at H370811001 (found there by number and name): both of its
    # physicians read them, the responsible one prescribes.
    for client in (world.physician, world.ordinary_physician):
        assert client.get(f"/api/v1/patients/{patient}").status_code == 200
        assert client.get(f"/api/v1/patients/{patient}/eligibility").status_code == 200
    assert issue().status_code == 201
    # Another hospital: nothing, as for anything outside its scope; no prescription either.
    problem(qufu.get(f"/api/v1/patients/{patient}"), 404)
    problem(qufu.get(f"/api/v1/patients/{patient}/eligibility"), 404)
    problem(qufu.post(f"/api/v1/patients/{patient}/eligibility", {"drug_code": "OSI"}), 404)
    refused = problem(issue(physician=qufu), 422)
    assert refused["errors"] == {"patient_id": ["Unknown patient."]}
    problem(qufu.get(f"/api/v1/patients/{patient}/accumulators"), 403)
    # A wrong name does not bring the patient into care; the number and the name do.
    problem(search(qufu, world.patient_id_number, "李四"), 404)
    problem(qufu.get(f"/api/v1/patients/{patient}"), 404)
    assert search(qufu, world.patient_id_number, "张三").status_code == 200
    assert qufu.get(f"/api/v1/patients/{patient}").status_code == 200
    assert issue(physician=qufu).status_code == 201
    entries = world.admin.get(f"/api/v1/access-log?action=search&patient_id={patient}").get_json()["items"]
    assert entries[0]["actor"] == "physician:D370881001" and entries[0]["detail"] == {"found": True}


def test_registering_a_patient_puts_them_in_care(world):
    qufu = physician_of_qufu(world)
    created = qufu.post("/api/v1/patients", {"id_number": resident_id("370881", "19900101"), "name": "颜回",
                                             "insurance": "resident", "region": "370800"})
    assert created.status_code == 201
    assert qufu.get(f"/api/v1/patients/{created.get_json()['id']}").status_code == 200
    problem(world.physician.get(f"/api/v1/patients/{created.get_json()['id']}"), 404)


# -- registering never confirms a number the caller may not look up -----------------------------

def test_another_regions_bureau_registering_a_known_number_learns_nothing(world):
    taian = world.as_role("bureau", "370900")
    body = {"id_number": world.patient_id_number, "name": "张三", "insurance": "resident", "region": "370900"}
    fresh = {**body, "id_number": resident_id("370902", "19750505")}
    duplicate, new = taian.post("/api/v1/patients", body), taian.post("/api/v1/patients", fresh)
    assert duplicate.status_code == new.status_code == 201
    assert set(duplicate.get_json()) == set(new.get_json()) and duplicate.get_json()["region"] == "370900"
    # Its search (its own region's) finds its own record; Jining's stays Jining's.
    assert search(taian, world.patient_id_number, "张三").get_json()["id"] == duplicate.get_json()["id"]
    assert search(world.bureau, world.patient_id_number, "张三").get_json()["id"] == world.patient["id"]
    # The duplicate goes to the admin and the bureau of the first record, not to the registrar.
    flags = world.bureau.get("/api/v1/flags?type=duplicate_registration").get_json()["items"]
    assert len(flags) == 1 and flags[0]["region"] == "370800"
    assert flags[0]["evidence"] == {"patient_ids": [world.patient["id"], duplicate.get_json()["id"]],
                                    "regions": ["370800", "370900"], "registered_by": "bureau:370900"}
    assert taian.get("/api/v1/flags?type=duplicate_registration").get_json()["items"] == []
    reviewed = world.admin.post(f"/api/v1/flags/{flags[0]['id']}/review",
                                {"decision": "confirmed", "note": "参保关系转移，泰安记录有效"})
    assert reviewed.status_code == 200
    # Inside its own scope a second registration is a conflict naming the record.
    again = problem(world.bureau.post("/api/v1/patients", {**body, "region": "370800"}), 409)
    assert again["code"] == "patient_exists" and again["patient_id"] == world.patient["id"]
    problem(taian.post("/api/v1/patients", body), 409)


def test_a_physician_registering_a_known_number(world):
    qufu = physician_of_qufu(world)
    body = {"id_number": world.patient_id_number, "insurance": "employee", "region": "370800"}
    # With the person's name it is the search it could have made: found, and now in care.
    found = problem(qufu.post("/api/v1/patients", {**body, "name": "张三"}), 409)
    assert found["code"] == "patient_exists" and found["patient_id"] == world.patient["id"]
    assert qufu.get(f"/api/v1/patients/{world.patient['id']}").status_code == 200
    # With another name nothing is confirmed: a record of its own, flagged.
    other = physician_of_qufu_colleague(world).post("/api/v1/patients", {**body, "name": "张珊"})
    assert other.status_code == 201 and other.get_json()["id"] != world.patient["id"]
    flags = world.bureau.get("/api/v1/flags?type=duplicate_registration").get_json()["items"]
    assert [f["evidence"]["registered_by"] for f in flags] == ["physician:D370883001"]


def physician_of_qufu_colleague(world):
    """A physician of a third hospital (邹城市人民医院)."""
    admin = world.admin
    assert admin.post("/api/v1/institutions", {"code": "H370883001", "name": "邹城市人民医院",
                                               "adcode": "370883"}).status_code == 201
    assert admin.post("/api/v1/physicians", {"code": "D370883001", "name": "孟医生", "institution_code": "H370883001",
                                             "responsible": True}).status_code == 201
    return world.as_role("physician", "D370883001")


# -- guessing ----------------------------------------------------------------------------------

@pytest.mark.app_config(**SHIPPED_LIMITS)
def test_guessing_birth_dates_is_stopped_and_flagged(world):
    """The attack of issue 17: the masked number shows all but the birth date; an ordinary
    physician's token tries the dates one after another."""
    masked = world.patient["id_number_masked"]
    assert masked.startswith("370811") and masked.endswith(world.patient_id_number[-4:])
    guesses = [resident_id("370811", f"1965{month:02d}{day:02d}") for month in (1, 2, 3, 4) for day in range(1, 26)]
    answers = [search(world.ordinary_physician, number, "张三") for number in guesses]
    assert len(answers) == 100
    statuses = [a.status_code for a in answers]
    assert statuses[:30] == [404] * 30 and statuses[30:] == [429] * 70
    limited = problem(answers[-1], 429)
    assert limited["code"] == "rate_limited" and limited["type"] == "/problems/rate_limited"
    assert limited["budget"] == "search" and 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert limited["retry_after"] == int(answers[-1].headers["Retry-After"])
    # One flag for the city's bureau and the admin, with the count and the window.
    flags = world.bureau.get("/api/v1/flags?type=id_enumeration").get_json()["items"]
    assert len(flags) == 1
    flag = flags[0]
    assert (flag["subject"], flag["region"], flag["severity"], flag["status"]) == (
        "physician:D370811002", "370800", "high", "open")
    assert flag["evidence"]["misses"] == 20 and flag["evidence"]["window_minutes"] == 60
    assert flag["evidence"]["threshold"] == 20 and flag["evidence"]["token_id"]
    assert world.admin.get("/api/v1/flags?type=id_enumeration").get_json()["items"] == flags
    assert world.as_role("bureau", "370900").get("/api/v1/flags?type=id_enumeration").get_json()["items"] == []
    reviewed = world.bureau.post(f"/api/v1/flags/{flag['id']}/review", {"decision": "confirmed", "note": "已约谈"})
    assert reviewed.status_code == 200 and reviewed.get_json()["status"] == "confirmed"
    # Another account of the same hospital is not held back by the guesser.
    assert search(world.physician, world.patient_id_number, "张三").status_code == 200


def test_a_few_misses_raise_nothing(world):
    for day in range(1, 6):
        search(world.physician, resident_id("370811", f"197001{day:02d}"), "张三")
    assert world.admin.get("/api/v1/flags?type=id_enumeration").get_json()["items"] == []


def test_guessing_at_a_pharmacys_real_name_check_is_flagged(world, issue):
    """Verification answers whether a number is the patient's: a pharmacy trying numbers
    against one routed prescription is guessing like a search, and counted with them."""
    rx = issue("SAC", 1).get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route",
                                {"pharmacy_code": "P370811001"}).status_code == 200
    guesses = [resident_id("370811", f"1965{month:02d}{day:02d}") for month in (1, 2) for day in range(1, 11)]
    for number in guesses[:19]:
        refused = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": number}), 422)
        assert refused["code"] == "id_number_mismatch"
    assert world.admin.get("/api/v1/flags?type=id_enumeration").get_json()["items"] == []
    problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": guesses[19]}), 422)
    flags = world.bureau.get("/api/v1/flags?type=id_enumeration").get_json()["items"]
    assert [(f["subject"], f["region"], f["evidence"]["misses"]) for f in flags] == [("pharmacy:P370811001", "370800", 20)]
    # The patient's own number still verifies: the flag is for review, not a lock.
    verified = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": world.patient_id_number})
    assert verified.status_code == 200, verified.get_json()


def test_guessing_numbers_at_a_pharmacys_worklist_is_stopped_and_flagged(world, issue):
    """The worklist found by ID number answers whether a number is one of the pharmacy's
    patients': it spends the search budget and its misses count towards `id_enumeration`.
    The worklist without a number spends nothing."""
    rx = issue().get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route",
                                {"pharmacy_code": "P370811001"}).status_code == 200
    worklist = "/api/v1/pharmacy/prescriptions"
    guesses = [resident_id("370811", f"1965{month:02d}{day:02d}") for month in (1, 2) for day in range(1, 21)]
    answers = [world.pharmacy.get(worklist, query_string={"id_number": number}) for number in guesses]
    assert [a.status_code for a in answers] == [200] * 30 + [429] * 10
    assert all(a.get_json()["items"] == [] for a in answers[:30])
    assert problem(answers[-1], 429)["budget"] == "search"
    flags = world.bureau.get("/api/v1/flags?type=id_enumeration").get_json()["items"]
    assert [(f["subject"], f["region"], f["evidence"]["misses"]) for f in flags] == [("pharmacy:P370811001", "370800", 20)]
    misses = world.admin.get("/api/v1/access-log?action=search").get_json()["items"]
    assert misses[0]["actor"] == "pharmacy:P370811001" and misses[0]["detail"] == {"found": False, "worklist": True}
    assert all(world.patient_id_number not in str(m) for m in misses)
    # Its own queue, and the prescriptions of one card read, still answer.
    listed = world.pharmacy.get(worklist, query_string={"status": "open"})
    assert listed.status_code == 200 and [line["id"] for line in listed.get_json()["items"]] == [rx["id"]]


def test_finding_a_patient_in_the_worklist_is_not_a_miss(world, issue):
    rx = issue().get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route",
                                {"pharmacy_code": "P370811001"}).status_code == 200
    for _ in range(25):
        found = world.pharmacy.get("/api/v1/pharmacy/prescriptions", query_string={"id_number": world.patient_id_number})
        assert [line["id"] for line in found.get_json()["items"]] == [rx["id"]]
    assert world.admin.get("/api/v1/flags?type=id_enumeration").get_json()["items"] == []
