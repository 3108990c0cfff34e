"""The database's life cycle: engine per app, one session per request, column types, timeouts.

SQLite is the embedded default and PostgreSQL the production database; the same code runs on
both. On SQLite every transaction starts with `BEGIN IMMEDIATE`, so two writers queue on the
database lock instead of failing when a read transaction tries to upgrade to a write.

Nothing waits on the database without a bound (settings in `config.py`):

- connecting, and checking a pooled connection that sat idle for `CHECK_IF_IDLE_FOR` seconds
  before use: `DATABASE_CONNECT_TIMEOUT`;
- one statement: `DATABASE_STATEMENT_TIMEOUT` (PostgreSQL cancels it), set once per connection
  when it is made, so a request pays no round trip for it; the CLI's long scans, imports and
  migrations lift it for their own transactions (`new_session`, `unbounded`);
- any one answer an API request waits for: `DATABASE_READ_TIMEOUT`, enforced by the client, so
  a server that accepts connections and never answers (and so cancels nothing) still costs a
  request no more; time the request spends computing does not count;
- a free pooled connection: `DATABASE_POOL_TIMEOUT`; SQLite's lock: `DATABASE_BUSY_TIMEOUT`.

A database that does not answer is 503 with `Retry-After` (`errors.handle_database_error`).
When a connection cannot be made or a pooled one does not answer its check, the database is
marked unavailable for `DATABASE_RETRY_AFTER` seconds: requests answer 503 at once instead of
each waiting for its own timeout, which keeps threads free (`/healthz` never touches the
database). The first request after that tries again, so the service recovers by itself.
"""

import functools
import math
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.orm.attributes import set_committed_value
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

# A pooled connection returned less than this many seconds ago is used without a check (the
# window HikariCP calls aliveBypassWindowMs): under load every request would otherwise pay a
# round trip for it. A connection that died within the window fails its first statement, and
# SQLAlchemy then replaces the whole pool; a server that hangs is bounded by the read timeout.
CHECK_IF_IDLE_FOR = 0.5


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
    return dialect_insert(session.get_bind().dialect.name)(table)


def change_if(session: Session, row: SQLModel, *conditions: sa.ColumnElement[bool], values: dict,
              refusal: Exception) -> None:
    """The one way to change a record's state: `UPDATE ... SET values WHERE <row's key> AND
    conditions` (the state it must still be in), in the caller's transaction; raise `refusal`
    (a Conflict) when it touched nothing, because another request changed the row first. The
    caller's transaction is never rolled back here (the request or the CLI's session does it
    on the refusal); `row` shows the new values without a read back."""
    model = type(row)
    key = [getattr(model, column.key) == getattr(row, column.key) for column in model.__table__.primary_key]
    touched = session.execute(sa.update(model).where(*key, *conditions).values(**values)
                              .execution_options(synchronize_session=False)).rowcount
    if touched != 1:
        raise refusal
    for name, value in values.items():
        set_committed_value(row, name, value)


def insert_with_children(session: Session, parent: SQLModel, children: list[SQLModel], *, link: str,
                         told_apart_by: dict[str, str] | None = None) -> None:
    """Insert a new row (`parent`) and rows of any tables that point at it (`children`, whose
    column `link` takes the parent's id), in the caller's transaction; every object gets its
    id and each child its link. The objects stay out of the session: they are an answer, not
    state to flush (the ORM's unit of work cost more than the inserts).

    One statement on PostgreSQL (data-modifying CTEs, built once per shape); on SQLite, in
    process with no round trip to save, one per row. Several children of one table are told
    apart in PostgreSQL's answer by their column `told_apart_by[<table name>]`, unique among them.
    """
    groups: dict[str, list[SQLModel]] = {}
    for child in children:
        groups.setdefault(child.__table__.name, []).append(child)
    if session.get_bind().dialect.name != "postgresql":
        parent.id = session.execute(sa.insert(parent.__table__).returning(parent.__table__.c.id),
                                    _values(parent)).scalar_one()
        for rows in groups.values():
            for row in rows:
                setattr(row, link, parent.id)
            table = rows[0].__table__
            ids = session.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                  [_values(row) for row in rows]).scalars()
            for row, row_id in zip(rows, ids):
                row.id = row_id
        return
    shape = tuple((name, len(rows), (told_apart_by or {}).get(name) if len(rows) > 1 else None)
                  for name, rows in groups.items())
    params = _values(parent, "p_")
    for index, rows in enumerate(groups.values()):
        for position, row in enumerate(rows):
            params.update(_values(row, f"c{index}_{position}_"))
    answer = session.execute(_family_insert(parent.__table__.name, link, shape), params).all()
    parent.id = answer[0][0]
    for index, (rows, (_name, _count, key)) in enumerate(zip(groups.values(), shape)):
        ids = {told: child_id for _parent, group, child_id, told in answer if group == index}
        for row in rows:
            row.id = ids[str(getattr(row, key)) if key else None]
            setattr(row, link, parent.id)


