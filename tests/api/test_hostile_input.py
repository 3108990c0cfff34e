"""What schema fuzzing found: input no database can hold is refused, and errors are documented.

Each case here was a server error (or an undocumented answer) before: NUL characters and
unpaired surrogates reach PostgreSQL and the UTF-8 encoder, integers past 64 bits reach SQLite.
"""

import pytest

from dualchannel.problems import PROBLEMS
from tests.api.test_prescription_flow import problem

HUGE = 36893488147419103231  # 2**65 - 1


@pytest.mark.parametrize("url", [
    f"/api/v1/prescriptions/{HUGE}", f"/api/v1/prescriptions/{2**31}/pharmacy-options",
    f"/api/v1/patients/{HUGE}", f"/api/v1/flags/{HUGE}", "/api/v1/trace/8123%00456", "/api/v1/pharmacies/P%00",
])
def test_ids_and_codes_no_record_can_have_are_not_found(world, url):
    problem(world.admin.get(url), 404)


def test_text_with_nul_or_lone_surrogate_is_refused_by_field(world, issue):
    bad_body = ('{"code": "XN1", "generic_name": "a\\u0000b", "name": "\\ud800", "unit": "盒", '
                '"extra": {"\\udfff": 1}}')
    response = world.admin.client.post("/api/v1/drugs", data=bad_body, content_type="application/json",
                                       headers={"Authorization": f"Bearer {world.admin.token}"})
    body = problem(response, 422)
    assert {"generic_name", "name", "extra"} <= set(body["errors"])
    nested = issue("SAC", 1, items=[{"drug_code": "SAC", "quantity": 1, "days_supply": 7, "dosage": "x\x00"}])
    assert list(problem(nested, 422)["errors"]) == ["items.0.dosage"]
    query = world.admin.get("/api/v1/flags?type=a%00b")
    assert list(problem(query, 422)["errors"]) == ["type"]
    # Chinese text, emoji (a valid surrogate pair in JSON) and control characters other than NUL are fine.
    fine = world.admin.post("/api/v1/drugs", {"code": "XN2", "generic_name": "阿司匹林\t😀", "name": "名",
                                              "unit": "盒"})
    assert fine.status_code == 201, fine.get_json()


def test_integers_past_64_bits_are_refused(world, issue):
    response = issue("SAC", 1, patient_id=HUGE)
    assert "patient_id" in problem(response, 422)["errors"]
    stock = world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"SAC": HUGE})
    assert list(problem(stock, 422)["errors"]) == ["SAC"]


def test_a_body_that_is_not_json_names_the_body(world):
    response = world.admin.client.post("/api/v1/institutions", data=b"{nope", content_type="application/json",
                                       headers={"Authorization": f"Bearer {world.admin.token}"})
    assert problem(response, 400)["errors"] == {"body": ["Invalid JSON body."]}


def test_errors_and_money_are_documented_as_they_are_sent(client):
    spec = client.get("/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(default) == ["application/problem+json"]
    problem_schema = spec["components"]["schemas"]["Problem"]
    assert problem_schema["properties"]["status"]["type"] == "integer"
    assert set(problem_schema["required"]) == {"type", "title", "status", "detail", "code"}
    assert set(problem_schema["properties"]["code"]["enum"]) == set(PROBLEMS)
    price = spec["components"]["schemas"]["DrugIn"]["properties"]["agreed_price"]
    assert price["type"] == "string" and "minimum" not in price and price["pattern"]
    path = spec["paths"]["/api/v1/prescriptions/{prescription_id}"]["parameters"][0]["schema"]
    assert path["maximum"] == 2**31 - 1
