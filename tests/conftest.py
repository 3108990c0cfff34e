"""Fixtures: an app on a fresh database (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
its client and CLI runner, and clients acting as each role."""

import os
import shutil

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from dualchannel import clock, create_app, db, migrate
from dualchannel.models import metadata

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
KEYS = {"ID_HASH_KEY": "test-hash-key", "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()}


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per run: an SQLite file to copy, or the PostgreSQL schema to truncate."""
    if POSTGRES_URL:
        engine = db.create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        migrate.upgrade(engine)
        engine.dispose()
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = db.create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(database_template, tmp_path):
    if POSTGRES_URL:
        engine = db.create_engine(POSTGRES_URL)
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        engine.dispose()
        return POSTGRES_URL
    path = tmp_path / "test.sqlite"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, **KEYS})
    app.instance_path = str(tmp_path / "instance")
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


@pytest.fixture
def token(app):
    """token(role, subject) -> a bearer token, made through the CLI like an operator would."""
    runner = app.test_cli_runner()

    def make(role, subject=None):
        args = ["token", "create", "--role", role] + (["--subject", subject] if subject else [])
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]

    return make


@pytest.fixture
def as_role(client, token):
    """as_role(role, subject) -> a client acting as that role."""
    return lambda role, subject=None: As(client, token(role, subject))
