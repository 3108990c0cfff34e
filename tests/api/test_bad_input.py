"""Malformed JSON, wrong types and missing fields never produce a 500, on any write endpoint."""

import pytest

from tests.api.test_prescription_flow import PROBLEM

BAD_BODIES = [
    ("not json", b"{not json", "application/json"),
    ("array", b"[1, 2, 3]", "application/json"),
    ("string", b'"text"', "application/json"),
    ("number", b"42", "application/json"),
    ("null", b"null", "application/json"),
    ("empty", b"", "application/json"),
    ("wrong types", b'{"code": 1, "name": [], "adcode": {}, "lat": "x", "lon": true, "items": "no", '
                    b'"patient_id": "1", "quantity": "2", "id_number": 5, "valid_days": "3", "reason": 7, '
                    b'"drug_code": null, "pickup": 3, "decision": 1, "force": "maybe", "SAC": "many"}',
     "application/json"),
    ("nested wrong", b'{"items": [{"drug_code": "SAC", "quantity": -1, "days_supply": 0, "trace_codes": "x"}], '
                     b'"patient_id": 99999999999999999999, "valid_days": 1.5, "pickup": {"name": 1}}',
     "application/json"),
    ("form encoded", b"code=1&name=2", "application/x-www-form-urlencoded"),
]


def write_endpoints(app):
    """Every POST/PUT route the app serves, with its placeholders filled."""
    for rule in app.url_map.iter_rules():
        for method in rule.methods & {"POST", "PUT", "PATCH"}:
            url = rule.rule
            for arg in rule.arguments:
                url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "P370811001")
            yield method, url


@pytest.mark.parametrize("label,body,content_type", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_no_server_error_for_bad_bodies(app, world, label, body, content_type):
    endpoints = list(write_endpoints(app))
    assert len(endpoints) >= 12
    for role in (world.admin, world.physician, world.pharmacy, world.bureau):
        for method, url in endpoints:
            response = role.client.open(url, method=method, data=body, content_type=content_type,
                                        headers={"Authorization": f"Bearer {role.token}"})
            assert response.status_code < 500, (method, url, label, response.get_json())
            if response.status_code >= 400:  # problem+json; an OperationOutcome under /fhir/R4
                assert response.mimetype == ("application/fhir+json" if url.startswith("/fhir/") else PROBLEM), \
                    (method, url, label)
            if response.status_code == 422 and response.mimetype == PROBLEM:  # which fields were refused
                assert response.get_json().get("errors"), (method, url, label)
    if label == "nested wrong":  # each bad field named by its path, all in one answer
        refused = world.physician.post("/api/v1/prescriptions", {
            "items": [{"drug_code": "SAC", "quantity": -1, "days_supply": 0, "trace_codes": "x"}],
            "patient_id": "1", "valid_days": 1.5})
        assert refused.status_code == 422
        assert set(refused.get_json()["errors"]) == {"items.0.quantity", "items.0.days_supply", "items.0.dosage",
                                                     "items.0.trace_codes", "patient_id", "valid_days", "diagnosis"}


def test_unknown_route_and_method_are_problems(client, world):
    missing = world.admin.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == PROBLEM
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405 and wrong.mimetype == PROBLEM


def test_validation_errors_name_fields(world):
    response = world.admin.post("/api/v1/institutions", {"name": "x"})
    body = response.get_json()
    assert response.status_code == 422 and set(body["errors"]) == {"code", "adcode"}
    assert body["code"] == "invalid_fields" and body["type"] == "/problems/invalid_fields"
