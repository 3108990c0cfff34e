"""The pharmacy's worklist: patient (masked), drugs, validity and status; search by the patient's
ID number or the prescription number; closed prescriptions with the reason; names on reads."""

from datetime import timedelta

from dualchannel import clock
from tests.api.test_prescription_flow import problem
from tests.support import resident_id

WORKLIST = "/api/v1/pharmacy/prescriptions"


def routed(world, issue, pharmacy="P370811001"):
    rx = issue().get_json()
    assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route", {"pharmacy_code": pharmacy}).status_code == 200
    return rx


def listed(world, **query):
    response = world.pharmacy.get(WORKLIST, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_open_lines_show_masked_patient_drugs_and_validity(world, issue):
    rx = routed(world, issue)
    [line] = listed(world, status="open")
    assert line["id"] == rx["id"] and line["number"] == rx["number"] and line["status"] == "routed"
    assert line["patient_name_masked"] == "张*"
    assert line["patient_id_number_masked"] == world.patient["id_number_masked"]
    assert [(d["drug_name"], d["quantity"], d["unit"]) for d in line["drugs"]] == [("诺欣妥 100mg×14片", 2, "盒")]
    assert line["valid_until"] == rx["valid_until"] and line["closing"] is None


def test_found_by_id_number_or_prescription_number(world, issue):
    first, second = routed(world, issue), routed(world, issue)
    assert {l["id"] for l in listed(world, id_number=world.patient_id_number)} == {first["id"], second["id"]}
    # A card reader types the number with a lower-case x or spaces around it: same patient.
    assert {l["id"] for l in listed(world, id_number=f" {world.patient_id_number.lower()} ")} == {first["id"], second["id"]}
    assert listed(world, id_number=resident_id("370811", "19990101")) == []
    assert [l["id"] for l in listed(world, number=second["number"])] == [second["id"]]
    assert [l["id"] for l in listed(world, number=str(first["id"]))] == [first["id"]]
    body = problem(world.pharmacy.get(WORKLIST, query_string={"id_number": "370811"}), 422)
    assert body["code"] == "id_number_invalid" and "id_number" in body["errors"]


def test_expired_returned_and_not_dispensed_are_listed_with_the_reason(world, issue):
    handed = routed(world, issue)
    assert world.pharmacy.post(f"/api/v1/prescriptions/{handed['id']}/return",
                               {"reason_code": "out_of_stock"}).status_code == 200
    declined = routed(world, issue)
    assert world.pharmacy.post(f"/api/v1/prescriptions/{declined['id']}/not-dispensed",
                               {"reason_code": "patient_declined", "note": "患者不再需要"}).status_code == 200
    late = routed(world, issue)
    try:
        clock.travel(timedelta(days=4))
        closed = {l["id"]: l for l in listed(world, status="closed")}
        assert listed(world, status="open") == []
    finally:
        clock.reset()
    assert set(closed) == {handed["id"], declined["id"], late["id"]}
    assert closed[handed["id"]]["status"] == "returned"
    assert closed[handed["id"]]["closing"]["reason_label"] == "药品缺货，无法按时供药"
    assert closed[declined["id"]]["status"] == "not_dispensed"
    assert closed[declined["id"]]["closing"]["note"] == "患者不再需要"
    assert closed[late["id"]]["status"] == "expired"
    # Routed again elsewhere, the handed-back one shows no more than this pharmacy's own return.
    assert world.physician.post(f"/api/v1/prescriptions/{handed['id']}/route",
                                {"pharmacy_code": "P370881001"}).status_code == 200
    [back] = [l for l in listed(world, status="returned")]
    assert back["id"] == handed["id"] and back["valid_until"] is None
    assert handed["id"] not in {l["id"] for l in world.other_pharmacy.get(WORKLIST, query_string={"status": "returned"})
                                .get_json()["items"]}


def test_a_read_names_the_prescriber_institution_and_pharmacy(world, issue):
    rx = routed(world, issue)
    read = world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}").get_json()
    assert (read["physician_name"], read["institution_name"]) == ("王医生", "济宁市第一人民医院")
    assert (read["pharmacy_name"], read["pharmacy_address"]) == ("P370811001大药房", "测试地址")


def test_only_pharmacies_have_a_worklist(world):
    for role in (world.physician, world.bureau, world.admin):
        assert role.get(WORKLIST).status_code == 403


def test_a_prescription_no_pharmacy_could_fill_is_refused_at_issue(world, issue):
    from tests.api.conftest import created

    # A patient of 威海 (371000), where the network has no dual-channel pharmacy at all.
    number = resident_id("371002", "19700101")
    patient = created(world.admin.post("/api/v1/patients", {"id_number": number, "name": "于海",
                                                            "insurance": "resident", "region": "371000"}))
    assert world.physician.post("/api/v1/patients/search", {"id_number": number, "name": "于海"}).status_code == 200
    body = problem(issue(patient_id=patient["id"]), 409)
    assert body["code"] == "no_pharmacy_serves_patient" and body["regions"] == ["371000"]
    # Nothing was written: the physician's list holds no prescription of hers.
    assert patient["id"] not in {p["patient_id"] for p in world.physician.get("/api/v1/prescriptions").get_json()["items"]}


def test_a_cold_chain_drug_needs_a_cold_chain_pharmacy(world, issue, as_role):
    # Jining's one cold-chain pharmacy leaves: 修美乐 (2–8 °C) could be filled nowhere in the city.
    assert world.admin.post("/api/v1/pharmacies/P370811001/exit", {"reason": "测试", "force": True}).status_code == 200
    body = problem(issue("ADA", 1), 409)
    assert body["code"] == "no_cold_chain_pharmacy_serves_patient"
    assert issue("SAC", 1).status_code == 201  # an ordinary drug still has P370881001


def test_the_slip_qr_code_holds_the_prescription_number(world, issue):
    rx = routed(world, issue)
    response = world.physician.get(f"/api/v1/prescriptions/{rx['id']}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and f"处方编号 {rx['number']}" in svg and 'class="qr"' in svg
    assert world.other_pharmacy.get(f"/api/v1/prescriptions/{rx['id']}/qr.svg").status_code == 404