def _values(row: SQLModel, prefix: str = "") -> dict:
    return {f"{prefix}{column.key}": getattr(row, column.key) for column in row.__table__.columns
            if column.key != "id"}


@functools.cache
def _family_insert(parent_name: str, link: str, shape: tuple[tuple[str, int, str | None], ...]) -> sa.Select:
    """`insert_with_children`'s statement on PostgreSQL for one shape (each child table's name,
    row count and telling column). Binds: `p_<column>` for the parent, `c<i>_<j>_<column>` for
    row j of child table i. Answers (parent id, child table index, child id, telling value)
    per child."""
    tables = SQLModel.metadata.tables
    parent = tables[parent_name]
    made = (sa.insert(parent)
            .values({c.key: sa.bindparam(f"p_{c.key}", type_=c.type) for c in parent.columns if c.key != "id"})
            .returning(parent.c.id).cte("made"))
    answers = []
    for index, (name, count, key) in enumerate(shape):
        table = tables[name]
        columns = [c for c in table.columns if c.key not in ("id", link)]
        rows = [sa.select(made.c.id, *(sa.bindparam(f"c{index}_{j}_{c.key}", type_=c.type) for c in columns))
                for j in range(count)]
        written = (sa.insert(table).from_select([table.c[link], *columns], sa.union_all(*rows) if count > 1 else rows[0])
                   .returning(table.c.id, *([table.c[key]] if key else [])).cte(f"written_{index}"))
        told = written.c[key] if key else sa.null()
        answers.append(sa.select(sa.literal(index).label("grp"), written.c.id.label("child_id"),
                                 sa.cast(told, sa.String).label("told")))
    if not answers:
        return sa.select(made.c.id, sa.null(), sa.null(), sa.null())
    children = (sa.union_all(*answers) if len(answers) > 1 else answers[0]).subquery("children")
    return (sa.select(made.c.id, children.c.grp, children.c.child_id, children.c.told)
            .select_from(made.join(children, sa.true())))


def dialect_insert(dialect_name: str):
    """The `insert` construct of a dialect by name, for statements built once per dialect."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert


def database_url(app: Flask) -> str:
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'dualchannel.sqlite'}"


class DatabaseUnavailable(Exception):
    """The database failed to answer moments ago, or the time to reach it is spent: the request
    answers 503 without waiting (`errors.handle_database_error`)."""


# Bounds on waiting for the database in this context: (seconds per wait, monotonic time by which
# all waits must end); None is no bound. Requests set the first, `deadline` the second.
_bounds: ContextVar[tuple[float | None, float | None]] = ContextVar("dualchannel_database_bounds",
                                                                  default=(None, None))


def _wait_timeout() -> float | None:
    """How long the next wait on the database may last here (None: unbounded)."""
    per_wait, until = _bounds.get()
    left = None if until is None else until - time.monotonic()
    bounds = [b for b in (per_wait, left) if b is not None]
    return min(bounds) if bounds else None


@contextmanager
def deadline(seconds: float):
    """Every wait on the database inside the block ends within `seconds` from now in all."""
    per_wait, until = _bounds.get()
    end = time.monotonic() + seconds
    token = _bounds.set((per_wait, end if until is None else min(until, end)))
    try:
        yield
    finally:
        _bounds.reset(token)


class _Outage:
    """Marks the database unavailable for `seconds` after it failed to answer, shared by the
    threads of a process."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._until = 0.0
        self._lock = threading.Lock()

    def trip(self) -> None:
        with self._lock:
            self._until = time.monotonic() + self.seconds

    def check(self) -> None:
        if self.seconds and time.monotonic() < self._until:
            raise DatabaseUnavailable("The database did not answer moments ago.")


class DeadlineExceeded(psycopg.OperationalError):
    """The database did not answer in time; the connection was closed (SQLAlchemy sees a lost
    connection and replaces it)."""


class TimedConnection(psycopg.Connection):
    """psycopg's connection whose every wait on the server ends within the context's bounds
    (`_wait_timeout`): past them the connection is closed, since its state is unknown, and
    DeadlineExceeded raised. A server that accepts connections and never answers cannot cancel
    a statement itself."""

    def wait(self, gen, interval=0.1, timeout=None):
        limit = _wait_timeout()
        if limit is None or (timeout is not None and timeout <= limit):
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, max(limit, 0.001))
        except psycopg.errors._WaitTimeout:
            self.pgconn.finish()
            raise DeadlineExceeded("The database did not answer in time; the connection was closed.") from None


