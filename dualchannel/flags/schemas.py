import marshmallow as ma

from dualchannel.api import ADCODE, ListArgs, page_schema, RequestSchema, Text, Timestamp
from dualchannel.flags.models import FlagStatus


class FlagOut(ma.Schema):
    id = ma.fields.Integer()
    type = ma.fields.String()
    severity = ma.fields.String()
    status = ma.fields.String()
    subject = ma.fields.String()
    region = ma.fields.String()
    evidence = ma.fields.Dict()
    created_at = Timestamp()
    reviewed_by = ma.fields.String(allow_none=True)
    reviewed_at = Timestamp(allow_none=True)
    review_note = ma.fields.String(allow_none=True)


FlagPage = page_schema(FlagOut)


class FlagFilter(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in FlagStatus]))
    type = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 40))
    subject = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 64))


class FlagQuery(FlagFilter, ListArgs):
    pass


class ReviewIn(RequestSchema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["confirmed", "dismissed"]))
    note = Text(2000, required=True)
