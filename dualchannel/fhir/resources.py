"""Our records as FHIR R4 resources (JSON dicts): pure mapping, no database, no HTTP.

The mapping table (our field -> FHIR element) is in the README, section "FHIR R4 read API".
Identifiers and codes of this service use `urn:dualchannel:<name>` systems; HL7's own code
systems are used where FHIR binds one (claim type, adjudication, process priority).
"""

from datetime import datetime
from decimal import Decimal

from dualchannel import clock
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Status

FHIR_VERSION = "4.0.1"
MIME = "application/fhir+json"


def system(name: str) -> str:
    """The URI of one of this service's identifier or code systems."""
    return f"urn:dualchannel:{name}"


HL7 = "http://terminology.hl7.org/CodeSystem"
UCUM = "http://unitsofmeasure.org"

# -- ids -------------------------------------------------------------------------------------------
# FHIR ids are [A-Za-z0-9.-]{1,64}; our codes are [A-Za-z0-9_-]{1,32}: "_" travels as ".".


def code_id(code: str) -> str:
    return code.replace("_", ".")


def id_code(fhir_id: str) -> str:
    return fhir_id.replace(".", "_")


def item_id(prescription_id: int, index: int) -> str:
    """MedicationRequest and MedicationDispense ids: the prescription and the item's position (1-based)."""
    return f"{prescription_id}-{index + 1}"


def organization_id(kind: str, code: str) -> str:
    """`pharmacy-<code>` or `institution-<code>`."""
    return f"{kind}-{code_id(code)}"


def ref(resource_type: str, fhir_id, display: str | None = None) -> dict:
    out = {"reference": f"{resource_type}/{fhir_id}"}
    if display:
        out["display"] = display
    return out


def instant(value: datetime | None) -> str | None:
    """An instant in China time with its offset (FHIR instant / dateTime)."""
    return None if value is None else value.astimezone(clock.CHINA).isoformat()


def money(value: Decimal) -> dict:
    # JSON numbers: Python writes the shortest text that reads back as the same value.
    return {"value": float(value), "currency": "CNY"}


def _meta(updated: datetime) -> dict:
    return {"lastUpdated": instant(updated)}


