"""The SQL statements each write step of the flow sends to the database, pinned exactly.

A change that adds a round trip to issue, route, verify, review, dispense or settle fails here; a change
that saves one lowers its pin (issue 18 aims at <= 6 for issue, route, verify and dispense).
Statements are counted by a `before_cursor_execute` listener on the app's engine
(`tests.support.counting_statements`); BEGIN and COMMIT are round trips too, but no statements,
and each request has one of each (SQLite's `BEGIN IMMEDIATE` is left out). On PostgreSQL a
step's conditional UPDATE and the INSERT of its history event are one statement (a CTE), and so
are a new record's inserts (`db.insert_with_children`: a prescription with its items and first
event, a settlement with its lines and first event); on SQLite, in-process with no round trip
to save, they are separate. The steps run twice and the second round is pinned, so nothing a first request
caches is counted.
"""

import uuid

from dualchannel import db, demo
from dualchannel.demo import TRACE_PREFIXES
from tests.support import counting_statements, trace_codes

# Each step's own statements, plus one every request makes: the token revocation epoch read
# (issue 17: a revoked token fails on its next request in every worker).
# issue: 8 since issue 20 (one query refuses a prescription no pharmacy of the network could fill).
STATEMENTS = {"issue": 8, "route": 5, "verify": 4, "review": 5, "dispense": 7, "settle": 14}
# What PostgreSQL saves per step: the move and its event in one (route ... settle), a new
# record's three inserts in one (issue, settle), the packs and the dispensings in one
# (dispense), the units dispensed read with the accumulator's lock (settle).
SAVED_ON_POSTGRESQL = {"issue": 2, "route": 1, "verify": 1, "review": 1, "dispense": 2, "settle": 4}

DRUG = "XC09DX04"  # 诺欣妥 in the demo data: no eligibility needed, in stock everywhere
PATIENT_ID_NUMBER = demo._resident_id("370811", "19770630", 106)  # 孟庆华, the demo's sixth patient


def test_statements_per_write_step(app, demo):
    engine = app.extensions[db._ENGINE]
    patient = demo.admin.post("/api/v1/patients/search", {"id_number": PATIENT_ID_NUMBER, "name": "孟庆华"}).get_json()
    body = {"patient_id": patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": DRUG, "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]}

    def counted(step, expected_status, call):
        with counting_statements(engine) as counter:
            response = call()
        assert response.status_code == expected_status, (step, response.get_json())
        return response, counter.statements

    for _ in range(2):
        statements = {}
        response, statements["issue"] = counted("issue", 201, lambda: demo.physician.post(
            "/api/v1/prescriptions", body))
        url = f"/api/v1/prescriptions/{response.get_json()['id']}"
        _, statements["route"] = counted("route", 200, lambda: demo.physician.post(
            f"{url}/route", {"pharmacy_code": "P370811001"}))
        _, statements["verify"] = counted("verify", 200, lambda: demo.pharmacy.post(
            f"{url}/verify", {"id_number": PATIENT_ID_NUMBER}))
        _, statements["review"] = counted("review", 200, lambda: demo.pharmacist.post(
            f"{url}/review", {"outcome": "approved"}))
        _, statements["dispense"] = counted("dispense", 200, lambda: demo.pharmacy.post(
            f"{url}/dispense", {"items": [{"drug_code": DRUG, "trace_codes": trace_codes(1, TRACE_PREFIXES[DRUG])}]}))
        _, statements["settle"] = counted("settle", 201, lambda: demo.pharmacy.post(
            f"{url}/settlement", {}, headers={"Idempotency-Key": str(uuid.uuid4())}))

    pinned = {step: count - (SAVED_ON_POSTGRESQL[step] if engine.dialect.name == "postgresql" else 0)
              for step, count in STATEMENTS.items()}
    counts = {step: len(sent) for step, sent in statements.items()}
    changed = {step: sent for step, sent in statements.items() if len(sent) != pinned[step]}
    assert counts == pinned, "\n\n".join(
        f"{step}: {len(sent)} statements, pinned {pinned[step]}:\n" + "\n".join(f"  {s}" for s in sent)
        for step, sent in changed.items())
