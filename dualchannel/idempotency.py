"""`Idempotency-Key` for POSTs that move money: the same key replays the first response.

A record is keyed by (actor, endpoint, key): the acting account (`Actor.label`, so every token
of one pharmacy shares its keys), the method and concrete path, and the client's key. The
request is fingerprinted (canonical JSON of the body); the same key with another body is 422.

Exactly once, without a separate lock: the view claims the key by adding a pending record to
the request's session BEFORE the service runs, so the service's own commit commits the claim
together with the work (the money movement and the key are one transaction). A concurrent
request with the same key blocks on the unique index (PostgreSQL) or on the database lock
(SQLite) and then replays. After the view answers, a 2xx response's status and exact body are
stored on the record; any other outcome deletes the claim, so the client may retry with the
same key once it has fixed the request (errors are not replayed). A record still pending
(between the service's commit and the storing of its response, or after a crash in that
instant) answers 409 "in progress"; the money was moved at most once either way.
"""

import functools
import hashlib
import json
import re
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, make_response, request
from sqlmodel import Field, Session, SQLModel, select

from dualchannel import clock, db
from dualchannel.auth import current_actor
from dualchannel.errors import Conflict, Invalid

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as HTTP header values allow

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
    created_at: datetime = Field(sa_type=db.UTCDateTime)


def fingerprint() -> str:
    """SHA-256 of the request body: canonical JSON when it is JSON, else the raw bytes."""
    data = request.get_json(silent=True)
    raw = (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
           if data is not None else request.get_data())
    return hashlib.sha256(raw).hexdigest()


def _where(actor: str, endpoint: str, key: str):
    return sa.and_(IdempotencyKey.actor == actor, IdempotencyKey.endpoint == endpoint, IdempotencyKey.key == key)


def _replay(record: IdempotencyKey, request_hash: str):
    if record.request_hash != request_hash:
        raise Invalid(f"This {HEADER} was used with a different request.",
                      {HEADER: ["Already used with a different body; use a new key."]})
    if record.status is None:
        raise Conflict(f"A request with this {HEADER} is still in progress; retry shortly.")
    response = current_app.response_class(record.body, status=record.status, mimetype="application/json")
    response.headers[REPLAYED] = "true"
    return response


def _release(session: Session, where) -> None:
    """Forget a claim whose request did not succeed (it may have been committed mid-way)."""
    session.rollback()
    session.execute(sa.delete(IdempotencyKey).where(where, IdempotencyKey.status.is_(None)))
    session.commit()


def idempotent(view):
    """Make a view idempotent under `Idempotency-Key` (optional header; without it, no effect).

    Put it between the route decorator and `@bp.arguments`, so it sees the final response.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.match(key):
            raise Invalid(f"{HEADER} must be 1 to 255 visible ASCII characters.",
                          {HEADER: ["1 to 255 visible ASCII characters."]})
        session = db.session()
        actor, endpoint, request_hash = current_actor().label, f"{request.method} {request.path}"[:200], fingerprint()
        where = _where(actor, endpoint, key)
        record = session.exec(select(IdempotencyKey).where(where)).first()
        if record is not None:
            return _replay(record, request_hash)
        session.add(IdempotencyKey(actor=actor, endpoint=endpoint, key=key, request_hash=request_hash,
                                   created_at=clock.now()))
        try:
            session.flush()
        except sa.exc.IntegrityError:
            # The same key is being (or was just) used by a concurrent request.
            session.rollback()
            return _replay(session.exec(select(IdempotencyKey).where(where)).one(), request_hash)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            _release(session, where)
            raise
        if not 200 <= response.status_code < 300:
            _release(session, where)
            return response
        values = {"status": response.status_code, "body": response.get_data(as_text=True)}
        stored = session.execute(sa.update(IdempotencyKey).where(where).values(**values)).rowcount
        if stored == 0:
            # The service rolled back (and discarded the claim) before it succeeded.
            session.add(IdempotencyKey(actor=actor, endpoint=endpoint, key=key, request_hash=request_hash,
                                       created_at=clock.now(), **values))
        session.commit()
        return response

    return wrapper
