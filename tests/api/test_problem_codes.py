"""Errors as a contract (issue 19): every code a problem can carry is in one registry
(dualchannel/problems.py), raised somewhere, explained at /problems/<code>, listed in
/openapi.json and translated by the pages' table (served from the same registry).

The autouse `problem_contract` check in tests/conftest.py holds every problem+json answer of the
suite to the registry; these tests hold the registry to the source and to what is published."""

import json
import re
from pathlib import Path

import pytest

from dualchannel import errors, problems
from dualchannel.errors import Conflict, DomainError, Invalid
from dualchannel.problems import FIELDS, PROBLEMS
from tests.conftest import problem_contract_violations

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dualchannel"
I18N = ROOT / "static" / "pages" / "js" / "i18n.js"


def raised_codes() -> set[str]:
    """Every code the product's source names: the `code=` of each domain exception, problem and
    conflict-on-commit, codes assigned in the error handler, and werkzeug's codes by status."""
    return set(problems.codes_in(PACKAGE)) | set(errors.HTTP_CODES.values())


def test_every_raised_code_is_registered_and_every_registered_code_is_raised():
    raised = raised_codes()
    assert len(raised) > 150
    assert sorted(raised - set(PROBLEMS)) == [], "raised but not in dualchannel/problems.py"
    assert sorted(set(PROBLEMS) - raised) == [], "in dualchannel/problems.py but never raised"


def test_codes_are_snake_case_and_texts_complete():
    for code, problem in PROBLEMS.items():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", code), code
        assert 400 <= problem.status < 600, code
        assert problem.title and problem.zh and problem.en, code
        assert re.search(r"[\u4e00-\u9fff]", problem.title + problem.zh), code


def test_a_domain_error_cannot_be_raised_without_a_code():
    with pytest.raises(TypeError):
        Invalid("No code.")
    assert Conflict("x", code="concurrent_change").code == "concurrent_change"
    assert not hasattr(DomainError, "code")


def test_the_contract_check_refuses_what_it_should():
    fine = {"type": "/problems/rate_limited", "title": "Too many requests", "status": 429, "detail": "",
            "code": "rate_limited", "retry_after": 3}
    assert problem_contract_violations(fine, 429) == []
    assert problem_contract_violations({**fine, "code": "no_such_code"}, 429)
    assert problem_contract_violations({**fine, "type": "about:blank"}, 429)
    assert problem_contract_violations(fine, 409)
    assert problem_contract_violations({k: v for k, v in fine.items() if k != "retry_after"}, 429)
    nested = {**fine, "code": "invalid_fields", "status": 422, "type": "/problems/invalid_fields",
              "errors": {"items": {"0": {"quantity": ["Missing."]}}}}
    assert problem_contract_violations(nested, 422)


def test_nested_field_errors_are_flattened_to_paths():
    assert errors.flatten_errors({"items": {0: {"quantity": ["Missing."], "_schema": ["Bad item."]}},
                                  "_schema": ["Bad body."], "pickup": {"id_number": ["x"]}}) == {
        "items.0.quantity": ["Missing."], "items.0": ["Bad item."], "body": ["Bad body."], "pickup.id_number": ["x"]}
    assert errors.flatten_errors(["Not an object."]) == {"body": ["Not an object."]}


def test_each_code_has_a_page_and_unknown_codes_are_404(client):
    for code, problem in PROBLEMS.items():
        page = client.get(f"/problems/{code}")
        assert page.status_code == 200 and page.mimetype == "text/html", code
        text = page.get_data(as_text=True)
        assert problem.title in text and f"<code>{code}</code>" in text and 'lang="en"' in text
    unknown = client.get("/problems/no_such_code")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "problem_code_unknown"


def test_the_table_is_served_from_the_registry(client):
    table = client.get("/problems.json").get_json()
    assert set(table) == set(PROBLEMS)
    assert table["duplicate_trace_code"]["type"] == "/problems/duplicate_trace_code"
    module = client.get("/problems.js")
    assert module.mimetype == "text/javascript"
    tables = dict(re.findall(r"^export const (\w+) = (\{.*?\n\});$", module.get_data(as_text=True), re.S | re.M))
    assert set(tables) == {"PROBLEMS", "FIELDS"}
    served = json.loads(tables["PROBLEMS"])
    assert {code: entry["zh"] for code, entry in served.items()} == {c: p.zh for c, p in PROBLEMS.items()}
    assert json.loads(tables["FIELDS"]) == {code: field.zh for code, field in FIELDS.items()}


def test_pages_translate_codes_not_sentences():
    source = I18N.read_text(encoding="utf-8")
    assert 'from "/problems.js"' in source  # the one zh-CN table, generated from the registry
    assert "const MESSAGES" not in source
    describe = source[source.index("export function describeError"):]
    describe = describe[:describe.index("\n}\n")]
    # The message comes from the code; the English detail is only shown as it is, never matched.
    assert "problemMessage(problem)" in describe and "translate(problem.detail)" not in describe
    assert "PROBLEMS[problem.code]" in source


def test_every_code_is_in_openapi_and_operations_list_theirs(client):
    spec = client.get("/openapi.json").get_json()
    documented = spec["x-problem-codes"]
    assert set(documented) == set(PROBLEMS)
    assert spec["x-field-codes"]["days_supply_too_long"]["zh"] == FIELDS["days_supply_too_long"].zh
    assert set(spec["x-field-codes"]) == set(FIELDS)
    assert documented["prescription_expired"] == {"status": 409, "title": PROBLEMS["prescription_expired"].title,
                                                  "description": PROBLEMS["prescription_expired"].en,
                                                  "type": "/problems/prescription_expired"}
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
                  if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) > 80
    for path, method, op in operations:
        assert op.get("x-problem-codes"), (path, method)
        assert set(op["x-problem-codes"]) <= set(PROBLEMS), (path, method)
    dispense = spec["paths"]["/api/v1/prescriptions/{prescription_id}/dispense"]["post"]["x-problem-codes"]
    assert {"duplicate_trace_code", "prescription_expired", "pharmacy_suspended", "review_required"} <= set(dispense)
    settle = spec["paths"]["/api/v1/prescriptions/{prescription_id}/settlement"]["post"]["x-problem-codes"]
    assert {"policy_missing", "double_claim", "idempotency_key_reused"} <= set(settle)
