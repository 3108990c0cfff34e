"""Operations: request ids, one JSON log line per request, metrics, liveness and readiness."""

import json
import logging
import time

import pytest
from cryptography.fernet import Fernet

from dualchannel import create_app, db, identity, logs
from tests.api.test_prescription_flow import problem
from tests.conftest import make_app
from tests.support import resident_id


def request_lines(caplog):
    """The request log lines, formatted as they reach stderr."""
    formatter = logs.JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "dualchannel.request"]


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "gw-42.a:b"})
    assert given.headers["X-Request-ID"] == "gw-42.a:b"
    made = client.get("/healthz")
    other = client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32 and made.headers["X-Request-ID"] != other.headers["X-Request-ID"]
    # Anything that could forge log lines or headers is replaced, not echoed.
    for hostile in ("a b", "x" * 129, '"}{"level":"error', "\u4e2d\u6587"):
        answered = client.get("/healthz", headers={"X-Request-ID": hostile.encode().decode("latin-1")})
        assert answered.headers["X-Request-ID"] != hostile and len(answered.headers["X-Request-ID"]) == 32


def test_one_json_line_per_request_without_query_or_body(world, caplog):
    caplog.set_level(logging.INFO, logger="dualchannel.request")
    secret = resident_id("370811", "19700101")
    # A query parameter this route does not take is refused (422), and still not logged.
    response = world.admin.post("/api/v1/patients/search?note=confidential", {"id_number": secret, "name": "张三"},
                                headers={"X-Request-ID": "req-1"})
    assert response.status_code == 422 and response.get_json()["code"] == "unknown_fields"
    (line,) = request_lines(caplog)
    assert line["request_id"] == "req-1" and line["level"] == "info"
    assert line["method"] == "POST" and line["path"] == "/api/v1/patients/search"
    assert line["status"] == 422 and line["actor"] == "admin:-" and line["duration_ms"] >= 0
    assert {"ts", "logger", "msg"} <= set(line)
    text = json.dumps(line, ensure_ascii=False)
    assert secret not in text and "confidential" not in text


def test_unauthenticated_and_failed_requests_are_logged_too(client, caplog):
    caplog.set_level(logging.INFO, logger="dualchannel.request")
    assert client.get("/api/v1/prescriptions").status_code == 401
    assert client.get("/api/v1/nothing-here").status_code == 404
    lines = request_lines(caplog)
    assert [(l["status"], l["actor"]) for l in lines] == [(401, None), (404, None)]
    assert all(len(l["request_id"]) == 32 for l in lines)


def test_resident_id_in_a_path_is_masked_in_logs(world, caplog):
    caplog.set_level(logging.INFO, logger="dualchannel.request")
    number = resident_id("370811", "19650304")
    world.admin.get(f"/api/v1/trace/{number}")
    (line,) = request_lines(caplog)
    assert number not in line["path"] and line["path"] == f"/api/v1/trace/{identity.redact(number)}"
    assert identity.redact(number) == number[:6] + "********" + number[14:]
    # A 20-digit traceability code is not an ID number and is kept.
    assert identity.redact("81234560000000000001") == "81234560000000000001"


def test_log_lines_written_during_a_request_carry_its_id(app, caplog):
    caplog.set_level(logging.INFO, logger="dualchannel")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500, not a raise

    @app.get("/boom")
    def boom():
        raise RuntimeError("something broke")

    response = app.test_client().get("/boom", headers={"X-Request-ID": "req-boom"})
    body = problem(response, 500)
    assert "something broke" not in json.dumps(body)
    formatter = logs.JsonFormatter()
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    for handler in logging.getLogger("dualchannel").handlers:
        for f in handler.filters:
            f.filter(error)
    line = json.loads(formatter.format(error))
    assert line["request_id"] == "req-boom" and "RuntimeError" in line["exc"]


