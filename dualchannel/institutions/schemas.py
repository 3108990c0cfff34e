import marshmallow as ma

from dualchannel.api import ADCODE, CODE, RequestSchema, Timestamp


class InstitutionIn(RequestSchema):
    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    adcode = ma.fields.String(required=True, validate=ADCODE)


class InstitutionOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    adcode = ma.fields.String()
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
