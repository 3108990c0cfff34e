"""The FHIR R4 read API at /fhir/R4: every resource it produces is validated by `fhir.resources`;
a real FHIR client (`fhirpy`) pages through a search against the app served over HTTP."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from fhir.resources.R4B import get_fhir_model_class
from werkzeug.serving import WSGIRequestHandler, make_server

from dualchannel import clock
from dualchannel.prescriptions import rules
from tests.api.conftest import created
from tests.api.test_settlement import EMPLOYEE
from tests.support import review, trace_codes

FHIR = "application/fhir+json"
BASE = "/fhir/R4"
URL = "/api/v1/prescriptions/{}/{}"


def valid(body: dict) -> dict:
    """The resource (a Bundle with every entry, an OperationOutcome, ...) checked by fhir.resources.

    fhir.resources ships FHIR R4B (4.3.0), the technical correction of R4 (4.0.1) that left these
    resources' structure as it was; its models check every element's name, type and cardinality.
    """
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return body


def read(client, path, status=200):
    response = client.get(f"{BASE}/{path}")
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True))
    assert response.mimetype == FHIR and response.headers["Cache-Control"] == "no-store"
    body = valid(response.get_json())
    if status >= 400:
        assert body["resourceType"] == "OperationOutcome"
    return body


def entries(bundle):
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [e["resource"] for e in bundle.get("entry", [])]


@pytest.fixture
def flow(world, issue):
    """Prescriptions in every phase, a direct settlement and a pending manual claim."""
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))

    def bring(status, drug="SAC", quantity=2):
        rx = issue(drug, quantity).get_json()
        steps = {"routed": 1, "verified": 2, "dispensed": 3, "settled": 4}.get(status, 0)
        if steps >= 1:
            world.physician.post(URL.format(rx["id"], "route"), {"pharmacy_code": "P370811001"})
        if steps >= 2:
            world.pharmacy.post(URL.format(rx["id"], "verify"), {"id_number": world.patient_id_number})
        if steps >= 3:
            assert review(world.pharmacy, rx["id"]).status_code == 200
            done = world.pharmacy.post(URL.format(rx["id"], "dispense"),
                                       {"items": [{"drug_code": drug, "trace_codes": trace_codes(quantity)}]})
            assert done.status_code == 200, done.get_json()
        if steps >= 4:
            assert world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/settlement", {}).status_code == 201
        return rx["id"]

    ids = {status: bring(status) for status in ("issued", "routed", "verified", "dispensed", "settled")}
    ids["returned"] = bring("routed")
    world.pharmacy.post(URL.format(ids["returned"], "return"), {"reason_code": "out_of_stock", "note": "周三到货"})
    ids["cancelled"] = bring("issued")
    world.physician.post(URL.format(ids["cancelled"], "cancel"), {"reason_code": "treatment_changed"})
    ids["not_dispensed"] = bring("verified")
    world.pharmacy.post(URL.format(ids["not_dispensed"], "not-dispensed"), {"reason_code": "patient_declined"})
    ids["expired"] = bring("routed")
    manual_rx = bring("dispensed")
    manual = world.pharmacy.post(f"/api/v1/prescriptions/{manual_rx}/settlement", {"mode": "manual"}).get_json()
    settlements = world.admin.get("/api/v1/settlements").get_json()["items"]
    direct = next(s for s in settlements if s["prescription_id"] == ids["settled"])
    return SimpleNamespace(ids=ids, settlement=direct["id"], claim=manual["id"], manual_rx=manual_rx)


def test_every_resource_type_validates(world, flow):
    seen = set()
    capability = read(world.pharmacy, "metadata")
    assert capability["fhirVersion"] == "4.0.1" and capability["format"] == ["json"]
    types = {r["type"]: r for r in capability["rest"][0]["resource"]}
    assert set(types) == {"MedicationRequest", "MedicationDispense", "Task", "Claim", "ClaimResponse", "Patient",
                          "Practitioner", "Organization", "Medication"}
    assert [p["name"] for p in types["Task"]["searchParam"]] == ["patient", "status", "_lastUpdated", "_count"]
    seen.add("CapabilityStatement")
    settled = flow.ids["settled"]
    for path in (f"MedicationRequest/{settled}-1", f"MedicationDispense/{settled}-1", f"Task/{settled}",
                 f"Claim/{flow.settlement}", f"ClaimResponse/{flow.settlement}", f"Patient/{world.patient['id']}",
                 "Practitioner/D370811001", "Organization/pharmacy-P370811001",
                 "Organization/institution-H370811001", "Medication/SAC"):
        seen.add(read(world.admin, path)["resourceType"])
    for kind in ("MedicationRequest", "MedicationDispense", "Task", "Claim", "ClaimResponse"):
        bundle = read(world.admin, kind)
        assert {r["resourceType"] for r in entries(bundle)} == {kind}
        seen.add("Bundle")
    seen.add(read(world.admin, "Task/999999", 404)["resourceType"])
    assert seen == {"CapabilityStatement", "MedicationRequest", "MedicationDispense", "Task", "Claim",
                    "ClaimResponse", "Patient", "Practitioner", "Organization", "Medication", "Bundle",
                    "OperationOutcome"}


def test_an_expired_prescription_is_stopped_and_its_task_failed(world, flow):
    clock.travel(timedelta(days=4))  # past every validity: a live one expires when read
    assert read(world.admin, f"MedicationRequest/{flow.ids['expired']}-1")["status"] == "stopped"
    task = read(world.admin, f"Task/{flow.ids['expired']}")
    assert task["status"] == "failed" and task["businessStatus"]["coding"][0]["code"] == "expired"
    assert "restriction" not in task and "owner" not in task


def test_medication_request_before_expiry(world, flow):
    statuses = {phase: read(world.admin, f"MedicationRequest/{rx_id}-1")["status"] for phase, rx_id in flow.ids.items()}
    assert statuses == {"issued": "active", "routed": "active", "verified": "active", "returned": "on-hold",
                        "cancelled": "cancelled", "expired": "active", "not_dispensed": "stopped",
                        "dispensed": "completed", "settled": "completed"}
    returned = read(world.physician, f"MedicationRequest/{flow.ids['returned']}-1")
    assert returned["statusReason"]["coding"][0] == {"system": "urn:dualchannel:reason-code", "code": "out_of_stock",
                                                     "display": rules.REASONS["out_of_stock"].label}
    assert returned["statusReason"]["text"] == "周三到货" and "performer" not in returned
    routed = read(world.pharmacy, f"MedicationRequest/{flow.ids['routed']}-1")
    assert routed["performer"]["reference"] == "Organization/pharmacy-P370811001"
    assert routed["groupIdentifier"]["value"] == str(flow.ids["routed"])
    assert routed["dispenseRequest"]["quantity"]["value"] == 2 and routed["intent"] == "order"
    assert routed["subject"]["reference"] == f"Patient/{world.patient['id']}"
    read(world.admin, f"MedicationRequest/{flow.ids['routed']}-2", 404)
    read(world.admin, "MedicationRequest/abc", 404)


def test_dispense_task_and_claims(world, flow):
    settled, closed = flow.ids["settled"], flow.ids["not_dispensed"]
    dispense = read(world.pharmacy, f"MedicationDispense/{settled}-1")
    codes = world.pharmacy.get(f"/api/v1/prescriptions/{settled}").get_json()["items"][0]["trace_codes"]
    assert dispense["status"] == "completed" and dispense["quantity"]["value"] == 2
    assert [i["value"] for i in dispense["identifier"]] == codes
    assert {i["system"] for i in dispense["identifier"]} == {"urn:dualchannel:trace-code"}
    assert dispense["authorizingPrescription"][0]["reference"] == f"MedicationRequest/{settled}-1"
    declined = read(world.pharmacy, f"MedicationDispense/{closed}-1")
    assert declined["status"] == "declined" and declined["statusReasonCodeableConcept"]["coding"][0]["code"] \
        == "patient_declined" and "identifier" not in declined
    read(world.pharmacy, f"MedicationDispense/{flow.ids['verified']}-1", 404)  # nothing dispensed yet

    tasks = {phase: read(world.admin, f"Task/{rx_id}") for phase, rx_id in flow.ids.items()}
    assert {phase: t["status"] for phase, t in tasks.items()} == {
        "issued": "ready", "returned": "ready", "routed": "requested", "verified": "in-progress",
        "dispensed": "completed", "settled": "completed", "cancelled": "cancelled", "expired": "requested",
        "not_dispensed": "rejected"}
    assert tasks["returned"]["businessStatus"]["coding"][0]["code"] == "returned"
    assert tasks["routed"]["owner"]["reference"] == "Organization/pharmacy-P370811001"
    assert tasks["routed"]["restriction"]["period"]["end"].endswith("+08:00")
    assert tasks["settled"]["output"][0]["valueReference"]["reference"] == f"MedicationDispense/{settled}-1"
    assert tasks["cancelled"]["statusReason"]["coding"][0]["code"] == "treatment_changed"

    claim = read(world.pharmacy, f"Claim/{flow.settlement}")
    response = read(world.pharmacy, f"ClaimResponse/{flow.settlement}")
    settlement = world.pharmacy.get(f"/api/v1/settlements/{flow.settlement}").get_json()
    assert claim["status"] == "active" and claim["total"] == {"value": float(settlement["total"]), "currency": "CNY"}
    assert claim["patient"]["reference"] == f"Patient/{world.patient['id']}"
    totals = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in response["total"]}
    parts = ("basic_fund", "critical_illness", "medical_assistance", "patient_pays")
    assert {p: totals[p] for p in parts} == {p: float(settlement[p]) for p in parts}
    assert round(sum(totals[p] for p in parts), 2) == totals["submitted"] == float(settlement["total"])
    assert response["outcome"] == "complete" and response["request"]["reference"] == f"Claim/{flow.settlement}"
    pending = read(world.pharmacy, f"ClaimResponse/{flow.claim}")
    assert pending["outcome"] == "queued" and "payment" not in pending


def test_patient_shows_the_masked_identifier_only(world, flow):
    patient = read(world.physician, f"Patient/{world.patient['id']}")
    assert patient["identifier"] == [{"system": "urn:dualchannel:resident-id-masked",
                                      "value": world.patient["id_number_masked"], "type": {"text": "居民身份证号（脱敏）"}}]
    assert world.patient_id_number not in str(patient)


def test_search_by_patient_status_and_last_updated_with_paging(world, flow, as_role):
    active = entries(read(world.admin, "MedicationRequest?status=active"))
    assert {r["groupIdentifier"]["value"] for r in active} == {str(flow.ids[p]) for p in
                                                               ("issued", "routed", "verified", "expired")}
    both = entries(read(world.admin, "MedicationRequest?status=on-hold,cancelled"))
    assert {r["status"] for r in both} == {"on-hold", "cancelled"} and len(both) == 2
    assert entries(read(world.admin, "MedicationDispense?status=declined"))[0]["id"] == f"{flow.ids['not_dispensed']}-1"
    mine = entries(read(world.admin, f"Task?patient=Patient/{world.patient['id']}"))
    assert len(mine) == len(flow.ids) + 1
    assert entries(read(world.admin, "Task?patient=999999")) == []
    assert len(entries(read(world.admin, "Claim?status=active"))) == 2
    assert entries(read(world.admin, "ClaimResponse?status=cancelled")) == []

    today = clock.today()
    assert len(entries(read(world.admin, f"Task?_lastUpdated={today.isoformat()}"))) == len(mine)
    assert entries(read(world.admin, f"Task?_lastUpdated=gt{today.isoformat()}")) == []
    assert entries(read(world.admin, f"Task?_lastUpdated=lt{today.isoformat()}")) == []
    window = f"_lastUpdated=ge{today.isoformat()}&_lastUpdated=le{(today + timedelta(days=1)).isoformat()}"
    assert len(entries(read(world.admin, f"Task?{window}"))) == len(mine)

    # Pages: _count per page and a `next` link carrying the other parameters.
    seen, path, pages = [], "Task?_count=4&status=ready,requested,in-progress,completed,rejected,cancelled", 0
    while path:
        bundle = read(world.admin, path)
        assert len(bundle.get("entry", [])) <= 4
        seen += [r["id"] for r in entries(bundle)]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        path = links.get("next", "").split(f"{BASE}/", 1)[1] if "next" in links else None
        pages += 1
    assert pages >= 3 and len(seen) == len(set(seen)) == len(mine)
    assert seen == sorted(seen, key=int, reverse=True)

    # The same visibility as /api/v1: the other pharmacy and another city's bureau see none.
    assert entries(read(world.other_pharmacy, "MedicationRequest")) == []
    assert entries(read(as_role("bureau", "370900"), "Task")) == []
    assert {r["id"] for r in entries(read(world.pharmacy, "Task"))} == {
        str(i) for p, i in flow.ids.items() if p not in ("issued", "returned", "cancelled")} | {str(flow.manual_rx)}


@pytest.mark.parametrize("path, status, code", [
    ("Task?_count=0", 422, "search_parameter_invalid"),
    ("Task?_count=501", 422, "search_parameter_invalid"),
    ("Task?status=bogus", 422, "search_parameter_invalid"),
    ("Task?patient=abc", 422, "search_parameter_invalid"),
    ("Task?_lastUpdated=sa2025-01-01", 422, "search_parameter_invalid"),
    ("Task?_lastUpdated=9999-01-01", 422, "search_parameter_invalid"),
    ("Task?_lastUpdated=2025-01-01T10:00:00", 422, "search_parameter_invalid"),
    ("Task?subject=1", 422, "search_parameter_unsupported"),
    ("Task?_cursor=%%%", 422, "invalid_cursor"),
    ("Patient", 404, "not_found"),
    ("Basic/1", 404, "not_found"),
    ("Organization/P370811001", 404, "resource_not_found"),
    ("Task/1-1", 404, "resource_not_found"),
    ("Task/99999999999", 404, "resource_not_found"),
])
def test_errors_are_operation_outcomes(world, path, status, code):
    outcome = read(world.admin, path, status)
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == code


def test_no_token_and_writes(world, client):
    for path in ("/fhir/R4/Task", "/fhir/R4/Patient/1", "/fhir/R4/nothing"):
        response = client.get(path)
        assert response.status_code == 401 and response.mimetype == FHIR
        assert response.headers["WWW-Authenticate"] == "Bearer"
        valid(response.get_json())
    assert client.get("/fhir/R4/metadata").status_code == 200
    response = world.admin.post("/fhir/R4/Task", {"resourceType": "Task"})
    assert response.status_code == 405 and response.mimetype == FHIR and response.headers["Allow"] == "GET"
    valid(response.get_json())


class _QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs):
        pass


@pytest.fixture
def served(app):
    """The test's app behind a real HTTP server in a thread (fhirpy speaks HTTP, not WSGI)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="fhir-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{BASE}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_a_fhir_client_pages_through_a_search(world, flow, served):
    from fhirpy import SyncFHIRClient
    from fhirpy.base.exceptions import ResourceNotFound

    client = SyncFHIRClient(served, authorization=f"Bearer {world.admin.token}")
    search = client.resources("MedicationRequest").search(patient=world.patient["id"]).limit(3)
    first = search.fetch_raw()
    assert len(first.entry) == 3 and any(link.relation == "next" for link in first.link)
    found = search.fetch_all()  # follows the `next` links, page after page
    assert len(found) == len(flow.ids) + 1 >= 2 * 3
    assert len({r.id for r in found}) == len(found)
    for resource in found:
        valid(resource.serialize())
    task = client.reference("Task", str(flow.ids["settled"])).to_resource()
    assert valid(task.serialize())["status"] == "completed"
    assert client.resources("Task").search(status="rejected").first().id == str(flow.ids["not_dispensed"])
    with pytest.raises(ResourceNotFound):
        client.reference("Task", "999999").to_resource()
    stranger = SyncFHIRClient(served, authorization=f"Bearer {world.other_pharmacy.token}")
    assert stranger.resources("MedicationRequest").fetch_all() == []



def test_an_institution_reads_as_on_api_v1(world, as_role):
    created(world.admin.post("/api/v1/institutions", {"code": "H370902001", "name": "泰安市中心医院", "adcode": "370902"}))
    callers = [world.admin, world.bureau, as_role("bureau", "370900"), as_role("bureau", "370811"), world.physician,
               world.pharmacy, as_role("institution", "H370811001")]
    for code in ("H370811001", "H370902001"):
        for caller in callers:
            ours = caller.get(f"/api/v1/institutions/{code}").status_code
            theirs = caller.get(f"{BASE}/Organization/institution-{code}")
            assert theirs.status_code == ours and theirs.mimetype == FHIR, (code, caller.token[:8], ours)
            valid(theirs.get_json())
