import marshmallow as ma

from dualchannel.api import Timestamp, RequestSchema
from dualchannel.institutions.schemas import ADCODE, CODE
from dualchannel.patients.models import Insurance

ASSISTANCE = ("none", "low_income", "extreme_poverty")


class PatientIn(RequestSchema):
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    insurance = ma.fields.String(required=True, validate=ma.validate.OneOf([i.value for i in Insurance]))
    region = ma.fields.String(required=True, validate=ADCODE)
    filed_region = ma.fields.String(load_default=None, allow_none=True, validate=ADCODE)
    assistance_category = ma.fields.String(load_default="none", validate=ma.validate.OneOf(ASSISTANCE))


class PatientOut(ma.Schema):
    id = ma.fields.Integer()
    id_number_masked = ma.fields.String()
    name = ma.fields.String()
    insurance = ma.fields.String()
    region = ma.fields.String()
    filed_region = ma.fields.String(allow_none=True)
    assistance_category = ma.fields.String()
    created_at = Timestamp()


class PatientSearch(RequestSchema):
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))


class EligibilityIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    valid_until = ma.fields.Date(load_default=None, allow_none=True)


class EligibilityOut(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    drug_code = ma.fields.String()
    physician_code = ma.fields.String()
    valid_from = ma.fields.Date()
    valid_until = ma.fields.Date()
    created_at = Timestamp()


class EligibilityList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EligibilityOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)
