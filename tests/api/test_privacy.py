"""Privacy of ID numbers: the suite-wide guard itself, a database dump, audited reveals and reads."""

import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from dualchannel import db, logs
from tests.api.test_prescription_flow import problem
from tests.api.test_traceability import dispensed
from tests.support import find_resident_ids, resident_id, trace_codes

GB_EXAMPLE = "11010519491231002X"


def test_finder_catches_ids_and_skips_trace_codes():
    number = resident_id("370811", "19650304")
    assert find_resident_ids(json.dumps({"id_number": number})) == [number]
    assert find_resident_ids(f"id{GB_EXAMPLE.lower()}号") == [GB_EXAMPLE]
    assert find_resident_ids(f"身份证{GB_EXAMPLE}，") == [GB_EXAMPLE]
    assert find_resident_ids(" ".join(trace_codes(50))) == []
    assert find_resident_ids("110105194912310021 110105194913310028 37081119650304") == []  # check digit, date
    assert find_resident_ids("370811********123X") == []


def test_guard_fails_a_leaking_response_and_log(privacy_guard):
    leaky = Flask("leaky")
    leaky.get("/")(lambda: {"id_number": GB_EXAMPLE})
    with pytest.raises(AssertionError, match="Full ID number in the response"):
        leaky.test_client().get("/")
    logging.getLogger("dualchannel.test").warning("looked up %s", GB_EXAMPLE)
    assert len(privacy_guard) == 2 and "dualchannel.test" in privacy_guard[1]
    privacy_guard.clear()  # caught as it should be; the guard's own end-of-test check stays clean


