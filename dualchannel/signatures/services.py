"""Signing keys: issue (the service acting as its hospitals' co-signing CA), revoke, list; signing
with a holder's key and checking a signature against the key and its certificate.

Private keys are decrypted only to sign, in memory, and never leave this module. Checking a
signature needs public keys only: the signer's (from its `signing_key` row) and the CA's.
"""

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy.orm import Bundle
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.access_log import services as access
from dualchannel.auth import Actor, Role
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.institutions import services as institutions
from dualchannel.pharmacies import services as pharmacies
from dualchannel.signatures import crypto, rules
from dualchannel.signatures.models import SigningKey

_EXTENSION = "dualchannel.signing"


class _Custody:
    """The app's key custody: the Fernet key encrypting private keys and the CA key pair."""

    def __init__(self, encryption_key: str, ca_key_pem: str):
        self.fernet = Fernet(encryption_key.encode() if isinstance(encryption_key, str) else encryption_key)
        self.ca_key = crypto.load_private_pem(ca_key_pem)
        self.ca_public = crypto.public_der(self.ca_key)


def _custody() -> _Custody:
    if _EXTENSION not in current_app.extensions:
        current_app.extensions[_EXTENSION] = _Custody(current_app.config["SIGNING_KEY_ENCRYPTION_KEY"],
                                                      current_app.config["SIGNING_CA_KEY"])
    return current_app.extensions[_EXTENSION]


def ca_public_key() -> bytes:
    """The service CA's public key (SPKI DER): what a verifier pins."""
    return _custody().ca_public


def certificate_bytes(key: SigningKey) -> bytes:
    """The bytes the CA signed for `key`."""
    return crypto.canonical(rules.certificate(holder=key.holder, public_key=key.public_key,
                                              valid_from=key.valid_from, valid_until=key.valid_until))


def _new_key(session: Session, holder: str, issued_by: str, valid_days: int | None = None,
             at: datetime | None = None) -> SigningKey:
    """Generate a key pair for `holder`, certify it, store it (private key encrypted); valid
    from `at` (default now)."""
    custody = _custody()
    private = crypto.new_private_key()
    public = crypto.public_der(private)
    now = at or clock.now()
    key = SigningKey(holder=holder, algorithm=crypto.ALGORITHM, public_key=crypto.b64(public),
                     fingerprint=crypto.sm3(public).hex(),
                     private_key_encrypted=custody.fernet.encrypt(crypto.private_der(private)).decode(),
                     valid_from=now, valid_until=now + timedelta(days=valid_days or current_app.config[
                         "SIGNING_KEY_VALID_DAYS"]), certificate="", issued_by=issued_by, issued_at=now)
    key.certificate = crypto.b64(crypto.sign(custody.ca_key, certificate_bytes(key)))
    session.add(key)
    session.flush()
    return key


def signing_key(session: Session, holder: str, keys: list[SigningKey], *, at: datetime) -> SigningKey:
    """The key `holder` signs with at `at`: its newest usable key (`keys` are all of its keys).

    A holder without any key is enrolled: the service, as its hospitals' co-signing service,
    issues the first key when it is first needed. Once a holder has had keys, a new one is an
    explicit act (`dualchannel keys issue`, or an admin or bureau through the API): a holder
    whose keys are all revoked or expired gets a Conflict.
    """
    usable = [k for k in keys if rules.usable(k, at)]
    if usable:
        return max(usable, key=lambda k: (k.valid_from, k.id))
    if keys:
        raise Conflict(f"No valid signing key for {holder}: its keys are revoked or expired; an admin or the "
                       "bureau issues a new one (dualchannel keys issue).", code="signing_key_missing", holder=holder)
    return _new_key(session, holder, "system:enrolment", at=at)


def sign(key: SigningKey, data: bytes) -> str:
    """`data` signed with `key`'s private key: base64 DER."""
    try:
        der = _custody().fernet.decrypt(key.private_key_encrypted.encode())
    except (InvalidToken, AttributeError) as error:
        raise RuntimeError(f"Signing key {key.id} cannot be decrypted: is SIGNING_KEY_ENCRYPTION_KEY the one "
                           "it was stored with?") from error
    private = crypto.load_private_der(der)
    if crypto.b64(crypto.public_der(private)) != key.public_key:
        raise RuntimeError(f"Signing key {key.id}: the stored private key does not match its public key.")
    return crypto.b64(crypto.sign(private, data))


