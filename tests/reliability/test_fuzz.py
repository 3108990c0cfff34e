"""A short, deterministic schemathesis run over every API operation (the long one is bench/fuzz.py)."""

from tests.api.test_prescription_flow import ready_to_dispense
from tests.reliability import fuzzing
from tests.support import trace_codes

SEED = 20240531
EXAMPLES = 3  # per operation and kind of data: a few seconds in all


def fuzz_targets(world, issue):
    """Tokens for every role and real objects for the known-parameter pass."""
    rx = ready_to_dispense(world, issue, "SAC", 1)
    code = trace_codes(1)[0]
    dispensed = world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/dispense",
                                    {"items": [{"drug_code": "SAC", "trace_codes": [code]}]})
    assert dispensed.status_code == 200
    flags = world.admin.get("/api/v1/flags").get_json()["items"]
    tokens = {"admin": world.admin.token, "bureau": world.bureau.token,
              "physician": world.physician.token, "pharmacy": world.pharmacy.token,
              "institution": world.as_role("institution", "H370811001").token}
    known = {"ids": {"prescription_id": issue().get_json()["id"], "patient_id": world.patient["id"],
                     "flag_id": flags[0]["id"] if flags else 1},
             "codes": {"pharmacies": "P370811001", "drugs": "SAC", "institutions": "H370811001", "trace": code}}
    return tokens, known


def test_schema_fuzzing_finds_no_server_error_and_no_undocumented_response(app, world, issue):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash must show as the 500 a caller would get
    tokens, known = fuzz_targets(world, issue)
    report = fuzzing.run(app, tokens, max_examples=EXAMPLES, seed=SEED, known=known)
    assert report.cases >= 3 * len(report.by_operation) > 0
    assert not report.failures, report.summary() + "\n\n" + "\n\n".join(report.failures[:10])