def test_database_dump_holds_no_id_number(app, world, issue):
    """After every kind of write that handles an ID number, no column of any table holds one."""
    agent = resident_id("370881", "19880808")
    rx, codes, response = dispensed(world, issue, pickup={"name": "李四", "id_number": agent, "relation": "配偶"})
    assert response.status_code == 200
    assert world.pharmacy.post(f"/api/v1/trace/{codes[0]}/undo", {"reason": "未拆封退回"}).status_code == 200
    assert world.pharmacy.get(f"/api/v1/trace/{codes[1]}").status_code == 200
    assert world.bureau.post("/api/v1/patients/search", {"id_number": world.patient_id_number,
                                                         "name": "张三"}).status_code == 200
    assert world.bureau.post("/api/v1/patients/search", {"id_number": GB_EXAMPLE, "name": "张三"}).status_code == 404
    assert world.bureau.post(f"/api/v1/patients/{world.patient['id']}/reveal", {"reason": "稽核"}).status_code == 200
    assert world.bureau.post(f"/api/v1/prescriptions/{rx['id']}/pickup/reveal", {"reason": "稽核"}).status_code == 200
    problem(world.admin.post("/api/v1/patients", {"id_number": world.patient_id_number, "name": "重复",
                                                  "insurance": "employee", "region": "370800"}), 409)
    problem(world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify", {"id_number": GB_EXAMPLE}), 422)
    numbers = {world.patient_id_number, agent, GB_EXAMPLE}

    with app.app_context():
        engine = db.engine()
        tables = sa.inspect(engine).get_table_names()
        assert {"patient", "prescription", "access_log", "pack_return", "flag"} <= set(tables)
        dump = []
        with engine.connect() as connection:
            for name in tables:
                table = sa.Table(name, sa.MetaData(), autoload_with=connection)
                for row in connection.execute(sa.select(table)):
                    dump.extend(f"{name}.{column}={value!s}" for column, value in row._mapping.items())
        assert len(dump) > 300
        text = "\n".join(dump)
        assert find_resident_ids(text) == []
        assert not [n for n in numbers if n in text or n.lower() in text]
        if engine.dialect.name == "sqlite":  # the raw file too: free pages and the WAL included
            path = Path(engine.url.database)
            raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
            assert not [n for n in numbers if n.encode() in raw]


def test_reveal_is_audited_and_limited_to_admin_and_bureau(world):
    patient = world.patient["id"]
    url = f"/api/v1/patients/{patient}/reveal"
    problem(world.pharmacy.post(url, {"reason": "核对"}), 403)
    problem(world.physician.post(url, {"reason": "核对"}), 403)
    problem(world.as_role("bureau", "370900").post(url, {"reason": "核对"}), 404)
    problem(world.bureau.post(url, {"reason": "  "}), 422)
    problem(world.bureau.post(url, {}), 422)
    problem(world.bureau.post("/api/v1/patients/999999/reveal", {"reason": "核对"}), 404)
    revealed = world.bureau.post(url, {"reason": "疑似倒卖药品，稽核调查"})
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    body = revealed.get_json()
    assert body["id_number"] == world.patient_id_number and body["reason"] == "疑似倒卖药品，稽核调查"

    log = world.bureau.get("/api/v1/access-log?action=reveal").get_json()["items"]
    assert len(log) == 1
    entry = log[0]
    assert entry["id"] == body["access_id"]
    assert (entry["actor"], entry["resource_type"], entry["resource_id"], entry["patient_id"]) == (
        "bureau:370800", "patient", str(patient), patient)
    assert entry["reason"] == "疑似倒卖药品，稽核调查" and entry["detail"] == {"field": "id_number"}
    assert entry["at"].endswith("+08:00") and entry["token_id"]
    assert world.admin.get("/api/v1/access-log?action=reveal").get_json()["items"] == log
    assert world.as_role("bureau", "370900").get("/api/v1/access-log").get_json()["items"] == []
    problem(world.pharmacy.get("/api/v1/access-log"), 403)
    problem(world.physician.get("/api/v1/access-log"), 403)


def test_pickup_agent_id_is_sealed_and_revealed_only_with_a_reason(world, issue):
    agent = resident_id("370881", "19930303")
    rx, _, _ = dispensed(world, issue, pickup={"name": "王五", "id_number": agent, "relation": "朋友"})
    url = f"/api/v1/prescriptions/{rx['id']}/pickup/reveal"
    problem(world.pharmacy.post(url, {"reason": "核对"}), 403)
    problem(world.as_role("bureau", "370900").post(url, {"reason": "核对"}), 404)
    body = world.bureau.post(url, {"reason": "代取人多次代取，核查"}).get_json()
    assert (body["id_number"], body["name"], body["relation"]) == (agent, "王五", "朋友")
    in_person, _, _ = dispensed(world, issue)
    problem(world.bureau.post(f"/api/v1/prescriptions/{in_person['id']}/pickup/reveal", {"reason": "核对"}), 404)
    entry = world.bureau.get(f"/api/v1/prescriptions/{rx['id']}/access-log").get_json()["items"][0]
    assert (entry["action"], entry["detail"]) == ("reveal", {"field": "pickup.id_number"})


def test_every_read_is_attributable(world, issue):
    rx, codes, _ = dispensed(world, issue)
    patient = world.patient["id"]
    world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}")
    world.bureau.get(f"/api/v1/prescriptions/{rx['id']}")
    world.pharmacy.get(f"/api/v1/trace/{codes[0]}")
    world.physician.get(f"/api/v1/patients/{patient}")
    world.physician.get(f"/api/v1/patients/{patient}/eligibility")
    world.physician.post("/api/v1/patients/search", {"id_number": world.patient_id_number, "name": "张三"})
    world.physician.post("/api/v1/patients/search", {"id_number": GB_EXAMPLE, "name": "张三"})
    waiting = issue().get_json()
    world.physician.post(f"/api/v1/prescriptions/{waiting['id']}/route", {"pharmacy_code": "P370811001"})
    world.pharmacy.get("/api/v1/pharmacy/inbox")
    world.physician.get("/api/v1/prescriptions")

    reads = world.bureau.get(f"/api/v1/prescriptions/{rx['id']}/access-log").get_json()["items"]
    assert [(r["actor"], r["resource_type"], r["action"]) for r in reads] == [
        ("pharmacy:P370811001", "trace_code", "read"),
        ("bureau:370800", "prescription", "read"),
        ("pharmacy:P370811001", "prescription", "read"),
    ]
    assert reads[0]["resource_id"] == codes[0] and reads[0]["related"] == f"prescription:{rx['id']}"
    assert all(r["token_id"] for r in reads)

    of_patient = world.admin.get(f"/api/v1/access-log?resource_type=patient&patient_id={patient}").get_json()["items"]
    assert [(r["actor"], r["action"], (r["detail"] or {}).get("view")) for r in of_patient] == [
        ("physician:D370811001", "search", None),
        ("physician:D370811001", "read", "eligibility"),
        ("physician:D370811001", "read", None),
        ("physician:D370811001", "search", None),  # the world's: the patient came to the hospital
        ("admin:-", "create", None),
    ]
    lists = world.admin.get("/api/v1/access-log?action=list").get_json()["items"]
    assert [(r["actor"], r["detail"]["view"], r["detail"]["ids"]) for r in lists] == [
        ("physician:D370811001", "list", [waiting["id"], rx["id"]]),
        ("pharmacy:P370811001", "inbox", [waiting["id"]])]
    fruitless = world.admin.get("/api/v1/access-log?action=search").get_json()["items"][0]
    assert (fruitless["actor"], fruitless["resource_id"], fruitless["detail"]) == (
        "physician:D370811001", None, {"found": False})
    problem(world.pharmacy.get(f"/api/v1/prescriptions/{rx['id']}/access-log"), 403)
    problem(world.as_role("bureau", "370900").get(f"/api/v1/prescriptions/{rx['id']}/access-log"), 404)
    problem(world.admin.get("/api/v1/access-log?action=peek"), 422)


