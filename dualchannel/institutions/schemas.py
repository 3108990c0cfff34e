import marshmallow as ma

from dualchannel.api import ADCODE, CODE, RequestSchema, Timestamp


class InstitutionIn(RequestSchema):
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    adcode = ma.fields.String(required=True, validate=ADCODE)
    lat = ma.fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=ma.validate.Range(-90, 90),
                          metadata={"description": "where the hospital stands (optional, with lon)"})
    lon = ma.fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=ma.validate.Range(-180, 180))
    crs = ma.fields.String(load_default="gcj02", validate=ma.validate.OneOf(["gcj02", "wgs84", "bd09"]))


class InstitutionOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    adcode = ma.fields.String()
    lat = ma.fields.Float(allow_none=True, metadata={"description": "WGS-84"})
    lon = ma.fields.Float(allow_none=True)
    created_at = Timestamp()


class PhysicianIn(RequestSchema):
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    institution_code = ma.fields.String(required=True, validate=CODE)
    responsible = ma.fields.Boolean(load_default=False)


class PhysicianOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    institution_code = ma.fields.String()
    responsible = ma.fields.Boolean()
    created_at = Timestamp()
