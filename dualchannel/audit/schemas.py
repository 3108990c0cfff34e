import marshmallow as ma

from dualchannel.api import ADCODE, Date, MoneyField, RequestSchema


class SpendingQuery(RequestSchema):
    by = ma.fields.String(load_default="drug", validate=ma.validate.OneOf(["drug", "pharmacy", "county"]))
    region = ma.fields.String(load_default=None, validate=ADCODE)
    start = Date(load_default=None, data_key="from")
    end = Date(load_default=None, data_key="to")


class SpendingRowOut(ma.Schema):
    key = ma.fields.String()
    name = ma.fields.String()
    month = ma.fields.String()
    settlements = ma.fields.Integer()
    quantity = ma.fields.Integer()
    total = MoneyField()
    basic_fund = MoneyField()
    critical_illness = MoneyField()
    medical_assistance = MoneyField()
    patient_pays = MoneyField()
    fund = MoneyField()
    change = ma.fields.Decimal(as_string=True, allow_none=True,
                               metadata={"description": "fund spending against the previous month, as a share"})


class SpendingOut(ma.Schema):
    by = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(SpendingRowOut))


class ScanIn(RequestSchema):
    since = Date(load_default=None)


class ScanOut(ma.Schema):
    new_flags = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class ReasonsQuery(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    start = ma.fields.Date(load_default=None, data_key="from")
    end = ma.fields.Date(load_default=None, data_key="to")


class ReasonRowOut(ma.Schema):
    action = ma.fields.String()
    reason_code = ma.fields.String()
    label = ma.fields.String()
    actor = ma.fields.String()
    name = ma.fields.String()
    count = ma.fields.Integer()


class ReasonTotalOut(ma.Schema):
    action = ma.fields.String()
    reason_code = ma.fields.String()
    label = ma.fields.String()
    count = ma.fields.Integer()


class ReasonsOut(ma.Schema):
    totals = ma.fields.List(ma.fields.Nested(ReasonTotalOut), metadata={"description": "per action and reason code"})
    items = ma.fields.List(ma.fields.Nested(ReasonRowOut), metadata={"description": "per pharmacy or physician too"})
