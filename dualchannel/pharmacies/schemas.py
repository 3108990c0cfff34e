import marshmallow as ma

from dualchannel.api import ADCODE, CODE, RequestSchema, Text, Timestamp
from dualchannel.errors import FieldMessage

CRS = ma.validate.OneOf(["gcj02", "wgs84", "bd09"])


class PharmacyIn(RequestSchema):
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    address = ma.fields.String(required=True, validate=ma.validate.Length(1, 300))
    adcode = ma.fields.String(required=True, validate=ADCODE)
    lat = ma.fields.Float(required=True, allow_nan=False, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(required=True, allow_nan=False, validate=ma.validate.Range(-180, 180))
    crs = ma.fields.String(load_default="gcj02", validate=CRS)
    cold_chain = ma.fields.Boolean(load_default=False)
    traceability = ma.fields.Boolean(load_default=False)


class PharmacyOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    address = ma.fields.String()
    adcode = ma.fields.String()
    county_adcode = ma.fields.String(allow_none=True)
    city_adcode = ma.fields.String(allow_none=True)
    county_mismatch = ma.fields.Boolean()
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    crs = ma.fields.Constant("wgs84")
    status = ma.fields.String()
    cold_chain = ma.fields.Boolean()
    traceability = ma.fields.Boolean()
    created_at = Timestamp()
    updated_at = Timestamp()


class PharmacyList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PharmacyOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class PharmacyQuery(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["applied", "active", "suspended", "exited"]))


class StatusChangeIn(RequestSchema):
    reason = Text(load_default=None)
    force = ma.fields.Boolean(load_default=False)


class CapabilitiesIn(RequestSchema):
    traceability = ma.fields.Boolean(load_default=None)
    cold_chain = ma.fields.Boolean(load_default=None)
    reason = Text(required=True)


class PharmacyEventOut(ma.Schema):
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    forced = ma.fields.Boolean()
    detail = ma.fields.Dict(allow_none=True)
    actor = ma.fields.String()
    at = Timestamp()


class PharmacyHistory(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PharmacyEventOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


# Drugs in one stock update: far more than the dual-channel list holds.
MAX_STOCK_LINES = 1000


class StockSchema(ma.Schema):
    """`{"<drug_code>": quantity, ...}`, at most MAX_STOCK_LINES drugs."""

    class Meta:
        unknown = ma.INCLUDE

    @ma.validates_schema(pass_original=True)
    def _quantities(self, data, original, **kwargs):
        if not isinstance(original, dict) or not original:
            raise ma.ValidationError(FieldMessage("stock_not_an_object", "An object of drug code to quantity."),
                                     "body")
        if len(original) > MAX_STOCK_LINES:
            raise ma.ValidationError(FieldMessage("stock_too_many_drugs", f"At most {MAX_STOCK_LINES} drugs per update.",
                                                   max=MAX_STOCK_LINES), "body")
        bad = {k: [FieldMessage("stock_line_invalid",
                                "A drug code (1-32 letters, digits, - or _) and a whole number of units, 0 or more.")]
               for k, v in original.items()
               if CODE.regex.fullmatch(k) is None or isinstance(v, bool) or not isinstance(v, int)
               or v < 0 or v > 10_000_000}
        if bad:
            raise ma.ValidationError(bad)

    @ma.post_dump(pass_original=True)
    def _as_is(self, data, original, **kwargs):
        return dict(original)


# 执业药师注册证编号: letters and digits (the format varies by province).
LICENCE = ma.validate.Regexp(r"^[0-9A-Za-z]{6,32}\Z",
                             error=FieldMessage("licence_number_format", "6 to 32 letters and digits."))


class PharmacistIn(RequestSchema):
    licence_number = ma.fields.String(required=True, validate=LICENCE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))


class PharmacistOut(ma.Schema):
    id = ma.fields.Integer()
    pharmacy_code = ma.fields.String()
    licence_number = ma.fields.String()
    name = ma.fields.String()
    created_at = Timestamp()


class PharmacistList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PharmacistOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)