def _concept(system_name: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    coding = {"system": system_name, "code": code}
    if display:
        coding["display"] = display
    out = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def _drop_none(value):
    """FHIR JSON has no nulls and no empty arrays or objects."""
    if isinstance(value, dict):
        cleaned = {k: _drop_none(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [v for v in (_drop_none(v) for v in value) if v not in (None, [], {})]
    return value


# -- status mappings ----------------------------------------------------------------------------------

# Prescription phase (status, or "returned") -> MedicationRequest.status
MEDICATION_REQUEST_STATUS = {
    Status.issued.value: "active", Status.routed.value: "active", Status.verified.value: "active",
    Status.reviewed.value: "active", rules.RETURNED: "on-hold", Status.cancelled.value: "cancelled", Status.expired.value: "stopped",
    Status.not_dispensed.value: "stopped", Status.dispensed.value: "completed", Status.settled.value: "completed",
}
# Prescription phase -> MedicationDispense.status (only a prescription dispensed or closed has one)
MEDICATION_DISPENSE_STATUS = {
    Status.dispensed.value: "completed", Status.settled.value: "completed", Status.not_dispensed.value: "declined",
}
# Prescription phase -> Task.status: the routing to a pharmacy, as gematik's e-prescription Task
# (ready for a pharmacy, requested of one, in progress there, completed, rejected, cancelled).
TASK_STATUS = {
    Status.issued.value: "ready", rules.RETURNED: "ready", Status.routed.value: "requested",
    Status.verified.value: "in-progress", Status.reviewed.value: "in-progress",
    Status.dispensed.value: "completed", Status.settled.value: "completed",
    Status.cancelled.value: "cancelled", Status.expired.value: "failed", Status.not_dispensed.value: "rejected",
}
# Settlement status -> Claim.status / ClaimResponse.status, and ClaimResponse.outcome
CLAIM_STATUS = {"settled": "active", "pending": "active", "approved": "active", "rejected": "cancelled",
                "reversed": "cancelled"}
CLAIM_OUTCOME = {"settled": "complete", "approved": "complete", "pending": "queued", "rejected": "error",
                 "reversed": "complete"}

# The status codes FHIR R4 defines for each searchable type (a search for another is an error).
STATUS_CODES = {
    "MedicationRequest": ("active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
                          "unknown"),
    "MedicationDispense": ("preparation", "in-progress", "cancelled", "on-hold", "completed", "entered-in-error",
                           "stopped", "declined", "unknown"),
    "Task": ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
             "on-hold", "failed", "completed", "entered-in-error"),
    "Claim": ("active", "cancelled", "draft", "entered-in-error"),
    "ClaimResponse": ("active", "cancelled", "draft", "entered-in-error"),
}


def phases_for(mapping: dict[str, str], statuses: list[str]) -> set[str]:
    """Our phases (or settlement statuses) that show as any of the FHIR `statuses`."""
    return {ours for ours, theirs in mapping.items() if theirs in statuses}


# -- prescriptions --------------------------------------------------------------------------------------

def _reason(event) -> dict | None:
    if event is None:
        return None
    reason = rules.REASONS.get(event.reason_code)
    return _concept(system("reason-code"), event.reason_code, reason.label if reason else None, event.reason)


def latest_reason(detail, phase: str):
    """The event whose reason explains where a returned, cancelled or not-dispensed prescription is."""
    if phase not in (rules.RETURNED, Status.cancelled.value, Status.not_dispensed.value):
        return None
    coded = [e for e in detail.events if e.reason_code]
    return coded[-1] if coded else None


def _patient_ref(detail) -> dict:
    return ref("Patient", detail.patient.id, detail.patient.name)


def _pharmacy_ref(code: str | None) -> dict | None:
    return ref("Organization", organization_id("pharmacy", code)) if code else None


def _medication_ref(drug) -> dict:
    return ref("Medication", code_id(drug.code), drug.name)


def _days(value: int) -> dict:
    return {"value": value, "unit": "d", "system": UCUM, "code": "d"}


def medication_request(detail, index: int, phase: str) -> dict:
    """One item of a prescription as a MedicationRequest (its items share `groupIdentifier`)."""
    p, item = detail.prescription, detail.items[index]
    drug = detail.drugs[item.drug_code]
    return _drop_none({
        "resourceType": "MedicationRequest", "id": item_id(p.id, index), "meta": _meta(p.updated_at),
        "identifier": [{"system": system("prescription-item"), "value": item_id(p.id, index)}],
        "groupIdentifier": {"system": system("prescription"), "value": str(p.id)},
        "status": MEDICATION_REQUEST_STATUS[phase],
        "statusReason": _reason(latest_reason(detail, phase)),
        "intent": "order",
        "medicationReference": _medication_ref(drug),
        "subject": _patient_ref(detail),
        "authoredOn": instant(p.issued_at),
        "requester": ref("Practitioner", code_id(p.physician_code)),
        "performer": _pharmacy_ref(p.pharmacy_code),
        "reasonCode": [{"text": p.diagnosis}],
        "dosageInstruction": [{"text": item.dosage}],
        "dispenseRequest": {
            "validityPeriod": {"start": instant(p.issued_at), "end": instant(p.valid_until)},
            "quantity": {"value": item.quantity, "unit": drug.unit},
            "expectedSupplyDuration": _days(item.days_supply),
            "performer": _pharmacy_ref(p.pharmacy_code),
        },
    })


def medication_dispense(detail, index: int, phase: str) -> dict:
    """What a pharmacy dispensed of one item (its trace codes as identifiers), or `declined` when
    it closed the prescription without dispensing."""
    p, item = detail.prescription, detail.items[index]
    drug = detail.drugs[item.drug_code]
    packs = [pack for pack in detail.packs if pack.drug_code == item.drug_code]
    declined = phase == Status.not_dispensed.value
    return _drop_none({
        "resourceType": "MedicationDispense", "id": item_id(p.id, index), "meta": _meta(p.updated_at),
        "identifier": [{"system": system("trace-code"), "value": pack.trace_code} for pack in packs],
        "status": MEDICATION_DISPENSE_STATUS[phase],
        "statusReasonCodeableConcept": _reason(latest_reason(detail, phase)) if declined else None,
        "medicationReference": _medication_ref(drug),
        "subject": _patient_ref(detail),
        "performer": [{"actor": _pharmacy_ref(p.pharmacy_code)}],
        "authorizingPrescription": [ref("MedicationRequest", item_id(p.id, index))],
        "quantity": None if declined else {"value": sum(pack.units for pack in packs), "unit": drug.unit},
        "daysSupply": None if declined else _days(item.days_supply),
        "whenHandedOver": None if declined else instant(p.dispensed_at),
        "dosageInstruction": None if declined else [{"text": item.dosage}],
    })


def task(detail, phase: str) -> dict:
    """The routing of a prescription to a pharmacy, as gematik's e-prescription Task: who holds
    it (`owner`), by when (`restriction.period.end`), its items in, its dispensings out."""
    p = detail.prescription
    stage = rules.STAGES[phase]
    routed = [e.at for e in detail.events if e.action == rules.Action.route.value]
    ended = detail.events[-1].at if stage.holder is None or phase in (Status.dispensed.value, Status.settled.value) \
        else None
    items = range(len(detail.items))
    return _drop_none({
        "resourceType": "Task", "id": str(p.id), "meta": _meta(p.updated_at),
        "identifier": [{"system": system("prescription"), "value": str(p.id)}],
        "status": TASK_STATUS[phase],
        "statusReason": _reason(latest_reason(detail, phase)),
        "businessStatus": _concept(system("prescription-phase"), phase, stage.label, stage.next_step),
        "intent": "order",
        "code": {"text": "双通道处方流转"},
        "focus": ref("MedicationRequest", item_id(p.id, 0)),
        "for": _patient_ref(detail),
        "authoredOn": instant(p.issued_at),
        "lastModified": instant(p.updated_at),
        "requester": ref("Practitioner", code_id(p.physician_code)),
        "performerType": [{"text": "双通道药店"}],
        "owner": _pharmacy_ref(p.pharmacy_code) if stage.holder == "pharmacy" or phase == Status.not_dispensed.value
        else None,
        "executionPeriod": {"start": instant(routed[-1]) if routed else None, "end": instant(ended)},
        "restriction": {"period": {"end": instant(p.valid_until)}} if stage.timed else None,
        "input": [{"type": {"text": "处方明细"}, "valueReference": ref("MedicationRequest", item_id(p.id, i))}
                  for i in items],
        "output": [{"type": {"text": "发药记录"}, "valueReference": ref("MedicationDispense", item_id(p.id, i))}
                   for i in items] if phase in MEDICATION_DISPENSE_STATUS else None,
    })


# -- settlements ------------------------------------------------------------------------------------

FUND_PARTS = {"basic_fund": "基本医保统筹基金", "critical_illness": "大病保险", "medical_assistance": "医疗救助",
              "patient_pays": "个人自付"}
MODES = {"direct": "直接联网结算", "manual": "手工报销"}
INSURANCE = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险"}


def _claim_common(detail, resource_type: str) -> dict:
    s = detail.settlement
    return {
        "resourceType": resource_type, "id": str(s.id), "meta": _meta(s.updated_at),
        "identifier": [{"system": system("settlement"), "value": str(s.id)}],
        "status": CLAIM_STATUS[s.status],
        "type": _concept(f"{HL7}/claim-type", "pharmacy"),
        "subType": _concept(system("settlement-mode"), s.mode, MODES.get(s.mode)),
        "use": "claim",
        "patient": ref("Patient", s.patient_id),
        "created": instant(s.created_at),
    }


def _product(detail, line) -> dict:
    drug = detail.drugs.get(line.drug_code)
    return _concept(system("drug-code"), line.drug_code, drug.name if drug else None)


def _insurer(s) -> dict:
    return {"identifier": {"system": system("coordinating-region"), "value": s.patient_region},
            "display": f"统筹地区 {s.patient_region} 医保经办机构"}


def claim(detail) -> dict:
    """What the pharmacy claimed for a settlement: its lines and total."""
    s = detail.settlement
    return _drop_none({
        **_claim_common(detail, "Claim"),
        "insurer": _insurer(s),
        "provider": _pharmacy_ref(s.pharmacy_code),
        "priority": _concept(f"{HL7}/processpriority", "normal"),
        "prescription": ref("MedicationRequest", item_id(s.prescription_id, 0)),
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"display": f"{INSURANCE.get(s.insurance, s.insurance)}（统筹地区 {s.patient_region}）"}}],
        "item": [{"sequence": line.position + 1, "productOrService": _product(detail, line),
                  "quantity": {"value": line.quantity}, "unitPrice": money(line.unit_price), "net": money(line.total)}
                 for line in detail.lines],
        "total": money(s.total),
    })


