import marshmallow as ma

from dualchannel.api import Id, Timestamp, ListArgs, RequestSchema, page_schema  # noqa: F401 (ListArgs used by views)
from dualchannel.institutions.schemas import CODE
from dualchannel.pharmacies.schemas import CRS, PharmacyOut
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Status


class ItemIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    quantity = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 10_000))
    # 84 is the legal maximum; larger values reach the service, which explains the rule (422).
    days_supply = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 3650))
    dosage = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))


class PrescriptionIn(RequestSchema):
    patient_id = Id(required=True)
    diagnosis = ma.fields.String(required=True, validate=ma.validate.Length(1, 500))
    valid_days = ma.fields.Integer(load_default=1, strict=True)
    items = ma.fields.List(ma.fields.Nested(ItemIn), required=True, validate=ma.validate.Length(1, 20))


class RouteIn(RequestSchema):
    pharmacy_code = ma.fields.String(required=True, validate=CODE)


class ReasonIn(RequestSchema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, 500))


class OptionalReasonIn(RequestSchema):
    reason = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 500))


class PickupIn(RequestSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    relation = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))


class VerifyIn(RequestSchema):
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    pickup = ma.fields.Nested(PickupIn, load_default=None, allow_none=True)


class DispenseItemIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    trace_codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 40)), required=True,
                                 validate=ma.validate.Length(1, 10_000))


class DispenseIn(RequestSchema):
    items = ma.fields.List(ma.fields.Nested(DispenseItemIn), required=True, validate=ma.validate.Length(1, 20))


class OptionsQuery(RequestSchema):
    lat = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-180, 180))
    crs = ma.fields.String(load_default="gcj02", validate=CRS)


class ListQuery(ListArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in Status]))


class ItemOut(ma.Schema):
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    generic_name = ma.fields.String()
    unit = ma.fields.String()
    storage = ma.fields.String()
    quantity = ma.fields.Integer()
    days_supply = ma.fields.Integer()
    dosage = ma.fields.String()
    trace_codes = ma.fields.List(ma.fields.String())


class EventOut(ma.Schema):
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    at = Timestamp()


class PatientBrief(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    id_number_masked = ma.fields.String()
    insurance = ma.fields.String()
    region = ma.fields.String()


class PickupOut(ma.Schema):
    name = ma.fields.String()
    id_number_masked = ma.fields.String()
    relation = ma.fields.String()


class PrescriptionOut(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    patient_id = ma.fields.Integer()
    patient = ma.fields.Nested(PatientBrief)
    physician_code = ma.fields.String()
    institution_code = ma.fields.String()
    diagnosis = ma.fields.String()
    issued_at = Timestamp()
    valid_until = Timestamp()
    pharmacy_code = ma.fields.String(allow_none=True)
    verified_at = Timestamp(allow_none=True)
    dispensed_at = Timestamp(allow_none=True)
    pickup = ma.fields.Nested(PickupOut, allow_none=True)
    items = ma.fields.List(ma.fields.Nested(ItemOut))
    history = ma.fields.List(ma.fields.Nested(EventOut))
    next_actions = ma.fields.List(ma.fields.Dict())

    @ma.pre_dump
    def flatten(self, detail, **kwargs):
        p = detail.prescription
        codes: dict[str, list[str]] = {}
        for pack in detail.packs:
            codes.setdefault(pack.drug_code, []).append(pack.trace_code)
        items = []
        for item in detail.items:
            drug = detail.drugs[item.drug_code]
            items.append({"drug_code": item.drug_code, "drug_name": drug.name, "generic_name": drug.generic_name,
                          "unit": drug.unit, "storage": drug.storage, "quantity": item.quantity,
                          "days_supply": item.days_supply, "dosage": item.dosage,
                          "trace_codes": codes.get(item.drug_code, [])})
        return {
            **{k: getattr(p, k) for k in ("id", "status", "patient_id", "physician_code", "institution_code",
                                          "diagnosis", "issued_at", "valid_until", "pharmacy_code",
                                          "verified_at", "dispensed_at")},
            "patient": detail.patient,
            "pickup": ({"name": p.pickup_name, "id_number_masked": p.pickup_id_masked,
                        "relation": p.pickup_relation} if p.pickup_name else None),
            "items": items,
            "history": detail.events,
            "next_actions": [{"action": t.action.value, "by": t.by, "label": t.label,
                              "needs_reason": t.needs_reason}
                             for t in rules.actions_from(Status(p.status))],
        }


class PrescriptionBrief(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    patient_id = ma.fields.Integer()
    physician_code = ma.fields.String()
    pharmacy_code = ma.fields.String(allow_none=True)
    issued_at = Timestamp()
    valid_until = Timestamp()


PrescriptionPage = page_schema(PrescriptionBrief)


class OptionOut(PharmacyOut):
    distance_km = ma.fields.Float(allow_none=True)

    @ma.pre_dump
    def pair(self, option, **kwargs):
        pharmacy, distance = option
        data = {k: getattr(pharmacy, k) for k in PharmacyOut._declared_fields if hasattr(pharmacy, k)}
        data["distance_km"] = distance
        return data


class OptionList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(OptionOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class TraceOut(ma.Schema):
    trace_code = ma.fields.String()
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    pharmacy_code = ma.fields.String()
    dispensed_at = Timestamp()
    prescription_id = ma.fields.Integer()
    physician_code = ma.fields.String()
    institution_code = ma.fields.String()
    patient_id_number_masked = ma.fields.String()
    pickup = ma.fields.Nested(PickupOut, allow_none=True)

    @ma.pre_dump
    def flatten(self, found, **kwargs):
        pack, detail = found.pack, found.prescription
        p = detail.prescription
        return {"trace_code": pack.trace_code, "drug_code": pack.drug_code,
                "drug_name": detail.drugs[pack.drug_code].name, "pharmacy_code": pack.pharmacy_code,
                "dispensed_at": pack.dispensed_at, "prescription_id": p.id, "physician_code": p.physician_code,
                "institution_code": p.institution_code, "patient_id_number_masked": detail.patient.id_number_masked,
                "pickup": ({"name": p.pickup_name, "id_number_masked": p.pickup_id_masked,
                            "relation": p.pickup_relation} if p.pickup_name else None)}
