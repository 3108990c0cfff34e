"""Patients (found by ID number without storing it in clear) and their eligibility."""

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.auth import Actor, Role
from dualchannel.drugs.models import Drug
from dualchannel.errors import Conflict, Forbidden, Invalid, NotFound
from dualchannel.institutions.models import Physician
from dualchannel.patients import identity
from dualchannel.patients.models import Eligibility, Patient

# How long an eligibility lasts when the physician gives no date; a policy setting.
DEFAULT_ELIGIBILITY_DAYS = 180


def parse_id_number(number: str, field: str = "id_number") -> str:
    """The canonical ID number, or Invalid naming `field`."""
    try:
        return identity.normalize(number)
    except identity.InvalidIdNumber as error:
        raise Invalid(f"{field} is not a valid resident ID number: {error}.", {field: [str(error)]})


def visible(actor: Actor):
    """The one filter deciding which patients an actor may read."""
    if actor.role in (Role.admin, Role.physician):
        return sa.true()
    if actor.role is Role.bureau:
        prefix = adcodes.prefix(actor.subject)
        return sa.or_(Patient.region.startswith(prefix), Patient.filed_region.startswith(prefix))
    return sa.false()


def create_patient(session: Session, actor: Actor, *, id_number: str, name: str, insurance: str, region: str,
                   filed_region: str | None = None, assistance_category: str = "none") -> Patient:
    """Register an insured patient. The same ID number twice is a Conflict."""
    actor.require(Role.admin, Role.bureau, Role.physician)
    number = parse_id_number(id_number)
    if actor.role is Role.bureau and not actor.in_region(region):
        raise Forbidden("A bureau registers only patients of its own region.")
    vault = identity.vault()
    digest = vault.lookup_hash(number)
    if session.exec(select(Patient.id).where(Patient.id_hash == digest)).first() is not None:
        raise Conflict("A patient with this ID number already exists.")
    patient = Patient(id_hash=digest, id_encrypted=vault.encrypt(number), id_number_masked=identity.mask(number),
                      name=name, insurance=insurance, region=region, filed_region=filed_region,
                      assistance_category=assistance_category, created_at=clock.now())
    session.add(patient)
    db.commit(session, "A patient with this ID number already exists.")
    return patient


def get_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    patient = session.exec(select(Patient).where(Patient.id == patient_id, visible(actor))).first()
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    return patient


def find_patient(session: Session, actor: Actor, id_number: str) -> Patient:
    """Find a patient by ID number (sent in a body, so it never reaches an access log)."""
    number = parse_id_number(id_number)
    digest = identity.vault().lookup_hash(number)
    patient = session.exec(select(Patient).where(Patient.id_hash == digest, visible(actor))).first()
    if patient is None:
        raise NotFound("No patient with this ID number.")
    return patient


def matches_id_number(patient: Patient, id_number: str) -> bool:
    """Whether `id_number` is this patient's (real-name verification)."""
    try:
        number = identity.normalize(id_number)
    except identity.InvalidIdNumber:
        return False
    return identity.vault().lookup_hash(number) == patient.id_hash


def record_eligibility(session: Session, actor: Actor, *, patient_id: int, drug_code: str,
                       valid_until: date | None = None) -> Eligibility:
    """A responsible physician confirms (or renews, 复查评估) a patient's eligibility for a drug."""
    actor.require(Role.physician)
    physician = session.get(Physician, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) records eligibility.")
    patient = get_patient(session, actor, patient_id)
    drug = session.get(Drug, drug_code)
    if drug is None:
        raise Invalid(f"No drug {drug_code}.", {"drug_code": ["Unknown drug."]})
    if not drug.requires_eligibility:
        raise Invalid(f"{drug.name} does not require eligibility.", {"drug_code": ["No eligibility needed."]})
    today = clock.today()
    valid_until = valid_until or today + timedelta(days=DEFAULT_ELIGIBILITY_DAYS)
    if valid_until < today:
        raise Invalid("valid_until is in the past.", {"valid_until": ["Must be today or later."]})
    eligibility = Eligibility(patient_id=patient.id, drug_code=drug_code, physician_code=physician.code,
                              valid_from=today, valid_until=valid_until, created_at=clock.now())
    session.add(eligibility)
    session.commit()
    return eligibility


def eligible_until(session: Session, patient_id: int, drug_code: str) -> date | None:
    """The latest recorded end of eligibility for this patient and drug, if any."""
    return session.exec(
        select(sa.func.max(Eligibility.valid_until))
        .where(Eligibility.patient_id == patient_id, Eligibility.drug_code == drug_code)
    ).one()


def list_eligibilities(session: Session, actor: Actor, patient_id: int) -> list[Eligibility]:
    patient = get_patient(session, actor, patient_id)
    return list(session.exec(select(Eligibility).where(Eligibility.patient_id == patient.id)
                             .order_by(Eligibility.valid_until.desc())))
