"""Fixtures: an app on a fresh database (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
its client and CLI runner, and clients acting as each role."""

import gzip
import itertools
import logging
import os
import re
import secrets
import shutil

import pytest
import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask.testing import FlaskCliRunner, FlaskClient

from dualchannel import clock, create_app, db, migrate
from dualchannel.models import metadata
from dualchannel.problems import FIELDS, PROBLEMS
from dualchannel.signatures import crypto
from tests.support import find_resident_ids

# TEST_DATABASE_URL names a PostgreSQL server (and a database there to connect to). The run
# creates its own database on that server, with a name no one else uses, and drops it at the
# end: it never empties or drops a database it did not create.
POSTGRES_SERVER = os.environ.get("TEST_DATABASE_URL")
POSTGRES_URL = None
if POSTGRES_SERVER:
    POSTGRES_URL = sa.engine.make_url(POSTGRES_SERVER).set(
        database=f"dualchannel_test_{os.getpid()}_{secrets.token_hex(4)}").render_as_string(hide_password=False)
KEYS = {"ID_HASH_KEY": "test-hash-key", "ID_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "SIGNING_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(), "SIGNING_CA_KEY": crypto.new_ca_key(),
        "HISTORY_KEY": "test-history-key"}


def _redis() -> tuple[str | None, str | None]:
    """(URL, None) of the Redis that TEST_REDIS_URL names when it answers, else (None, why not)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        return None, "TEST_REDIS_URL is not set (bin/test sets it when Redis answers at 127.0.0.1:6379)"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.RedisError, ValueError) as error:
        return None, f"Redis at {url} does not answer ({type(error).__name__}); rate limits are counted in memory"
    return url, None


# TEST_REDIS_URL names a Redis server for the rate limits' counts (bin/test sets it when one
# answers). Every app of the run gets a key prefix of its own, so parallel runs and tests never
# share a count; the run deletes its keys at the end. Without it the counts stay in memory.
REDIS_URL, REDIS_MISSING = _redis()
RATE_LIMIT_RUN = f"dualchannel-test:{os.getpid()}:{secrets.token_hex(4)}"
_app_serial = itertools.count(1)
# The suite makes hundreds of refused calls per account within seconds (the access matrix,
# fuzzing), every role from one address: the failure budget and the per-address budgets are
# lifted for it; tests/api/test_rate_limits.py tests the configured ones.
SUITE_LIMITS = {"RATELIMIT_FAILURES_PER_ACCOUNT": "100000/minute", "RATELIMIT_FAILURES_PER_ADDRESS": "100000/minute",
                "RATELIMIT_SEARCH_PER_ADDRESS": "100000/minute", "RATELIMIT_REVEAL_PER_ADDRESS": "100000/minute"}


def pytest_report_header(config):
    return f"rate limits: {'Redis at ' + REDIS_URL if REDIS_URL else 'in memory (' + REDIS_MISSING + ')'}"


@pytest.fixture(scope="session", autouse=True)
def _forget_rate_limit_keys():
    """Delete this run's rate-limit counts from Redis when the run ends (its prefix only)."""
    yield
    if REDIS_URL:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"*{RATE_LIMIT_RUN}*", count=1000):
            client.delete(key)
        client.close()


@pytest.fixture
def redis_url():
    """The test Redis; a test that needs one is skipped, saying why, when there is none."""
    if not REDIS_URL:
        pytest.skip(REDIS_MISSING)
    return REDIS_URL


