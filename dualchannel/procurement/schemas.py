"""HTTP shapes of procurement's records: batches, products, agreed volumes, purchases, imports,
declarations, supply problems and the working calendar (reports are in `report_schemas`)."""

import marshmallow as ma
from flask_smorest.fields import Upload

from dualchannel.api import (ADCODE, CODE, Date, ListArgs, MoneyField, page_schema, RatioField, RequestSchema,
                             Timestamp)
from dualchannel.errors import FieldMessage
from dualchannel.procurement.rules.agreement import ProcurementKind, ProductStatus

TEXT = ma.validate.Length(1, 200)
NOTE = ma.validate.Length(1, 2000)
QUANTITY = ma.validate.Range(min=0, max=1_000_000_000)


# ---------------------------------------------------------------- batches and products

class BatchIn(RequestSchema):
    class Meta:
        unknown = ma.RAISE  # a misspelt policy field (`first_year_end`) must not pass unseen

    code = ma.fields.String(required=True, validate=CODE)
    name = ma.fields.String(required=True, validate=TEXT)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf([k.value for k in ProcurementKind]))
    cycle_start = Date(required=True)
    cycle_end = Date(required=True, metadata={"description": "Last day of the cycle (inclusive)."})
    first_year_end = Date(load_default=None, metadata={
        "description": "Last day of an irregular first agreement year (seed 004: 2025-05-31 for a cycle from "
                       "2024-05-27); later years run a year each from the day after. Default: anniversaries "
                       "of cycle_start."})
    effective_date = Date(load_default=None, metadata={"description": "Default: cycle_start."})
    region = ma.fields.String(load_default=None, validate=ADCODE)
    direct_settlement = ma.fields.Boolean(load_default=True)
    first_self_pay_base = RatioField(load_default=None, allow_none=True)


class YearOut(ma.Schema):
    start = ma.fields.Date()
    end = ma.fields.Date(metadata={"description": "Exclusive."})


class BatchOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String()
    cycle_start = ma.fields.Date()
    cycle_end = ma.fields.Date()
    first_year_end = ma.fields.Date(allow_none=True)
    effective_date = ma.fields.Date()
    region = ma.fields.String(allow_none=True)
    direct_settlement = ma.fields.Boolean()
    first_self_pay_base = ma.fields.Decimal(as_string=True, allow_none=True)
    status = ma.fields.String(metadata={"description": "upcoming, in_effect or ended (today)."})
    agreement_years = ma.fields.List(ma.fields.Nested(YearOut))
    created_by = ma.fields.String()
    created_at = Timestamp()


class BatchList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BatchOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class ProductIn(RequestSchema):
    class Meta:
        unknown = ma.RAISE  # a misspelt policy field (`consistency_evaluated`) must not pass unseen

    code = ma.fields.String(required=True, validate=CODE)
    generic_name = ma.fields.String(required=True, validate=TEXT,
                                    metadata={"description": "Generic name, or a consumable's product category."})
    manufacturer = ma.fields.String(required=True, validate=TEXT)
    name = ma.fields.String(required=True, validate=TEXT)
    dosage_form = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 50))
    specification = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))
    packaging = ma.fields.String(load_default=None, validate=TEXT)
    unit = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    price = MoneyField(places=4, required=True,
                       metadata={"description": "Selected price, or the listing price (挂网价) of other products."})
    status = ma.fields.String(required=True, validate=ma.validate.OneOf([s.value for s in ProductStatus]))
    conversion = ma.fields.Decimal(load_default=None, as_string=True, allow_nan=False,
                                   metadata={"description": "Common units of the generic per pricing unit "
                                                            "(default 1; above 0, at most 1,000,000)."})
    equal_quality = ma.fields.Boolean(load_default=False)
    consistency_evaluated = ma.fields.Boolean(load_default=True, metadata={
        "description": "False for a generic not through consistency evaluation (未过评): bought at most at the "
                       "selected price of its generic (seed 000 五); purchases above it are flagged."})

    @ma.validates("conversion")
    def _conversion(self, value, **kwargs):
        # Checked here rather than with a Range: a Range on a decimal string documents its bounds
        # as strings, which is not valid OpenAPI.
        if value is not None and not 0 < value <= 1_000_000:
            raise ma.ValidationError(FieldMessage("conversion_out_of_range", "Above 0 and at most 1,000,000."))
        if value is not None and value.as_tuple().exponent < -4:
            raise ma.ValidationError(FieldMessage("too_many_decimal_places", "At most 4 decimal places.", places=4))


STATUS_ALIASES = {"中选": "selected", "非中选": "non_selected", "未中选": "non_selected", "备供": "backup",
                  "备供企业": "backup"}
TRUTHY = {"是", "y", "yes", "true", "1"}


