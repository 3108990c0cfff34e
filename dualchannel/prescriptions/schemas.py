import marshmallow as ma

from dualchannel.api import (CODE, Id, ListArgs, page_schema, RequestSchema, Text,  # noqa: F401 (ListArgs used by views)
                             Timestamp)
from dualchannel.errors import FieldMessage
from dualchannel.pharmacies.schemas import CRS, PharmacyOut
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Status
from dualchannel.signatures.schemas import KeyOut


# Packs of one drug on a prescription, hence traceability codes of one dispensed item (one code
# per pack): a request listing more is refused before any work is done on them.
MAX_PACKS_PER_ITEM = 500


class ItemIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    quantity = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, MAX_PACKS_PER_ITEM))
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
    reason = Text(required=True)


class ReasonCodeIn(RequestSchema):
    """A published reason code (`GET /api/v1/reason-codes`) and an optional note; the service
    checks the code against the action's list (free text alone is refused)."""

    reason_code = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 40))
    note = Text(load_default=None, allow_none=True)


class ReasonCodeOut(ma.Schema):
    code = ma.fields.String()
    label = ma.fields.String(metadata={"description": "zh-CN"})
    needs_note = ma.fields.Boolean()
    actions = ma.fields.List(ma.fields.String(), metadata={"description": "the actions that accept it"})


class ReasonCodeList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReasonCodeOut))
    next_cursor = ma.fields.String(allow_none=True, dump_default=None)


class PickupIn(RequestSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    relation = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))


class VerifyIn(RequestSchema):
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    pickup = ma.fields.Nested(PickupIn, load_default=None, allow_none=True)


class PrescriptionReviewIn(RequestSchema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(["approved", "refused"]))
    reason_code = ma.fields.String(load_default=None, allow_none=True,
                                   metadata={"description": "Why it is refused (审方不通过): one of the codes "
                                                            "of the refuse_review action's reason_codes."})
    note = Text(load_default=None, allow_none=True)


class DispenseItemIn(RequestSchema):
    drug_code = ma.fields.String(required=True, validate=CODE)
    trace_codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 40)), required=True,
                                 validate=ma.validate.Length(1, MAX_PACKS_PER_ITEM))


class DispenseIn(RequestSchema):
    items = ma.fields.List(ma.fields.Nested(DispenseItemIn), required=True, validate=ma.validate.Length(1, 20))


class OptionsQuery(RequestSchema):
    lat = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-90, 90))
    lon = ma.fields.Float(load_default=None, allow_nan=False, validate=ma.validate.Range(-180, 180))
    crs = ma.fields.String(load_default="gcj02", validate=CRS)

    @ma.validates_schema
    def _both_or_neither(self, data, **kwargs):
        # One coordinate alone would silently drop the distance ordering the caller asked for.
        if (data.get("lat") is None) != (data.get("lon") is None):
            missing = "lon" if data.get("lon") is None else "lat"
            raise ma.ValidationError({missing: [FieldMessage("lat_lon_together", "Give lat and lon together.")]})


class ListQuery(ListArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf([s.value for s in Status]))


class WorklistQuery(ListArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(
        [*rules.WORKLIST_FILTERS, *[s.value for s in Status]]), metadata={"description":
        "open (waiting, still valid), closed (expired, cancelled, not dispensed, or handed back), "
        "a status, or returned"})
    id_number = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 40),
                                 metadata={"description": "the patient's resident ID number (typed or read "
                                                          "from the card)"})
    number = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 32),
                              metadata={"description": "the prescription number (处方编号) or its id"})


class WorklistDrug(ma.Schema):
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    generic_name = ma.fields.String()
    quantity = ma.fields.Integer()
    unit = ma.fields.String()


class WorklistClosing(ma.Schema):
    action = ma.fields.String()
    reason_code = ma.fields.String(allow_none=True)
    reason_label = ma.fields.String(allow_none=True, metadata={"description": "zh-CN"})
    note = ma.fields.String(allow_none=True)
    at = Timestamp()


