import marshmallow as ma

from dualchannel.api import MoneyField, Timestamp


class TimelinePatientOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    id_number_masked = ma.fields.String()
    region = ma.fields.String()
    filed_region = ma.fields.String(allow_none=True)


class TimelineDrugOut(ma.Schema):
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    generic_name = ma.fields.String()
    quantity = ma.fields.Integer()
    days_supply = ma.fields.Integer()


class TimelineEventOut(ma.Schema):
    at = Timestamp()
    kind = ma.fields.String(metadata={"description": "prescription, route, return, verify, review, review_refused, "
                                                     "dispensing, pack_return, cancel, not_dispensed, expire, "
                                                     "settlement, settlement_reversed, claim_approved, claim_rejected"})
    prescription_id = ma.fields.Integer()
    prescription_number = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    pharmacy_code = ma.fields.String(allow_none=True)
    pharmacy_name = ma.fields.String(allow_none=True)
    reason_code = ma.fields.String(allow_none=True)
    reason_label = ma.fields.String(allow_none=True)
    status = ma.fields.String(allow_none=True)
    drugs = ma.fields.List(ma.fields.Nested(TimelineDrugOut))
    settlement_id = ma.fields.Integer(allow_none=True)
    amount = MoneyField(allow_none=True)


class TimelineSupplyOut(TimelineDrugOut):
    prescription_id = ma.fields.Integer()
    pharmacy_code = ma.fields.String()
    pharmacy_name = ma.fields.String(allow_none=True)
    start = Timestamp()
    end = Timestamp(metadata={"description": "start + days_supply: where the supply bar ends"})


class TimelinePrescriptionOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    issued_at = Timestamp()
    dispensed_at = Timestamp(allow_none=True)
    diagnosis = ma.fields.String()
    physician_code = ma.fields.String()
    physician_name = ma.fields.String(allow_none=True)
    institution_code = ma.fields.String()
    institution_name = ma.fields.String(allow_none=True)
    pharmacy_code = ma.fields.String(allow_none=True)
    pharmacy_name = ma.fields.String(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(TimelineDrugOut))


class TimelineOut(ma.Schema):
    patient = ma.fields.Nested(TimelinePatientOut)
    prescriptions = ma.fields.List(ma.fields.Nested(TimelinePrescriptionOut))
    events = ma.fields.List(ma.fields.Nested(TimelineEventOut), metadata={"description": "oldest first"})
    supplies = ma.fields.List(ma.fields.Nested(TimelineSupplyOut),
                              metadata={"description": "one bar per dispensed item: start to start + days_supply"})
    pharmacies = ma.fields.List(ma.fields.String())
