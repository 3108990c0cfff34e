import marshmallow as ma

from dualchannel.api import CODE, Date, MoneyField, RequestSchema
from dualchannel.drugs.models import Storage


class DrugIn(RequestSchema):
    code = ma.fields.String(required=True, validate=CODE)
    generic_name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    negotiated = ma.fields.Boolean(load_default=False)
    dual_channel = ma.fields.Boolean(load_default=False)
    separate_payment = ma.fields.Boolean(load_default=False)
    requires_eligibility = ma.fields.Boolean(load_default=False)
    storage = ma.fields.String(load_default="normal", validate=ma.validate.OneOf([s.value for s in Storage]))
    unit = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    payment_standard = MoneyField(places=4, load_default=None, allow_none=True)
    agreed_price = MoneyField(places=2, load_default=None, allow_none=True)


class DrugOut(ma.Schema):
    code = ma.fields.String()
    generic_name = ma.fields.String()
    name = ma.fields.String()
    negotiated = ma.fields.Boolean()
    dual_channel = ma.fields.Boolean()
    separate_payment = ma.fields.Boolean()
    requires_eligibility = ma.fields.Boolean()
    storage = ma.fields.String()
    unit = ma.fields.String()
    payment_standard = MoneyField(places=4, allow_none=True)
    agreed_price = MoneyField(allow_none=True)


class DrugQuery(RequestSchema):
    dual_channel = ma.fields.Boolean(load_default=None)


class DrugList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DrugOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class PaymentStandardQuery(RequestSchema):
    on = Date(required=True)
    insurance = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["employee", "resident"]))


class PaymentStandardOut(ma.Schema):
    drug_code = ma.fields.String()
    generic_name = ma.fields.String()
    on = ma.fields.Date()
    insurance = ma.fields.String(allow_none=True)
    standard = MoneyField(places=4, allow_none=True)
    first_self_pay_ratio = ma.fields.Decimal(as_string=True)
    source_batch = ma.fields.String(allow_none=True)
    effective_from = ma.fields.Date(allow_none=True)
