import marshmallow as ma

from dualchannel.api import (ADCODE, CODE, Date, ListArgs, MoneyField, page_schema, RatioField, RequestSchema, Text,
                             Timestamp)
from dualchannel.insurance import Insurance
from dualchannel.settlements.models import Mode
from dualchannel.settlements.rules import Status


# --- Policies

class CriticalIllnessTierIn(RequestSchema):
    up_to = MoneyField(required=True, allow_none=True)
    ratio = RatioField(required=True)


class SettlementPolicyIn(RequestSchema):
    region = ma.fields.String(required=True, validate=ADCODE)
    insurance = ma.fields.String(required=True, validate=ma.validate.OneOf([i.value for i in Insurance]))
    effective_from = Date(required=True)
    deductible = MoneyField(required=True)
    fund_ratio = RatioField(required=True)
    fund_cap = MoneyField(required=True)
    ci_threshold = MoneyField(required=True)
    ci_tiers = ma.fields.List(ma.fields.Nested(CriticalIllnessTierIn), required=True,
                              validate=ma.validate.Length(1, 20))
    ci_cap = MoneyField(required=True)
    assistance_ratios = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(1, 20)),
                                       values=RatioField(), load_default=None,
                                       validate=ma.validate.Length(max=20))
    assistance_cap = MoneyField(required=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(0, 500))


class CriticalIllnessTierOut(ma.Schema):
    up_to = MoneyField(allow_none=True)
    ratio = RatioField()


class SettlementPolicyOut(ma.Schema):
    id = ma.fields.Integer()
    region = ma.fields.String()
    insurance = ma.fields.String()
    effective_from = ma.fields.Date()
    deductible = MoneyField()
    fund_ratio = RatioField()
    fund_cap = MoneyField()
    ci_threshold = MoneyField()
    ci_tiers = ma.fields.List(ma.fields.Nested(CriticalIllnessTierOut))
    ci_cap = MoneyField()
    assistance_ratios = ma.fields.Dict(keys=ma.fields.String(), values=RatioField())
    assistance_cap = MoneyField()
    note = ma.fields.String(allow_none=True)
    created_by = ma.fields.String()
    created_at = Timestamp()


SettlementPolicyPage = page_schema(SettlementPolicyOut)


class SettlementPolicyQuery(ListArgs):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    insurance = ma.fields.String(load_default=None, validate=ma.validate.OneOf([i.value for i in Insurance]))


# --- Settlements

class SettleIn(RequestSchema):
    # Per-unit prices charged, when not the agreed price (协议价格); above it is flagged.
    unit_prices = ma.fields.Dict(keys=ma.fields.String(validate=CODE), values=MoneyField(places=4),
                                 load_default=None, validate=ma.validate.Length(max=20))
    mode = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf([m.value for m in Mode]))


class SettlementReasonIn(RequestSchema):
    # The prescription's history keeps it as "settlement <id> reversed: <reason>" (or "claim <id>
    # rejected: ...") in a 500-character column: room for the prefix with a 10-digit id.
    reason = Text(460, required=True)


class ClaimDecisionIn(RequestSchema):
    note = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(1, 500))


class SettlementLineOut(ma.Schema):
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    quantity = ma.fields.Integer()
    unit_price = MoneyField(places=4)
    agreed_price = MoneyField(places=4, allow_none=True)
    payment_standard = MoneyField(places=4, allow_none=True)
    first_self_pay_ratio = RatioField()
    separate_payment = ma.fields.Boolean()
    outside_budget = ma.fields.Boolean()  # 单独支付: outside the institution's budget total
    total = MoneyField()
    over_standard = MoneyField()
    first_self_pay = MoneyField()
    policy_range = MoneyField()
    deductible = MoneyField()
    basic_fund = MoneyField()
    in_policy_self_pay = MoneyField()
    critical_illness = MoneyField()
    medical_assistance = MoneyField()
    patient_pays = MoneyField()


class SettlementEventOut(ma.Schema):
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    actor = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    at = Timestamp()


