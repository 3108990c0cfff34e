"""Pure signing policy: holders, the certificate document, whether a key was trusted at an instant."""

from datetime import datetime

from dualchannel.signatures.crypto import ALGORITHM, instant

# The issuer named in certificates: the service acting as its hospitals' co-signing CA.
ISSUER = "dualchannel"

# Why a signature is not trusted: the `reason` of a 409 `signature_invalid`.
PROBLEMS = {
    "unsigned": "it carries no signature",
    "key_unknown": "its signing key is not on record",
    "key_of_another_holder": "its signing key belongs to someone else",
    "certificate_invalid": "its signing key was not certified by the service's CA",
    "key_not_valid_at_signing": "its signing key was not valid at the signing time",
    "key_revoked": "its signing key was revoked before the signing time",
    "content_changed": "its content no longer matches its signature",
}


def physician_holder(code: str) -> str:
    return f"physician:{code}"


def pharmacist_holder(licence_number: str) -> str:
    return f"pharmacist:{licence_number}"


def certificate(*, holder: str, public_key: str, valid_from: datetime, valid_until: datetime) -> dict:
    """What the CA signs for a key: who holds it, the key, and when it may sign."""
    return {"format": "dualchannel.certificate/1", "issuer": ISSUER, "algorithm": ALGORITHM, "holder": holder,
            "public_key": public_key, "valid_from": instant(valid_from), "valid_until": instant(valid_until)}


def usable(key, at: datetime) -> bool:
    """Whether `key` may sign at `at`: within its validity and not revoked by then."""
    return (key.valid_from <= at < key.valid_until
            and (key.revoked_at is None or at < key.revoked_at))


def key_problem(key, holder: str, signed_at: datetime) -> str | None:
    """Why a signature by `key` for `holder` made at `signed_at` is not trusted, before any
    cryptography: None when the key is the holder's and was trusted then."""
    if key is None:
        return "key_unknown"
    if key.holder != holder:
        return "key_of_another_holder"
    if not key.valid_from <= signed_at < key.valid_until:
        return "key_not_valid_at_signing"
    if key.revoked_at is not None and key.revoked_at <= signed_at:
        return "key_revoked"
    return None
