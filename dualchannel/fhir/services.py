"""The FHIR R4 read API's use cases: each reads through the owning feature's services, so the
same visibility filters (and the same access log) decide what a caller sees as on /api/v1."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from dualchannel.auth import Actor
from dualchannel.drugs import services as drugs
from dualchannel.errors import NotFound
from dualchannel.fhir import resources as fhir
from dualchannel.institutions import services as institutions
from dualchannel.patients import services as patients
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.settlements import services as settlements


@dataclass
class Search:
    """A search's plain values: `statuses` are FHIR codes (None: any)."""

    patient_id: int | None = None
    statuses: list[str] | None = None
    updated_from: datetime | None = None
    updated_before: datetime | None = None
    count: int = 50
    cursor: str | None = None


@dataclass
class Found:
    resources: list[dict]
    next_cursor: str | None


def _missing(resource_type: str, fhir_id: str) -> NotFound:
    return NotFound(f"No {resource_type} {fhir_id}.", code="resource_not_found")


def _prescription_item(session: Session, actor: Actor, resource_type: str, fhir_id: str):
    """(detail, item index, phase) of a MedicationRequest/MedicationDispense id `<rx>-<n>`."""
    head, _, tail = fhir_id.partition("-")
    if not (head.isdecimal() and head.isascii() and tail.isdecimal() and tail.isascii()) or int(tail) < 1 \
            or int(head) > 2**31 - 1:
        raise _missing(resource_type, fhir_id)
    detail = prescriptions.get(session, actor, int(head))
    index = int(tail) - 1
    if index >= len(detail.items):
        raise _missing(resource_type, fhir_id)
    return detail, index, prescriptions.phase_of(detail)


def _number(resource_type: str, fhir_id: str) -> int:
    if not (fhir_id.isdecimal() and fhir_id.isascii()) or int(fhir_id) > 2**31 - 1:
        raise _missing(resource_type, fhir_id)
    return int(fhir_id)


def read_medication_request(session: Session, actor: Actor, fhir_id: str) -> dict:
    detail, index, phase = _prescription_item(session, actor, "MedicationRequest", fhir_id)
    return fhir.medication_request(detail, index, phase)


def read_medication_dispense(session: Session, actor: Actor, fhir_id: str) -> dict:
    detail, index, phase = _prescription_item(session, actor, "MedicationDispense", fhir_id)
    if phase not in fhir.MEDICATION_DISPENSE_STATUS:
        raise _missing("MedicationDispense", fhir_id)  # not dispensed (nor closed) yet
    return fhir.medication_dispense(detail, index, phase)


def read_task(session: Session, actor: Actor, fhir_id: str) -> dict:
    detail = prescriptions.get(session, actor, _number("Task", fhir_id))
    return fhir.task(detail, prescriptions.phase_of(detail))


def _settlement(session: Session, actor: Actor, resource_type: str, fhir_id: str):
    return settlements.get(session, actor, _number(resource_type, fhir_id))


def read_claim(session: Session, actor: Actor, fhir_id: str) -> dict:
    return fhir.claim(_settlement(session, actor, "Claim", fhir_id))


def read_claim_response(session: Session, actor: Actor, fhir_id: str) -> dict:
    return fhir.claim_response(_settlement(session, actor, "ClaimResponse", fhir_id))


def read_patient(session: Session, actor: Actor, fhir_id: str) -> dict:
    return fhir.patient(patients.read_patient(session, actor, _number("Patient", fhir_id)))


def read_practitioner(session: Session, actor: Actor, fhir_id: str) -> dict:
    return fhir.practitioner(*institutions.read_physician(session, actor, fhir.id_code(fhir_id)))


def read_organization(session: Session, actor: Actor, fhir_id: str) -> dict:
    kind, _, code = fhir_id.partition("-")
    if kind == "pharmacy":
        return fhir.pharmacy_organization(pharmacies.get_pharmacy(session, actor, fhir.id_code(code)))
    if kind == "institution":
        return fhir.institution_organization(institutions.get_institution(session, actor, fhir.id_code(code)))
    raise _missing("Organization", fhir_id)


def read_medication(session: Session, actor: Actor, fhir_id: str) -> dict:
    return fhir.medication(drugs.get_drug(session, fhir.id_code(fhir_id)))


def _prescription_search(mapping: dict[str, str], per_item: bool, build: Callable) -> Callable:
    def search(session: Session, actor: Actor, query: Search) -> Found:
        phases = set(mapping)
        if query.statuses is not None:
            phases &= fhir.phases_for(mapping, query.statuses)
        page = prescriptions.records(session, actor, patient_id=query.patient_id, phases=phases,
                                     updated_from=query.updated_from, updated_before=query.updated_before,
                                     per_item=per_item, limit=query.count, cursor=query.cursor)
        if per_item:
            found = [build(detail, index, prescriptions.phase_of(detail)) for detail, index in page.items]
        else:
            found = [build(detail, prescriptions.phase_of(detail)) for detail in page.items]
        return Found(found, page.next_cursor)

    return search


def _settlement_search(build: Callable) -> Callable:
    def search(session: Session, actor: Actor, query: Search) -> Found:
        statuses = None if query.statuses is None else fhir.phases_for(fhir.CLAIM_STATUS, query.statuses)
        page = settlements.list_settlements(session, actor, patient_id=query.patient_id, statuses=statuses,
                                            updated_from=query.updated_from, updated_before=query.updated_before,
                                            limit=query.count, cursor=query.cursor)
        return Found([build(detail) for detail in settlements.details(session, page.items)], page.next_cursor)

    return search


#: resource type -> read(session, actor, id)
READ = {
    "MedicationRequest": read_medication_request, "MedicationDispense": read_medication_dispense,
    "Task": read_task, "Claim": read_claim, "ClaimResponse": read_claim_response, "Patient": read_patient,
    "Practitioner": read_practitioner, "Organization": read_organization, "Medication": read_medication,
}
#: resource type -> search(session, actor, Search)
SEARCH = {
    "MedicationRequest": _prescription_search(fhir.MEDICATION_REQUEST_STATUS, True, fhir.medication_request),
    "MedicationDispense": _prescription_search(fhir.MEDICATION_DISPENSE_STATUS, True, fhir.medication_dispense),
    "Task": _prescription_search(fhir.TASK_STATUS, False, fhir.task),
    "Claim": _settlement_search(fhir.claim),
    "ClaimResponse": _settlement_search(fhir.claim_response),
}