class ProductRow(ProductIn):
    """A row of an imported result table: Chinese status words and 是/否 accepted."""

    @ma.pre_load
    def _words(self, data, **kwargs):
        if isinstance(data, dict):
            data = dict(data)
            if data.get("status") in STATUS_ALIASES:
                data["status"] = STATUS_ALIASES[data["status"]]
            for flag in ("equal_quality", "consistency_evaluated"):
                if isinstance(data.get(flag), str):
                    data[flag] = data[flag].strip().lower() in TRUTHY
        return data


class ProductOut(ma.Schema):
    code = ma.fields.String()
    batch_code = ma.fields.String()
    generic_name = ma.fields.String()
    manufacturer = ma.fields.String()
    name = ma.fields.String()
    dosage_form = ma.fields.String(allow_none=True)
    specification = ma.fields.String()
    packaging = ma.fields.String(allow_none=True)
    unit = ma.fields.String()
    price = MoneyField(places=4)
    status = ma.fields.String()
    conversion = ma.fields.Decimal(as_string=True)
    equal_quality = ma.fields.Boolean()
    consistency_evaluated = ma.fields.Boolean()


class ProductList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ProductOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class FileIn(ma.Schema):
    file = Upload(required=True, metadata={"description": "A CSV (UTF-8 or GB18030) or XLSX file."})


class ImportOut(ma.Schema):
    imported = ma.fields.Integer()
    price_deviations = ma.fields.Integer(metadata={
        "description": "Purchase imports only: how many were flagged for their price (see PurchaseOut)."})


# ---------------------------------------------------------------- agreed volumes

class AgreedVolumeIn(RequestSchema):
    institution_code = ma.fields.String(required=True, validate=CODE,
                                        metadata={"description": "An institution's or a pharmacy's code."})
    product_code = ma.fields.String(required=True, validate=CODE)
    year_start = Date(required=True)
    quantity = ma.fields.Integer(required=True, strict=True, validate=QUANTITY)


class ComputeIn(RequestSchema):
    product_code = ma.fields.String(required=True, validate=CODE)
    year_start = Date(required=True)
    ratio = RatioField(load_default=None, allow_none=True)
    region = ma.fields.String(load_default=None, validate=ADCODE)
    base_start = Date(load_default=None)
    base_end = Date(load_default=None, metadata={"description": "Exclusive; default year_start."})


class LineOut(ma.Schema):
    id = ma.fields.Integer()
    institution_code = ma.fields.String()
    region = ma.fields.String()
    batch_code = ma.fields.String()
    product_code = ma.fields.String()
    year_start = ma.fields.Date()
    year_end = ma.fields.Date(metadata={"description": "Exclusive."})
    agreed = ma.fields.Integer(allow_none=True)
    agreed_source = ma.fields.String(allow_none=True)
    agreed_by = ma.fields.String(allow_none=True)
    agreed_at = Timestamp(allow_none=True)
    purchased = ma.fields.Integer()
    purchased_amount = MoneyField()
    base_usage = ma.fields.Integer(metadata={"description": "Only from compute: the base-year usage used."})


LinePage = page_schema(LineOut)


class ComputeOut(ma.Schema):
    ratio = ma.fields.Decimal(as_string=True)
    base_start = ma.fields.Date()
    base_end = ma.fields.Date()
    items = ma.fields.List(ma.fields.Nested(LineOut))


class LineQuery(ListArgs):
    institution_code = ma.fields.String(load_default=None, validate=CODE)
    product_code = ma.fields.String(load_default=None, validate=CODE)
    year_start = Date(load_default=None)


# ---------------------------------------------------------------- purchases

class PurchaseIn(RequestSchema):
    institution_code = ma.fields.String(required=True, validate=CODE)
    product_code = ma.fields.String(required=True, validate=CODE)
    quantity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=1_000_000_000))
    amount = MoneyField(required=True)
    date = Date(required=True)
    supplier = ma.fields.String(load_default=None, validate=TEXT,
                                metadata={"description": "Default: the product's manufacturer."})
    distributor = ma.fields.String(load_default=None, validate=TEXT)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 64),
                                 metadata={"description": "Invoice or order number; once per institution."})


class PurchaseOut(ma.Schema):
    id = ma.fields.Integer()
    institution_code = ma.fields.String()
    product_code = ma.fields.String()
    quantity = ma.fields.Integer()
    amount = MoneyField()
    date = ma.fields.Date(attribute="purchased_on")
    supplier = ma.fields.String()
    distributor = ma.fields.String(allow_none=True)
    reference = ma.fields.String(allow_none=True)
    line_id = ma.fields.Integer()
    created_by = ma.fields.String()
    created_at = Timestamp()
    price_deviation = ma.fields.String(allow_none=True, metadata={
        "description": "When recorded: selected_price_renegotiated (a selected product bought at another price, "
                       "seed 001 二(四) 不得再次议价) or unevaluated_generic_above_selected_price (seed 000 五); "
                       "the bureau gets a flag of that type. Null: the price follows the result."})


PurchasePage = page_schema(PurchaseOut)


