"""Bearer tokens, roles and the acting account.

Tokens are random and stored only as SHA-256 digests: a leaked database does not leak access.
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
from dualchannel.errors import Forbidden, Invalid, Unauthorized


class Role(str, enum.Enum):
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
            raise Forbidden(f"The role {self.role.value} may not do this.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, role: str, subject: str | None, name: str | None = None,
                 pharmacist_id: int | None = None) -> str:
    """Create a token and return it in clear (the only time it is ever visible). A pharmacy's
    token may be bound to one of its pharmacists (the caller checks that it is its own)."""
    try:
        role = Role(role)
    except ValueError:
        raise Invalid(f"Unknown role {role!r}.", {"role": [f"One of {', '.join(r.value for r in Role)}."]})
    if role is Role.admin:
        subject = None
    elif not subject:
        raise Invalid("This role needs a subject.", {"subject": ["Missing."]})
    if role is Role.bureau and not adcodes.is_valid(subject):
        raise Invalid("A bureau's subject is the 6-digit adcode of its region.", {"subject": ["Not an adcode."]})
    if pharmacist_id is not None and role is not Role.pharmacy:
        raise Invalid("Only a pharmacy's token is bound to a pharmacist.", {"pharmacist": ["Not a pharmacy."]},
                      code="pharmacist_needs_pharmacy")
    token = "dc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_digest(token), role=role.value, subject=subject, name=name,
                         pharmacist_id=pharmacist_id, created_at=clock.now()))
    session.commit()
    return token


# Known tokens, kept briefly so a request does not pay a database round trip to authenticate.
# A revoked token therefore stops working within this many seconds.
TOKEN_CACHE_SECONDS = 30.0
_known: dict[tuple[str, str], tuple[Actor, float]] = {}
_known_lock = threading.Lock()


def authenticate(session: Session, header: str | None) -> Actor:
    """The actor behind an `Authorization: Bearer` header, or Unauthorized."""
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("A bearer token is required.")
    key = (str(session.get_bind().url), _digest(header[7:].strip()))
    now = time.monotonic()
    with _known_lock:
        cached = _known.get(key)
    if cached and cached[1] > now:
        return cached[0]
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == key[1], ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("The token is unknown or revoked.")
    actor = Actor(role=Role(row.role), subject=row.subject, name=row.name, token_id=row.id,
                  pharmacist_id=row.pharmacist_id)
    with _known_lock:
        if len(_known) > 10_000:
            _known.clear()
        _known[key] = (actor, now + TOKEN_CACHE_SECONDS)
    return actor


def current_actor() -> Actor:
    """The request's authenticated actor (set by `load_actor`)."""
    return g.actor


def load_actor() -> None:
    """`before_request` hook of the API blueprints."""
    from dualchannel import db

    if request.method == "OPTIONS":
        return
    g.actor = authenticate(db.session(), request.headers.get("Authorization"))


def require_registrar(actor: Actor, adcode: str) -> None:
    """Registry entries are made by an admin, or by a bureau inside its own region."""
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(adcode):
        raise Forbidden("A bureau registers only inside its own region.")
