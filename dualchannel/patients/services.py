"""Patients (found by ID number without storing it in clear) and their eligibility."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, decode_cursor, encode_cursor
from dualchannel.audit_trail import services as audit
from dualchannel.audit_trail.models import AccessAction
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
    session.flush()
    audit.record(session, actor, AccessAction.create, "patient", patient.id, patient_id=patient.id, region=region)
    db.commit(session, "A patient with this ID number already exists.")
    return patient


def _record(session: Session, actor: Actor, action: AccessAction, patient: Patient, **extra) -> None:
    audit.record(session, actor, action, "patient", patient.id, patient_id=patient.id, region=patient.region, **extra)


def get_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """Load a patient the actor may see, or NotFound (no access recorded: for use inside services)."""
    patient = session.exec(select(Patient).where(Patient.id == patient_id, visible(actor))).first()
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    return patient


def read_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """A patient's record, shown to the actor; the read is recorded in the access log."""
    patient = get_patient(session, actor, patient_id)
    _record(session, actor, AccessAction.read, patient)
    session.commit()
    return patient


def find_patient(session: Session, actor: Actor, id_number: str) -> Patient:
    """Find a patient by ID number (no access recorded: for use inside services)."""
    number = parse_id_number(id_number)
    digest = identity.vault().lookup_hash(number)
    patient = session.exec(select(Patient).where(Patient.id_hash == digest, visible(actor))).first()
    if patient is None:
        raise NotFound("No patient with this ID number.")
    return patient


def search_patient(session: Session, actor: Actor, id_number: str) -> Patient:
    """Find a patient by ID number (sent in a body, so it never reaches a URL or a log).

    Every search is recorded, a fruitless one too (probing numbers is itself a signal); the
    number searched for is not kept.
    """
    try:
        patient = find_patient(session, actor, id_number)
    except NotFound as missing:
        missing.on_refusal += (lambda s: audit.record(s, actor, AccessAction.search, "patient",
                                                      detail={"found": False},
                                                      region=actor.subject if actor.role is Role.bureau else None),)
        raise
    _record(session, actor, AccessAction.search, patient, detail={"found": True})
    session.commit()
    return patient


def reveal_id_number(session: Session, actor: Actor, patient_id: int, *, reason: str) -> dict:
    """The patient's full ID number, for an admin or a bureau of the patient's region giving a
    reason; recorded (who, when, why, what) before it is returned."""
    actor.require(Role.admin, Role.bureau)
    reason = audit.require_reason(reason)
    patient = get_patient(session, actor, patient_id)
    entry = audit.record(session, actor, AccessAction.reveal, "patient", patient.id, patient_id=patient.id,
                         region=patient.region, reason=reason, detail={"field": "id_number"})
    session.commit()
    return {"patient_id": patient.id, "id_number": identity.vault().decrypt(patient.id_encrypted),
            "id_number_masked": patient.id_number_masked, "access_id": entry.id, "reason": reason}


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
    """A patient's eligibility records, latest end first (a recorded read of the patient)."""
    patient = get_patient(session, actor, patient_id)
    _record(session, actor, AccessAction.read, patient, detail={"view": "eligibility"})
    session.commit()
    return list(session.exec(select(Eligibility).where(Eligibility.patient_id == patient.id)
                             .order_by(Eligibility.valid_until.desc())))


@dataclass
class ReExamination:
    """A patient's eligibility for a drug that ends soon or has ended: a 复查评估 is due."""

    patient: Patient
    drug: Drug
    valid_until: date
    days_left: int  # negative once expired
    recorded_by: str  # physician code of the latest record

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def re_examinations(session: Session, actor: Actor, *, within_days: int = 30, expired_days: int = 90,
                    limit: int | None = None, cursor: str | None = None) -> Page:
    """Eligibilities at the calling physician's institution ending within `within_days`, or
    ended in the last `expired_days`, soonest first.

    The institution's, not only the physician's own: responsible physicians of one hospital
    share its patients, and one who leaves or is away must not leave them unrenewed. The
    latest end anywhere counts (a renewal at another hospital takes a patient off the list).
    """
    actor.require(Role.physician)
    physician = session.get(Physician, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) reviews re-examinations.")
    today = clock.today()
    ours = (select(Eligibility.patient_id, Eligibility.drug_code)
            .join(Physician, Physician.code == Eligibility.physician_code)
            .where(Physician.institution_code == physician.institution_code).distinct().subquery())
    latest = (select(Eligibility.patient_id, Eligibility.drug_code,
                     sa.func.max(Eligibility.valid_until).label("until"))
              .group_by(Eligibility.patient_id, Eligibility.drug_code).subquery())
    offset, limit = max(decode_cursor(cursor) or 0, 0), limit or 50
    rows = session.execute(
        select(latest.c.patient_id, latest.c.drug_code, latest.c.until)
        .join(ours, sa.and_(ours.c.patient_id == latest.c.patient_id, ours.c.drug_code == latest.c.drug_code))
        .where(latest.c.until <= today + timedelta(days=within_days),
               latest.c.until >= today - timedelta(days=expired_days))
        .order_by(latest.c.until, latest.c.patient_id, latest.c.drug_code)
        .offset(offset).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    items = []
    for patient_id, drug_code, until in rows:
        by = session.exec(select(Eligibility.physician_code).where(
            Eligibility.patient_id == patient_id, Eligibility.drug_code == drug_code,
            Eligibility.valid_until == until).order_by(Eligibility.id.desc())).first()
        items.append(ReExamination(patient=session.get(Patient, patient_id), drug=session.get(Drug, drug_code),
                                   valid_until=until, days_left=(until - today).days, recorded_by=by))
    if items:
        audit.record(session, actor, AccessAction.list, "patient",
                     detail={"view": "re-examinations", "ids": sorted({i.patient.id for i in items})})
        session.commit()
    return Page(items, encode_cursor(offset + limit) if more else None)