def _on_server(statement: str) -> None:
    engine = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per run: an SQLite file to copy, or this run's own PostgreSQL database."""
    if POSTGRES_URL:
        name = sa.engine.make_url(POSTGRES_URL).database
        _on_server(f'CREATE DATABASE "{name}"')
        # The run's own throwaway database: a commit need not wait for its WAL to reach the disk.
        _on_server(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        try:
            engine = db.create_engine(POSTGRES_URL)
            migrate.upgrade(engine)
            engine.dispose()
            yield POSTGRES_URL
        finally:
            _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = db.create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    yield path


def fresh_database(template, directory) -> str:
    """The URL of a database holding only the migrated schema: this run's PostgreSQL database
    emptied, or a copy of the template SQLite file in `directory`."""
    if POSTGRES_URL:
        engine = db.create_engine(POSTGRES_URL)
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        engine.dispose()
        return POSTGRES_URL
    path = directory / "test.sqlite"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def database_url(database_template, tmp_path):
    return fresh_database(database_template, tmp_path)


def rate_limit_prefix() -> str:
    """A rate-limit key prefix no other app (of this run or another) uses."""
    return f"{RATE_LIMIT_RUN}:{next(_app_serial)}"


def make_app(database_url, instance_path, **overrides):
    """The app as the tests configure it (the `app` fixture; suites sharing one app per module)."""
    # DEBUG, so the privacy guard sees every record the service's loggers could write.
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "LOG_LEVEL": "DEBUG", **KEYS,
                      "RATELIMIT_STORAGE_URL": REDIS_URL, "RATELIMIT_KEY_PREFIX": rate_limit_prefix(),
                      **SUITE_LIMITS, **overrides})
    app.instance_path = str(instance_path)
    return app


@pytest.fixture
def app(request, database_url, tmp_path):
    """The app on a fresh database; `@pytest.mark.app_config(KEY=value)` overrides settings."""
    marker = request.node.get_closest_marker("app_config")
    app = make_app(database_url, tmp_path / "instance", **(marker.kwargs if marker else {}))
    yield app
    app.extensions[db._ENGINE].dispose()
    clock.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class As:
    """A test client acting with one bearer token."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, url, **kw):
        return self.client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, url, json=None, **kw):
        return self.client.put(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, url, json=None, **kw):
        return self.client.patch(url, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


def token_maker(app):
    """token(role, subject, pharmacist=None) -> a bearer token, made through the CLI like an
    operator would (`pharmacist`: a pharmacy's token bound to that licence number)."""
    runner = app.test_cli_runner()

    def make(role, subject=None, pharmacist=None):
        args = ["token", "create", "--role", role] + (["--subject", subject] if subject else [])
        args += ["--pharmacist", pharmacist] if pharmacist else []
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]

    return make


@pytest.fixture
def token(app):
    """token(role, subject, pharmacist=None) -> a bearer token, made through the CLI like an operator would."""
    return token_maker(app)


@pytest.fixture
def as_role(client, token):
    """as_role(role, subject, pharmacist=None) -> a client acting as that role (a pharmacy's
    client bound to a pharmacist, who reviews, with `pharmacist`: a licence number)."""
    return lambda role, subject=None, pharmacist=None: As(client, token(role, subject, pharmacist))


# The only responses allowed to carry a full ID number: the audited reveals, which exist to
# return one to an admin or bureau with a recorded reason.
REVEAL_PATHS = re.compile(r"^/api/v1/(patients/\d+|prescriptions/\d+/pickup)/reveal$")


class _LeakCatcher(logging.Handler):
    """A root handler at DEBUG that remembers every formatted record holding a full ID number."""

    def __init__(self, leaks):
        super().__init__(logging.DEBUG)
        self.leaks = leaks
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        text = self.format(record)
        if find_resident_ids(text):
            self.leaks.append(f"log {record.name}: {text[:300]}")


