"""Settlement policy versions: through the API (bureaus inside their region), from a file with
`dualchannel policy load`, and the example loaded by `init-db` and `demo`."""

import json
from pathlib import Path

from dualchannel.settlements import rules
from tests.api.conftest import created
from tests.api.test_prescription_flow import problem
from tests.api.test_settlement import EMPLOYEE, RESIDENT
from tests.support import trace_codes

EXAMPLE = Path(rules.__file__).with_name("policy_example.json")


def test_bureau_adds_and_reads_policy_versions(world):
    body = created(world.bureau.post("/api/v1/settlement-policies", RESIDENT))
    assert body["created_by"] == "bureau:370800" and body["note"] == "测试 resident"
    assert body["ci_tiers"] == [{"up_to": "1000.00", "ratio": "0.50"}, {"up_to": None, "ratio": "0.80"}]
    assert body["assistance_ratios"]["low_income"] == "0.70" and body["assistance_ratios"]["none"] == "0.00"
    later = created(world.admin.post("/api/v1/settlement-policies",
                                     {**RESIDENT, "effective_from": "2025-07-01", "fund_ratio": "0.6525"}))
    assert later["fund_ratio"] == "0.6525"
    problem(world.bureau.post("/api/v1/settlement-policies", RESIDENT), 409)

    listed = world.bureau.get("/api/v1/settlement-policies?region=370800&insurance=resident").get_json()
    assert [p["id"] for p in listed["items"]] == [later["id"], body["id"]]
    # A county bureau reads its city's policy; another city's bureau does not.
    county = world.as_role("bureau", "370811")
    assert len(county.get("/api/v1/settlement-policies").get_json()["items"]) == 2
    assert county.get(f"/api/v1/settlement-policies/{body['id']}").status_code == 200
    taian = world.as_role("bureau", "370900")
    assert taian.get("/api/v1/settlement-policies").get_json()["items"] == []
    problem(taian.get(f"/api/v1/settlement-policies/{body['id']}"), 404)
    problem(world.pharmacy.get("/api/v1/settlement-policies"), 403)
    problem(world.physician.post("/api/v1/settlement-policies", RESIDENT), 403)


def test_a_bureau_sets_policies_only_inside_its_region(world):
    problem(world.bureau.post("/api/v1/settlement-policies", {**EMPLOYEE, "region": "370900"}), 403)
    problem(world.as_role("bureau", "370811").post("/api/v1/settlement-policies", EMPLOYEE), 403)
    assert world.as_role("bureau", "370000").post("/api/v1/settlement-policies", EMPLOYEE).status_code == 201


def test_invalid_policies_are_422(world):
    def post(**change):
        return world.bureau.post("/api/v1/settlement-policies", {**EMPLOYEE, **change})

    assert "fund_ratio" in problem(post(fund_ratio="1.2"), 422)["errors"]
    assert "fund_ratio" in problem(post(fund_ratio="0.85001"), 422)["errors"]
    problem(post(deductible="-1.00"), 422)
    problem(post(deductible="1.001"), 422)
    problem(post(insurance="private"), 422)
    problem(post(region="3708"), 422)
    problem(post(ci_tiers=[]), 422)
    problem(post(ci_tiers=[{"up_to": "5000.00", "ratio": "0.6"}, {"up_to": "4000.00", "ratio": "0.7"}]), 422)
    problem(post(ci_tiers=[{"up_to": None, "ratio": "0.6"}, {"up_to": "4000.00", "ratio": "0.7"}]), 422)
    problem(post(assistance_ratios={"none": "0.1"}), 422)
    problem(post(assistance_ratios={"low_income": "1.5"}), 422)
    problem(post(effective_from="2024-02-30"), 422)
    assert world.bureau.get("/api/v1/settlement-policies").get_json()["items"] == []


def test_policy_load_command(runner, tmp_path, world):
    first = runner.invoke(args=["policy", "load", str(EXAMPLE)])
    assert first.exit_code == 0 and "2 policy version(s) added, 0 already stored" in first.output
    again = runner.invoke(args=["policy", "load", str(EXAMPLE)])
    assert again.exit_code == 0 and "0 policy version(s) added, 2 already stored" in again.output
    items = world.bureau.get("/api/v1/settlement-policies").get_json()["items"]
    assert {(p["insurance"], p["deductible"], p["created_by"]) for p in items} == \
        {("employee", "800.00", "admin:-"), ("resident", "800.00", "admin:-")}

    document = json.loads(EXAMPLE.read_text("utf-8"))
    changed = tmp_path / "changed.json"
    document["policies"][0]["deductible"] = "900.00"
    changed.write_text(json.dumps(document), "utf-8")
    refused = runner.invoke(args=["policy", "load", str(changed)])
    assert refused.exit_code != 0 and "never overwritten" in refused.output
    document["policies"][0]["effective_from"] = "2026-01-01"
    document["policies"][1]["deductible"] = "1000.00"  # differs from a stored version: nothing is added
    changed.write_text(json.dumps(document), "utf-8")
    assert runner.invoke(args=["policy", "load", str(changed)]).exit_code != 0
    assert len(world.bureau.get("/api/v1/settlement-policies").get_json()["items"]) == 2

    broken = tmp_path / "broken.json"
    broken.write_text('{"policies": [{"region": "370800"}]}', "utf-8")
    result = runner.invoke(args=["policy", "load", str(broken)])
    assert result.exit_code != 0 and "not a valid policy file" in result.output
    broken.write_text(EXAMPLE.read_text("utf-8").replace('"0.85"', '"0.85555"').replace("2024-01-01", "2027-01-01"),
                      "utf-8")
    assert "decimal places" in runner.invoke(args=["policy", "load", str(broken)]).output


def test_init_db_loads_the_example_policies_once(runner, world):
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and "Loaded 2 example settlement policies" in first.output
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0 and "example settlement policies" not in again.output


def test_a_fresh_demo_can_settle(runner, client):
    from dualchannel import demo

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    # The demo pharmacy's token bound to its pharmacist: it verifies, reviews (审方) and dispenses.
    token = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("pharmacist"))
    headers = {"Authorization": f"Bearer {token}"}
    inbox = client.get("/api/v1/pharmacy/inbox", headers=headers).get_json()["items"]
    rx = inbox[0]["id"]
    name, area, born, *_ = demo.PATIENTS[0]
    verified = client.post(f"/api/v1/prescriptions/{rx}/verify", headers=headers,
                           json={"id_number": demo._resident_id(area, born, 101)})
    assert verified.status_code == 200, verified.get_json()
    reviewed = client.post(f"/api/v1/prescriptions/{rx}/review", headers=headers, json={"outcome": "approved"})
    assert reviewed.status_code == 200, reviewed.get_json()
    dispensed = client.post(f"/api/v1/prescriptions/{rx}/dispense", headers=headers,
                            json={"items": [{"drug_code": "XL01EB04", "trace_codes": trace_codes(1)}]})
    assert dispensed.status_code == 200, dispensed.get_json()
    settled = client.post(f"/api/v1/prescriptions/{rx}/settlement", headers={**headers, "Idempotency-Key": "demo"},
                          json={})
    assert settled.status_code == 201, settled.get_json()
    body = settled.get_json()
    # Example employee policy: 4 800 − deductible 800 = 4 000 at 85 % = 3 400 from the fund.
    assert (body["mode"], body["total"], body["basic_fund"], body["patient_pays"]) == \
        ("direct", "4800.00", "3400.00", "1400.00")
