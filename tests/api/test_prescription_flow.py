"""The whole dual-channel flow through the HTTP API, and each wrong step's answer."""

from datetime import timedelta

from dualchannel import clock
from tests.support import resident_id, review, trace_codes

PROBLEM = "application/problem+json"


def problem(response, status):
    assert response.status_code == status, (response.status_code, response.get_json())
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    return body


def ready_to_dispense(world, issue, drug="SAC", quantity=2, pharmacy="P370811001"):
    """A new prescription routed to the pharmacy, verified and approved by its pharmacist (审方)."""
    rx = issue(drug, quantity).get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": pharmacy}).status_code == 200
    verified = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": world.patient_id_number})
    assert verified.status_code == 200, verified.get_json()
    reviewed = review(world.pharmacy, rx["id"])
    assert reviewed.status_code == 200, reviewed.get_json()
    return rx


def test_issue_route_verify_dispense(world, issue):
    response = issue("SAC", 2)
    assert response.status_code == 201
    rx = response.get_json()
    assert rx["status"] == "issued" and rx["valid_until"].endswith("T00:00:00+08:00")
    assert rx["patient"]["id_number_masked"].startswith("370811") and "*" in rx["patient"]["id_number_masked"]

    options = world.physician.get(f"/api/v1/prescriptions/{rx['id']}/pharmacy-options?lat=35.60&lon=116.99&crs=wgs84")
    assert options.status_code == 200
    codes = [o["code"] for o in options.get_json()["items"]]
    assert codes == ["P370881001", "P370811001"]  # Qufu is nearer; Tai'an is another region
    assert options.get_json()["items"][0]["distance_km"] < 2

    routed = world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    assert routed.status_code == 200 and routed.get_json()["status"] == "routed"
    inbox = world.pharmacy.get("/api/v1/pharmacy/inbox").get_json()
    assert [p["id"] for p in inbox["items"]] == [rx["id"]]

    verified = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {
        "id_number": world.patient_id_number,
        "pickup": {"name": "张小三", "id_number": resident_id("370811", "19900101"), "relation": "子女"}})
    assert verified.status_code == 200 and verified.get_json()["pickup"]["relation"] == "子女"
    reviewed = review(world.pharmacy, rx["id"])
    assert reviewed.status_code == 200 and reviewed.get_json()["status"] == "reviewed"
    assert reviewed.get_json()["review"]["pharmacist"]["licence_number"] == "YSP370811001"

    codes = trace_codes(2)
    dispensed = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                    {"items": [{"drug_code": "SAC", "trace_codes": codes}]})
    assert dispensed.status_code == 200, dispensed.get_json()
    body = dispensed.get_json()
    assert body["status"] == "dispensed" and body["items"][0]["trace_codes"] == sorted(codes)
    assert [h["to_status"] for h in body["history"]] == ["issued", "routed", "verified", "reviewed", "dispensed"]
    assert all(h["actor"] for h in body["history"])
    stock = world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()
    assert stock["SAC"] == 48

    traced = world.pharmacy.get(f"/api/v1/trace/{codes[0]}")
    assert traced.status_code == 200 and traced.get_json()["prescription_id"] == rx["id"]


def test_no_token_is_401(client, world):
    problem(client.get("/api/v1/prescriptions"), 401)
    problem(client.post("/api/v1/prescriptions", json={}, headers={"Authorization": "Bearer nope"}), 401)


def test_non_responsible_physician_is_403(world, issue):
    problem(issue("SAC", physician=world.ordinary_physician), 403)


def test_non_dual_channel_drug_is_422(world, issue):
    body = problem(issue("AMX"), 422)
    assert body["code"] == "prescription_rules" and list(body["errors"]) == ["items.0.drug_code"]


def test_ninety_days_supply_is_422(world, issue):
    body = issue("SAC", items=[{"drug_code": "SAC", "quantity": 1, "days_supply": 90, "dosage": "qd"}])
    body = problem(body, 422)
    assert list(body["errors"]) == ["items.0.days_supply"] and "84" in body["errors"]["items.0.days_supply"][0]


def test_valid_days_beyond_three_is_422(world, issue):
    body = problem(issue("SAC", valid_days=4), 422)
    assert body["code"] == "validity_too_long" and list(body["errors"]) == ["valid_days"]


