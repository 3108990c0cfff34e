"""Bearer tokens, roles and the acting account.

Tokens are random and stored only as SHA-256 digests: a leaked database does not leak access.
A revocation takes effect on the token's next request in every worker and on every host: each
request compares the revocation epoch (the newest `token_revocation` row, one indexed read in
the request's own transaction) with the epoch its cached token was checked at.
"""

import enum
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import g, request
from sqlmodel import Field, Session, SQLModel, select

from dualchannel import adcodes, clock
from dualchannel.db import UTCDateTime
from dualchannel.errors import FieldMessage, Forbidden, Invalid, Unauthorized


class Role(enum.StrEnum):
    admin = "admin"
    bureau = "bureau"
    physician = "physician"
    pharmacy = "pharmacy"
    # A designated institution or pharmacy acting on its own procurement records
    # (subject = its institution or pharmacy code).
    institution = "institution"


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    subject: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=100)
    # A pharmacy's token bound to one of its pharmacists (执业药师): acts as the pharmacy, and
    # reviews prescriptions (审方) in that person's name.
    pharmacist_id: int | None = Field(default=None, foreign_key="pharmacist.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenRevocation(SQLModel, table=True):
    """One row per token revoked; the newest id is the revocation epoch every worker compares."""

    __tablename__ = "token_revocation"

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_token.id")
    revoked_at: datetime = Field(sa_type=UTCDateTime)
    revoked_by: str = Field(max_length=100)


@dataclass(frozen=True)
class Actor:
    """Who is calling: a role and the code it acts for (adcode, physician, pharmacy or
    institution code)."""

    role: Role
    subject: str | None
    name: str | None = None
    token_id: int | None = None
    pharmacist_id: int | None = None  # a pharmacy's token bound to one of its pharmacists

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.subject or '-'}"

    def in_region(self, adcode: str | None) -> bool:
        """For a bureau: whether `adcode` lies in its region. Admin sees everything."""
        if self.role is Role.admin:
            return True
        return self.role is Role.bureau and adcodes.contains(self.subject, adcode)

    def require(self, *roles: Role) -> None:
        """Raise Forbidden unless the actor has one of `roles`."""
        if self.role not in roles:
            raise Forbidden(f"The role {self.role.value} may not do this.", code="role_forbidden", role=self.role.value)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, role: str, subject: str | None, name: str | None = None,
                 pharmacist_id: int | None = None) -> str:
    """Create a token and return it in clear (the only time it is ever visible). A pharmacy's
    token may be bound to one of its pharmacists (the caller checks that it is its own)."""
    try:
        role = Role(role)
    except ValueError:
        raise Invalid(f"Unknown role {role!r}.", {"role": [FieldMessage("role_unknown", f"One of {', '.join(r.value for r in Role)}.",
                                                                     roles=", ".join(r.value for r in Role))]},
                      code="role_unknown")
    if role is Role.admin:
        subject = None
    elif not subject:
        raise Invalid("This role needs a subject.", {"subject": [FieldMessage("required", "Missing.")]}, code="subject_required")
    if role is Role.bureau and not adcodes.is_valid(subject):
        raise Invalid("A bureau's subject is the 6-digit adcode of its region.", {"subject": [FieldMessage("adcode_unknown", "Not an adcode.")]},
                      code="bureau_subject_invalid")
    if pharmacist_id is not None and role is not Role.pharmacy:
        raise Invalid("Only a pharmacy's token is bound to a pharmacist.", {"pharmacist": [FieldMessage("pharmacist_needs_pharmacy", "Not a pharmacy.")]},
                      code="pharmacist_needs_pharmacy")
    token = "dc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_digest(token), role=role.value, subject=subject, name=name,
                         pharmacist_id=pharmacist_id, created_at=clock.now()))
    session.commit()
    return token