def _adjudication(part: str, amount: Decimal) -> dict:
    return {"category": _concept(system("fund-part"), part, FUND_PARTS[part]), "amount": money(amount)}


def claim_response(detail) -> dict:
    """How a settlement was split: per line and in total, by fund (basic fund, critical illness
    insurance, medical assistance) and the patient's part."""
    s = detail.settlement
    funds = s.basic_fund + s.critical_illness + s.medical_assistance
    paid = s.status in ("settled", "approved")
    return _drop_none({
        **_claim_common(detail, "ClaimResponse"),
        "insurer": _insurer(s),
        "requestor": _pharmacy_ref(s.pharmacy_code),
        "request": ref("Claim", s.id),
        "outcome": CLAIM_OUTCOME[s.status],
        "disposition": {"settled": "已结算", "pending": "手工报销待审核", "approved": "手工报销已批准",
                        "rejected": "手工报销已驳回", "reversed": "已冲正"}.get(s.status, s.status),
        "item": [{"itemSequence": line.position + 1, "adjudication": [
            {"category": _concept(f"{HL7}/adjudication", "submitted"), "amount": money(line.total)},
            *(_adjudication(part, getattr(line, part)) for part in FUND_PARTS)]} for line in detail.lines],
        "total": [{"category": _concept(f"{HL7}/adjudication", "submitted"), "amount": money(s.total)},
                  {"category": _concept(f"{HL7}/adjudication", "benefit"), "amount": money(funds)},
                  *(_adjudication(part, getattr(s, part)) for part in FUND_PARTS)],
        "payment": {"type": _concept(f"{HL7}/ex-paymenttype", "complete"), "amount": money(funds)} if paid else None,
    })


