import marshmallow as ma

from dualchannel.api import ADCODE, Date, ListArgs, MoneyField, RequestSchema, Text, Timestamp, page_schema


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
    exempted = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                              metadata={"description": "cases an exemption kept from being flagged, by rule"})


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


# ---------------------------------------------------------------- thresholds, exemptions

TUNED_RULES = ("pharmacy_shopping", "overlapping_supply", "volume_outlier", "pharmacy_refusals")


def _count(low: int, high: int, description: str):
    return ma.fields.Integer(load_default=None, allow_none=True, strict=True, validate=ma.validate.Range(low, high),
                             metadata={"description": description})


def _number(low: float, high: float, description: str, *, low_open: bool = False):
    return ma.fields.Float(load_default=None, allow_none=True, allow_nan=False,
                           validate=ma.validate.Range(low, high, min_inclusive=not low_open),
                           metadata={"description": description})


class ThresholdValues(RequestSchema):
    """A region's own values; a field left out (or null) is inherited."""

    shopping_window_days = _count(7, 365, "pharmacy_shopping: window in days")
    shopping_min_pharmacies = _count(2, 50, "pharmacy_shopping: pharmacies per patient and generic in the window")
    shopping_min_physicians = _count(2, 50, "pharmacy_shopping: prescribers per patient and generic in the window")
    overlap_remaining_share = _number(0, 1, "overlapping_supply / early refill: share of the previous supply "
                                            "still remaining above which a new dispensing is flagged",
                                      low_open=False)
    overlap_min_days = _count(0, 84, "overlapping_supply: and at least this many days of supply remaining")
    outlier_factor = _number(1, 100, "volume_outlier: times the county peers' average", low_open=True)
    outlier_min_peers = _count(1, 100, "volume_outlier: peers needed in the county")
    outlier_min_quantity = _count(1, 1_000_000, "volume_outlier: units in the month at least")
    refusal_window_days = _count(1, 365, "pharmacy_refusals: window in days")
    refusal_min_count = _count(1, 1000, "pharmacy_refusals: refusals with one reason code in the window")


class RegionQuery(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE,
                              metadata={"description": "default: the bureau's own region"})


class ThresholdsIn(RequestSchema):
    thresholds = ma.fields.Nested(ThresholdValues, required=True)
    reason = Text(500, required=True)


class ThresholdChangeOut(ma.Schema):
    id = ma.fields.Integer()
    changed_at = Timestamp()
    changed_by = ma.fields.String()
    reason = ma.fields.String()
    before = ma.fields.Dict()
    after = ma.fields.Dict()


class ThresholdsOut(ma.Schema):
    region = ma.fields.String()
    thresholds = ma.fields.Dict(metadata={"description": "in force in the region"})
    own = ma.fields.Dict(metadata={"description": "the values the region sets itself"})
    sources = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                             metadata={"description": "field -> the region that sets it, or `default`"})
    defaults = ma.fields.Dict(metadata={"description": "the service's configured values"})
    history = ma.fields.List(ma.fields.Nested(ThresholdChangeOut), metadata={"description": "newest first"})


class ThresholdsWhatIfIn(RequestSchema):
    thresholds = ma.fields.Nested(ThresholdValues, required=True)
    days = ma.fields.Integer(load_default=90, strict=True, validate=ma.validate.Range(1, 365))


class ThresholdsWhatIfOut(ma.Schema):
    region = ma.fields.String()
    days = ma.fields.Integer()
    as_of = Timestamp()
    thresholds = ma.fields.Dict()
    would_raise = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                                 metadata={"description": "new flags the next scan would raise, by rule"})
    would_clear = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                                 metadata={"description": "open flags the new values would no longer raise"})
    raise_total = ma.fields.Integer()
    clear_total = ma.fields.Integer()
    exempted = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class ExemptionIn(RequestSchema):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["drug", "generic", "diagnosis", "patient"]))
    value = ma.fields.String(required=True, validate=ma.validate.Length(1, 200),
                             metadata={"description": "drug code, generic name, diagnosis text, or patient id"})
    rule = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.OneOf(TUNED_RULES),
                            metadata={"description": "one rule, or null: every rule"})
    valid_until = Date(required=True, metadata={"description": "last day (inclusive)"})
    reason = Text(500, required=True)


class ExemptionQuery(ListArgs):
    region = ma.fields.String(load_default=None, validate=ADCODE)
    include_inactive = ma.fields.Boolean(load_default=False)


class ExemptionOut(ma.Schema):
    id = ma.fields.Integer()
    region = ma.fields.String()
    kind = ma.fields.String()
    value = ma.fields.String()
    rule = ma.fields.String(allow_none=True)
    valid_until = ma.fields.Date()
    reason = ma.fields.String()
    created_at = Timestamp()
    created_by = ma.fields.String()
    revoked_at = Timestamp(allow_none=True)
    revoked_by = ma.fields.String(allow_none=True)


ExemptionPage = page_schema(ExemptionOut)
