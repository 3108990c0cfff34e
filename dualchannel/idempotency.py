"""`Idempotency-Key`: the same key replays the first answer, byte for byte.

A record is keyed by (actor, endpoint, key): the acting account (`Actor.label`, so every token
of one pharmacy shares its keys), the method and concrete path, and the client's key. The
request is fingerprinted (canonical JSON of the body); the same key with another body is 422.

Exactly once, in one transaction: the view claims the key by adding a record to the request's
session before the service runs; the service's work, the claim and the answer stored on it are
committed together when the request ends (`db.RequestSession`), so a crash leaves both or
neither. A concurrent request with the same key blocks on the unique index (PostgreSQL) or on
the database lock (SQLite) until the first commits, then replays its answer. Errors are not
stored: the request's rollback drops the claim, so a corrected request may reuse its key.
Records are kept `IDEMPOTENCY_RETENTION_DAYS` (config) and then deleted by `purge`
(`dualchannel idempotency purge`, for cron).
A record without an answer can only be one written by an older version between two commits;
once older than `STALE_AFTER`, a retry takes it over.
"""

import functools
import hashlib
import json
import re
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, make_response, request
from sqlmodel import Field, Session, SQLModel, select

from dualchannel import clock, db
from dualchannel.auth import current_actor
from dualchannel.errors import Conflict, FieldMessage, Invalid

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as HTTP header values allow
STALE_AFTER = timedelta(seconds=30)

#: OpenAPI parameter of an idempotent route (for `@bp.doc(parameters=[...])`).
PARAMETER = {
    "in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "Client-chosen key; the same key replays the first successful response.",
}


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("actor", "endpoint", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=64)
    endpoint: str = Field(max_length=200)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status: int | None = None  # None while the first request is being processed
    body: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=db.UTCDateTime, index=True)


def fingerprint() -> str:
    """SHA-256 of the request body: canonical JSON when it is JSON, else the raw bytes."""
    data = request.get_json(silent=True)
    raw = (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
           if data is not None else request.get_data())
    return hashlib.sha256(raw).hexdigest()


@functools.cache
def _statements(dialect_name: str) -> tuple[sa.Insert, sa.Select, sa.Update]:
    """Built once per dialect (bind parameters `actor`, `endpoint`, `key`): the claim, one
    INSERT that waits for a concurrent claim of the same key to commit or roll back and inserts
    nothing when one is there, returning its id; the read of an existing claim; the store of the
    answer into the claim (`claim_id`, and the columns `status` and `body`)."""
    table = IdempotencyKey.__table__
    where = sa.and_(table.c.actor == sa.bindparam("actor"), table.c.endpoint == sa.bindparam("endpoint"),
                    table.c.key == sa.bindparam("key"))
    claim = (db.dialect_insert(dialect_name)(table)  # its parameters: the columns' names
             .on_conflict_do_nothing(index_elements=["actor", "endpoint", "key"]).returning(table.c.id))
    read = select(IdempotencyKey).where(where).execution_options(populate_existing=True)
    store = sa.update(table).where(table.c.id == sa.bindparam("claim_id"))
    return claim, read, store


def _replay(record: IdempotencyKey, request_hash: str):
    if record.request_hash != request_hash:
        raise Invalid(f"This {HEADER} was used with a different request.",
                      {HEADER: [FieldMessage("idempotency_key_reused",
                                             "Already used with a different body; use a new key.")]}, code="idempotency_key_reused")
    if record.status is None:
        raise Conflict(f"A request with this {HEADER} is still in progress; retry shortly.",
                       code="idempotency_key_in_progress")
    response = current_app.response_class(record.body, status=record.status, mimetype="application/json")
    response.headers[REPLAYED] = "true"
    return response


def idempotent(view):
    """Make a view idempotent under `Idempotency-Key` (optional header; without it, no effect).

    Put it between the route decorator and `@bp.arguments`, so it sees the final response.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.fullmatch(key):
            raise Invalid(f"{HEADER} must be 1 to 255 visible ASCII characters.",
                          {HEADER: [FieldMessage("idempotency_key_format", "1 to 255 visible ASCII characters.")]}, code="invalid_idempotency_key")
        session = db.session()
        claim, read, store = _statements(session.get_bind().dialect.name)
        actor, endpoint, request_hash = current_actor().label, f"{request.method} {request.path}"[:200], fingerprint()
        names = {"actor": actor, "endpoint": endpoint, "key": key}
        claiming = {**names, "request_hash": request_hash, "created_at": clock.now()}
        claim_id = session.execute(claim, claiming).scalar()
        if claim_id is None:
            record = session.exec(read, params=names).one()
            if record.status is not None or record.created_at >= clock.now() - STALE_AFTER:
                return _replay(record, request_hash)
            # Left without an answer by an older version: take it over.
            session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
            claim_id = session.execute(claim, claiming).scalar()
        response = make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            values = {"status": response.status_code, "body": response.get_data(as_text=True)}
            stored = session.execute(store, {"claim_id": claim_id, **values}).rowcount
            if stored == 0:
                # The service rolled back its first attempt (and the claim with it) before it succeeded.
                session.add(IdempotencyKey(actor=actor, endpoint=endpoint, key=key, request_hash=request_hash,
                                           created_at=clock.now(), **values))
        return response

    return wrapper


def purge(session: Session, *, older_than: datetime) -> int:
    """Delete the keys (and their stored answers) created before `older_than`; the caller commits.

    Returns how many were deleted. A client retrying with a purged key acts anew.
    """
    return session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than)
                           .execution_options(synchronize_session=False)).rowcount