@pytest.fixture(autouse=True)
def privacy_guard(monkeypatch):
    """Across the whole suite: no response body, CLI output or log record holds a full ID number.

    Every test client (also ones made in threads) and CLI runner is checked as it answers, and
    every log record of any logger, SQLAlchemy's statements, parameters and rows included, is
    checked as it is emitted and reported when the test ends.
    """
    leaks: list[str] = []
    open_, invoke = FlaskClient.open, FlaskCliRunner.invoke

    def checked_open(self, *args, **kwargs):
        response = open_(self, *args, **kwargs)
        path = response.request.path if response.request is not None else "?"
        if not (REVEAL_PATHS.match(path) and response.status_code == 200):
            body = response.get_data()
            if response.headers.get("Content-Encoding") == "gzip":  # the guard reads through compression
                body = gzip.decompress(body)
            found = find_resident_ids(body.decode("utf-8", errors="replace"))
            if found:
                leaks.append(f"response to {response.request.method} {path}")
                raise AssertionError(f"Full ID number in the response to {path}: {len(found)} found")
        return response

    def checked_invoke(self, *args, **kwargs):
        result = invoke(self, *args, **kwargs)
        if find_resident_ids(result.output):
            leaks.append(f"CLI output of {kwargs.get('args') or args}")
            raise AssertionError("Full ID number in CLI output")
        return result

    monkeypatch.setattr(FlaskClient, "open", checked_open)
    monkeypatch.setattr(FlaskCliRunner, "invoke", checked_invoke)
    # SQLAlchemy quiets itself to WARNING, and every app sets the service's loggers to its
    # LOG_LEVEL (INFO by default, which an earlier test leaves behind): echo everything here,
    # statements, parameters and rows included, as an operator debugging production would.
    loggers = [logging.getLogger(name) for name in ("", "sqlalchemy.engine", "dualchannel")]
    catcher, levels = _LeakCatcher(leaks), [logger.level for logger in loggers]
    loggers[0].addHandler(catcher)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield leaks
    finally:
        loggers[0].removeHandler(catcher)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    assert not leaks, f"Full resident ID numbers leaked: {leaks}"


def problem_contract_violations(body: dict, status: int) -> list[str]:
    """What a problem+json body breaks of the error contract (empty when it keeps it): a `code`
    of the registry with its status, `type` built from it, every placeholder of the code's
    zh-CN text filled by a member of the problem, `errors` flat (field path -> messages) and
    `error_codes` giving each of those messages a code of `problems.FIELDS` with its values."""
    code = body.get("code")
    known = PROBLEMS.get(code)
    wrong = []
    if known is None:
        return [f"code {code!r} is not in dualchannel/problems.py"]
    if body.get("type") != f"/problems/{code}":
        wrong.append(f"type {body.get('type')!r} is not /problems/{code}")
    if known.status != status or body.get("status") != status:
        wrong.append(f"{code} is registered as {known.status}, answered {status}")
    missing = [name for name in known.placeholders if body.get(name) in (None, "")]
    if missing:
        wrong.append(f"{code}: the zh-CN text needs {missing}, which the problem does not carry")
    errors = body.get("errors")
    if errors is not None and not (isinstance(errors, dict) and all(
            isinstance(k, str) and isinstance(v, list) and all(not isinstance(m, (dict, list)) for m in v)
            for k, v in errors.items())):
        wrong.append(f"errors is not field path -> messages: {errors!r}"[:300])
    codes = body.get("error_codes")
    if errors is not None:
        shape = {path: len(messages) for path, messages in errors.items()} if isinstance(errors, dict) else None
        if not isinstance(codes, dict) or {path: len(entries) for path, entries in codes.items()} != shape:
            wrong.append(f"error_codes does not give a code per message of errors: {codes!r}"[:300])
        else:
            for path, entries in codes.items():
                for entry, message in zip(entries, errors[path]):
                    field = FIELDS.get(entry.get("code"))
                    if field is None or field.code == "uncoded":
                        wrong.append(f"{path}: {message!r} has no code of problems.FIELDS ({entry!r})")
                    elif any(entry.get(name) in (None, "") for name in field.placeholders):
                        wrong.append(f"{path}: {field.code} needs {field.placeholders}, given {entry!r}")
    return wrong


@pytest.fixture(autouse=True)
def problem_contract(monkeypatch):
    """Across the whole suite: every problem+json answer carries a `code` of the registry
    (dualchannel/problems.py) with its status and `type: /problems/<code>` (never about:blank),
    the members its zh-CN text needs, and flat `errors`."""
    open_ = FlaskClient.open

    def checked_open(self, *args, **kwargs):
        response = open_(self, *args, **kwargs)
        if response.mimetype == "application/problem+json":
            path = response.request.path if response.request is not None else "?"
            wrong = problem_contract_violations(response.get_json(), response.status_code)
            if wrong:
                raise AssertionError(f"Problem answer to {path} breaks the error contract: {wrong}")
        return response

    monkeypatch.setattr(FlaskClient, "open", checked_open)
