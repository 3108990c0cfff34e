"""Patients (found by ID number and name without storing the number in clear), the care
relationships that let physicians read them, and their eligibility."""

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db, identity
from dualchannel.api import Page, decode_cursor, encode_cursor
from dualchannel.access_log import services as access
from dualchannel.access_log.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.flags import services as flags
from dualchannel.flags.services import raise_flag
from dualchannel.institutions import services as institutions
from dualchannel.patients.models import Eligibility, Patient, PatientCare

if TYPE_CHECKING:  # other features' rows, as their services return them
    from dualchannel.drugs.models import Drug
    from dualchannel.flags.models import Flag

# How long an eligibility lasts when the physician gives no date; a policy setting.
DEFAULT_ELIGIBILITY_DAYS = 180
# The region of flags about an account that belongs to no region (an admin): only admins see it.
NATIONAL = "100000"


def parse_id_number(number: str, field: str = "id_number") -> str:
    """The canonical ID number, or Invalid naming `field`."""
    try:
        return identity.normalize(number)
    except identity.InvalidIdNumber as error:
        raise Invalid(f"{field} is not a valid resident ID number: {error}.",
                      {field: [FieldMessage(error.code, str(error))]},
                      code="invalid_id_number")


def parse_name(name: str) -> str:
    """The name in its normal form (`identity.normalize_name`), or Invalid."""
    try:
        normal = identity.normalize_name(name)
    except ValueError:
        raise Invalid("The name is blank.", {"name": [FieldMessage("name_blank", "Must not be blank.")]},
                      code="invalid_name")
    if len(normal) > 100:
        raise Invalid("The name is too long.",
                      {"name": [FieldMessage("name_too_long", "At most 100 characters.", max=100)]}, code="invalid_name")
    return normal


def _institution_of(physician_code):
    """The institution code of a physician (a code or a bind parameter), as a scalar subquery."""
    physician = institutions.physician_view()
    return select(physician.c.institution_code).where(physician.c.code == physician_code).scalar_subquery()


def visible(actor: Actor):
    """The one filter deciding which patients an actor may read: an admin all; a bureau those
    of its region or filed for care there (异地就医备案); a physician those in care at their
    institution (`PatientCare`); nobody else any."""
    return _visibility(actor.role, _scope_of(actor))


def _scope_of(actor: Actor) -> str | None:
    """What `visible` compares for `actor`: a bureau's adcode prefix, a physician's code."""
    if actor.role is Role.bureau:
        return adcodes.prefix(actor.subject)
    return actor.subject if actor.role is Role.physician else None


def _visibility(role: Role, scope):
    """`visible` for actors of `role` whose scope (`_scope_of`) is `scope`, a value or a bind
    parameter (a statement built once per role)."""
    if role is Role.admin:
        return sa.true()
    if role is Role.bureau:
        return sa.or_(Patient.region.startswith(scope), Patient.filed_region.startswith(scope))
    if role is Role.physician:
        return sa.exists().where(PatientCare.patient_id == Patient.id,
                                 PatientCare.institution_code == _institution_of(scope))
    return sa.false()


@functools.cache
def _patient_query(role: Role) -> sa.Select:
    """`get_patient`'s query for actors of `role`, built once (parameters `patient_id`, `scope`)."""
    return select(Patient).where(Patient.id == sa.bindparam("patient_id"),
                                 _visibility(role, sa.bindparam("scope", type_=sa.String)))


def _searchable(actor: Actor):
    """Whom a search by ID number AND name may find: a physician any insured person (patients
    come from every region, 异地就医; the number and name are the patient at the desk), anyone
    else whom they may read."""
    return sa.true() if actor.role is Role.physician else visible(actor)


def account_region(session: Session, actor: Actor) -> str | None:
    """The region an account answers to: a bureau's own, a physician's institution's city."""
    if actor.role is Role.bureau:
        return actor.subject
    if actor.role is Role.physician:
        institution = institutions.institution_view()
        adcode = session.exec(select(institution.c.adcode).where(institution.c.code == _institution_of(actor.subject))).first()
        return adcodes.city_of(adcode) if adcode else None
    return None