class WorklistEntryOut(ma.Schema):
    """A line of the pharmacy's worklist."""

    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"description": "the status, `expired` past validity, `returned` if "
                                                       "handed back"})
    patient_name_masked = ma.fields.String()
    patient_id_number_masked = ma.fields.String()
    drugs = ma.fields.List(ma.fields.Nested(WorklistDrug))
    issued_at = Timestamp()
    valid_until = Timestamp()
    closing = ma.fields.Nested(WorklistClosing, allow_none=True)

    @ma.pre_dump
    def flatten(self, entry, **kwargs):
        p = entry.prescription
        closing = None
        if entry.closing is not None:
            e = entry.closing
            reason = rules.REASONS.get(e.reason_code) if e.reason_code else None
            closing = {"action": e.action, "reason_code": e.reason_code,
                       "reason_label": reason.label if reason else None, "note": e.reason, "at": e.at}
        return {"id": p.id, "number": p.number, "status": entry.phase,
                "patient_name_masked": rules.mask_name(entry.patient.name),
                "patient_id_number_masked": entry.patient.id_number_masked,
                "drugs": [{"drug_code": i.drug_code, "drug_name": d.name, "generic_name": d.generic_name,
                           "quantity": i.quantity, "unit": d.unit} for i, d in entry.items],
                "issued_at": p.issued_at, "valid_until": p.valid_until if entry.phase != rules.RETURNED else None,
                "closing": closing}


WorklistPage = page_schema(WorklistEntryOut)


class ItemOut(ma.Schema):
    drug_code = ma.fields.String()
    drug_name = ma.fields.String()
    generic_name = ma.fields.String()
    unit = ma.fields.String()
    units_per_pack = ma.fields.Integer(allow_none=True)
    storage = ma.fields.String()
    quantity = ma.fields.Integer()
    days_supply = ma.fields.Integer()
    dosage = ma.fields.String()
    trace_codes = ma.fields.List(ma.fields.String())
    returned_trace_codes = ma.fields.List(ma.fields.String())


class EventOut(ma.Schema):
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    reason_code = ma.fields.String(allow_none=True)
    reason_label = ma.fields.Function(lambda e: reason_label(e.reason_code), allow_none=True)
    reason = ma.fields.String(allow_none=True, metadata={"description": "the note, or a free-text reason"})
    detail = ma.fields.Dict(allow_none=True)
    at = Timestamp()


class PrescriptionReviewerOut(ma.Schema):
    licence_number = ma.fields.String()
    name = ma.fields.String()


class PrescriptionReviewOut(ma.Schema):
    """A pharmacist's review (审方): who, the outcome and why."""

    outcome = ma.fields.String()
    reason_code = ma.fields.String(allow_none=True)
    reason_label = ma.fields.Function(lambda r: rules.REASONS[r["reason_code"]].label if r["reason_code"] else None,
                                      allow_none=True)
    note = ma.fields.String(allow_none=True)
    pharmacist = ma.fields.Nested(PrescriptionReviewerOut)
    pharmacy_code = ma.fields.String(allow_none=True)
    reviewed_at = Timestamp()


def review_of(events) -> dict | None:
    """The latest review among a prescription's events."""
    for event in reversed(events):
        if event.action in (rules.Action.review.value, rules.Action.refuse_review.value):
            detail = event.detail or {}
            return {"outcome": detail.get("outcome"), "reason_code": detail.get("reason_code"), "note": event.reason,
                    "pharmacist": detail.get("pharmacist") or {}, "pharmacy_code": detail.get("pharmacy_code"),
                    "reviewed_at": event.at}
    return None