def create_engine(url: str, *, connect_timeout: float = 3, pool_timeout: float = 5, busy_timeout: float = 10,
                  retry_after: float = 0, statement_timeout: float | None = None) -> sa.Engine:
    """An engine configured for concurrency and bounded waits on either database (see the
    module's docstring; `retry_after` 0 never marks the database unavailable;
    `statement_timeout` None leaves statements unbounded).

    `hide_parameters`: statement parameters stay out of SQL echo logs and of database error
    messages, since a parameter may be whatever a caller typed (an ID number in a code field).
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout},
                                  hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Let SQLAlchemy's begin event below own the transaction boundaries.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    outage = _Outage(retry_after)
    engine = sa.create_engine(url, pool_size=10, max_overflow=20, pool_timeout=pool_timeout, hide_parameters=True)

    @sa.event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        outage.check()
        limit = _wait_timeout()
        if limit is not None and limit <= 0:
            raise DatabaseUnavailable("The time to reach the database is spent.")
        # psycopg counts whole seconds, at least 2.
        cparams["connect_timeout"] = max(2, math.ceil(min(connect_timeout, limit or connect_timeout)))
        if statement_timeout is not None:
            given = cparams.get("options", "")
            cparams["options"] = f"{given} -c statement_timeout={int(statement_timeout * 1000)}".strip()
        try:
            return TimedConnection.connect(*cargs, **cparams)
        except psycopg.OperationalError:
            outage.trip()
            raise

    @sa.event.listens_for(engine, "connect")
    @sa.event.listens_for(engine, "checkin")
    def _mark_returned(_dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy):
        # A pooled connection that sat idle may be dead (server restarted) or hang (server
        # stuck): try it first, within the connect timeout. A dead one is replaced
        # (DisconnectionError makes the pool connect anew); a hanging one also marks the
        # database unavailable.
        outage.check()
        if time.monotonic() - record.info.get("returned_at", -math.inf) < CHECK_IF_IDLE_FOR:
            return
        try:
            with deadline(connect_timeout):
                engine.dialect.do_ping(dbapi_connection)
        except psycopg.Error as error:
            if isinstance(error, DeadlineExceeded):
                outage.trip()
            raise sa.exc.DisconnectionError(str(error)) from error

    return engine


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


def unbounded(connection: sa.Connection) -> None:
    """Lift the statement timeout for the rest of `connection`'s transaction (work of the CLI,
    which may scan or import for longer than any request should take)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")


class CommandSession(Session):
    """A session outside a request (CLI, background work): its statements are not bound by
    DATABASE_STATEMENT_TIMEOUT."""


@sa.event.listens_for(CommandSession, "after_begin")
def _unbound_commands(_session, _transaction, connection) -> None:
    unbounded(connection)


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


def _start_request() -> None:
    """Bound each of the request's waits on the database to DATABASE_READ_TIMEOUT."""
    _bounds.set((current_app.config["DATABASE_READ_TIMEOUT"], None))


def _end_request(_exc=None) -> None:
    _bounds.set((None, None))


def new_session(bind: sa.Engine | None = None) -> Session:
    """A session outside a request (CLI, background work); the caller closes it."""
    return CommandSession(bind or engine(), expire_on_commit=False)


def ping() -> None:
    """Round-trip `SELECT 1` to the database within DATABASE_CONNECT_TIMEOUT; raises when it
    does not answer."""
    with deadline(current_app.config["DATABASE_CONNECT_TIMEOUT"]), engine().connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def init_app(app: Flask) -> None:
    """Create the engine from the app's settings; bound each request's database work; commit
    or roll back each request's transaction as it answers, and close its session at teardown."""
    config = app.config
    engine = app.extensions[_ENGINE] = create_engine(
        database_url(app), connect_timeout=config["DATABASE_CONNECT_TIMEOUT"],
        pool_timeout=config["DATABASE_POOL_TIMEOUT"], busy_timeout=config["DATABASE_BUSY_TIMEOUT"],
        retry_after=config["DATABASE_RETRY_AFTER"], statement_timeout=config["DATABASE_STATEMENT_TIMEOUT"])
    # An app dropped without closing its engine (one refused at start by its settings, a
    # second app in one process) closes its pooled connections as it goes, instead of leaving
    # them for the garbage collector, which drops them still open.
    weakref.finalize(app, engine.dispose)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.teardown_appcontext(_close_session)


def commit(session: Session, conflict: str, *, code: str) -> None:
    """Commit, turning a unique-constraint race into a Conflict instead of a 500."""
    from dualchannel.errors import Conflict

    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        raise Conflict(conflict, code=code)
