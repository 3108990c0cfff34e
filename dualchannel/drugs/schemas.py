import marshmallow as ma

from dualchannel.api import CODE, Date, MoneyField, RequestSchema
from dualchannel.drugs.models import Storage
from dualchannel.errors import FieldMessage
from dualchannel.insurance import Insurance

TRACE_PREFIX = ma.fields.String(validate=ma.validate.Regexp(
    r"[0-9]{7}\Z", error=FieldMessage("trace_prefix_format", "7 ASCII digits (药品标识码).")))


def trace_prefixes(**kwargs) -> ma.fields.List:
    """The product identification codes (药品标识码) a drug's trace codes begin with."""
    return ma.fields.List(TRACE_PREFIX, validate=ma.validate.Length(max=50), **kwargs)


def units_per_pack(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, allow_none=True, validate=ma.validate.Range(2, 10_000), **kwargs)


FOLLOWS = ("Unstated: the value of the negotiated dual-channel drug of the same generic name it follows "
           "(seed 003: 国谈药品（含同通用名仿制药和生物类似药）), else ")


class DrugIn(RequestSchema):
    class Meta:
        unknown = ma.RAISE  # a misspelt policy field must not pass unseen

    code = ma.fields.String(required=True, validate=CODE)
    generic_name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    negotiated = ma.fields.Boolean(load_default=None, metadata={"description": FOLLOWS + "false."})
    dual_channel = ma.fields.Boolean(load_default=None, metadata={"description": FOLLOWS + "false."})
    separate_payment = ma.fields.Boolean(load_default=None, metadata={"description": FOLLOWS + "false."})
    requires_eligibility = ma.fields.Boolean(load_default=None, metadata={"description": FOLLOWS + "false."})
    storage = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in Storage]),
                               metadata={"description": FOLLOWS + "normal."})
    unit = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    payment_standard = MoneyField(places=4, load_default=None, allow_none=True)
    agreed_price = MoneyField(places=2, load_default=None, allow_none=True)
    consistency_evaluated = ma.fields.Boolean(load_default=True, metadata={
        "description": "False for a generic not through consistency evaluation (未过评仿制药): from a batch's "
                       "effective date its payment standard is the selected price at once (seed 000 五)."})
    trace_prefixes = trace_prefixes(load_default=list)
    units_per_pack = units_per_pack(load_default=None)


class DrugChangeIn(RequestSchema):
    trace_prefixes = trace_prefixes()
    units_per_pack = units_per_pack()


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
    trace_prefixes = ma.fields.List(ma.fields.String())
    units_per_pack = ma.fields.Integer(allow_none=True)
    consistency_evaluated = ma.fields.Boolean()
    follows = ma.fields.String(allow_none=True, metadata={
        "description": "The negotiated original this same-generic copy follows (seed 003)."})


class DrugQuery(RequestSchema):
    dual_channel = ma.fields.Boolean(load_default=None)


class DrugList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DrugOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class PaymentStandardQuery(RequestSchema):
    on = Date(required=True)
    insurance = ma.fields.String(load_default=None, validate=ma.validate.OneOf([i.value for i in Insurance]))


class PaymentStandardOut(ma.Schema):
    drug_code = ma.fields.String()
    generic_name = ma.fields.String()
    on = ma.fields.Date()
    insurance = ma.fields.String(allow_none=True)
    standard = MoneyField(places=4, allow_none=True)
    first_self_pay_ratio = ma.fields.Decimal(as_string=True)
    source_batch = ma.fields.String(allow_none=True)
    effective_from = ma.fields.Date(allow_none=True)