# -- registries -------------------------------------------------------------------------------------

def patient(record) -> dict:
    """A patient, identified only by the masked resident ID number (never the full one)."""
    return _drop_none({
        "resourceType": "Patient", "id": str(record.id), "meta": _meta(record.created_at),
        "identifier": [{"system": system("resident-id-masked"), "value": record.id_number_masked,
                        "type": {"text": "居民身份证号（脱敏）"}}],
        "name": [{"text": record.name}],
    })


def practitioner(physician, institution) -> dict:
    return _drop_none({
        "resourceType": "Practitioner", "id": code_id(physician.code), "meta": _meta(physician.created_at),
        "identifier": [{"system": system("physician-code"), "value": physician.code}],
        "active": True,
        "name": [{"text": physician.name}],
        "qualification": [{"code": {"text": "医保责任医师"},
                           "issuer": ref("Organization", organization_id("institution", institution.code),
                                         institution.name)}] if physician.responsible else None,
    })


def institution_organization(institution) -> dict:
    return _drop_none({
        "resourceType": "Organization", "id": organization_id("institution", institution.code),
        "meta": _meta(institution.created_at),
        "identifier": [{"system": system("institution-code"), "value": institution.code}],
        "active": True,
        "type": [_concept(f"{HL7}/organization-type", "prov", "Healthcare Provider", "定点医疗机构")],
        "name": institution.name,
        "address": [{"district": institution.adcode}],
    })


