"""Signing keys: one SM2 key pair per holder and period, like a CA's certificates."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class SigningKey(SQLModel, table=True):
    """A physician's or a pharmacist's SM2 key pair.

    The private key is stored only encrypted (Fernet, with SIGNING_KEY_ENCRYPTION_KEY, which the
    database never holds). `certificate` is the service CA's signature over the key's holder,
    public key and validity (`rules.certificate`): a key written into the database by anyone
    else is not trusted. `revoked_at` is the instant from which the key is not trusted (the
    compromise time, RFC 5280's invalidity date): signatures made before it still verify.
    """

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    # "physician:<code>" or "pharmacist:<licence number>".
    holder: str = Field(max_length=64, index=True)
    algorithm: str = Field(max_length=16)
    public_key: str = Field(max_length=200)  # SubjectPublicKeyInfo DER, base64
    fingerprint: str = Field(max_length=64, unique=True)  # SM3 of the public key DER, hex
    private_key_encrypted: str | None = Field(default=None, max_length=400)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    certificate: str = Field(max_length=200)  # the CA's signature, base64
    issued_by: str = Field(max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=64)
    revocation_reason: str | None = Field(default=None, max_length=500)
    revocation_recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