def test_every_rule_a_prescription_breaks_is_reported_at_once(world, issue):
    """One request names every refused field: schema errors nested in items come back as dotted
    paths, and the business rules (patient, validity, drug, supply) all in one 422."""
    shape = problem(issue("SAC", items=[{"drug_code": "SAC", "quantity": 0, "days_supply": 7, "dosage": "qd"},
                                        {"drug_code": "AMX", "quantity": 1, "days_supply": "x", "dosage": ""}]), 422)
    assert shape["code"] == "invalid_fields"
    assert set(shape["errors"]) == {"items.0.quantity", "items.1.days_supply", "items.1.dosage"}
    rules = problem(world.physician.post("/api/v1/prescriptions", {
        "patient_id": 999999, "diagnosis": "x", "valid_days": 5,
        "items": [{"drug_code": "AMX", "quantity": 1, "days_supply": 7, "dosage": "qd"},
                  {"drug_code": "SAC", "quantity": 1, "days_supply": 90, "dosage": "qd"},
                  {"drug_code": "SAC", "quantity": 1, "days_supply": 7, "dosage": "qd"},
                  {"drug_code": "NOPE", "quantity": 1, "days_supply": 7, "dosage": "qd"}]}), 422)
    assert rules["code"] == "prescription_rules"
    assert set(rules["errors"]) == {"patient_id", "valid_days", "items.0.drug_code", "items.1.days_supply",
                                    "items.2.drug_code", "items.3.drug_code"}
    assert "listed twice" in rules["errors"]["items.2.drug_code"][0]


def test_missing_and_expired_eligibility_is_422(world, issue):
    body = problem(issue("OSI", 1), 422)
    assert list(body["errors"]) == ["items.0.drug_code"]
    assert "eligibility" in body["errors"]["items.0.drug_code"][0].lower()
    patient = world.patient["id"]
    today = clock.today()
    recorded = world.physician.post(f"/api/v1/patients/{patient}/eligibility",
                                    {"drug_code": "OSI", "valid_until": (today + timedelta(days=1)).isoformat()})
    assert recorded.status_code == 201
    assert issue("OSI", 1).status_code == 201
    clock.travel(timedelta(days=3))
    expired = problem(issue("OSI", 1), 422)
    assert "re-examination" in expired["errors"]["items.0.drug_code"][0]
    renewed = world.physician.post(f"/api/v1/patients/{patient}/eligibility",
                                   {"drug_code": "OSI", "valid_until": (clock.today() + timedelta(days=90)).isoformat()})
    assert renewed.status_code == 201
    assert issue("OSI", 1).status_code == 201


def test_route_to_inactive_or_other_city_pharmacy_is_422(world, issue):
    rx = issue().get_json()
    url = f"/api/v1/prescriptions/{rx['id']}/route"
    problem(world.physician.post(url, {"pharmacy_code": "P370811009"}), 422)
    problem(world.physician.post(url, {"pharmacy_code": "P370902001"}), 422)
    problem(world.physician.post(url, {"pharmacy_code": "NOPE"}), 422)


def test_cold_chain_drug_needs_cold_chain_pharmacy(world, issue):
    rx = issue("ADA", 1).get_json()
    url = f"/api/v1/prescriptions/{rx['id']}/route"
    problem(world.physician.post(url, {"pharmacy_code": "P370881001"}), 422)
    assert world.physician.post(url, {"pharmacy_code": "P370811001"}).status_code == 200


def test_dispense_before_verify_is_409(world, issue):
    rx = issue().get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}), 409)


def test_wrong_patient_id_at_verify_is_422(world, issue):
    rx = issue().get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                       {"id_number": resident_id("370811", "19700101")}), 422)
    assert "id_number" in body["errors"]
    problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": "37081119650304123"}), 422)


