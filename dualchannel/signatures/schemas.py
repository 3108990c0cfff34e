import marshmallow as ma

from dualchannel.api import ListArgs, RequestSchema, Text, Timestamp, page_schema
from dualchannel.institutions.schemas import CODE
from dualchannel.pharmacies.schemas import LICENCE
from dualchannel.signatures import crypto, rules


class KeyIn(RequestSchema):
    physician_code = ma.fields.String(load_default=None, validate=CODE)
    pharmacist = ma.fields.String(load_default=None, validate=LICENCE, metadata={"description": "licence number"})
    valid_days = ma.fields.Integer(load_default=None, strict=True, validate=ma.validate.Range(1, 3650))


class KeyQuery(ListArgs):
    physician_code = ma.fields.String(load_default=None, validate=CODE)
    pharmacist = ma.fields.String(load_default=None, validate=LICENCE)


class RevokeIn(RequestSchema):
    reason = Text(required=True)
    compromised_since = Timestamp(load_default=None, metadata={
        "description": "From when the key is not trusted (default now): signatures made since are refused."})


class KeyOut(ma.Schema):
    """A signing key as anyone may see it: its public half and its certificate, never the private key."""

    id = ma.fields.Integer()
    holder = ma.fields.String()
    algorithm = ma.fields.String()
    fingerprint = ma.fields.String()
    public_key = ma.fields.Function(lambda key: crypto.public_pem(crypto.unb64(key.public_key)))
    issuer = ma.fields.Constant(rules.ISSUER)
    certificate = ma.fields.String()
    valid_from = Timestamp()
    valid_until = Timestamp()
    issued_by = ma.fields.String()
    issued_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)
    revoked_by = ma.fields.String(allow_none=True)
    revocation_reason = ma.fields.String(allow_none=True)
    revocation_recorded_at = Timestamp(allow_none=True)


KeyPage = page_schema(KeyOut)