def pharmacy_organization(pharmacy) -> dict:
    return _drop_none({
        "resourceType": "Organization", "id": organization_id("pharmacy", pharmacy.code),
        "meta": _meta(pharmacy.updated_at),
        "identifier": [{"system": system("pharmacy-code"), "value": pharmacy.code}],
        "active": pharmacy.status == "active",
        "type": [_concept(f"{HL7}/organization-type", "prov", "Healthcare Provider", "双通道药店"),
                 _concept(system("pharmacy-status"), pharmacy.status)],
        "name": pharmacy.name,
        "address": [{"text": pharmacy.address, "district": pharmacy.county_adcode}],
    })


def medication(drug) -> dict:
    return _drop_none({
        "resourceType": "Medication", "id": code_id(drug.code), "meta": _meta(drug.created_at),
        "code": _concept(system("drug-code"), drug.code, drug.name, drug.generic_name),
        "status": "active",
        "identifier": [{"system": system("trace-prefix"), "value": prefix} for prefix in drug.trace_prefixes or []],
    })


# -- envelopes ----------------------------------------------------------------------------------------

ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               409: "conflict", 413: "too-costly", 415: "not-supported", 422: "processing", 429: "throttled",
               500: "exception", 503: "transient"}


def operation_outcome(status: int, code: str, detail: str, errors: dict | None = None) -> dict:
    """An error as an OperationOutcome: one issue for the error, one per field message."""
    issue = {"severity": "error", "code": ISSUE_CODES.get(status, "processing"),
             "details": _concept(system("problem"), code, None, detail), "diagnostics": detail}
    issues = [issue] + [{"severity": "error", "code": "invalid", "diagnostics": f"{field}: {message}",
                         "expression": [field]}
                        for field, messages in (errors or {}).items() for message in messages]
    return {"resourceType": "OperationOutcome", "issue": issues}


def bundle(entries: list[tuple[str, dict]], self_url: str, next_url: str | None) -> dict:
    """A searchset Bundle of (full URL, resource) pairs, with its self and next links."""
    links = [{"relation": "self", "url": self_url}] + ([{"relation": "next", "url": next_url}] if next_url else [])
    return {"resourceType": "Bundle", "type": "searchset", "meta": {"lastUpdated": instant(clock.now())},
            "link": links,
            "entry": [{"fullUrl": url, "resource": resource, "search": {"mode": "match"}} for url, resource in entries]}


READ_ONLY = ("Patient", "Practitioner", "Organization", "Medication")
SEARCHABLE = ("MedicationRequest", "MedicationDispense", "Task", "Claim", "ClaimResponse")
SEARCH_PARAMS = (("patient", "reference", "The patient (Patient/<id> or <id>)"),
                 ("status", "token", "FHIR status codes, comma-separated (any of them)"),
                 ("_lastUpdated", "date", "gt, ge, lt, le or eq (default) a date or an instant; repeat for a range"),
                 ("_count", "number", "Page size, 1 to 500 (default 50); follow the `next` link for more"))


def capability_statement(base_url: str, version: str) -> dict:
    """What this server does: read every type, search five of them, JSON only, bearer tokens."""
    def resource(kind: str) -> dict:
        searchable = kind in SEARCHABLE
        return _drop_none({
            "type": kind,
            "interaction": [{"code": "read"}] + ([{"code": "search-type"}] if searchable else []),
            "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in SEARCH_PARAMS]
            if searchable else None,
        })

    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": instant(clock.now()),
        "publisher": "dualchannel", "kind": "instance",
        "software": {"name": "dualchannel", "version": version},
        "implementation": {"description": "双通道处方流转与结算（只读 FHIR R4 接口）", "url": base_url},
        "fhirVersion": FHIR_VERSION, "format": ["json"],
        "rest": [{"mode": "server",
                  "security": {"description": "Authorization: Bearer <token>, the same tokens and scopes as /api/v1."},
                  "resource": [resource(kind) for kind in SEARCHABLE + READ_ONLY]}],
    }