def problem(key: SigningKey | None, *, holder: str, signed_at: datetime, data: bytes, signature: str | None,
            ca_public: bytes | None = None) -> str | None:
    """Why `signature` (base64) over `data`, made by `holder` at `signed_at` with `key`, is not
    trusted (a code of `rules.PROBLEMS`), or None when it is. Public keys only: the key's and
    the CA's (`ca_public`, default this service's). Pure CPU once the key row is loaded."""
    if not signature:
        return "unsigned"
    found = rules.key_problem(key, holder, signed_at)
    if found == "key_unknown":
        return found
    public = crypto.unb64(key.public_key)
    if public is None or not crypto.verifies_once(ca_public or ca_public_key(), crypto.unb64(key.certificate) or b"",
                                                  certificate_bytes(key)):
        return "certificate_invalid"
    if found:
        return found
    if not crypto.verifies_once(public, crypto.unb64(signature) or b"", data):
        return "content_changed"
    return None


def keys_of(session: Session, holders: list[str]) -> dict[str, list[SigningKey]]:
    """Every key of each of `holders`."""
    found: dict[str, list[SigningKey]] = {h: [] for h in holders}
    for key in session.exec(select(SigningKey).where(SigningKey.holder.in_(holders))):
        found[key.holder].append(key)
    return found


def keys_by_id(session: Session, ids: set[int]) -> dict[int, SigningKey]:
    if not ids:
        return {}
    return {k.id: k for k in session.exec(select(SigningKey).where(SigningKey.id.in_(ids)))}


def physician_with_keys(session: Session, code: str) -> tuple[sa.Row | None, list[SigningKey]]:
    """A physician (the columns of `institutions.physician_view`) and all their signing keys,
    in one query."""
    return _person_with_keys(session, "physician", code)


def pharmacist_with_keys(session: Session, pharmacist_id: int) -> tuple[sa.Row | None, list[SigningKey]]:
    """A pharmacist (the columns of `pharmacies.pharmacist_view`) and all their signing keys, in
    one query."""
    return _person_with_keys(session, "pharmacist", pharmacist_id)


def _person_with_keys(session: Session, kind: str, wanted) -> tuple[sa.Row | None, list[SigningKey]]:
    rows = session.execute(_person_with_keys_query(kind), {"wanted": wanted}).all()
    return (rows[0][0] if rows else None), [key for _, key in rows if key is not None]


@functools.cache
def _person_with_keys_query(kind: str) -> sa.Select:
    """A physician (by code) or a pharmacist (by id), whose key holder is `<kind>:<code or
    licence number>`, with their keys: built once per kind (parameter `wanted`)."""
    if kind == "physician":
        person = institutions.physician_view()
        found_by, holder_code = person.c.code, person.c.code
    else:
        person = pharmacies.pharmacist_view()
        found_by, holder_code = person.c.id, person.c.licence_number
    return (select(Bundle(kind, *person.c), SigningKey).select_from(person)
            .outerjoin(SigningKey, SigningKey.holder == sa.literal(f"{kind}:") + holder_code)
            .where(found_by == sa.bindparam("wanted")))


# --- Keys through the API and the CLI --------------------------------------------------------

def _holder_region(session: Session, holder: str) -> str | None:
    """The adcode a holder belongs to (its institution's or pharmacy's county), None if unknown."""
    kind, _, code = holder.partition(":")
    if kind == "physician":
        institution, physician = institutions.institution_view(), institutions.physician_view()
        return session.scalar(select(institution.c.adcode)
                              .join(physician, physician.c.institution_code == institution.c.code)
                              .where(physician.c.code == code))
    pharmacy, pharmacist = pharmacies.pharmacy_view(), pharmacies.pharmacist_view()
    return session.scalar(select(sa.func.coalesce(pharmacy.c.county_adcode, pharmacy.c.adcode))
                          .join(pharmacist, pharmacist.c.pharmacy_code == pharmacy.c.code)
                          .where(pharmacist.c.licence_number == code))


def visible(actor: Actor):
    """Which keys an actor may see: an admin all; a bureau those of its region's physicians and
    pharmacists; a physician their own; a pharmacy its pharmacists'."""
    physician, institution = institutions.physician_view(), institutions.institution_view()
    pharmacist, pharmacy = pharmacies.pharmacist_view(), pharmacies.pharmacy_view()
    physicians = sa.literal("physician:") + physician.c.code
    pharmacists = sa.literal("pharmacist:") + pharmacist.c.licence_number
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        prefix = adcodes.prefix(actor.subject)
        return sa.or_(
            SigningKey.holder.in_(select(physicians)
                                  .join(institution, institution.c.code == physician.c.institution_code)
                                  .where(institution.c.adcode.startswith(prefix))),
            SigningKey.holder.in_(select(pharmacists).join(pharmacy, pharmacy.c.code == pharmacist.c.pharmacy_code)
                                  .where(pharmacy.c.county_adcode.startswith(prefix))))
    if actor.role is Role.physician:
        return SigningKey.holder == rules.physician_holder(actor.subject)
    if actor.role is Role.pharmacy:
        return SigningKey.holder.in_(select(pharmacists).where(pharmacist.c.pharmacy_code == actor.subject))
    return sa.false()