def revoke_tokens(session: Session, *, by: str, token: str | None = None, token_id: int | None = None,
                  role: str | None = None, subject: str | None = None) -> int:
    """Revoke one token (given in clear, or by id) or every token of an account (role and
    subject); returns how many were revoked. Each revocation advances the epoch, so the token
    fails on its next request everywhere."""
    if token:
        match = ApiToken.token_hash == _digest(token.strip())
    elif token_id is not None:
        match = ApiToken.id == token_id
    elif role:
        match = sa.and_(ApiToken.role == role,
                        ApiToken.subject.is_(None) if subject is None else ApiToken.subject == subject)
    else:
        raise Invalid("Say which token: the token, its id, or a role and subject.", code="token_unspecified")
    ids = list(session.exec(select(ApiToken.id).where(match, ApiToken.revoked_at.is_(None))))
    now = clock.now()
    if ids:
        session.execute(sa.update(ApiToken).where(ApiToken.id.in_(ids), ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
        session.add_all([TokenRevocation(token_id=i, revoked_at=now, revoked_by=by) for i in ids])
    session.commit()
    with _known_lock:
        _known.clear()
    return len(ids)


# Tokens already checked, so a request does not look its token up again: (actor, expiry,
# revocation epoch when checked). An entry serves only while the epoch is unchanged.
TOKEN_CACHE_SECONDS = 300.0
_known: dict[tuple[str, str], tuple[Actor, float, int]] = {}
_known_lock = threading.Lock()


_EPOCH = f"SELECT max(id) FROM {TokenRevocation.__tablename__}"


def revocation_epoch(session: Session) -> int:
    """The newest revocation's id (0 before any): it changes whenever a token is revoked.
    Plain SQL on the request's connection: it runs on every request (a fifth of the ORM's cost)."""
    return session.connection().exec_driver_sql(_EPOCH).scalar() or 0


def authenticate(session: Session, header: str | None) -> Actor:
    """The actor behind an `Authorization: Bearer` header, or Unauthorized."""
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("A bearer token is required.", code="token_missing")
    key = (str(session.get_bind().url), _digest(header[7:].strip()))
    epoch = revocation_epoch(session)
    now = time.monotonic()
    with _known_lock:
        cached = _known.get(key)
    if cached and cached[1] > now and cached[2] == epoch:
        return cached[0]
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == key[1], ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("The token is unknown or revoked.", code="token_invalid")
    actor = Actor(role=Role(row.role), subject=row.subject, name=row.name, token_id=row.id,
                  pharmacist_id=row.pharmacist_id)
    with _known_lock:
        if len(_known) > 10_000:
            _known.clear()
        _known[key] = (actor, now + TOKEN_CACHE_SECONDS, epoch)
    return actor


def request_actor() -> Actor | None:
    """The actor of the current API request, or None when its token is missing or refused.

    Authenticates once per request (the rate limiter keys on the account before the views'
    hooks run). A database that fails is not remembered as an answer: its error is raised again
    to the next caller (the connection it broke cannot be used again in this request).
    """
    from dualchannel import db

    if "auth_database_error" in g:
        raise g.auth_database_error
    if "actor" not in g:
        try:
            g.actor = authenticate(db.session(), request.headers.get("Authorization"))
        except Unauthorized as refusal:
            g.actor, g.auth_refusal = None, refusal
        except sa.exc.SQLAlchemyError as error:
            g.auth_database_error = error
            raise
    return g.actor


def current_actor() -> Actor:
    """The request's authenticated actor (set by `load_actor`)."""
    return g.actor


def load_actor() -> None:
    """`before_request` hook of the API blueprints: Unauthorized without a valid token."""
    if request.method == "OPTIONS":
        return
    if request_actor() is None:
        raise g.auth_refusal


def require_registrar(actor: Actor, adcode: str) -> None:
    """Registry entries are made by an admin, or by a bureau inside its own region."""
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(adcode):
        raise Forbidden("A bureau registers only inside its own region.", code="outside_region")