def test_request_log_is_structured_and_has_no_body(client, world, caplog):
    caplog.set_level(logging.INFO, logger="dualchannel.request")
    response = world.physician.post("/api/v1/patients/search", {"id_number": world.patient_id_number,
                                                                "name": "张三"}, headers={"X-Request-Id": "req-42"})
    assert response.status_code == 200 and response.headers["X-Request-Id"] == "req-42"
    records = [r for r in caplog.records if r.name == "dualchannel.request"]
    assert len(records) == 1
    record = records[0]
    assert record.method == "POST" and record.route == "/api/v1/patients/search" and record.status == 200
    assert record.actor == "physician:D370811001" and record.token_id and record.request_id == "req-42"
    assert record.duration_ms >= 0
    line = logs.JsonFormatter().format(record)
    assert '"route": "/api/v1/patients/search"' in line
    assert "id_number" not in line and world.patient["name"] not in line

    caplog.clear()
    world.pharmacy.get(f"/api/v1/trace/{world.patient_id_number}")  # an ID typed where a code belongs
    (record,) = [r for r in caplog.records if r.name == "dualchannel.request"]
    assert record.status == 422 and record.route == "/api/v1/trace/<code>"
    assert record.path == f"/api/v1/trace/{world.patient['id_number_masked']}"
    unauthenticated = client.get("/api/v1/prescriptions?secret=1")
    assert unauthenticated.status_code == 401 and "secret" not in caplog.records[-1].getMessage()
    assert caplog.records[-1].actor is None


def test_an_id_number_in_the_wrong_field_comes_back_masked(world, issue):
    number = world.patient_id_number
    body = problem(issue("SAC", items=[{"drug_code": number, "quantity": 1, "days_supply": 7, "dosage": "qd"}]), 422)
    assert world.patient["id_number_masked"] in body["errors"]["items.0.drug_code"][0]
    body = problem(world.physician.post(f"/api/v1/prescriptions/{issue().get_json()['id']}/route",
                                        {"pharmacy_code": number}), 422)
    assert world.patient["id_number_masked"] in body["detail"]