def _holder(session: Session, physician_code: str | None, pharmacist: str | None) -> str:
    if (physician_code is None) == (pharmacist is None):
        raise Invalid("Name one holder: a physician or a pharmacist.",
                      {"physician_code": [FieldMessage("key_holder_required", "Give physician_code or pharmacist.")]},
                      code="holder_required")
    if physician_code is not None:
        physician = institutions.get_physician(session, physician_code)
        if physician is None:
            raise Invalid(f"No physician {physician_code}.",
                          {"physician_code": [FieldMessage("physician_unknown", "Unknown physician.")]},
                          code="physician_unknown")
        return rules.physician_holder(physician.code)
    registered = pharmacies.pharmacist_view()
    if session.exec(select(registered.c.id).where(registered.c.licence_number == pharmacist)).first() is None:
        raise Invalid(f"No pharmacist with licence {pharmacist}.",
                      {"pharmacist": [FieldMessage("pharmacist_unknown", "Unknown pharmacist.")]},
                      code="pharmacist_unknown")
    return rules.pharmacist_holder(pharmacist)


def _require_authority(session: Session, actor: Actor, holder: str) -> None:
    """Keys are issued and revoked by an admin, or a bureau of the holder's region."""
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(_holder_region(session, holder)):
        raise Forbidden("A bureau issues and revokes keys only inside its own region.", code="outside_region")


def issue_key(session: Session, actor: Actor, *, physician_code: str | None = None, pharmacist: str | None = None,
              valid_days: int | None = None) -> SigningKey:
    """Issue a new signing key to a physician or a pharmacist (by licence number); the holder's
    older keys stay valid until they expire or are revoked, and the newest signs."""
    holder = _holder(session, physician_code, pharmacist)
    _require_authority(session, actor, holder)
    key = _new_key(session, holder, actor.label, valid_days)
    session.commit()
    return key


def revoke_key(session: Session, actor: Actor, key_id: int, *, reason: str,
               compromised_since: datetime | None = None) -> SigningKey:
    """Revoke a key from now, or from `compromised_since` (not in the future): signatures made
    from then on are refused, earlier ones still verify."""
    reason = access.require_reason(reason)
    key = session.exec(select(SigningKey).where(SigningKey.id == key_id, visible(actor))
                       .execution_options(populate_existing=True)).first()
    if key is None:
        raise NotFound(f"No signing key {key_id}.", code="signing_key_not_found")
    _require_authority(session, actor, key.holder)
    now = clock.now()
    if compromised_since is not None and compromised_since > now:
        raise Invalid("A key is revoked from now or from a past instant.",
                      {"compromised_since": [FieldMessage("revocation_in_future", "In the future.")]},
                      code="revocation_in_future")
    values = {"revoked_at": compromised_since or now, "revoked_by": actor.label, "revocation_reason": reason,
              "revocation_recorded_at": now}
    db.change_if(session, key, SigningKey.revoked_at.is_(None), values=values,
                 refusal=Conflict(f"Signing key {key_id} is already revoked.", code="signing_key_revoked"))
    session.commit()
    return key


def list_keys(session: Session, actor: Actor, *, physician_code: str | None = None, pharmacist: str | None = None,
              limit: int | None = None, cursor: str | None = None) -> Page:
    """Signing keys the actor may see, newest first, optionally of one holder."""
    statement = select(SigningKey).where(visible(actor))
    if physician_code:
        statement = statement.where(SigningKey.holder == rules.physician_holder(physician_code))
    if pharmacist:
        statement = statement.where(SigningKey.holder == rules.pharmacist_holder(pharmacist))
    return paginate(session, statement, SigningKey.id, limit=limit, cursor=cursor)


def all_keys(session: Session, holder: str | None = None) -> list[SigningKey]:
    """Every key (of one holder), oldest first: for the CLI."""
    statement = select(SigningKey).order_by(SigningKey.id)
    if holder:
        statement = statement.where(SigningKey.holder == holder)
    return list(session.exec(statement))


# Read by other features (they never query the signing-key table themselves).

def with_signing_key(statement: sa.Select, key_id: sa.ColumnElement) -> sa.Select:
    """`statement` with the signing key whose id is `key_id` outer-joined and added as its next
    entity (None where there is none)."""
    return statement.add_columns(SigningKey).outerjoin(SigningKey, SigningKey.id == key_id)
