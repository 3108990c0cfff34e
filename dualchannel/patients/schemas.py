import marshmallow as ma

from dualchannel.api import ADCODE, CODE, Date, ListArgs, page_schema, RequestSchema, Text, Timestamp
from dualchannel.insurance import Insurance

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
    """The person, not just a number: a wrong name answers as an unknown number."""

    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))


class EligibilityIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    valid_until = Date(load_default=None, allow_none=True)


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


class RevealIn(RequestSchema):
    reason = Text(required=True)


class RevealOut(ma.Schema):
    """The full ID number: only from the audited reveal, never anywhere else."""

    patient_id = ma.fields.Integer()
    id_number = ma.fields.String()
    id_number_masked = ma.fields.String()
    access_id = ma.fields.Integer()
    reason = ma.fields.String()


class ReExaminationQuery(ListArgs):
    within_days = ma.fields.Integer(load_default=30, validate=ma.validate.Range(0, 365))
    expired_days = ma.fields.Integer(load_default=90, validate=ma.validate.Range(0, 3650))


class ReExaminationOut(ma.Schema):
    patient_id = ma.fields.Integer(attribute="patient.id")
    patient_name = ma.fields.String(attribute="patient.name")
    id_number_masked = ma.fields.String(attribute="patient.id_number_masked")
    drug_code = ma.fields.String(attribute="drug.code")
    drug_name = ma.fields.String(attribute="drug.name")
    valid_until = ma.fields.Date()
    days_left = ma.fields.Integer()
    expired = ma.fields.Boolean()
    recorded_by = ma.fields.String()


ReExaminationPage = page_schema(ReExaminationOut)