def establish_care(session: Session, actor: Actor, patient: Patient, basis: str) -> None:
    """Record that the calling physician's institution has `patient` in care (once)."""
    if actor.role is not Role.physician:
        return
    physician = institutions.get_physician(session, actor.subject)
    institution = physician.institution_code if physician else None
    if institution is None or session.get(PatientCare, (institution, patient.id)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(PatientCare(institution_code=institution, patient_id=patient.id, basis=basis,
                                    established_by=actor.label, established_at=clock.now()))
    except sa.exc.IntegrityError:
        pass  # established by a concurrent request


def create_patient(session: Session, actor: Actor, *, id_number: str, name: str, insurance: str, region: str,
                   filed_region: str | None = None, assistance_category: str = "none") -> Patient:
    """Register an insured patient.

    A number the caller may already read (or, for a physician, find with this name) is a
    Conflict naming the patient. A number registered only where the caller may not look is
    NOT refused, since a refusal would confirm that it exists: the registration is kept as a
    record of its own and a `duplicate_registration` flag asks the admin (and the bureau of the
    first record) to resolve it.
    """
    actor.require(Role.admin, Role.bureau, Role.physician)
    number = parse_id_number(id_number)
    name = parse_name(name)
    if actor.role is Role.bureau and not actor.in_region(region):
        raise Forbidden("A bureau registers only patients of its own region.", code="outside_region")
    vault = identity.vault()
    digest = vault.lookup_hash(number)
    known = session.exec(select(Patient).where(Patient.id_hash == digest, visible(actor))
                         .order_by(Patient.id)).first()
    if known is not None:
        raise Conflict("A patient with this ID number already exists.", code="patient_exists", patient_id=known.id)
    same = next((p for p in session.exec(select(Patient).where(Patient.id_hash == digest, _searchable(actor))
                                         .order_by(Patient.id)) if identity.same_name(p.name, name)), None)
    if same is not None:  # the search this caller could have made: it finds the patient
        same_id = same.id
        raise Conflict("A patient with this ID number already exists.", code="patient_exists", patient_id=same_id,
                       on_refusal=(lambda s: _found(s, actor, s.get(Patient, same_id)),))
    elsewhere = session.exec(select(Patient.id, Patient.region).where(Patient.id_hash == digest)
                             .order_by(Patient.id)).all()
    patient = Patient(id_hash=digest, id_encrypted=vault.encrypt(number), id_number_masked=identity.mask(number),
                      name=name, insurance=insurance, region=region, filed_region=filed_region,
                      assistance_category=assistance_category, created_at=clock.now())
    session.add(patient)
    session.flush()
    access.record(session, actor, AccessAction.create, "patient", patient.id, patient_id=patient.id, region=region)
    establish_care(session, actor, patient, "registration")
    if elsewhere:
        raise_flag(session, type="duplicate_registration", severity="medium", subject=f"patient:{patient.id}",
                   region=elsewhere[0].region,
                   evidence={"patient_ids": [row.id for row in elsewhere] + [patient.id],
                             "regions": [row.region for row in elsewhere] + [region],
                             "registered_by": actor.label},
                   dedup_key=f"duplicate_registration:{patient.id}")
    db.commit(session, "A patient with this ID number already exists.", code="patient_exists")
    return patient


def _record(session: Session, actor: Actor, action: AccessAction, patient: Patient, **extra) -> None:
    access.record(session, actor, action, "patient", patient.id, patient_id=patient.id, region=patient.region, **extra)


def _found(session: Session, actor: Actor, patient: Patient) -> None:
    """A search that found `patient`: recorded, and the start of care at a physician's institution."""
    _record(session, actor, AccessAction.search, patient, detail={"found": True})
    establish_care(session, actor, patient, "search")


def get_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """Load a patient the actor may see, or NotFound (no access recorded: for use inside services)."""
    patient = session.exec(_patient_query(actor.role),
                           params={"patient_id": patient_id, "scope": _scope_of(actor)}).first()
    if patient is None:
        raise NotFound(f"No patient {patient_id}.", code="patient_not_found")
    return patient


def read_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """A patient's record, shown to the actor; the read is recorded in the access log."""
    patient = get_patient(session, actor, patient_id)
    _record(session, actor, AccessAction.read, patient)
    session.commit()
    return patient


def search_patient(session: Session, actor: Actor, id_number: str, name: str) -> Patient:
    """Find a patient by ID number and name (sent in a body, so never in a URL or a log).

    A wrong name answers exactly as an unknown number, after the same work: the number is
    hashed, the same query runs and a name is compared either way, and both refusals write the
    same record. A physician's search that finds the patient puts them in care at the
    physician's institution. Every search is recorded, a fruitless one too, without the number
    searched for; repeated fruitless ones raise an `id_enumeration` flag.
    """
    actor.require(Role.admin, Role.bureau, Role.physician)
    number = parse_id_number(id_number)
    wanted = parse_name(name)
    digest = identity.vault().lookup_hash(number)
    candidates = session.execute(select(Patient.id, Patient.name).where(Patient.id_hash == digest, _searchable(actor))
                                 .order_by(Patient.id)).all()
    found = None
    for patient_id, stored in candidates or [(None, "")]:
        if identity.same_name(stored, wanted) and found is None:
            found = patient_id
    if found is None:
        raise NotFound("No patient with this ID number and name.", code="patient_not_found",
                       on_refusal=(lambda s: search_missed(s, actor, region=account_region(s, actor)),))
    patient = session.get(Patient, found)
    _found(session, actor, patient)
    session.commit()
    return patient


def search_missed(session: Session, actor: Actor, *, region: str | None, **detail) -> None:
    """A fruitless search (`detail` says where, if not the patient search): recorded in the
    searcher's `region`, without the number searched for, then checked for guessing."""
    access.record(session, actor, AccessAction.search, "patient", detail={"found": False, **detail}, region=region)
    session.flush()
    watch_enumeration(session, actor, region)


def verification_missed(session: Session, actor: Actor, patient_id: int, *, prescription_id: int,
                        region: str | None) -> None:
    """A real-name verification (实名制) given an ID number that is not the patient's: a guess
    at a number like a fruitless search, recorded as one (the number never kept) and counted
    with the account's searches towards `id_enumeration`."""
    access.record(session, actor, AccessAction.search, "patient", patient_id=patient_id, region=region,
                  related=f"prescription:{prescription_id}", detail={"found": False, "verification": True})
    session.flush()
    watch_enumeration(session, actor, region)


def watch_enumeration(session: Session, actor: Actor, region: str | None) -> "Flag | None":
    """Raise `id_enumeration` when the account's fruitless searches within the window reach
    the threshold (`ID_ENUMERATION_MISSES` in `ID_ENUMERATION_WINDOW_MINUTES`): one flag per
    episode, for the account's bureau (a physician's: its institution's city) and the admin."""
    threshold = current_app.config["ID_ENUMERATION_MISSES"]
    minutes = current_app.config["ID_ENUMERATION_WINDOW_MINUTES"]
    now = clock.now()
    since = now - timedelta(minutes=minutes)
    misses, first = access.fruitless_searches(session, actor.label, since)
    if misses < threshold:
        return None
    if flags.raised_since(session, type="id_enumeration", subject=actor.label, since=since):
        return None
    return raise_flag(
        session, type="id_enumeration", severity="high", subject=actor.label, region=region or NATIONAL,
        evidence={"account": actor.label, "token_id": actor.token_id, "misses": misses,
                  "window_minutes": minutes, "threshold": threshold,
                  "first_miss_at": first.isoformat(), "last_miss_at": now.isoformat()},
        dedup_key=f"id_enumeration:{actor.label}:{int(now.timestamp()) // (minutes * 60)}")


def reveal_id_number(session: Session, actor: Actor, patient_id: int, *, reason: str) -> dict:
    """The patient's full ID number, for an admin or a bureau of the patient's region giving a
    reason; recorded (who, when, why, what) before it is returned."""
    actor.require(Role.admin, Role.bureau)
    reason = access.require_reason(reason)
    patient = get_patient(session, actor, patient_id)
    entry = access.record(session, actor, AccessAction.reveal, "patient", patient.id, patient_id=patient.id,
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
    physician = institutions.get_physician(session, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) records eligibility.", code="physician_not_responsible")
    patient = get_patient(session, actor, patient_id)
    try:
        drug = drugs.get_drug(session, drug_code)
    except NotFound:
        raise Invalid(f"No drug {drug_code}.", {"drug_code": [FieldMessage("drug_unknown", "Unknown drug.")]},
                      code="drug_unknown") from None
    if not drug.requires_eligibility:
        raise Invalid(f"{drug.name} does not require eligibility.",
                      {"drug_code": [FieldMessage("eligibility_not_needed", "No eligibility needed.", drug=drug.name)]},
                      code="eligibility_not_required")
    today = clock.today()
    valid_until = valid_until or today + timedelta(days=DEFAULT_ELIGIBILITY_DAYS)
    if valid_until < today:
        raise Invalid("valid_until is in the past.",
                      {"valid_until": [FieldMessage("valid_until_past", "Must be today or later.")]},
                      code="valid_until_past")
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
    drug: "Drug"
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
    physician = institutions.get_physician(session, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) reviews re-examinations.",
                        code="physician_not_responsible")
    today = clock.today()
    colleague = institutions.physician_view()
    ours = (select(Eligibility.patient_id, Eligibility.drug_code)
            .join(colleague, colleague.c.code == Eligibility.physician_code)
            .where(colleague.c.institution_code == physician.institution_code).distinct().subquery())
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
    drug_of = drugs.drugs_by_code(session, {row.drug_code for row in rows}) if rows else {}
    items = []
    for patient_id, drug_code, until in rows:
        by = session.exec(select(Eligibility.physician_code).where(
            Eligibility.patient_id == patient_id, Eligibility.drug_code == drug_code,
            Eligibility.valid_until == until).order_by(Eligibility.id.desc())).first()
        items.append(ReExamination(patient=session.get(Patient, patient_id), drug=drug_of[drug_code],
                                   valid_until=until, days_left=(until - today).days, recorded_by=by))
    if items:
        access.record(session, actor, AccessAction.list, "patient",
                     detail={"view": "re-examinations", "ids": sorted({i.patient.id for i in items})})
        session.commit()
    return Page(items, encode_cursor(offset + limit) if more else None)


# Read by other features (they never query the patient table themselves).

def patients_by_id(session: Session, ids: set[int]) -> dict[int, Patient]:
    """The patients of `ids`, by id (no scope check: for services that already checked theirs)."""
    return {p.id: p for p in session.exec(select(Patient).where(Patient.id.in_(ids)))} if ids else {}


def with_patient(statement: sa.Select, patient_id: sa.ColumnElement) -> sa.Select:
    """`statement` with the patient whose id is `patient_id` joined and added as its next entity."""
    return statement.add_columns(Patient).join(Patient, Patient.id == patient_id)


def ids_with_id_number(id_number: str, field: str = "id_number") -> sa.Select:
    """The ids of patients registered with this resident ID number (a subquery), or Invalid (422)
    when it is not one."""
    try:
        digest = identity.vault().lookup_hash(identity.normalize(id_number.strip()))
    except identity.InvalidIdNumber as error:
        raise Invalid("Not a valid resident ID number.", {field: [FieldMessage(error.code, str(error))]},
                      code="id_number_invalid")
    return select(Patient.id).where(Patient.id_hash == digest)
