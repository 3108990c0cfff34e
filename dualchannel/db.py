"""The database's life cycle: engine per app, one session per request, column types.

SQLite is the embedded default and PostgreSQL the production database; the same code runs on
both. On SQLite every transaction starts with `BEGIN IMMEDIATE`, so two writers queue on the
database lock instead of failing when a read transaction tries to upgrade to a write.
"""

from datetime import timezone
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlmodel import Session, SQLModel

# Stable constraint names make Alembic migrations identical on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ENGINE = "dualchannel.engine"


class UTCDateTime(sa.TypeDecorator):
    """An aware UTC datetime on every database (SQLite keeps no offset of its own)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class ScaledDecimal(sa.TypeDecorator):
    """An exact decimal stored as a scaled integer (fen for money).

    Integers keep sums exact on both databases; SQLite has no decimal type.
    """

    impl = sa.BigInteger
    cache_ok = True

    def __init__(self, places: int = 2):
        super().__init__()
        self.places = places
        self.scale = 10**places

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        scaled = Decimal(value) * self.scale
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / self.scale).quantize(Decimal(1).scaleb(-self.places))


def Money():  # noqa: N802 - reads as a type in column declarations
    """Yuan with 2 places, stored in fen."""
    return ScaledDecimal(2)


def UnitPrice():  # noqa: N802
    """Per-unit prices and payment standards: yuan with 4 places (selected prices per tablet)."""
    return ScaledDecimal(4)


def insert(session: Session, table):
    """`INSERT` of the session's dialect, with its `ON CONFLICT` clauses (PostgreSQL, SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def database_url(app: Flask) -> str:
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'dualchannel.sqlite'}"


def create_engine(url: str) -> sa.Engine:
    """An engine configured for concurrency on either database.

    `hide_parameters`: statement parameters stay out of SQL echo logs and of database error
    messages, since a parameter may be whatever a caller typed (an ID number in a code field).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Let SQLAlchemy's begin event below own the transaction boundaries.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)


def engine() -> sa.Engine:
    """The current app's engine."""
    return current_app.extensions[_ENGINE]


class RequestSession(Session):
    """The session of one HTTP request: the request, not the use case, owns the transaction.

    A use case ends its work with `commit()`, as it does from the CLI; inside a request that
    only flushes (constraints are checked, ids assigned), and the request commits once, after
    its answer is built (`_finish_request`). So a failure while answering (a 500 in
    serialisation, a lost connection) leaves nothing half-written, and an idempotent answer is
    stored in the same transaction as the work it records.
    """

    def commit(self) -> None:
        self.flush()

    def commit_request(self) -> None:
        """The real COMMIT, at the end of the request."""
        super().commit()


def session() -> Session:
    """The request's session, opened on first use, committed or rolled back when the request
    ends, and closed at teardown."""
    if "db_session" not in g:
        g.db_session = RequestSession(engine(), expire_on_commit=False)
    return g.db_session


def record_refusal(effects) -> None:
    """Roll back the request's work, then write what a refusal leaves behind (an audit flag, a
    fruitless search in the access log) in a transaction of its own: a refused request changes
    nothing but the record of its refusal. `effects` are callables taking the session."""
    s = session()
    s.rollback()
    for effect in effects:
        effect(s)
    s.commit_request()


def _finish_request(response):
    """Commit the request's transaction when it succeeded, roll it back otherwise."""
    s = g.get("db_session")
    if s is None:
        return response
    if response.status_code >= 400:
        try:
            s.rollback()
        except sa.exc.DBAPIError:
            discard_session()
        return response
    try:
        s.commit_request()
    except sa.exc.DBAPIError as error:
        discard_session()
        from dualchannel.errors import commit_failed

        return commit_failed(error)
    return response


def discard_session() -> None:
    """Drop the request's session after its connection failed (closing it may fail too)."""
    s = g.pop("db_session", None)
    if s is not None:
        try:
            s.close()
        except sa.exc.DBAPIError:
            s.invalidate()


def _close_session(_exc=None):
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def new_session(bind: sa.Engine | None = None) -> Session:
    """A session outside a request (CLI, background work); the caller closes it."""
    return Session(bind or engine(), expire_on_commit=False)


def ping() -> None:
    """Round-trip `SELECT 1` to the database; raises when it does not answer."""
    with engine().connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def init_app(app: Flask) -> None:
    """Create the engine lazily-configured from the app; commit or roll back each request's
    transaction as it answers, and close its session at teardown."""
    app.extensions[_ENGINE] = create_engine(database_url(app))
    app.after_request(_finish_request)
    app.teardown_appcontext(_close_session)


def commit(session: Session, conflict: str = "It already exists.", code: str = "already_exists") -> None:
    """Commit, turning a unique-constraint race into a Conflict instead of a 500."""
    from dualchannel.errors import Conflict

    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        raise Conflict(conflict, code=code)