def test_metrics_count_requests_by_route_template_and_status(world, issue):
    rx = issue().get_json()
    world.physician.get(f"/api/v1/prescriptions/{rx['id']}")
    world.physician.get("/api/v1/prescriptions/999999")
    text = world.admin.client.get("/metrics").get_data(as_text=True)
    template = 'endpoint="/api/v1/prescriptions/<int:prescription_id>"'
    found = {line.split(" ")[0] for line in text.splitlines()
             if line.startswith("dualchannel_http_requests_total") and template in line}
    assert any('status="200"' in f for f in found) and any('status="404"' in f for f in found), found
    assert "dualchannel_http_request_duration_seconds_bucket" in text
    assert "/prescriptions/999999" not in text  # concrete paths never become labels


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readyz_answers_503_when_the_database_is_down(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite",
                      "ID_HASH_KEY": "k", "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    response = app.test_client().get("/readyz")
    body = problem(response, 503)
    assert "sqlite" not in json.dumps(body).lower()  # no connection details leak
    assert app.test_client().get("/healthz").status_code == 200


def test_an_app_dropped_without_closing_its_engine_closes_its_connections(database_url, tmp_path):
    """Left to the garbage collector, a pooled connection is dropped still open (psycopg warns,
    and the server keeps the session until it notices)."""
    import gc

    app = make_app(database_url, tmp_path / "instance")
    assert app.test_client().get("/readyz").status_code == 200
    engine = app.extensions[db._ENGINE]
    assert engine.pool.checkedin() == 1
    del app
    gc.collect()
    assert engine.pool.checkedin() == 0


def test_a_metrics_read_still_running_when_its_engine_is_disposed_closes_its_connection(app, monkeypatch):
    """/metrics refreshes the history gauge in a background thread. Disposing the engine (an
    app's end) while that read holds a connection left the connection in the old pool, open
    until the garbage collector dropped it (psycopg's warning in some unrelated later test)."""
    import threading

    from dualchannel.history import services as history

    reading, release = threading.Event(), threading.Event()
    real_latest = history.latest

    def slow_latest(session):
        found = real_latest(session)
        reading.set()
        release.wait(5)
        return found

    monkeypatch.setattr(history, "latest", slow_latest)
    engine = app.extensions[db._ENGINE]
    old_pool = engine.pool
    history.metric_families(engine)
    assert reading.wait(5)
    engine.dispose()
    release.set()
    for thread in threading.enumerate():
        if thread.name == "history-metric":
            thread.join(5)
    assert old_pool.checkedin() == 0


def test_a_pooled_connection_is_checked_only_after_sitting_idle(database_url, monkeypatch):
    """Under load a connection goes back out within milliseconds: no round trip to check it.
    One idle past the window (the server may have restarted meanwhile) is checked first."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite connections are checked by nothing (a file, not a server)")
    engine = db.create_engine(database_url)
    checks = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: checks.append(1) or real_ping(connection))
    try:
        for _ in range(3):  # a new connection, then the same one back at once: no check
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        assert checks == []
        monkeypatch.setattr(db, "CHECK_IF_IDLE_FOR", 0.05)
        time.sleep(0.1)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        assert checks == [1]
    finally:
        engine.dispose()


def test_a_connection_lost_while_authenticating_is_503_not_500(app, monkeypatch):
    """The rate limiter authenticates first and lets a database error pass (the request fails
    later); the connection it broke must not turn the second try into a 500."""
    import sqlalchemy as sa

    from dualchannel import auth

    real_epoch, lost = auth.revocation_epoch, []

    def lost_once(session):
        if lost:
            return real_epoch(session)
        lost.append(1)
        session.connection().invalidate()  # as a wait past its bound does
        raise sa.exc.OperationalError("SELECT max(id) FROM token_revocation", {}, Exception("lost"))

    monkeypatch.setattr(auth, "revocation_epoch", lost_once)
    response = app.test_client().get("/api/v1/drugs", headers={"Authorization": "Bearer dc_x"})
    body = problem(response, 503)
    assert body["code"] == "unavailable"


def test_metrics_are_created_once_even_by_racing_threads(monkeypatch):
    import threading
    import time

    import prometheus_client
    from prometheus_client import REGISTRY

    from dualchannel import metrics

    real_counter = prometheus_client.Counter

    def slow_counter(*args, **kwargs):  # a worker's first import is slow: widen the race
        time.sleep(0.02)
        return real_counter(*args, **kwargs)

    monkeypatch.setattr(prometheus_client, "Counter", slow_counter)

    for collector in metrics._instruments():  # start as a fresh worker process would
        REGISTRY.unregister(collector)
    metrics._created = ()
    barrier = threading.Barrier(8)
    found, failed = [], []

    def first_request():
        barrier.wait()
        try:
            found.append(metrics._instruments())
        except Exception as error:  # noqa: BLE001 - what a racing registration raised
            failed.append(error)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed and len(found) == 8 and len({id(f) for f in found}) == 1