class PurchaseQuery(ListArgs):
    institution_code = ma.fields.String(load_default=None, validate=CODE)
    product_code = ma.fields.String(load_default=None, validate=CODE)
    date_from = Date(load_default=None, data_key="from")
    date_to = Date(load_default=None, data_key="to")


# ---------------------------------------------------------------- declarations

class DeclarationIn(RequestSchema):
    product_code = ma.fields.String(required=True, validate=CODE)
    year_start = Date(required=True)
    quantity = ma.fields.Integer(required=True, strict=True, validate=QUANTITY,
                                 metadata={"description": "0 is a valid (\"零\"报量) declaration."})
    explanation = ma.fields.String(load_default=None, validate=NOTE,
                                   metadata={"description": "Required when below the institution's history."})
    institution_code = ma.fields.String(load_default=None, validate=CODE,
                                        metadata={"description": "Only an admin declares for an institution."})


class AcceptIn(RequestSchema):
    ratio = RatioField(load_default=None, allow_none=True)
    quantity = ma.fields.Integer(load_default=None, strict=True, validate=QUANTITY,
                                 metadata={"description": "Agreed volume to set instead of quantity x ratio."})


class ReturnIn(RequestSchema):
    note = ma.fields.String(required=True, validate=NOTE)


class DeclarationOut(ma.Schema):
    id = ma.fields.Integer()
    institution_code = ma.fields.String()
    region = ma.fields.String()
    product_code = ma.fields.String()
    year_start = ma.fields.Date()
    quantity = ma.fields.Integer()
    history = ma.fields.Integer()
    explanation = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    bureau_note = ma.fields.String(allow_none=True)
    agreed = ma.fields.Integer(allow_none=True)
    created_by = ma.fields.String()
    created_at = Timestamp()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = Timestamp(allow_none=True)


DeclarationPage = page_schema(DeclarationOut)


class DeclarationQuery(ListArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["submitted", "returned", "accepted"]))
    institution_code = ma.fields.String(load_default=None, validate=CODE)



# ---------------------------------------------------------------- supply problems

class SupplyProblemIn(RequestSchema):
    product_code = ma.fields.String(required=True, validate=CODE)
    description = ma.fields.String(required=True, validate=NOTE)
    company = ma.fields.String(load_default=None, validate=TEXT,
                               metadata={"description": "Default: the product's manufacturer."})
    reported_on = Date(load_default=None, metadata={"description": "Default: today."})
    institution_code = ma.fields.String(load_default=None, validate=CODE,
                                        metadata={"description": "Only an admin reports for an institution."})


class ReplyIn(RequestSchema):
    reply = ma.fields.String(required=True, validate=NOTE)
    promised_fix = Date(required=True)
    replied_on = Date(load_default=None)


class ResolveIn(RequestSchema):
    resolution = ma.fields.String(required=True, validate=NOTE)
    resolved_on = Date(load_default=None)


class ConfirmIn(RequestSchema):
    confirmed_on = Date(load_default=None)


class SupplyProblemOut(ma.Schema):
    id = ma.fields.Integer()
    institution_code = ma.fields.String()
    region = ma.fields.String()
    product_code = ma.fields.String()
    company = ma.fields.String()
    description = ma.fields.String()
    stage = ma.fields.String()
    state = ma.fields.String(metadata={"description": "awaiting_reply, reply_overdue, in_progress, fix_overdue, resolved."})
    due = ma.fields.Date(allow_none=True)
    overdue_working_days = ma.fields.Integer()
    escalate = ma.fields.Boolean()
    reply_due = ma.fields.Date()
    latest_fix_date = ma.fields.Date(allow_none=True)
    reported_on = ma.fields.Date()
    reported_by = ma.fields.String()
    replied_on = ma.fields.Date(allow_none=True)
    reply = ma.fields.String(allow_none=True)
    promised_fix = ma.fields.Date(allow_none=True)
    resolved_on = ma.fields.Date(allow_none=True)
    resolution = ma.fields.String(allow_none=True)
    confirmed_on = ma.fields.Date(allow_none=True)
    confirmed_by = ma.fields.String(allow_none=True)
    escalated_to = ma.fields.String(allow_none=True)
    escalated_at = Timestamp(allow_none=True)


SupplyProblemPage = page_schema(SupplyProblemOut)


class SupplyProblemQuery(ListArgs):
    stage = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["reported", "replied", "resolved"]))
    institution_code = ma.fields.String(load_default=None, validate=CODE)


# ---------------------------------------------------------------- calendar

class CalendarQuery(RequestSchema):
    year = ma.fields.Integer(required=True, validate=ma.validate.Range(min=2000, max=2100))


class CalendarDayIn(RequestSchema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["holiday", "workday", "normal"]))
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 100))


class CalendarDayOut(ma.Schema):
    day = ma.fields.Date()
    kind = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    source = ma.fields.String(metadata={"description": "config or table."})


class CalendarOut(ma.Schema):
    year = ma.fields.Integer()
    days = ma.fields.List(ma.fields.Nested(CalendarDayOut))