def test_reused_trace_code_is_409_and_flagged(world, issue):
    first = ready_to_dispense(world, issue)
    codes = trace_codes(2)
    assert world.pharmacy.post(f"/api/v1/prescriptions/{first['id']}/dispense",
                               {"items": [{"drug_code": "SAC", "trace_codes": codes}]}).status_code == 200
    second = ready_to_dispense(world, issue)
    reused = world.pharmacy.post(f"/api/v1/prescriptions/{second['id']}/dispense",
                                 {"items": [{"drug_code": "SAC", "trace_codes": [codes[0], trace_codes(1)[0]]}]})
    problem(reused, 409)
    flags = world.bureau.get("/api/v1/flags?type=duplicate_trace_code").get_json()["items"]
    assert len(flags) == 1 and flags[0]["evidence"]["trace_code"] == codes[0]
    assert world.pharmacy.get(f"/api/v1/prescriptions/{second['id']}").get_json()["status"] == "reviewed"


def test_dispense_after_expiry_is_409(world, issue):
    rx = ready_to_dispense(world, issue)
    clock.travel(timedelta(days=4))
    body = problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                       {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(2)}]}), 409)
    assert body["status_now"] == "expired"
    assert world.physician.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "expired"
    flags = world.bureau.get("/api/v1/flags?type=expired_dispense_attempt").get_json()["items"]
    assert len(flags) == 1


def test_other_pharmacy_and_other_city_bureau_get_404(world, issue):
    rx = issue().get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    url = f"/api/v1/prescriptions/{rx['id']}"
    assert world.pharmacy.get(url).status_code == 200
    assert world.bureau.get(url).status_code == 200
    assert world.as_role("bureau", "370000").get(url).status_code == 200
    problem(world.other_pharmacy.get(url), 404)
    problem(world.as_role("bureau", "370900").get(url), 404)
    problem(world.as_role("physician", "D370811002").get(url), 404)
    problem(world.other_pharmacy.post(f"{url}/verify", {"id_number": world.patient_id_number}), 404)


def test_a_role_without_clinical_access_is_never_read_as_a_bureau(world, issue):
    # An institution's procurement account whose subject happens to look like a region (nothing
    # checks an institution's subject) once fell through to the bureau's rule and read the
    # city's prescriptions, and to the physician's rule for the pharmacy network.
    rx = issue().get_json()
    account = world.as_role("institution", "370800")
    assert account.get("/api/v1/prescriptions").get_json()["items"] == []
    problem(account.get(f"/api/v1/prescriptions/{rx['id']}"), 404)
    assert account.get("/api/v1/pharmacies").get_json()["items"] == []
    problem(account.get("/api/v1/pharmacies/P370811001/stock"), 404)


def test_return_then_route_elsewhere(world, issue):
    rx = issue().get_json()
    world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"})
    back = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/return", {"reason_code": "out_of_stock"})
    assert back.status_code == 200 and back.get_json()["status"] == "issued"
    assert back.get_json()["pharmacy_code"] is None
    problem(world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}"), 404)
    again = world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370881001"})
    assert again.status_code == 200


def test_cancel_before_dispensing_only(world, issue):
    rx = issue().get_json()
    problem(world.physician.post(f"/api/v1/prescriptions/{rx['id']}/cancel", {}), 422)
    cancelled = world.physician.post(f"/api/v1/prescriptions/{rx['id']}/cancel",
                                     {"reason_code": "treatment_changed", "note": "诊断变更"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    problem(world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": "P370811001"}), 409)


def test_expiry_sweep_cli(world, issue, runner):
    rx = issue(valid_days=1).get_json()
    clock.travel(timedelta(days=2))
    result = runner.invoke(args=["expire-prescriptions"])
    assert "1 prescription(s) expired" in result.output
    assert world.physician.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "expired"


def test_insufficient_stock_is_409_and_changes_nothing(world, issue):
    rx = ready_to_dispense(world, issue, "SAC", 60)
    problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(60)}]}), 409)
    assert world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()["status"] == "reviewed"
    assert world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()["SAC"] == 50


def test_trace_codes_must_match_quantity(world, issue):
    rx = ready_to_dispense(world, issue, "SAC", 2)
    url = f"/api/v1/prescriptions/{rx['id']}/dispense"
    problem(world.pharmacy.post(url, {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]}), 422)
    problem(world.pharmacy.post(url, {"items": [{"drug_code": "SAC", "trace_codes": ["123", "456"]}]}), 422)
    same = trace_codes(1) * 2
    problem(world.pharmacy.post(url, {"items": [{"drug_code": "SAC", "trace_codes": same}]}), 422)
