import marshmallow as ma

from dualchannel.api import ListArgs, MAX_ID, page_schema, Timestamp
from dualchannel.access_log.models import AccessAction


class AccessOut(ma.Schema):
    id = ma.fields.Integer()
    at = Timestamp()
    actor = ma.fields.String()
    token_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    resource_type = ma.fields.String()
    resource_id = ma.fields.String(allow_none=True)
    related = ma.fields.String(allow_none=True)
    patient_id = ma.fields.Integer(allow_none=True)
    region = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    detail = ma.fields.Dict(allow_none=True)


AccessPage = page_schema(AccessOut)


class AccessQuery(ListArgs):
    action = ma.fields.String(load_default=None, validate=ma.validate.OneOf([a.value for a in AccessAction]))
    resource_type = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        ["patient", "prescription", "trace_code", "patient_timeline"]))
    resource_id = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 40))
    patient_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(1, MAX_ID))
    actor_label = ma.fields.String(load_default=None, data_key="actor", validate=ma.validate.Length(1, 64))
