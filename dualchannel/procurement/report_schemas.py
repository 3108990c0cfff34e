"""HTTP shapes of procurement's reports: execution, monthly or quarterly reports, prepayments and
the company ledger."""

import marshmallow as ma

from dualchannel.api import ADCODE, CODE, Date, ListArgs, MoneyField, RequestSchema


class Share(ma.fields.Float):
    """A computed share (rounded to 6 places by the rules), shown as a JSON number."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


# ---------------------------------------------------------------- execution and reports

class ExecutionQuery(ListArgs):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    as_of = Date(load_default=None, metadata={"description": "Default: today."})
    institution_code = ma.fields.String(load_default=None, validate=CODE)
    product_code = ma.fields.String(load_default=None, validate=CODE)
    batch = ma.fields.String(load_default=None, validate=CODE)
    behind = ma.fields.Boolean(load_default=None)


class ComplianceOut(ma.Schema):
    non_selected_share = Share()
    compliant = ma.fields.Boolean()
    selected_quantity = ma.fields.Decimal(as_string=True)
    non_selected_quantity = ma.fields.Decimal(as_string=True)
    reasons = ma.fields.List(ma.fields.String())


class ExecutionItem(ma.Schema):
    line_id = ma.fields.Integer()
    institution_code = ma.fields.String()
    institution_name = ma.fields.String(allow_none=True)
    region = ma.fields.String()
    batch_code = ma.fields.String()
    product_code = ma.fields.String()
    product_name = ma.fields.String()
    generic_name = ma.fields.String()
    manufacturer = ma.fields.String()
    status = ma.fields.String()
    year_start = ma.fields.Date()
    year_end = ma.fields.Date()
    agreed = ma.fields.Integer(allow_none=True)
    purchased = ma.fields.Integer()
    purchased_amount = MoneyField()
    completed_share = Share(allow_none=True)
    schedule_share = Share()
    assessed_with = ma.fields.List(ma.fields.String(), metadata={
        "description": "Codes of the company's selected products of this generic in the batch, assessed together "
                       "(seed 002 二(四) 同品种同企业中选产品合并考核); empty when assessed alone."})
    combined_completed_share = Share(allow_none=True, metadata={
        "description": "Completion of the products assessed together, in common units; `behind` compares it "
                       "with the schedule."})
    behind = ma.fields.Boolean()
    non_selected_share = Share(allow_none=True)
    compliant = ma.fields.Boolean(allow_none=True)
    compliance = ma.fields.Nested(ComplianceOut, allow_none=True)
    alerts = ma.fields.List(ma.fields.String())


class YearInViewOut(ma.Schema):
    batch_code = ma.fields.String()
    year_start = ma.fields.Date()
    year_end = ma.fields.Date()
    schedule_share = Share()


class SummaryOut(ma.Schema):
    lines = ma.fields.Integer()
    with_agreement = ma.fields.Integer()
    behind = ma.fields.Integer()
    open_alerts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class ExecutionOut(ma.Schema):
    region = ma.fields.String(allow_none=True)
    as_of = ma.fields.Date()
    years = ma.fields.List(ma.fields.Nested(YearInViewOut))
    summary = ma.fields.Nested(SummaryOut)
    items = ma.fields.List(ma.fields.Nested(ExecutionItem))
    next_cursor = ma.fields.String(allow_none=True)


class ReportQuery(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    as_of = Date(load_default=None)
    period = ma.fields.String(load_default="month", validate=ma.validate.OneOf(["month", "quarter"]))
    batch = ma.fields.String(load_default=None, validate=CODE)


class ReportItem(ma.Schema):
    period = ma.fields.String()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date(metadata={"description": "Exclusive."})
    batch_code = ma.fields.String()
    year_start = ma.fields.Date()
    product_code = ma.fields.String()
    product_name = ma.fields.String()
    generic_name = ma.fields.String()
    status = ma.fields.String()
    purchased = ma.fields.Integer()
    amount = MoneyField()
    cumulative_purchased = ma.fields.Integer()
    agreed = ma.fields.Integer()
    completed_share = Share(allow_none=True)
    schedule_share = Share()


class ReportOut(ma.Schema):
    region = ma.fields.String(allow_none=True)
    as_of = ma.fields.Date()
    period = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(ReportItem))


# ---------------------------------------------------------------- money

class MoneyQuery(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    as_of = Date(load_default=None)
    batch = ma.fields.String(load_default=None, validate=CODE)


class CompanyPrepayment(ma.Schema):
    company = ma.fields.String()
    agreed_amount = MoneyField()
    prepayment = MoneyField()


class PrepaymentItem(ma.Schema):
    institution_code = ma.fields.String()
    batch_code = ma.fields.String()
    year_start = ma.fields.Date()
    year_end = ma.fields.Date()
    agreed_amount = MoneyField()
    prepayment = MoneyField()
    companies = ma.fields.List(ma.fields.Nested(CompanyPrepayment))


class PrepaymentOut(ma.Schema):
    region = ma.fields.String(allow_none=True)
    as_of = ma.fields.Date()
    ratio = ma.fields.Decimal(as_string=True)
    items = ma.fields.List(ma.fields.Nested(PrepaymentItem))


class QuarterOut(ma.Schema):
    quarter = ma.fields.String()
    start = ma.fields.Date()
    end = ma.fields.Date(metadata={"description": "Exclusive."})
    closed = ma.fields.Boolean()
    purchased = MoneyField()
    cumulative = MoneyField()
    settled = MoneyField(metadata={"description": "Owed to the company for this quarter, net of prepayments."})


class YearEndOut(ma.Schema):
    reconciled = ma.fields.Boolean()
    purchased = MoneyField()
    prepaid = MoneyField()
    owed = MoneyField()
    balance = ma.fields.String(metadata={"description": "purchased - prepaid; negative: prepayment to recover."})


class LedgerItem(ma.Schema):
    company = ma.fields.String()
    batch_code = ma.fields.String()
    year_start = ma.fields.Date()
    year_end = ma.fields.Date()
    prepaid = MoneyField()
    quarters = ma.fields.List(ma.fields.Nested(QuarterOut))
    year_end_reconciliation = ma.fields.Nested(YearEndOut)


class LedgerOut(ma.Schema):
    region = ma.fields.String(allow_none=True)
    as_of = ma.fields.Date()
    items = ma.fields.List(ma.fields.Nested(LedgerItem))