class PatientBrief(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    id_number_masked = ma.fields.String()
    insurance = ma.fields.String()
    region = ma.fields.String()


class PickupOut(ma.Schema):
    """Who picked up: the patient in person (`agent: false`, relation "self") or an agent (代取)."""

    agent = ma.fields.Boolean()
    name = ma.fields.String()
    id_number_masked = ma.fields.String()
    relation = ma.fields.String()


def reason_label(code: str | None) -> str | None:
    """The zh-CN label of a reason code (None for none)."""
    reason = rules.REASONS.get(code) if code else None
    return reason.label if reason else None


def next_actions(status: str) -> list[dict]:
    """What can be done next, from the transition table (the pages' buttons and selects)."""
    return [{"action": t.action.value, "by": t.by, "label": t.label, "needs_reason": t.needs_reason or bool(t.reasons),
             "reason_codes": [{"code": c, "label": rules.REASONS[c].label, "needs_note": rules.REASONS[c].needs_note}
                              for c in t.reasons]}
            for t in rules.actions_from(Status(status))]


def pickup_of(prescription, patient) -> dict | None:
    """The pickup shown on a record: the agent, else the verified patient, else nobody yet."""
    if prescription.pickup_name:
        return {"agent": True, "name": prescription.pickup_name, "id_number_masked": prescription.pickup_id_masked,
                "relation": prescription.pickup_relation}
    if prescription.verified_at:
        return {"agent": False, "name": patient.name, "id_number_masked": patient.id_number_masked,
                "relation": "self"}
    return None


class PackReturnOut(ma.Schema):
    trace_code = ma.fields.String()
    prescription_id = ma.fields.Integer()
    drug_code = ma.fields.String()
    pharmacy_code = ma.fields.String()
    dispensed_at = Timestamp()
    returned_at = Timestamp()
    actor = ma.fields.String()
    reason = ma.fields.String()


class PrescriptionOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    patient_id = ma.fields.Integer()
    patient = ma.fields.Nested(PatientBrief)
    physician_code = ma.fields.String()
    institution_code = ma.fields.String()
    physician_name = ma.fields.String(allow_none=True, metadata={"description": "on reads"})
    institution_name = ma.fields.String(allow_none=True, metadata={"description": "on reads"})
    pharmacy_name = ma.fields.String(allow_none=True, metadata={"description": "on reads"})
    pharmacy_address = ma.fields.String(allow_none=True, metadata={"description": "on reads"})
    diagnosis = ma.fields.String()
    issued_at = Timestamp()
    valid_until = Timestamp()
    pharmacy_code = ma.fields.String(allow_none=True)
    verified_at = Timestamp(allow_none=True)
    dispensed_at = Timestamp(allow_none=True)
    pickup = ma.fields.Nested(PickupOut, allow_none=True)
    items = ma.fields.List(ma.fields.Nested(ItemOut))
    returns = ma.fields.List(ma.fields.Nested(PackReturnOut))
    history = ma.fields.List(ma.fields.Nested(EventOut))
    review = ma.fields.Nested(PrescriptionReviewOut, allow_none=True)
    next_actions = ma.fields.List(ma.fields.Dict())

    @ma.pre_dump
    def flatten(self, detail, **kwargs):
        p = detail.prescription
        codes: dict[str, list[str]] = {}
        for pack in detail.packs:
            codes.setdefault(pack.drug_code, []).append(pack.trace_code)
        returned: dict[str, list[str]] = {}
        for pack in detail.returns:
            returned.setdefault(pack.drug_code, []).append(pack.trace_code)
        items = []
        for item in detail.items:
            drug = detail.drugs[item.drug_code]
            items.append({"drug_code": item.drug_code, "drug_name": drug.name, "generic_name": drug.generic_name,
                          "unit": drug.unit, "units_per_pack": drug.units_per_pack, "storage": drug.storage,
                          "quantity": item.quantity,
                          "days_supply": item.days_supply, "dosage": item.dosage,
                          "trace_codes": codes.get(item.drug_code, []),
                          "returned_trace_codes": returned.get(item.drug_code, [])})
        return {
            **{k: getattr(p, k) for k in ("id", "number", "status", "patient_id", "physician_code", "institution_code",
                                          "diagnosis", "issued_at", "valid_until", "pharmacy_code",
                                          "verified_at", "dispensed_at")},
            "patient": detail.patient,
            "pickup": pickup_of(p, detail.patient),
            "items": items,
            "returns": detail.returns,
            "history": detail.events,
            "review": review_of(detail.events),
            "next_actions": next_actions(p.status),
            **detail.names,
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


class PickupRevealOut(ma.Schema):
    """The agent's full ID number: only from the audited reveal, never anywhere else."""

    prescription_id = ma.fields.Integer()
    name = ma.fields.String()
    relation = ma.fields.String()
    id_number = ma.fields.String()
    access_id = ma.fields.Integer()
    reason = ma.fields.String()


class HolderOut(ma.Schema):
    kind = ma.fields.String(metadata={"description": "physician or pharmacy"})
    code = ma.fields.String()
    name = ma.fields.String()
    institution_code = ma.fields.String(allow_none=True)
    institution_name = ma.fields.String(allow_none=True)


class NextOut(ma.Schema):
    summary = ma.fields.String(metadata={"description": "zh-CN"})
    by = Timestamp(allow_none=True, metadata={"description": "the end of validity, when the next step is timed"})
    actions = ma.fields.List(ma.fields.Dict())


class ReasonOut(ma.Schema):
    action = ma.fields.String()
    code = ma.fields.String()
    label = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    at = Timestamp()


class TrackerOut(ma.Schema):
    """Where a prescription is now, who holds it, what happens next and by when, and its timed history."""

    prescription_id = ma.fields.Integer()
    status = ma.fields.String()
    phase = ma.fields.String(metadata={"description": "the status, or `returned` for an issued one handed back"})
    phase_label = ma.fields.String(metadata={"description": "zh-CN"})
    ended = ma.fields.Boolean()
    holder = ma.fields.Nested(HolderOut, allow_none=True)
    next = ma.fields.Nested(NextOut)
    issued_at = Timestamp()
    valid_until = Timestamp()
    patient = ma.fields.Nested(PatientBrief)
    items = ma.fields.List(ma.fields.Dict())
    reason = ma.fields.Nested(ReasonOut, allow_none=True, metadata={"description": "the latest reason given"})
    history = ma.fields.List(ma.fields.Nested(EventOut))

    @ma.pre_dump
    def flatten(self, tracker, **kwargs):
        detail, stage = tracker.detail, tracker.stage
        p = detail.prescription
        holder = None
        if stage.holder == "physician":
            holder = {"kind": "physician", "code": tracker.physician.code, "name": tracker.physician.name,
                      "institution_code": p.institution_code,
                      "institution_name": tracker.institution.name if tracker.institution else None}
        elif stage.holder == "pharmacy" and detail.pharmacy is not None:
            holder = {"kind": "pharmacy", "code": detail.pharmacy.code, "name": detail.pharmacy.name}
        coded = [e for e in detail.events if e.reason_code]
        latest = coded[-1] if coded else None
        return {
            "prescription_id": p.id, "status": p.status, "phase": tracker.phase, "phase_label": stage.label,
            "ended": stage.holder is None, "holder": holder,
            "next": {"summary": stage.next_step, "by": tracker.deadline, "actions": next_actions(p.status)},
            "issued_at": p.issued_at, "valid_until": p.valid_until, "patient": detail.patient,
            "items": [{"drug_code": i.drug_code, "drug_name": detail.drugs[i.drug_code].name, "quantity": i.quantity,
                       "unit": detail.drugs[i.drug_code].unit} for i in detail.items],
            "reason": latest and {"action": latest.action, "code": latest.reason_code,
                                  "label": reason_label(latest.reason_code), "note": latest.reason,
                                  "actor": latest.actor, "at": latest.at},
            "history": detail.events,
        }
class ReviewSignatureOut(PrescriptionReviewOut):
    key = ma.fields.Nested(KeyOut, allow_none=True)
    signature = ma.fields.String(allow_none=True)
    verifies = ma.fields.Boolean()
    problem = ma.fields.String(allow_none=True)


class SignatureOut(ma.Schema):
    """A prescription's signature, checked now: what was signed (its canonical form), by which
    key, and whether it still verifies; the same for each pharmacist's review."""

    prescription_id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    algorithm = ma.fields.String()
    signed_content = ma.fields.String(metadata={"description": "The signed bytes, UTF-8 (canonical JSON)."})
    digest = ma.fields.String(metadata={"description": "SM3 of signed_content, hex."})
    signature = ma.fields.String(allow_none=True, metadata={"description": "SM2 signature, DER, base64."})
    signed_at = Timestamp()
    key = ma.fields.Nested(KeyOut, allow_none=True)
    ca_public_key = ma.fields.String(metadata={"description": "The CA's public key (PEM) that certified the key."})
    verifies = ma.fields.Boolean()
    problem = ma.fields.String(allow_none=True)
    reviews = ma.fields.List(ma.fields.Nested(ReviewSignatureOut))
