"""Hostile input and faults: every case answers a 4xx (or 503) problem+json, quickly, and
changes no row.

One case per class of issue 16's outside probing, and one per server error it found: bodies
too large or nested too deep, lists and maps too long, text that overflows its column once
prefixed, dates in 9999, money beyond its column, forged cursors, unknown fields and query
parameters, region codes that do not exist or are not ASCII digits; then the faults: a 500
while answering, a database that is down or locked, and settings outside the seeds' bounds.
"""

import base64
import json
import socket
import time
from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from dualchannel import clock, create_app, db
from dualchannel.config import ConfigurationError
from dualchannel.models import metadata
from tests.api.conftest import build_world, created
from tests.api.test_prescription_flow import PROBLEM
from tests.api.test_settlement import EMPLOYEE
from tests.conftest import KEYS, As, fresh_database, make_app, token_maker
from tests.support import review, trace_codes

# Each refusal is decided before any real work: far below the seconds the quadratic trace-code
# check and the hanging database took.
FAST = 3.0


def cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def shared(database_template, tmp_path_factory):
    """One world for every case (each case changes nothing, which is what is checked): the
    Jining world, a settled prescription, a routed and verified one, and a procurement batch."""
    directory = tmp_path_factory.mktemp("hostile")
    url = fresh_database(database_template, directory)
    app = make_app(url, directory / "instance", PROPAGATE_EXCEPTIONS=False)
    client, token = app.test_client(), token_maker(app)
    world = build_world(lambda role, subject=None, pharmacist=None: As(client, token(role, subject, pharmacist)))
    created(world.bureau.post("/api/v1/settlement-policies", EMPLOYEE))

    def verified():
        rx = created(world.physician.post("/api/v1/prescriptions", {
            "patient_id": world.patient["id"], "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 28, "dosage": "qd"}]}))
        assert world.physician.post(f"/api/v1/prescriptions/{rx['id']}/route",
                                    {"pharmacy_code": "P370811001"}).status_code == 200
        assert world.pharmacy.post(f"/api/v1/prescriptions/{rx['id']}/verify",
                                   {"id_number": world.patient_id_number}).status_code == 200
        assert review(world.pharmacy, rx["id"]).status_code == 200  # 审方: ready to dispense
        return rx["id"]

    settled = verified()
    assert world.pharmacy.post(f"/api/v1/prescriptions/{settled}/dispense",
                               {"items": [{"drug_code": "SAC", "trace_codes": trace_codes(1)}]}).status_code == 200
    settlement = created(world.pharmacy.post(f"/api/v1/prescriptions/{settled}/settlement", {}))
    created(world.admin.post("/api/v1/procurement/batches", {
        "code": "B2026", "name": "第十一批", "kind": "drug", "cycle_start": "2026-01-01",
        "cycle_end": "2027-12-31", "region": "370800"}))
    yield SimpleNamespace(app=app, url=url, world=world, settled=settled, settlement=settlement["id"],
                          verified=verified())
    app.extensions[db._ENGINE].dispose()


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after a case."""
    with app.extensions[db._ENGINE].connect() as connection:
        return {table.name: sorted(map(repr, connection.execute(sa.select(table)).all()))
                for table in metadata.sorted_tables}


def raw(who, method, url, data: bytes | str, content_type="application/json"):
    return who.client.open(url, method=method, data=data, content_type=content_type,
                           headers={"Authorization": f"Bearer {who.token}"})


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# Large bodies are written once, outside the timed requests: the time measured is the service's.
TOO_LARGE = json.dumps({"code": "XH1", "generic_name": "测试", "name": "名" * 400_000, "unit": "盒"})
TEN_THOUSAND_CODES = json.dumps({"items": [{"drug_code": "SAC", "trace_codes": trace_codes(10_000)}]})
STOCK_OF_65536_DRUGS = json.dumps({f"D{i}": 1 for i in range(65_536)})


def drug(**fields) -> dict:
    return {"code": "XH1", "generic_name": "测试", "name": "测试", "unit": "盒", **fields}


def patient(**fields) -> dict:
    return {"id_number": "11010519491231002X", "name": "测试", "insurance": "employee", "region": "370800",
            **fields}


# name: (request, status, problem code or None, field the errors must name or None)
CASES = {
    # 1. Sizes: body, JSON depth, lists and maps.
    "json_body_over_1_mib": (lambda s: raw(s.world.admin, "POST", "/api/v1/drugs", TOO_LARGE),
                             413, "payload_too_large", None),
    "json_nested_2500_deep": (lambda s: raw(s.world.admin, "POST", "/api/v1/drugs", nested(2500)),
                              422, "json_too_deep", "body"),
    "json_nested_20_deep": (lambda s: raw(s.world.admin, "POST", "/api/v1/drugs", nested(20)),
                            422, "json_too_deep", "body"),
    "dispense_10000_trace_codes": (
        lambda s: raw(s.world.pharmacy, "POST", f"/api/v1/prescriptions/{s.verified}/dispense", TEN_THOUSAND_CODES),
        422, "invalid_fields", "items.0.trace_codes"),
    "stock_update_with_65536_drugs": (
        lambda s: raw(s.world.pharmacy, "PUT", "/api/v1/pharmacies/P370811001/stock", STOCK_OF_65536_DRUGS),
        422, "invalid_fields", "body"),
    "stock_update_with_a_code_no_drug_can_have": (
        lambda s: s.world.pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"SAC\n": 1}),
        422, "invalid_fields", "SAC\n"),
    # 2. Text that fits the schema but not its column once prefixed; codes with a final newline.
    "reverse_reason_of_500_characters": (
        lambda s: s.world.pharmacy.post(f"/api/v1/settlements/{s.settlement}/reverse", {"reason": "冲" * 500}),
        422, "invalid_fields", "reason"),
    "reject_reason_of_500_characters": (
        lambda s: s.world.bureau.post(f"/api/v1/settlements/{s.settlement}/reject", {"reason": "驳" * 500}),
        422, "invalid_fields", "reason"),
    "drug_code_with_a_final_newline": (lambda s: s.world.admin.post("/api/v1/drugs", drug(code="XH1\n")),
                                       422, "invalid_fields", "code"),
    # 3. Dates outside 2000-2100, wherever a date is stored or computed with.
    "batch_ending_9999_12_31": (
        lambda s: s.world.bureau.post("/api/v1/procurement/batches", {
            "code": "B9999", "name": "远期", "kind": "drug", "cycle_start": "2026-01-01",
            "cycle_end": "9999-12-31"}),
        422, "invalid_fields", "cycle_end"),
    "batch_starting_1900": (
        lambda s: s.world.bureau.post("/api/v1/procurement/batches", {
            "code": "B1900", "name": "远古", "kind": "drug", "cycle_start": "1900-01-01",
            "cycle_end": "2026-12-31"}),
        422, "invalid_fields", "cycle_start"),
    "reconciliation_on_9999_12_31": (
        lambda s: s.world.bureau.get("/api/v1/settlements/reconciliation?date=9999-12-31"),
        422, "invalid_fields", "date"),
    "execution_as_of_0001_01_01": (
        lambda s: s.world.bureau.get("/api/v1/procurement/execution?as_of=0001-01-01"),
        422, "invalid_fields", "as_of"),
    "eligibility_until_9999_12_31": (
        lambda s: s.world.physician.post(f"/api/v1/patients/{s.world.patient['id']}/eligibility", {
            "drug_code": "OSI", "valid_until": "9999-12-31"}),
        422, "invalid_fields", "valid_until"),
    "calendar_day_9999_12_31": (
        lambda s: s.world.admin.put("/api/v1/procurement/calendar/9999-12-31", {"kind": "holiday"}),
        404, "no_such_date", None),
    # 4. Money within its column.
    "unit_price_beyond_the_column": (
        lambda s: s.world.pharmacy.post(f"/api/v1/prescriptions/{s.settled}/settlement", {
            "unit_prices": {"SAC": "9" * 30}}),
        422, "invalid_fields", "unit_prices.SAC.value"),
    "agreed_price_beyond_the_column": (
        lambda s: s.world.admin.post("/api/v1/drugs", drug(agreed_price="92233720368547758.07")),
        422, "invalid_fields", "agreed_price"),
    "payment_standard_as_a_huge_exponent": (
        lambda s: s.world.admin.post("/api/v1/drugs", drug(payment_standard="1E+999999")),
        422, "invalid_fields", "payment_standard"),
    # 5. Cursors: forged, beyond int32, negative, huge offsets, other digits.
    "keyset_cursor_beyond_int32": (lambda s: s.world.admin.get(f"/api/v1/prescriptions?cursor={cursor(str(2**31))}"),
                                   422, "invalid_cursor", "cursor"),
    "keyset_cursor_negative": (lambda s: s.world.admin.get(f"/api/v1/flags?cursor={cursor('-5')}"),
                               422, "invalid_cursor", "cursor"),
    "offset_cursor_negative": (
        lambda s: s.world.physician.get(f"/api/v1/physician/re-examinations?cursor={cursor('-1')}"),
        422, "invalid_cursor", "cursor"),
    "offset_cursor_huge": (
        lambda s: s.world.bureau.get(f"/api/v1/procurement/execution?cursor={cursor('9' * 20)}"),
        422, "invalid_cursor", "cursor"),
    "cursor_of_full_width_digits": (lambda s: s.world.admin.get(f"/api/v1/prescriptions?cursor={cursor('１２')}"),
                                    422, "invalid_cursor", "cursor"),
    # 6. Unknown body fields and query parameters are named.
    "unknown_body_field": (
        lambda s: s.world.physician.post("/api/v1/prescriptions", {
            "patient_id": s.world.patient["id"], "diagnosis": "x", "valid_dayz": 3,
            "items": [{"drug_code": "SAC", "quantity": 1, "days_supply": 7, "dosage": "qd"}]}),
        422, "unknown_fields", "valid_dayz"),
    "unknown_field_of_a_list_item": (
        lambda s: s.world.physician.post("/api/v1/prescriptions", {
            "patient_id": s.world.patient["id"], "diagnosis": "x", "valid_days": 3,
            "items": [{"drug_code": "SAC", "quantitty": 1, "days_supply": 7, "dosage": "qd"}]}),
        422, None, "items.0.quantitty"),
    "unknown_query_parameter": (lambda s: s.world.admin.get("/api/v1/prescriptions?statuz=issued"),
                                422, "unknown_fields", "statuz"),
    "query_parameter_on_a_route_that_takes_none": (lambda s: s.world.admin.get("/api/v1/procurement/batches?all=1"),
                                                   422, "unknown_fields", "all"),
    # 7. Region codes: existing GB/T 2260 codes of the boundary file, ASCII digits only.
    "patient_region_in_full_width_digits": (lambda s: s.world.admin.post("/api/v1/patients", patient(region="３７０８００")),
                                            422, "invalid_fields", "region"),
    "patient_region_that_does_not_exist": (lambda s: s.world.admin.post("/api/v1/patients", patient(region="370899")),
                                           422, "invalid_fields", "region"),
    "patient_filed_region_that_does_not_exist": (
        lambda s: s.world.admin.post("/api/v1/patients", patient(filed_region="999999")),
        422, "invalid_fields", "filed_region"),
    "pharmacy_adcode_with_a_final_newline": (
        lambda s: s.world.admin.post("/api/v1/pharmacies", {
            "code": "PX", "name": "药房", "address": "地址", "adcode": "370800\n", "lat": 35.4, "lon": 116.6}),
        422, "invalid_fields", "adcode"),
    "institution_adcode_that_does_not_exist": (
        lambda s: s.world.admin.post("/api/v1/institutions", {"code": "HX", "name": "医院", "adcode": "370888"}),
        422, "invalid_fields", "adcode"),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_input_is_refused_quickly_and_changes_nothing(shared, name):
    send, status, code, field = CASES[name]
    before = snapshot(shared.app)
    started = time.perf_counter()
    response = send(shared)
    elapsed = time.perf_counter() - started
    assert response.status_code == status, (response.status_code, response.get_json())
    assert response.mimetype == PROBLEM
    body = response.get_json()
    if code:
        assert body["code"] == code and body["type"] == f"/problems/{code}", body
    if field:  # the flat 422: field paths such as items.0.trace_codes (issue 19)
        assert field in body["errors"], body
    assert elapsed < FAST, f"{name} took {elapsed:.2f} s"
    assert snapshot(shared.app) == before


def test_a_spreadsheet_that_unpacks_too_large_is_refused_before_it_is_read(shared, monkeypatch):
    import io

    from openpyxl import Workbook

    from dualchannel.procurement import tables

    workbook, buffer = Workbook(), io.BytesIO()
    workbook.active.append(["institution_code", "product_code", "quantity", "amount", "date"])
    workbook.save(buffer)
    monkeypatch.setattr(tables, "MAX_XLSX_UNPACKED", 1000)  # instead of building a 256 MB bomb
    before = snapshot(shared.app)
    response = shared.world.bureau.client.post(
        "/api/v1/procurement/purchases/import", data={"file": (io.BytesIO(buffer.getvalue()), "bomb.xlsx")},
        content_type="multipart/form-data", headers={"Authorization": f"Bearer {shared.world.bureau.token}"})
    assert response.status_code == 422 and response.get_json()["code"] == "file_too_large"
    assert snapshot(shared.app) == before


def test_a_value_the_database_refuses_is_422_and_an_error_in_the_log(shared, monkeypatch, caplog):
    """The safety net behind the schemas' bounds: a value a column cannot hold (a bound some
    schema lacks) is the caller's 422, not a 500, and the log says a bound is missing."""
    from dualchannel.drugs import services

    def refuse(*args, **kwargs):
        raise sa.exc.DataError("INSERT INTO drug ...", {}, Exception("value too long for type character varying(32)"))

    monkeypatch.setattr(services, "create_drug", refuse)
    before = snapshot(shared.app)
    response = shared.world.admin.post("/api/v1/drugs", drug())
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.get_json()["code"] == "value_out_of_range"
    assert any(r.levelname == "ERROR" and "refused a value" in r.getMessage() for r in caplog.records)
    assert snapshot(shared.app) == before


def test_an_unknown_field_is_named_in_the_detail(shared):
    body = shared.world.admin.get("/api/v1/prescriptions?statuz=issued&limitt=5").get_json()
    assert body["detail"] == "The request has fields this route does not take: limitt, statuz."
    assert body["errors"] == {"statuz": ["Unknown field."], "limitt": ["Unknown field."]}


def test_a_server_error_while_answering_commits_nothing(shared, monkeypatch):
    """The batch ending 9999-12-31: before the date bound, its POST failed after the service's
    commit (its agreement years overflow when shown), and every later read of batches failed.
    Let the date through again: the POST is a 500, and nothing of it remains."""
    monkeypatch.setattr(clock, "MAX_DATE", date.max)
    before = snapshot(shared.app)
    response = shared.world.bureau.post("/api/v1/procurement/batches", {
        "code": "B9999", "name": "远期", "kind": "drug", "cycle_start": "2026-01-01", "cycle_end": "9999-12-31"})
    assert response.status_code == 500 and response.mimetype == PROBLEM
    assert snapshot(shared.app) == before
    batches = shared.world.bureau.get("/api/v1/procurement/batches")
    assert batches.status_code == 200 and "B9999" not in {b["code"] for b in batches.get_json()["items"]}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_that_is_down_is_503_with_retry_after(tmp_path):
    """Nothing listens where the database should be: 503 with Retry-After, at once; liveness
    still answers; readiness says no."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/down"
    app = make_app(url, tmp_path / "instance")
    client = app.test_client()
    for _ in range(2):  # the second answers from the remembered outage, without trying
        started = time.perf_counter()
        response = client.get("/api/v1/prescriptions", headers={"Authorization": "Bearer dc_x"})
        assert time.perf_counter() - started < FAST
        assert response.status_code == 503 and response.mimetype == PROBLEM
        assert response.get_json()["code"] == "unavailable" and int(response.headers["Retry-After"]) >= 1
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.mimetype == PROBLEM
    app.extensions[db._ENGINE].dispose()


def test_a_lock_held_elsewhere_is_503_within_the_timeout(shared, tmp_path):
    """Another session holds the lock a write needs: SQLite's busy timeout or PostgreSQL's
    statement timeout ends the wait with a 503, and the write is not made."""
    app = make_app(shared.url, tmp_path / "instance", DATABASE_BUSY_TIMEOUT=0.5, DATABASE_STATEMENT_TIMEOUT=0.5,
                   DATABASE_RETRY_AFTER=0)
    pharmacy = As(app.test_client(), shared.world.pharmacy.token)
    before = snapshot(shared.app)
    holder = db.create_engine(shared.url)
    with holder.connect() as connection:
        if holder.dialect.name == "postgresql":
            connection.exec_driver_sql("LOCK TABLE stock IN ACCESS EXCLUSIVE MODE")
        else:
            connection.exec_driver_sql("SELECT 1")  # the engine's BEGIN IMMEDIATE takes the write lock
        started = time.perf_counter()
        response = pharmacy.put("/api/v1/pharmacies/P370811001/stock", {"SAC": 7})
        elapsed = time.perf_counter() - started
        connection.rollback()
    holder.dispose()
    app.extensions[db._ENGINE].dispose()
    assert response.status_code == 503 and response.mimetype == PROBLEM, response.get_json()
    assert response.headers["Retry-After"] and 0.4 < elapsed < FAST
    assert snapshot(shared.app) == before


@pytest.mark.parametrize("setting, value", [
    ("PROCUREMENT_PREPAYMENT_RATIO", "0.4"),  # seed 001: at least 50 %
    ("PROCUREMENT_AGREED_RATIO", "0.8"),  # seed 001: 60 %-70 %
    ("PROCUREMENT_AGREED_RATIO_MIN", 0.5),
    ("PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD", 0.9),
    ("PROCUREMENT_HOLIDAYS", ["9999-12-31"]),
    ("PROCUREMENT_FIRST_SELF_PAY_BASE", {"drug": "2"}),
    ("PROCUREMENT_STEP_DOWN", {"years": [["0.7", "0"]]}),  # must end at the selected price
    ("PROCUREMENT_STEP_DOWN", {"far_above_multiple": "2"}),
    ("TRACE_UNDO_DAYS", -1),
    ("MAX_VALID_DAYS", 0),
    ("MAX_DAYS_SUPPLY", 365),
    ("DATABASE_STATEMENT_TIMEOUT", 0),
    ("DATABASE_READ_TIMEOUT", 5),  # below the statement timeout
    ("MAX_JSON_BODY", "big"),
    ("LOG_LEVEL", "LOUD"),
    ("ID_ENCRYPTION_KEY", "not-a-fernet-key"),
])
def test_settings_outside_their_bounds_refuse_to_start(tmp_path, setting, value):
    with pytest.raises(ConfigurationError) as refused:
        make_app(f"sqlite:///{tmp_path}/x.sqlite", tmp_path / "instance", **{setting: value})
    assert f"DUALCHANNEL_{setting}" in str(refused.value)


def test_a_step_down_in_the_settings_is_the_one_used(tmp_path):
    """README's form of `PROCUREMENT_STEP_DOWN` starts the service (it once refused every value)."""
    from dualchannel.procurement import standards

    app = make_app(f"sqlite:///{tmp_path}/x.sqlite", tmp_path / "instance",
                   PROCUREMENT_STEP_DOWN={"years": [["0.8", "0"], ["0.4", "0.5"], ["0", "1"]]})
    with app.app_context():
        assert [(str(y.own_price_factor), str(y.selected_factor)) for y in standards.step_down_schedule().years] == [
            ("0.8", "0"), ("0.4", "0.5"), ("0", "1")]
    app.extensions[db._ENGINE].dispose()


def test_settings_from_the_environment_are_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    monkeypatch.setenv("DUALCHANNEL_ID_HASH_KEY", KEYS["ID_HASH_KEY"])
    monkeypatch.setenv("DUALCHANNEL_ID_ENCRYPTION_KEY", KEYS["ID_ENCRYPTION_KEY"])
    monkeypatch.setenv("DUALCHANNEL_PROCUREMENT_PREPAYMENT_RATIO", "0.45")
    with pytest.raises(ConfigurationError, match="DUALCHANNEL_PROCUREMENT_PREPAYMENT_RATIO must be between 0.5"):
        create_app()
    monkeypatch.setenv("DUALCHANNEL_PROCUREMENT_PREPAYMENT_RATIO", "0.6")
    app = create_app()
    assert app.config["PROCUREMENT_PREPAYMENT_RATIO"] == 0.6
    app.extensions[db._ENGINE].dispose()


def test_a_log_line_stays_small_whatever_it_reports():
    import logging

    from dualchannel.logs import MAX_FIELD, JsonFormatter

    record = logging.LogRecord("dualchannel", logging.ERROR, __file__, 1, "IN (%s)", ("?, " * 1_000_000,), None)
    line = JsonFormatter().format(record)
    assert len(line) < 2 * MAX_FIELD and "characters cut" in line