class SettlementBrief(ma.Schema):
    id = ma.fields.Integer()
    prescription_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    pharmacy_code = ma.fields.String()
    mode = ma.fields.String()
    status = ma.fields.String()
    settled_on = ma.fields.Date()
    total = MoneyField()
    basic_fund = MoneyField()
    critical_illness = MoneyField()
    medical_assistance = MoneyField()
    patient_pays = MoneyField()
    created_at = Timestamp()


class SettlementOut(SettlementBrief):
    patient_region = ma.fields.String()
    pharmacy_county = ma.fields.String()
    insurance = ma.fields.String()
    assistance_category = ma.fields.String()
    policy_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The policy version applied; null for a manual claim charged in full, not yet adjudicated."})
    year = ma.fields.Integer()
    fund_outside_budget = MoneyField()
    created_by = ma.fields.String()
    updated_at = Timestamp()
    lines = ma.fields.List(ma.fields.Nested(SettlementLineOut))
    history = ma.fields.List(ma.fields.Nested(SettlementEventOut))

    @ma.pre_dump
    def flatten(self, detail, **kwargs):
        s = detail.settlement
        data = {name: getattr(s, name) for name in self.fields if hasattr(s, name)}
        data["lines"] = [{**{name: getattr(line, name) for name in SettlementLineOut._declared_fields
                             if hasattr(line, name)},
                          "drug_name": detail.drugs[line.drug_code].name, "outside_budget": line.separate_payment}
                         for line in detail.lines]
        data["history"] = detail.events
        return data


SettlementPage = page_schema(SettlementBrief)


class SettlementQuery(ListArgs):
    pharmacy = ma.fields.String(load_default=None, validate=CODE)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in Status]))
    mode = ma.fields.String(load_default=None, validate=ma.validate.OneOf([m.value for m in Mode]))
    prescription_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(1, 2**31 - 1))
    patient_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(1, 2**31 - 1))


class AccumulatorsQuery(RequestSchema):
    year = ma.fields.Integer(load_default=None, validate=ma.validate.Range(2000, 2100))


class AccumulatorsOut(ma.Schema):
    patient_id = ma.fields.Integer()
    year = ma.fields.Integer()
    deductible_used = MoneyField()
    fund_paid = MoneyField()
    ci_base = MoneyField()
    ci_paid = MoneyField()
    assistance_paid = MoneyField()


# --- Reconciliation

class ReconciliationQuery(RequestSchema):
    pharmacy = ma.fields.String(load_default=None, validate=CODE)
    period = ma.fields.String(load_default="day", validate=ma.validate.OneOf(["day", "month"]))
    date = Date(load_default=None, data_key="date", attribute="on")


class ReconciliationRow(ma.Schema):
    period = ma.fields.String()
    pharmacy_code = ma.fields.String()
    mode = ma.fields.String()
    status = ma.fields.String()
    count = ma.fields.Integer()
    total = MoneyField()
    basic_fund = MoneyField()
    critical_illness = MoneyField()
    medical_assistance = MoneyField()
    patient_pays = MoneyField()
    fund_outside_budget = MoneyField()
    lines_total = MoneyField()
    balanced = ma.fields.Boolean()


class ReconciliationTotals(ma.Schema):
    count = ma.fields.Integer()
    total = MoneyField()
    basic_fund = MoneyField()
    critical_illness = MoneyField()
    medical_assistance = MoneyField()
    patient_pays = MoneyField()
    fund_outside_budget = MoneyField()


class ReconciliationInvariant(ma.Schema):
    settlements_total = MoneyField()
    lines_total = MoneyField()
    balanced = ma.fields.Boolean()
    unbalanced_settlements = ma.fields.List(ma.fields.Integer())


class ReconciliationOut(ma.Schema):
    period = ma.fields.String()
    label = ma.fields.String()
    start = ma.fields.Date()
    end = ma.fields.Date()  # exclusive
    items = ma.fields.List(ma.fields.Nested(ReconciliationRow), attribute="rows")
    totals = ma.fields.Nested(ReconciliationTotals, metadata={"description": "settlements in force"})
    invariant = ma.fields.Nested(ReconciliationInvariant)
