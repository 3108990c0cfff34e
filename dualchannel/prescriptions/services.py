"""The prescription lifecycle: issue, route, hand back, verify, dispense, cancel, expire.

Every state change is one conditional UPDATE (`WHERE id = :id AND status = :expected`) taken
from the transition table in `rules.py`; zero rows touched means someone else moved first, and
the caller gets a Conflict. The same code is exactly-once on SQLite and PostgreSQL.
"""

import functools
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app
from geopy.distance import geodesic
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db, identity
from dualchannel.api import Page, decode_cursor, encode_cursor, paginate
from dualchannel.access_log import services as access
from dualchannel.access_log.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.drugs.models import Storage
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.flags.services import raise_flag
from dualchannel.history import chain
from dualchannel.institutions import services as institutions
from dualchannel.packs import rules as pack_rules
from dualchannel.packs import services as packs
from dualchannel.patients import services as patients
from dualchannel.pharmacies import services as pharmacies
from dualchannel.pharmacies.models import PharmacyStatus
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.models import Prescription, PrescriptionEvent, PrescriptionItem
from dualchannel.prescriptions.rules import Action, Status
from dualchannel.signatures import crypto
from dualchannel.signatures import rules as signing
from dualchannel.signatures import services as signatures

if TYPE_CHECKING:  # rows of other features, which their services return
    from dualchannel.drugs.models import Drug
    from dualchannel.institutions.models import Institution, Physician
    from dualchannel.packs.models import DispensedPack, PackReturn
    from dualchannel.patients.models import Patient
    from dualchannel.pharmacies.models import Pharmacy
    from dualchannel.signatures.models import SigningKey


@dataclass
class PrescriptionDetail:
    """A prescription with what its readers need: patient, items, drugs, history, packs."""

    prescription: Prescription
    patient: "Patient"
    items: list[PrescriptionItem]
    drugs: "dict[str, Drug]"
    events: list[PrescriptionEvent] = field(default_factory=list)
    packs: "list[DispensedPack]" = field(default_factory=list)
    returns: "list[PackReturn]" = field(default_factory=list)
    pharmacy: "Pharmacy | None" = None
    key: "SigningKey | None" = None  # the key its signature was made with
    # Names people read instead of codes (physician, institution, pharmacy and its address);
    # loaded by `detail` for reads, absent from write steps' answers.
    names: dict[str, str | None] = field(default_factory=dict)


def _scope(role: Role, subject):
    """Which prescriptions actors of `role` may read, `subject` being what their scope compares
    (a value, or a bind parameter in a statement built once)."""
    if role is Role.admin:
        return sa.true()
    if role is Role.physician:
        return Prescription.physician_code == subject
    if role is Role.pharmacy:
        return Prescription.pharmacy_code == subject
    if role is Role.bureau:
        return Prescription.patient_region.startswith(subject)
    return sa.false()  # any other role (an institution's procurement account) reads none


def _scope_subject(actor: Actor) -> str | None:
    return adcodes.prefix(actor.subject) if actor.role is Role.bureau else actor.subject


def visible(actor: Actor):
    """The one filter deciding which prescriptions an actor may read."""
    return _scope(actor.role, _scope_subject(actor))


def _load(session: Session, actor: Actor, prescription_id: int) -> Prescription:
    prescription = session.exec(select(Prescription).where(Prescription.id == prescription_id, visible(actor))
                                .execution_options(populate_existing=True)).first()
    if prescription is None:
        raise NotFound(f"No prescription {prescription_id}.", code="prescription_not_found",
                       prescription_id=prescription_id)
    return prescription


@functools.cache
def _detail_query(role: Role) -> sa.Select:
    """The one query of a write step's whole read, for actors of `role`, built once: its
    parameters are `prescription_id` and `scope` (what `visible` compares, by role)."""
    statement = patients.with_patient(select(Prescription), Prescription.patient_id)
    statement = pharmacies.with_pharmacy(statement, Prescription.pharmacy_code)
    statement = signatures.with_signing_key(statement, Prescription.signing_key_id)
    statement = statement.add_columns(PrescriptionItem).join(
        PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
    statement = drugs.with_drug(statement, PrescriptionItem.drug_code)
    return (statement.add_columns(PrescriptionEvent)
            .outerjoin(PrescriptionEvent, PrescriptionEvent.prescription_id == Prescription.id)
            .where(Prescription.id == sa.bindparam("prescription_id"), _scope(role, sa.bindparam("scope")))
            .order_by(PrescriptionItem.id, PrescriptionEvent.id)
            .execution_options(populate_existing=True))


def _load_detail(session: Session, actor: Actor, prescription_id: int) -> PrescriptionDetail:
    """The prescription with its patient, pharmacy, signing key, items, drugs and history, in
    ONE query (a write step's whole read), or NotFound outside the actor's scope (the same
    scope as `visible`)."""
    rows = session.execute(_detail_query(actor.role),
                           {"prescription_id": prescription_id, "scope": _scope_subject(actor)}).all()
    if not rows:
        raise NotFound(f"No prescription {prescription_id}.", code="prescription_not_found",
                       prescription_id=prescription_id)
    items = list({row[4].id: row[4] for row in rows}.values())
    events = list({row[6].id: row[6] for row in rows if row[6] is not None}.values())
    prescription, patient, pharmacy, key = rows[0][:4]
    return PrescriptionDetail(prescription=prescription, patient=patient, items=items,
                              drugs={row[5].code: row[5] for row in rows}, events=events, pharmacy=pharmacy,
                              key=key)


def signed_bytes(prescription: Prescription, patient: "Patient", items: list[PrescriptionItem]) -> bytes:
    """The bytes the physician signed (or should have): the canonical form of its content."""
    return crypto.canonical(rules.signed_content(prescription, patient, items))


def signature_problem(loaded: PrescriptionDetail, ca_public: bytes | None = None) -> str | None:
    """Why the prescription's signature is not trusted (`signatures.rules.PROBLEMS`), or None.
    CPU only: everything it needs was loaded with the prescription."""
    p = loaded.prescription
    return signatures.problem(loaded.key, holder=signing.physician_holder(p.physician_code), signed_at=p.issued_at,
                              data=signed_bytes(p, loaded.patient, loaded.items), signature=p.signature,
                              ca_public=ca_public)


def _require_authentic(loaded: PrescriptionDetail, action: Action) -> None:
    """The pharmacy verifies before it acts: a prescription changed after issue, or signed with
    a key not trusted at the signing time, is refused (409 `signature_invalid`) and flagged
    for the bureau."""
    problem = signature_problem(loaded)
    if problem is None:
        return
    p = loaded.prescription
    evidence = {"prescription_id": p.id, "number": p.number, "physician_code": p.physician_code,
                "key_id": p.signing_key_id, "problem": problem, "step": action.value,
                "pharmacy_code": p.pharmacy_code, "checked_at": clock.now().isoformat()}
    raise Conflict(f"Prescription {p.id} is refused: {signing.PROBLEMS[problem]}.", code="signature_invalid",
                   reason=problem, on_refusal=[lambda s: raise_flag(
                       s, type="signature_invalid", severity="high", subject=f"prescription:{p.id}",
                       region=p.patient_region, dedup_key=f"signature_invalid:{p.id}:{problem}", evidence=evidence)])


def _require_party(actor: Actor, prescription: Prescription, action: Action) -> None:
    """Only its physician, or the pharmacy it is routed to, may move a prescription."""
    by = rules.TRANSITIONS[action].by
    if by == "physician" and not (actor.role is Role.physician and actor.subject == prescription.physician_code):
        raise Forbidden(f"Only the prescribing physician may {action.value} this prescription.",
                        code="not_prescribing_physician")
    if by in ("pharmacy", "pharmacist") and not (actor.role is Role.pharmacy
                                                 and actor.subject == prescription.pharmacy_code):
        raise Forbidden(f"Only the pharmacy it is routed to may {action.value} this prescription.",
                        code="not_routed_pharmacy")
    if by == "pharmacist" and actor.pharmacist_id is None:
        raise Forbidden("A prescription is reviewed (审方) by a pharmacist: sign in with a pharmacist's token.",
                        code="pharmacist_required")


def _refuse_transition(prescription: Prescription, action: Action) -> Conflict:
    status = prescription.status
    hint = " before verification" if action is Action.dispense and status == Status.routed.value else ""
    return Conflict(f"A prescription that is {status} does not allow {action.value}{hint}.",
                    code="invalid_transition", status_now=status, action=action.value)


def chain_start(prescription: Prescription) -> str:
    """The start of a prescription's history chain: its number (rows older than signing: its id)."""
    return chain.genesis("prescription", prescription.number or f"id:{prescription.id}")


@functools.cache
def _conditional_update(columns: tuple[str, ...], first_link: bool, by_admitted_pharmacy: bool) -> sa.Update:
    """The conditional UPDATE of a write step, built once per shape: it sets `columns` (bind
    parameters `new_<column>`) where the prescription (`prescription_id`) still has the status
    (`from_status`) and history head (`head`; none yet when `first_link`) it was loaded with and,
    `by_admitted_pharmacy`, where its pharmacy is still admitted."""
    table = Prescription.__table__  # Core: the loaded prescription is kept in step by `_move`
    same_head = table.c.history_head.is_(None) if first_link else table.c.history_head == sa.bindparam("head")
    conditions = [table.c.id == sa.bindparam("prescription_id"), same_head,
                  table.c.status == sa.bindparam("from_status")]
    if by_admitted_pharmacy:
        conditions.append(pharmacies.is_active(table.c.pharmacy_code))
    return sa.update(table).where(*conditions).values({column: sa.bindparam(f"new_{column}") for column in columns})


# The columns of a history event that its write step gives (its id comes from the database).
_EVENT_COLUMNS = ("prescription_id", "action", "from_status", "to_status", "actor", "reason_code", "reason",
                  "detail", "at", "chain_hash")


@functools.cache
def _recording_statements(columns: tuple[str, ...], first_link: bool, by_admitted_pharmacy: bool,
                          dialect_name: str) -> tuple[sa.Update | None, sa.Insert]:
    """A write step's conditional UPDATE and the INSERT of its event, built once per shape. On
    PostgreSQL they are one statement (no UPDATE apart): the UPDATE in a CTE, the event
    inserted for the row it touched (bind parameters `event_<column>`), returning the event's
    id, or nothing when it touched none. Elsewhere the two run in turn."""
    update = _conditional_update(columns, first_link, by_admitted_pharmacy)
    events = PrescriptionEvent.__table__
    if dialect_name != "postgresql":
        return update, sa.insert(events).returning(events.c.id)
    moved = update.returning(Prescription.__table__.c.id).cte("moved")
    given = [sa.cast(sa.bindparam(f"event_{name}", type_=events.c[name].type), events.c[name].type)
             for name in _EVENT_COLUMNS[1:]]
    return None, (sa.insert(events).from_select(list(_EVENT_COLUMNS), sa.select(moved.c.id, *given))
                  .returning(events.c.id))


def _record(session: Session, prescription: Prescription, event: PrescriptionEvent, *, from_status: str,
            by_admitted_pharmacy: bool, values: dict) -> bool:
    """Write a step: the conditional UPDATE (see `_conditional_update`) and `event`, linked into
    the prescription's history (its id set). The UPDATE sets the new head only where the head
    is still the one `event` was linked after. When only the head moved meanwhile (another step
    that keeps the status, an undo of a pack, committed first), the event is linked after the
    current head and tried once more. False when the step lost its race (nothing written)."""
    dialect_name = session.get_bind().dialect.name

    def attempt() -> bool:
        head = prescription.history_head
        values["history_head"] = chain.append(head or chain_start(prescription), event)
        update, insert = _recording_statements(tuple(values), head is None, by_admitted_pharmacy, dialect_name)
        parameters = {"prescription_id": prescription.id, "head": head, "from_status": from_status,
                      **{f"new_{column}": value for column, value in values.items()}}
        written = {name: getattr(event, name) for name in _EVENT_COLUMNS}
        if update is None:
            event.id = session.execute(insert, {**parameters, **{f"event_{n}": v for n, v in written.items()}}).scalar()
        elif session.execute(update, parameters).rowcount == 1:
            event.id = session.execute(insert, written).scalar()
        return event.id is not None

    if attempt():
        return True
    # No lock: the second attempt compares-and-sets the head it reads here.
    status, head = session.execute(select(Prescription.status, Prescription.history_head)
                                   .where(Prescription.id == prescription.id)).one()
    if status == prescription.status and head != prescription.history_head:
        set_committed_value(prescription, "history_head", head)
        return attempt()
    return False


def _move(session: Session, prescription: Prescription, action: Action, actor_label: str, *,
          reason: str | None = None, reason_code: str | None = None, detail: dict | None = None,
          by_admitted_pharmacy: bool = False, at: datetime | None = None, **values) -> PrescriptionEvent:
    """Apply one transition in the caller's transaction and record it, linked into the
    prescription's history chain; Conflict when the prescription is not, or no longer, in a
    state allowing it, or its history moved on meanwhile (or, `by_admitted_pharmacy`, when its
    pharmacy is no longer admitted). The loaded `prescription` shows the new state."""
    source = Status(prescription.status)
    step = rules.transition(action, source)
    if step is None:
        raise _refuse_transition(prescription, action)
    now = at or clock.now()
    event = PrescriptionEvent(prescription_id=prescription.id, action=action.value, from_status=source.value,
                              to_status=step.target.value, actor=actor_label, reason_code=reason_code, reason=reason,
                              detail=detail, at=now)
    changed = {"status": step.target.value, "updated_at": now, **values}
    if not _record(session, prescription, event, from_status=source.value,
                   by_admitted_pharmacy=by_admitted_pharmacy, values=changed):
        _lost_race(session, prescription)
    for name, value in changed.items():
        set_committed_value(prescription, name, value)
    return event


def _lost_race(session: Session, prescription: Prescription) -> None:
    """Raise why a conditional move touched nothing: another request moved the prescription
    first, or its pharmacy was suspended or exited meanwhile."""
    status, pharmacy = session.execute(
        pharmacies.with_pharmacy(select(Prescription.status), Prescription.pharmacy_code)
        .where(Prescription.id == prescription.id).execution_options(populate_existing=True)).one()
    if status == prescription.status and pharmacy is not None:
        pharmacies.ensure_admitted(pharmacy)
    raise Conflict(f"Prescription {prescription.id} was changed by another request.", code="concurrent_change",
                   status_now=status)


def _overdue(prescription: Prescription) -> bool:
    """Live but past its validity (it expires on the next read or sweep)."""
    return Status(prescription.status) in rules.LIVE and clock.now() >= prescription.valid_until


def _expire_if_overdue(session: Session, prescription: Prescription) -> bool:
    """Expire a live prescription past its validity, in the caller's transaction; True if it did."""
    if not _overdue(prescription):
        return False
    try:
        _move(session, prescription, Action.expire, "system")
    except Conflict:
        return False
    return True


def _expired(prescription: Prescription, *effects) -> Conflict:
    """The refusal of a step on a prescription past its validity; the expiry itself (and any
    `effects`) is recorded although the step is refused."""
    def expire(session: Session) -> None:
        _expire_if_overdue(session, session.get(Prescription, prescription.id, populate_existing=True))

    return Conflict(f"Prescription {prescription.id} expired at {prescription.valid_until.isoformat()}.",
                    code="prescription_expired", status_now=Status.expired.value, on_refusal=(expire, *effects))


def _refuse_if_expired(prescription: Prescription) -> None:
    if prescription.status == Status.expired.value or _overdue(prescription):
        raise _expired(prescription)


def _issue_problems(session: Session, actor: Actor, *, patient_id: int, valid_days: int, items: list[dict]):
    """The patient of a new prescription and its drugs by code, or Invalid listing every rule it breaks at once, by
    field: the patient, the validity, and for each item its drug (listed twice, unknown, not
    dual-channel, eligibility missing or expired) and its days' supply."""
    errors: dict[str, list[str]] = {}
    kinds: set[str] = set()  # "patient_id", "valid_days", "twice", or "rule" for an item's rule

    def refuse(field: str, message: str, kind: str = "rule") -> None:
        errors.setdefault(field, []).append(message)
        kinds.add(kind)

    patient = None
    try:  # only a patient in care at the physician's institution
        patient = patients.get_patient(session, actor, patient_id)
    except NotFound:
        refuse("patient_id", FieldMessage("patient_unknown", "Unknown patient."), "patient_id")
    if not 1 <= valid_days <= current_app.config["MAX_VALID_DAYS"]:
        refuse("valid_days", FieldMessage("between", "1 to 3.", min=1, max=current_app.config["MAX_VALID_DAYS"]),
               "valid_days")
    known = drugs.drugs_by_code(session, {item["drug_code"] for item in items})
    today, seen = clock.today(), set()
    for index, item in enumerate(items):
        drug, key = known.get(item["drug_code"]), f"items.{index}"
        if item["drug_code"] in seen:
            refuse(f"{key}.drug_code", FieldMessage("drug_listed_twice", "A drug is listed twice."), "twice")
        seen.add(item["drug_code"])
        if drug is None:
            refuse(f"{key}.drug_code", FieldMessage("drug_unknown", f"Unknown drug {item['drug_code']}.",
                                                    drug_code=item["drug_code"]))
        elif not drug.dual_channel:
            refuse(f"{key}.drug_code", FieldMessage("drug_not_dual_channel", f"{drug.name} is not a dual-channel drug.",
                                                     drug=drug.name))
        elif drug.requires_eligibility and patient is not None:
            until = patients.eligible_until(session, patient.id, drug.code)
            if until is None:
                refuse(f"{key}.drug_code", FieldMessage("eligibility_missing",
                                                         f"No eligibility (待遇准入) recorded for {drug.name}.",
                                                         drug=drug.name))
            elif until < today:
                refuse(f"{key}.drug_code", FieldMessage(
                    "eligibility_expired", f"Eligibility for {drug.name} expired on {until.isoformat()}; "
                                           "a re-examination (复查评估) must renew it.",
                    drug=drug.name, expired_on=until.isoformat()))
        if item["days_supply"] > current_app.config["MAX_DAYS_SUPPLY"]:
            refuse(f"{key}.days_supply", FieldMessage("days_supply_too_long",
                                                       "At most 84 days' supply (12 weeks, 长期处方).",
                                                       max=current_app.config["MAX_DAYS_SUPPLY"]))
    if not errors:
        return patient, known
    # One kind of problem keeps its own code; several at once are `prescription_rules`.
    if kinds == {"patient_id"}:
        raise Invalid(f"No patient {patient_id}.", errors, code="patient_unknown")
    if kinds == {"valid_days"}:
        raise Invalid("A prescription is valid 1 to 3 days.", errors, code="validity_too_long")
    if kinds == {"twice"}:
        raise Invalid("Each drug appears once.", errors, code="drug_listed_twice")
    raise Invalid("The prescription breaks dual-channel rules.", errors, code="prescription_rules")


def issue(session: Session, actor: Actor, *, patient_id: int, diagnosis: str, valid_days: int,
          items: list[dict]) -> PrescriptionDetail:
    """A responsible physician issues a dual-channel e-prescription, signed with their key (the
    service signing as the co-signing service) over its canonical content, and the first link
    of its history chain."""
    actor.require(Role.physician)
    physician, keys = signatures.physician_with_keys(session, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) issues dual-channel prescriptions.",
                        code="physician_not_responsible")
    patient, chosen = _issue_problems(session, actor, patient_id=patient_id, valid_days=valid_days, items=items)
    _require_a_pharmacy(session, patient, cold=any(d.storage == Storage.cold_chain.value for d in chosen.values()))
    now = clock.now()
    key = signatures.signing_key(session, signing.physician_holder(physician.code), keys, at=now)
    prescription = Prescription(patient_id=patient.id, physician_code=physician.code,
                                institution_code=physician.institution_code, patient_region=patient.region,
                                diagnosis=diagnosis, status=Status.issued.value, issued_at=now,
                                valid_until=rules.valid_until(now, valid_days), updated_at=now,
                                number=uuid.uuid4().hex, signing_key_id=key.id)
    rows = [PrescriptionItem(**item) for item in items]
    content = signed_bytes(prescription, patient, rows)
    prescription.signature = signatures.sign(key, content)
    event = PrescriptionEvent(action="issue", to_status=Status.issued.value, actor=actor.label, at=now)
    prescription.history_head = chain.append(chain_start(prescription), event, issue_link(prescription, content))
    db.insert_with_children(session, prescription, [*rows, event], link="prescription_id",
                            told_apart_by={"prescription_item": "drug_code"})
    session.commit()
    # Everything the answer shows was just written: no need to read it back.
    return PrescriptionDetail(prescription=prescription, patient=patient, items=rows, drugs=chosen, events=[event])


def _require_a_pharmacy(session: Session, patient: "Patient", *, cold: bool) -> None:
    """A prescription no pharmacy of the network could ever fill is refused at issue (409), naming
    why: no active dual-channel pharmacy in the patient's region (or filed region), or none with
    the cold chain a cold-chain drug needs. Stock is not asked: it changes by the hour."""
    regions = _patient_regions(patient)
    active, cold_chain = pharmacies.network_capacity(session, regions=regions)
    if active == 0:
        raise Conflict(f"No active dual-channel pharmacy serves the patient's region ({', '.join(regions)}); "
                       "the prescription could not be filled anywhere.", code="no_pharmacy_serves_patient",
                       regions=regions)
    if cold and cold_chain == 0:
        raise Conflict(f"No active dual-channel pharmacy with cold chain serves the patient's region "
                       f"({', '.join(regions)}).", code="no_cold_chain_pharmacy_serves_patient", regions=regions)


def issue_link(prescription: Prescription, content: bytes) -> dict:
    """What the issue event's link covers besides the event: the signed content's digest, the
    signature and its key."""
    return {"digest": crypto.sm3(content).hex(), "signature": prescription.signature,
            "key_id": prescription.signing_key_id}


def detail(session: Session, prescription: Prescription) -> PrescriptionDetail:
    """Everything a reader sees of a prescription, read fresh."""
    items = list(session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription.id)
                              .order_by(PrescriptionItem.id)))
    dispensed = packs.of_prescription(session, prescription.id)
    return PrescriptionDetail(
        prescription=prescription,
        patient=patients.patients_by_id(session, {prescription.patient_id})[prescription.patient_id],
        items=items,
        drugs=drugs.drugs_by_code(session, {i.drug_code for i in items}),
        events=list(session.exec(select(PrescriptionEvent)
                                 .where(PrescriptionEvent.prescription_id == prescription.id)
                                 .order_by(PrescriptionEvent.id))),
        packs=dispensed.dispensed, returns=dispensed.returned, names=_names(session, prescription))


def _names(session: Session, prescription: Prescription) -> dict[str, str | None]:
    """The physician's, institution's and pharmacy's names (and the pharmacy's address)."""
    physician, institution = institutions.physician_and_institution_names(
        session, prescription.physician_code, prescription.institution_code)
    pharmacy = pharmacies.pharmacy_by_code(session, prescription.pharmacy_code)
    return {"physician_name": physician, "institution_name": institution,
            "pharmacy_name": pharmacy and pharmacy.name, "pharmacy_address": pharmacy and pharmacy.address}


@dataclass(frozen=True)
class WorklistEntry:
    """A line of a pharmacy's worklist: enough to recognise the prescription without opening it."""

    prescription: Prescription
    patient: "Patient"
    items: "list[tuple[PrescriptionItem, Drug]]"
    phase: str  # the status, `expired` for a live one past its validity, `returned` for one handed back
    closing: PrescriptionEvent | None  # why it ended (returned, cancelled, expired, not dispensed)


_LIVE = (Status.routed.value, Status.verified.value, Status.reviewed.value)
_ENDED = (Status.cancelled.value, Status.expired.value, Status.not_dispensed.value)


def pharmacy_worklist(session: Session, actor: Actor, *, status: str | None = None, id_number: str | None = None,
                      number: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page:
    """The calling pharmacy's prescriptions, newest first, with patient (masked), drugs and why
    a closed one ended; found by the patient's ID number (typed or read from the card) or the
    prescription number. Handed-back prescriptions are listed from the pharmacy's own return
    events (their later course, elsewhere, is not shown)."""
    actor.require(Role.pharmacy)
    handed_back = select(PrescriptionEvent.prescription_id).where(
        PrescriptionEvent.action == Action.hand_back.value, PrescriptionEvent.actor == actor.label)
    mine = visible(actor)
    not_mine = sa.or_(Prescription.pharmacy_code.is_(None), Prescription.pharmacy_code != actor.subject)
    now = clock.now()
    live = sa.and_(Prescription.status.in_(_LIVE), mine)
    if status == "open":
        condition = sa.and_(live, Prescription.valid_until > now)
    elif status == "expired":
        condition = sa.and_(mine, sa.or_(Prescription.status == Status.expired.value,
                                         sa.and_(Prescription.status.in_(_LIVE), Prescription.valid_until <= now)))
    elif status == "returned":
        condition = sa.and_(Prescription.id.in_(handed_back), not_mine)
    elif status == "closed":
        condition = sa.or_(sa.and_(mine, Prescription.status.in_(_ENDED)),
                           sa.and_(live, Prescription.valid_until <= now),
                           sa.and_(Prescription.id.in_(handed_back), not_mine))
    elif status:
        condition = sa.and_(mine, Prescription.status == status)
    else:
        condition = sa.or_(mine, Prescription.id.in_(handed_back))
    statement = select(Prescription).where(condition)
    if number:
        number = number.strip()
        statement = statement.where(sa.or_(Prescription.number == number,
                                           Prescription.id == (int(number) if number.isdigit() and len(number) < 10
                                                               else -1)))
    if id_number:
        statement = statement.where(Prescription.patient_id.in_(patients.ids_with_id_number(id_number)))
    page = _record_list(session, actor, paginate(session, statement, Prescription.id, limit=limit, cursor=cursor),
                        "worklist")
    if id_number and not page.items and not cursor:
        # Whether a number is one of the pharmacy's patients' is what a guesser wants to know:
        # a number that finds nothing counts towards `id_enumeration` like a fruitless search.
        pharmacy = pharmacies.pharmacy_by_code(session, actor.subject)
        patients.search_missed(session, actor, worklist=True,
                               region=adcodes.city_of(pharmacy.county_adcode or pharmacy.adcode) if pharmacy else None)
    return Page(_worklist_entries(session, actor, page.items), page.next_cursor)


def _worklist_entries(session: Session, actor: Actor, found: list[Prescription]) -> list[WorklistEntry]:
    if not found:
        return []
    ids = [p.id for p in found]
    patient_ids = {p.patient_id for p in found}
    patients_by_id = patients.patients_by_id(session, patient_ids)
    items: dict[int, list] = {i: [] for i in ids}
    for item, drug in session.execute(drugs.with_drug(select(PrescriptionItem), PrescriptionItem.drug_code)
                                      .where(PrescriptionItem.prescription_id.in_(ids)).order_by(PrescriptionItem.id)):
        items[item.prescription_id].append((item, drug))
    closings: dict[int, PrescriptionEvent] = {}
    for event in session.exec(select(PrescriptionEvent).where(
            PrescriptionEvent.prescription_id.in_(ids),
            PrescriptionEvent.action.in_([Action.hand_back.value, Action.cancel.value, Action.expire.value,
                                          Action.not_dispense.value, Action.refuse_review.value]))
            .order_by(PrescriptionEvent.id)):
        if event.action == Action.hand_back.value and event.actor != actor.label:
            continue  # another pharmacy's return is not this one's business
        closings[event.prescription_id] = event
    now = clock.now()
    entries = []
    for p in found:
        if p.pharmacy_code != actor.subject:
            phase = rules.RETURNED
        elif p.status in _LIVE and p.valid_until <= now:
            phase = Status.expired.value
        else:
            phase = p.status
        closing = closings.get(p.id) if phase in (rules.RETURNED, *_ENDED) else None
        entries.append(WorklistEntry(prescription=p, patient=patients_by_id[p.patient_id], items=items[p.id],
                                     phase=phase, closing=closing))
    return entries


def record_read(session: Session, actor: Actor, prescription: Prescription, **extra) -> None:
    """Add a read of `prescription` to the access log (the caller commits)."""
    access.record(session, actor, AccessAction.read, "prescription", prescription.id,
                 patient_id=prescription.patient_id, region=prescription.patient_region, **extra)


def _record_list(session: Session, actor: Actor, page: Page, view: str) -> Page:
    if page.items:
        access.record(session, actor, AccessAction.list, "prescription",
                     detail={"view": view, "ids": [p.id for p in page.items]})
        session.commit()
    return page


def _read(session: Session, actor: Actor, prescription_id: int, **extra) -> Prescription:
    """Load a prescription to show it: a live one past its validity expires on read, and the
    read is recorded in the access log."""
    prescription = _load(session, actor, prescription_id)
    _expire_if_overdue(session, prescription)
    record_read(session, actor, prescription, **({"detail": extra} if extra else {}))
    session.commit()
    return prescription


def get(session: Session, actor: Actor, prescription_id: int) -> PrescriptionDetail:
    """Read a prescription (recorded in the access log); a live one past its validity expires on read."""
    return detail(session, _read(session, actor, prescription_id))


def returned(detail: PrescriptionDetail) -> bool:
    """Whether a pharmacy handed it back since it was last routed (an issued one with a return)."""
    return detail.prescription.status == Status.issued.value and any(
        e.action == Action.hand_back.value for e in detail.events)


def phase_of(detail: PrescriptionDetail) -> str:
    """Its status, or `returned` (rules.RETURNED) for an issued one a pharmacy handed back."""
    return rules.phase(detail.prescription.status, returned(detail))


def in_phases(phases: Collection[str]):
    """SQL: prescriptions in any of `phases` (statuses, and `returned` told apart from issued)."""
    handed_back = sa.exists().where(PrescriptionEvent.prescription_id == Prescription.id,
                                    PrescriptionEvent.action == Action.hand_back.value)
    statuses = [p for p in phases if p not in (Status.issued.value, rules.RETURNED)]
    conditions = [Prescription.status.in_(statuses)] if statuses else []
    if Status.issued.value in phases and rules.RETURNED in phases:
        conditions.append(Prescription.status == Status.issued.value)
    elif Status.issued.value in phases:
        conditions.append(sa.and_(Prescription.status == Status.issued.value, ~handed_back))
    elif rules.RETURNED in phases:
        conditions.append(sa.and_(Prescription.status == Status.issued.value, handed_back))
    return sa.or_(*conditions) if conditions else sa.false()


@dataclass
class Tracker:
    """Where a prescription is now, who holds it, what happens next and by when, and how it got
    there (`detail.events`, timed, with their reason codes)."""

    detail: PrescriptionDetail
    phase: str
    stage: rules.Stage
    physician: "Physician"
    institution: "Institution | None"
    deadline: datetime | None


def tracker(session: Session, actor: Actor, prescription_id: int) -> Tracker:
    """The tracker of a prescription (a read, recorded like any other; an overdue one expires)."""
    loaded = detail(session, _read(session, actor, prescription_id, view="tracker"))
    physician = institutions.get_physician(session, loaded.prescription.physician_code)
    loaded.pharmacy = pharmacies.pharmacy_by_code(session, loaded.prescription.pharmacy_code)
    phase = phase_of(loaded)
    stage = rules.STAGES[phase]
    return Tracker(detail=loaded, phase=phase, stage=stage, physician=physician,
                   institution=institutions.institution_by_code(session, loaded.prescription.institution_code),
                   deadline=loaded.prescription.valid_until if stage.timed else None)


def access_log(session: Session, actor: Actor, prescription_id: int, *, limit: int | None = None,
               cursor: str | None = None) -> Page:
    """Who read this prescription and its packs, and who revealed its agent's ID (admin, bureau)."""
    actor.require(Role.admin, Role.bureau)
    prescription = _load(session, actor, prescription_id)
    return access.of_record(session, actor, "prescription", prescription.id, limit=limit, cursor=cursor)


def reveal_pickup(session: Session, actor: Actor, prescription_id: int, *, reason: str) -> dict:
    """The full ID number of the agent who picked up, for an admin or bureau, with a recorded reason."""
    actor.require(Role.admin, Role.bureau)
    reason = access.require_reason(reason)
    prescription = _load(session, actor, prescription_id)
    if prescription.pickup_id_encrypted is None:
        raise NotFound(f"No agent picked up prescription {prescription.id}.", code="pickup_not_by_agent")
    entry = access.record(session, actor, AccessAction.reveal, "prescription", prescription.id,
                         patient_id=prescription.patient_id, region=prescription.patient_region, reason=reason,
                         detail={"field": "pickup.id_number"})
    session.commit()
    return {"prescription_id": prescription.id, "name": prescription.pickup_name,
            "relation": prescription.pickup_relation,
            "id_number": identity.vault().decrypt(prescription.pickup_id_encrypted),
            "access_id": entry.id, "reason": reason}


def list_prescriptions(session: Session, actor: Actor, *, status: str | None = None, limit: int | None = None,
                       cursor: str | None = None) -> Page:
    """Prescriptions the actor may see, newest first (a physician's recent ones, a pharmacy's inbox)."""
    statement = select(Prescription).where(visible(actor))
    if status:
        statement = statement.where(Prescription.status == status)
    return _record_list(session, actor, paginate(session, statement, Prescription.id, limit=limit, cursor=cursor),
                        "list")


def _details(session: Session, prescriptions: list[Prescription]) -> dict[int, PrescriptionDetail]:
    """Everything readers see of several prescriptions, in a few queries (not one per prescription)."""
    ids = [p.id for p in prescriptions]
    if not ids:
        return {}
    found = {p.id: PrescriptionDetail(prescription=p, patient=None, items=[], drugs={}) for p in prescriptions}
    patients_by_id = patients.patients_by_id(session, {p.patient_id for p in prescriptions})
    for item, drug in session.execute(drugs.with_drug(select(PrescriptionItem), PrescriptionItem.drug_code)
                                      .where(PrescriptionItem.prescription_id.in_(ids)).order_by(PrescriptionItem.id)):
        found[item.prescription_id].items.append(item)
        found[item.prescription_id].drugs[drug.code] = drug
    for event in session.exec(select(PrescriptionEvent).where(PrescriptionEvent.prescription_id.in_(ids))
                              .order_by(PrescriptionEvent.id)):
        found[event.prescription_id].events.append(event)
    for prescription_id, dispensed in packs.of_prescriptions(session, ids).items():
        found[prescription_id].packs = dispensed.dispensed
    for loaded in found.values():
        loaded.patient = patients_by_id[loaded.prescription.patient_id]
    return found


def records(session: Session, actor: Actor, *, patient_id: int | None = None, phases: Collection[str] | None = None,
            updated_from: datetime | None = None, updated_before: datetime | None = None, per_item: bool = False,
            limit: int | None = None, cursor: str | None = None) -> Page:
    """Prescriptions the actor may read (the same filter as every read), newest first, each with
    its patient, items, drugs, history and packs, for a standard export (FHIR): `phases` are
    statuses or `returned`; `updated_*` bound `updated_at` ([from, before)). `per_item`: a page
    of items instead, as (detail, index of the item) pairs. The list is recorded like any other."""
    key = PrescriptionItem.id if per_item else Prescription.id
    statement = select(Prescription, PrescriptionItem.id) if per_item else select(Prescription, Prescription.id)
    if per_item:
        statement = statement.join(PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
    statement = statement.where(visible(actor))
    if patient_id is not None:
        statement = statement.where(Prescription.patient_id == patient_id)
    if phases is not None:
        statement = statement.where(in_phases(phases))
    if updated_from is not None:
        statement = statement.where(Prescription.updated_at >= updated_from)
    if updated_before is not None:
        statement = statement.where(Prescription.updated_at < updated_before)
    limit = limit or 50
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(key < after)
    rows = session.execute(statement.order_by(key.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    loaded = _details(session, list({row[0].id: row[0] for row in rows}.values()))
    if per_item:
        items = [(loaded[p.id], next(i for i, item in enumerate(loaded[p.id].items) if item.id == item_id))
                 for p, item_id in rows]
    else:
        items = [loaded[p.id] for p, _ in rows]
    page = Page(items, encode_cursor(rows[-1][1]) if more and rows else None)
    if rows:
        access.record(session, actor, AccessAction.list, "prescription",
                     detail={"view": "fhir", "ids": sorted(loaded)})
        session.commit()
    return page


def inbox(session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None) -> Page:
    """Prescriptions routed to the calling pharmacy and not yet dispensed."""
    actor.require(Role.pharmacy)
    statement = select(Prescription).where(
        visible(actor), Prescription.status.in_([Status.routed.value, Status.verified.value, Status.reviewed.value]),
        Prescription.valid_until > clock.now())
    return _record_list(session, actor, paginate(session, statement, Prescription.id, limit=limit, cursor=cursor),
                        "inbox")


def _patient_regions(patient: "Patient") -> list[str]:
    return [r for r in (patient.region, patient.filed_region) if r]


def _needs(session: Session, prescription: Prescription) -> tuple[dict[str, int], bool]:
    items = session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription.id)).all()
    cold = any(d.storage == Storage.cold_chain.value
               for d in drugs.drugs_by_code(session, {i.drug_code for i in items}).values())
    return {i.drug_code: i.quantity for i in items}, cold


def pharmacy_options(session: Session, actor: Actor, prescription_id: int, *, lat: float | None = None,
                     lon: float | None = None, crs: str = "gcj02") -> "list[tuple[Pharmacy, float | None]]":
    """Active pharmacies in the patient's region(s) able to fill it, nearest first (geodesic km)."""
    prescription = _load(session, actor, prescription_id)
    record_read(session, actor, prescription, detail={"view": "pharmacy-options"})
    session.commit()
    patient = patients.patients_by_id(session, {prescription.patient_id})[prescription.patient_id]
    needs, cold = _needs(session, prescription)
    candidates = pharmacies.able_to_fill(session, regions=_patient_regions(patient), needs=needs, cold_chain=cold)
    if lat is None or lon is None:
        return [(p, None) for p in sorted(candidates, key=lambda p: p.code)]
    here = pharmacies.locate(lat, lon, crs)[:2]
    ranked = [(p, round(geodesic(here, (p.lat, p.lon)).km, 2)) for p in candidates]
    return sorted(ranked, key=lambda pair: (pair[1], pair[0].code))


def _answer(loaded: PrescriptionDetail, event: PrescriptionEvent, **changes) -> PrescriptionDetail:
    """The answer of a write step, from what was loaded and written: nothing is read back."""
    loaded.events.append(event)
    for name, value in changes.items():
        setattr(loaded, name, value)
    return loaded


def route(session: Session, actor: Actor, prescription_id: int, *, pharmacy_code: str) -> PrescriptionDetail:
    """Bind the prescription to one dual-channel pharmacy in the patient's region (定药店)."""
    loaded = _load_detail(session, actor, prescription_id)
    prescription = loaded.prescription
    _require_party(actor, prescription, Action.route)
    _refuse_if_expired(prescription)
    pharmacy = pharmacies.pharmacy_by_code(session, pharmacy_code)
    if pharmacy is None:
        raise Invalid(f"No pharmacy {pharmacy_code}.",
                      {"pharmacy_code": [FieldMessage("pharmacy_unknown", "Unknown pharmacy.")]},
                      code="pharmacy_unknown")
    if pharmacy.status != PharmacyStatus.active.value:
        raise Invalid(f"{pharmacy.name} is not an active dual-channel pharmacy.",
                      {"pharmacy_code": [FieldMessage("pharmacy_status_not_active", f"Pharmacy is {pharmacy.status}.",
                                                       status_now=pharmacy.status)]}, code="pharmacy_not_active")
    if not any(adcodes.contains(r, pharmacy.county_adcode) for r in _patient_regions(loaded.patient)):
        raise Invalid(f"{pharmacy.name} is outside the patient's coordinating region.",
                      {"pharmacy_code": [FieldMessage("pharmacy_outside_patient_region",
                                                       "Outside the patient's coordinating region (统筹地区).")]},
                      code="pharmacy_outside_region")
    if not pharmacy.cold_chain and any(d.storage == Storage.cold_chain.value for d in loaded.drugs.values()):
        raise Invalid(f"{pharmacy.name} has no cold chain for a cold-chain drug.",
                      {"pharmacy_code": [FieldMessage("pharmacy_without_cold_chain", "No cold-chain storage.")]},
                      code="pharmacy_without_cold_chain")
    event = _move(session, prescription, Action.route, actor.label, pharmacy_code=pharmacy.code,
                  detail={"pharmacy_code": pharmacy.code})
    session.commit()
    return _answer(loaded, event, pharmacy=pharmacy)


def _require_reason(action: Action, reason_code: str | None, note: str | None) -> None:
    """Invalid unless `reason_code` is one `action` accepts (with a note when the code needs one)."""
    errors = rules.check_reason(action, reason_code, note)
    if errors:
        raise Invalid(f"A reason code of the published list is required to {action.value}.", errors,
                      code="reason_code_invalid", accepted=list(rules.reasons_of(action)))


# What a prescription going back to its physician forgets: its pharmacy and who picked up.
_HANDED_BACK = {"pharmacy_code": None, "verified_at": None, "pickup_name": None, "pickup_id_masked": None,
                "pickup_id_hash": None, "pickup_id_encrypted": None, "pickup_relation": None}


def hand_back(session: Session, actor: Actor, prescription_id: int, *, reason_code: str | None = None,
              note: str | None = None) -> PrescriptionDetail:
    """The routed pharmacy hands the prescription back with a reason code; it can then go to
    another pharmacy. A suspended or exited pharmacy may still hand back (it frees the patient
    to go elsewhere)."""
    loaded = _load_detail(session, actor, prescription_id)
    prescription = loaded.prescription
    _require_party(actor, prescription, Action.hand_back)
    _require_reason(Action.hand_back, reason_code, note)
    _refuse_if_expired(prescription)
    event = _move(session, prescription, Action.hand_back, actor.label, reason_code=reason_code, reason=note,
                  detail={"pharmacy_code": prescription.pharmacy_code}, **_HANDED_BACK)
    session.commit()
    return _answer(loaded, event, pharmacy=None)


def verify(session: Session, actor: Actor, prescription_id: int, *, id_number: str,
           pickup: dict | None = None) -> PrescriptionDetail:
    """Real-name verification (实名制) of the patient; an agent's identity is recorded. The agent
    is another person than the patient, with a valid ID number of their own."""
    loaded = _load_detail(session, actor, prescription_id)
    prescription = loaded.prescription
    _require_party(actor, prescription, Action.verify)
    _require_authentic(loaded, Action.verify)
    _refuse_if_expired(prescription)
    pharmacies.ensure_admitted(loaded.pharmacy)
    if not patients.matches_id_number(loaded.patient, id_number):
        pharmacy = loaded.pharmacy
        raise Invalid("The ID number is not the patient's.",
                      {"id_number": [FieldMessage("id_number_not_patients", "Does not match the patient.")]},
                      code="id_number_mismatch", on_refusal=(lambda s: patients.verification_missed(
                          s, actor, loaded.patient.id, prescription_id=prescription.id,
                          region=adcodes.city_of(pharmacy.county_adcode or pharmacy.adcode)),))
    values = {"verified_at": clock.now()}
    detail = {"pickup": bool(pickup)}
    if pickup:
        agent_number = patients.parse_id_number(pickup["id_number"], "pickup.id_number")
        vault = identity.vault()
        agent_hash = vault.lookup_hash(agent_number)
        if agent_hash == loaded.patient.id_hash:
            raise Invalid("The agent picking up (代取人) is the patient; an agent is another person.",
                          {"pickup.id_number": [FieldMessage(
                              "agent_id_is_patients", "The patient's own ID number; leave pickup out when the "
                                                      "patient collects in person.")]}, code="agent_is_patient")
        values.update(pickup_name=pickup["name"], pickup_id_masked=identity.mask(agent_number),
                      pickup_id_hash=agent_hash, pickup_id_encrypted=vault.encrypt(agent_number),
                      pickup_relation=pickup["relation"])
        # The agent as shown (masked), so the history chain covers who picked up.
        detail["agent"] = {"name": pickup["name"], "id_number_masked": values["pickup_id_masked"],
                           "relation": pickup["relation"]}
    event = _move(session, prescription, Action.verify, actor.label, detail=detail, by_admitted_pharmacy=True,
                  **values)
    session.commit()
    return _answer(loaded, event)


def review(session: Session, actor: Actor, prescription_id: int, *, outcome: str, reason_code: str | None = None,
           note: str | None = None) -> PrescriptionDetail:
    """A pharmacist of the routed, admitted pharmacy reviews (审方) a verified prescription.
    Approved, it may be dispensed; refused with a reason code (`rules.REVIEW_REFUSALS`), it goes
    back to its physician. Either way the review is signed with the pharmacist's key over the
    prescription's signed content and recorded, with who reviewed, in its history."""
    action = Action.review if outcome == "approved" else Action.refuse_review
    if action is Action.review and reason_code is not None:
        raise Invalid("An approval carries no reason code.",
                      {"reason_code": [FieldMessage("reason_code_only_for_refusal", "Only for a refusal.")]},
                      code="reason_code_unexpected")
    if action is Action.refuse_review:
        _require_reason(action, reason_code, note)
    loaded = _load_detail(session, actor, prescription_id)
    prescription = loaded.prescription
    _require_party(actor, prescription, action)
    _require_authentic(loaded, action)
    _refuse_if_expired(prescription)
    pharmacies.ensure_admitted(loaded.pharmacy)
    if rules.transition(action, Status(prescription.status)) is None:
        raise _refuse_transition(prescription, action)
    pharmacist, keys = signatures.pharmacist_with_keys(session, actor.pharmacist_id)
    if pharmacist is None or pharmacist.pharmacy_code != prescription.pharmacy_code:
        raise Forbidden("The token's pharmacist is not one of this pharmacy's.", code="pharmacist_required")
    now = clock.now()
    key = signatures.signing_key(session, signing.pharmacist_holder(pharmacist.licence_number), keys, at=now)
    content = signed_bytes(prescription, loaded.patient, loaded.items)
    document = rules.review_content(number=prescription.number, content_digest=crypto.sm3(content).hex(),
                                    licence_number=pharmacist.licence_number, pharmacy_code=prescription.pharmacy_code,
                                    outcome=outcome, reason_code=reason_code, note=note, at=now)
    detail = {"outcome": outcome, "reason_code": reason_code, "pharmacy_code": prescription.pharmacy_code,
              "pharmacist": {"id": pharmacist.id, "licence_number": pharmacist.licence_number,
                             "name": pharmacist.name},
              "key_id": key.id, "signature": signatures.sign(key, crypto.canonical(document))}
    cleared = {} if action is Action.review else _HANDED_BACK
    event = _move(session, prescription, action, actor.label, reason_code=reason_code, reason=note, detail=detail,
                  by_admitted_pharmacy=True, at=now, **cleared)
    session.commit()
    return _answer(loaded, event, **({} if action is Action.review else {"pharmacy": None}))


def _approved_since_verified(events: list[PrescriptionEvent]) -> bool:
    """Whether the history holds a pharmacist's approval since the latest verification."""
    for event in reversed(events):
        if event.action == Action.review.value:
            return True
        if event.action in (Action.verify.value, Action.hand_back.value, Action.refuse_review.value):
            return False
    return False


def review_document(prescription: Prescription, content: bytes, event: PrescriptionEvent) -> bytes:
    """The bytes a review event's pharmacist signed, rebuilt from the event."""
    detail = event.detail or {}
    return crypto.canonical(rules.review_content(
        number=prescription.number, content_digest=crypto.sm3(content).hex(),
        licence_number=(detail.get("pharmacist") or {}).get("licence_number"),
        pharmacy_code=detail.get("pharmacy_code"), outcome=detail.get("outcome"),
        reason_code=detail.get("reason_code"), note=event.reason, at=event.at))


REVIEW_ACTIONS = (Action.review.value, Action.refuse_review.value)


def signature_report(session: Session, loaded: PrescriptionDetail, ca_public: bytes | None = None) -> dict:
    """The prescription's signature and its reviews' signatures, each checked now with public
    keys only (the signers' and the CA's)."""
    p = loaded.prescription
    content = signed_bytes(p, loaded.patient, loaded.items)
    reviews = [e for e in loaded.events if e.action in REVIEW_ACTIONS]
    review_keys = signatures.keys_by_id(session, {(e.detail or {}).get("key_id") for e in reviews} - {None})
    checked = []
    for event in reviews:
        detail = event.detail or {}
        pharmacist = detail.get("pharmacist") or {}
        key = review_keys.get(detail.get("key_id"))
        problem = signatures.problem(key, holder=signing.pharmacist_holder(pharmacist.get("licence_number")),
                                     signed_at=event.at, data=review_document(p, content, event),
                                     signature=detail.get("signature"), ca_public=ca_public)
        checked.append({"outcome": detail.get("outcome"), "reason_code": detail.get("reason_code"),
                        "note": event.reason, "pharmacist": pharmacist, "pharmacy_code": detail.get("pharmacy_code"),
                        "reviewed_at": event.at, "key": key, "signature": detail.get("signature"),
                        "verifies": problem is None, "problem": problem})
    problem = signature_problem(loaded, ca_public)
    return {"prescription_id": p.id, "number": p.number, "algorithm": crypto.ALGORITHM,
            "signed_content": content.decode(), "digest": crypto.sm3(content).hex(), "signature": p.signature,
            "signed_at": p.issued_at, "key": loaded.key, "verifies": problem is None, "problem": problem,
            "reviews": checked}


def signature(session: Session, actor: Actor, prescription_id: int) -> dict:
    """`signature_report` of a prescription the actor may read (recorded in the access log)."""
    loaded = _load_detail(session, actor, prescription_id)
    record_read(session, actor, loaded.prescription, detail={"view": "signature"})
    session.commit()
    return {**signature_report(session, loaded), "ca_public_key": crypto.public_pem(signatures.ca_public_key())}


def details_of(session: Session, ids: list[int]) -> list[PrescriptionDetail]:
    """Many prescriptions with their patients, keys, items, events, packs and returns, in a few
    queries (the offline checks walk every prescription this way), in id order."""
    if not ids:
        return []
    statement = patients.with_patient(select(Prescription), Prescription.patient_id)
    statement = signatures.with_signing_key(statement, Prescription.signing_key_id)
    found = {p.id: PrescriptionDetail(prescription=p, patient=patient, items=[], drugs={}, key=key)
             for p, patient, key in session.execute(statement.where(Prescription.id.in_(ids))
                                                    .order_by(Prescription.id))}
    for item in session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id.in_(ids))
                             .order_by(PrescriptionItem.id)):
        found[item.prescription_id].items.append(item)
    for event in session.exec(select(PrescriptionEvent).where(PrescriptionEvent.prescription_id.in_(ids))
                              .order_by(PrescriptionEvent.id)):
        found[event.prescription_id].events.append(event)
    for prescription_id, dispensed in packs.of_prescriptions(session, ids).items():
        found[prescription_id].packs, found[prescription_id].returns = dispensed.dispensed, dispensed.returned
    return list(found.values())


def all_details(session: Session, ids: list[int] | None = None, page: int = 500):
    """`details_of` every prescription (or those of `ids`), page by page, in id order."""
    if ids is not None:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), page):
            yield from details_of(session, wanted[start:start + page])
        return
    after = 0
    while chunk := list(session.exec(select(Prescription.id).where(Prescription.id > after)
                                     .order_by(Prescription.id).limit(page))):
        after = chunk[-1]
        yield from details_of(session, chunk)
        session.expunge_all()


def _draws(session: Session, loaded: PrescriptionDetail, requested: list[dict]) -> list[pack_rules.Draw]:
    """The packs (and units of them) a dispensing takes, checked against the prescription, or
    Invalid listing every problem at once: codes that are not 20 digits in any script, codes of
    another product (`trace_prefixes`), a code given twice, too many or too few codes."""
    wanted = {item.drug_code: item.quantity for item in loaded.items}
    errors: dict[str, list[str]] = {}
    given: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    foreign: dict[str, str] = {}  # field -> code of another product
    for index, entry in enumerate(requested):
        key, drug_code = f"items.{index}", entry["drug_code"]
        drug = loaded.drugs.get(drug_code)
        if drug_code not in wanted:
            errors[key] = [FieldMessage("drug_not_on_prescription", f"{drug_code} is not on this prescription.",
                                         drug_code=drug_code)]
            continue
        if drug_code in given:
            errors[key] = [FieldMessage("drug_listed_twice", f"{drug_code} is listed twice.", drug_code=drug_code)]
            continue
        if len(entry["trace_codes"]) > wanted[drug_code]:
            errors[f"{key}.trace_codes"] = [FieldMessage(
                "too_many_trace_codes", f"{wanted[drug_code]} units prescribed: at most {wanted[drug_code]} "
                                        f"trace codes, {len(entry['trace_codes'])} given.",
                quantity=wanted[drug_code], given=len(entry["trace_codes"]))]
            continue
        codes = given[drug_code] = []
        for position, text in enumerate(entry["trace_codes"]):
            field_name = f"{key}.trace_codes.{position}"
            code = pack_rules.canonical_code(text)
            if code is None:
                # The text is not echoed: a mistyped field may hold anything, an ID number too.
                errors[field_name] = [FieldMessage("trace_code_malformed",
                                                   "Not a traceability code (药品追溯码): 20 digits.")]
            elif code in seen:
                errors[field_name] = [FieldMessage("trace_code_scanned_twice",
                                                   f"{code} is also at {seen[code]}: one code is one pack.",
                                                   trace_code=code, first_at=seen[code])]
            elif drug.trace_prefixes and pack_rules.product_prefix(code) not in drug.trace_prefixes:
                foreign[field_name] = code
            else:
                seen[code] = field_name
                codes.append(code)
    if foreign:
        owners = drugs.owners_of_prefixes(session, {pack_rules.product_prefix(c) for c in foreign.values()})
        for field_name, code in foreign.items():
            drug = loaded.drugs[requested[int(field_name.split(".")[1])]["drug_code"]]
            owner = owners.get(pack_rules.product_prefix(code))
            prefixes = ", ".join(drug.trace_prefixes)
            text = f"{code} is not a code of {drug.name} ({drug.code}, product codes {prefixes})"
            values = {"trace_code": code, "drug": drug.name, "drug_code": drug.code, "prefixes": prefixes}
            errors[field_name] = [
                FieldMessage("trace_code_of_other_drug", f"{text}; it belongs to {owner.name} ({owner.code}).",
                             owner=owner.name, owner_code=owner.code, **values) if owner
                else FieldMessage("trace_code_not_this_drug", f"{text}.", **values)]
    missing = sorted(set(wanted) - set(given))
    if missing:
        errors["items"] = [FieldMessage("drugs_not_dispensed", f"Not dispensed: {', '.join(missing)}.",
                                        drug_codes=", ".join(missing))]
    draws: list[pack_rules.Draw] = []
    if not errors:
        split = {code: codes for code, codes in given.items() if loaded.drugs[code].units_per_pack}
        left = packs.units_left(session, loaded.prescription.pharmacy_code, split) if split else {}
        for index, entry in enumerate(requested):
            drug = loaded.drugs[entry["drug_code"]]
            try:
                draws += pack_rules.allocate(drug.code, wanted[drug.code], given[drug.code], drug.units_per_pack, left)
            except ValueError as error:
                errors[f"items.{index}.trace_codes"] = [error.args[0]]  # a FieldMessage (`pack_rules.allocate`)
    if errors:
        raise Invalid("The trace codes do not match the prescription.", errors, code="trace_codes_invalid")
    return draws


def _flag_reused_codes(session: Session, prescription: Prescription, pharmacy: "Pharmacy", codes: list[str]) -> None:
    """Raise `duplicate_trace_code` for each of `codes` already dispensed (by another pharmacy,
    or more units of a pack than it holds)."""
    for earlier in packs.dispensings_of(session, codes):
        first = pharmacies.pharmacy_by_code(session, earlier.pharmacy_code)
        raise_flag(session, type="duplicate_trace_code", severity="high", subject=f"trace:{earlier.trace_code}",
                   region=pharmacy.county_adcode or prescription.patient_region,
                   dedup_key=f"duplicate_trace_code:{earlier.trace_code}:{prescription.id}",
                   evidence={"trace_code": earlier.trace_code, "drug_code": earlier.drug_code,
                             "first_pharmacy_code": earlier.pharmacy_code,
                             "first_pharmacy_county": first.county_adcode if first else None,
                             "first_prescription_id": earlier.prescription_id,
                             "first_dispensed_at": earlier.dispensed_at.isoformat(),
                             "attempt_pharmacy_code": pharmacy.code,
                             "attempt_prescription_id": prescription.id,
                             "pharmacies": sorted({earlier.pharmacy_code, pharmacy.code})})


def dispense(session: Session, actor: Actor, prescription_id: int, *, items: list[dict]) -> PrescriptionDetail:
    """Hand out the packs: every code a pack of its drug, each pack once system-wide (or, 拆零,
    its units by the pharmacy that opened it), stock decremented; by an admitted pharmacy only.

    Statements: the load, the packs (one upsert), the draws, the prescription's conditional
    move, its event, and last the stock (the hot row), right before the request commits.
    """
    loaded = _load_detail(session, actor, prescription_id)
    prescription, pharmacy = loaded.prescription, loaded.pharmacy
    _require_party(actor, prescription, Action.dispense)
    _require_authentic(loaded, Action.dispense)
    if prescription.status == Status.expired.value or _overdue(prescription):
        attempted_at = clock.now().isoformat()
        raise _expired(prescription, lambda s: raise_flag(
            s, type="expired_dispense_attempt", severity="medium",
            subject=f"pharmacy:{pharmacy.code}", region=pharmacy.county_adcode or prescription.patient_region,
            dedup_key=f"expired_dispense_attempt:{prescription.id}",
            evidence={"prescription_id": prescription.id, "pharmacy_code": pharmacy.code,
                      "valid_until": prescription.valid_until.isoformat(), "attempted_at": attempted_at}))
    pharmacies.ensure_admitted(pharmacy)
    if rules.transition(Action.dispense, Status(prescription.status)) is None:
        if prescription.status == Status.verified.value:
            raise Conflict("A pharmacist reviews (审方) a prescription before it is dispensed.",
                           code="review_required", status_now=prescription.status, action=Action.dispense.value)
        raise _refuse_transition(prescription, Action.dispense)
    if not _approved_since_verified(loaded.events):  # a status set behind the service's back
        raise Conflict("A pharmacist reviews (审方) a prescription before it is dispensed.",
                       code="review_required", status_now=prescription.status, action=Action.dispense.value)
    draws = _draws(session, loaded, items)
    now = clock.now()
    refused = packs.take(session, prescription_id=prescription.id, pharmacy_code=pharmacy.code, draws=draws,
                         units_per_pack={code: drug.units_per_pack for code, drug in loaded.drugs.items()}, at=now)
    if refused:
        raise Conflict("A trace code was already dispensed; the pack cannot be sold twice.",
                       code="duplicate_trace_code", trace_codes=refused,
                       on_refusal=[lambda s: _flag_reused_codes(s, prescription, pharmacy, refused)])
    packs_drawn = sorted([d.trace_code, d.drug_code, d.units] for d in draws)
    event = _move(session, prescription, Action.dispense, actor.label, dispensed_at=now, at=now,
                  detail={"trace_codes": len(draws), "packs": packs_drawn}, by_admitted_pharmacy=True)
    units: dict[str, int] = {}
    for draw in draws:
        units[draw.drug_code] = units.get(draw.drug_code, 0) + draw.units
    if not pharmacies.take_stock(session, pharmacy.code, units):
        raise Conflict("Not enough stock to dispense this prescription.", code="out_of_stock")
    session.commit()
    return _answer(loaded, event, packs=packs.dispensed_rows(draws, prescription_id=prescription.id,
                                                            pharmacy_code=pharmacy.code, at=now))


def cancel(session: Session, actor: Actor, prescription_id: int, *, reason_code: str | None = None,
           note: str | None = None) -> PrescriptionDetail:
    """Its physician cancels a prescription before it is dispensed, with a reason code."""
    loaded = _load_detail(session, actor, prescription_id)
    _require_party(actor, loaded.prescription, Action.cancel)
    _require_reason(Action.cancel, reason_code, note)
    event = _move(session, loaded.prescription, Action.cancel, actor.label, reason_code=reason_code, reason=note)
    session.commit()
    return _answer(loaded, event)


def not_dispense(session: Session, actor: Actor, prescription_id: int, *, reason_code: str | None = None,
                 note: str | None = None) -> PrescriptionDetail:
    """The routed (admitted) pharmacy closes the prescription without dispensing, with a reason
    code (patient declined, clinically unsuitable, out of stock, ...): NHS EPS's "not
    dispensed". The prescription ends there; it stays with the pharmacy that closed it."""
    loaded = _load_detail(session, actor, prescription_id)
    prescription = loaded.prescription
    _require_party(actor, prescription, Action.not_dispense)
    _require_reason(Action.not_dispense, reason_code, note)
    _refuse_if_expired(prescription)
    pharmacies.ensure_admitted(loaded.pharmacy)
    event = _move(session, prescription, Action.not_dispense, actor.label, reason_code=reason_code, reason=note,
                  by_admitted_pharmacy=True)
    session.commit()
    return _answer(loaded, event)


def undo_pack(session: Session, actor: Actor, code: str, *, reason: str) -> str:
    """The dispensing pharmacy (admitted) undoes a whole pack returned unopened within the window;
    returns the canonical code. The pack goes back into stock and the code can be dispensed
    again; the prescription records an `undo_pack` event. Refused (409) after the window, for a
    pack dispensed in parts (opened), and once the prescription is settled: reverse the
    settlement (冲正) first, then undo.
    """
    actor.require(Role.pharmacy)
    reason = access.require_reason(reason)
    code = pack_rules.canonical_code(code)
    if code is None:
        raise Invalid("Not a traceability code (药品追溯码).",
                      {"code": [FieldMessage("trace_code_malformed", "20 digits.")]}, code="trace_code_malformed")
    mine = [d for d in packs.dispensings_of(session, [code]) if d.pharmacy_code == actor.subject]
    if not mine:
        if any(r.pharmacy_code == actor.subject for r in packs.returns_of(session, code)):
            raise Conflict("This pack was already returned and undone.", code="pack_already_returned",
                           status_now="returned")
        raise NotFound("No pack with this trace code was dispensed.", code="trace_code_unknown")
    opened = packs.pack(session, code)
    if len(mine) > 1 or (opened is not None and opened.units_per_pack > 1):
        raise Conflict("The pack was dispensed in parts (拆零): an opened pack cannot be returned.",
                       code="pack_opened")
    dispensing = mine[0]
    prescription = session.get(Prescription, dispensing.prescription_id, populate_existing=True)
    pharmacy = pharmacies.pharmacy_by_code(session, dispensing.pharmacy_code)
    pharmacies.ensure_admitted(pharmacy)
    _refuse_undo_unless_dispensed(prescription.status)
    now, days = clock.now(), current_app.config["TRACE_UNDO_DAYS"]
    if not pack_rules.may_undo(dispensing.dispensed_at, now, days):
        raise Conflict(f"Packs can be undone within {days} days of dispensing; this one was dispensed at "
                       f"{dispensing.dispensed_at.isoformat()}.", code="undo_window_passed",
                       undo_until=pack_rules.undo_until(dispensing.dispensed_at, days).isoformat())
    # Hold the prescription at `dispensed` (its row locked until the request commits), with its
    # history head as loaded: a settlement or another undo racing this one either wrote first
    # (then this touches nothing) or waits.
    event = PrescriptionEvent(prescription_id=prescription.id, action="undo_pack", actor=actor.label, reason=reason,
                              detail={"trace_code": code, "drug_code": dispensing.drug_code}, at=now)
    if not _record(session, prescription, event, from_status=Status.dispensed.value,
                   by_admitted_pharmacy=True, values={"updated_at": now}):
        _refuse_undo_unless_dispensed(session.scalar(select(Prescription.status)
                                                     .where(Prescription.id == prescription.id)))
        _lost_race(session, prescription)
    if not packs.give_back(session, dispensing, at=now, actor=actor.label, reason=reason):
        raise Conflict("The pack was undone by another request.", code="concurrent_change")
    pharmacies.return_stock(session, dispensing.pharmacy_code, {dispensing.drug_code: dispensing.units})
    session.commit()
    return code


def _refuse_undo_unless_dispensed(status: str) -> None:
    if status == Status.settled.value:
        raise Conflict("The prescription is settled: reverse the settlement (冲正) first, then undo the pack.",
                       code="settled_reverse_first", status_now=status)
    if status != Status.dispensed.value:
        raise Conflict(f"The prescription is {status}; only a pack of a dispensed, unsettled "
                       "prescription can be undone.", code="invalid_transition", status_now=status,
                       action="undo_pack")


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    """Sweep: expire every live prescription past its validity; returns how many."""
    now = now or clock.now()
    overdue = list(session.exec(select(Prescription).where(
        Prescription.status.in_([s.value for s in rules.LIVE]), Prescription.valid_until <= now)))
    count = 0
    for prescription in overdue:
        try:
            _move(session, prescription, Action.expire, "system")
        except Conflict:
            continue
        session.commit()
        count += 1
    return count


def load_for(session: Session, actor: Actor, prescription_id: int, action: Action) -> PrescriptionDetail:
    """A prescription the actor may read (else NotFound) and move by `action` (else Forbidden),
    with its patient, pharmacy, items and drugs in one query, for another feature's use case
    that moves it (settlement)."""
    loaded = _load_detail(session, actor, prescription_id)
    _require_party(actor, loaded.prescription, action)
    return loaded


def stored(session: Session, prescription_id: int) -> Prescription:
    """The prescription as stored now, read again (no scope check: for another feature that
    decides its own, e.g. a settlement's undo or a trace code's chain)."""
    return session.get(Prescription, prescription_id, populate_existing=True)


def move(session: Session, prescription: Prescription, action: Action, actor_label: str, *,
         reason: str | None = None, detail: dict | None = None, by_admitted_pharmacy: bool = False
         ) -> PrescriptionEvent:
    """Apply one transition in the caller's transaction with the conditional UPDATE every move
    uses (`by_admitted_pharmacy`: only while the prescription's pharmacy is admitted); Conflict
    when the prescription is not, or no longer, in a state that allows it. Returns the event
    recorded (its `chain_hash` is its link in the prescription's history). The caller commits."""
    return _move(session, prescription, action, actor_label, reason=reason, detail=detail,
                 by_admitted_pharmacy=by_admitted_pharmacy)


# Read by other features (they never query the prescription tables themselves).

@functools.cache
def prescription_view() -> sa.Subquery:
    """The prescription table as other features join and read it (read-only)."""
    return sa.select(Prescription.id, Prescription.number, Prescription.patient_id, Prescription.patient_region,
                     Prescription.physician_code, Prescription.institution_code, Prescription.pharmacy_code,
                     Prescription.diagnosis, Prescription.status, Prescription.issued_at, Prescription.valid_until,
                     Prescription.dispensed_at, Prescription.updated_at).subquery("prescription_view")


@functools.cache
def prescription_item_view() -> sa.Subquery:
    """The prescription item table as other features join and read it (read-only)."""
    return sa.select(PrescriptionItem.id, PrescriptionItem.prescription_id, PrescriptionItem.drug_code,
                     PrescriptionItem.quantity, PrescriptionItem.days_supply).subquery("prescription_item_view")


@functools.cache
def prescription_event_view() -> sa.Subquery:
    """The prescription event table as other features join and read it (read-only)."""
    return sa.select(PrescriptionEvent.id, PrescriptionEvent.prescription_id, PrescriptionEvent.action,
                     PrescriptionEvent.from_status, PrescriptionEvent.to_status, PrescriptionEvent.actor,
                     PrescriptionEvent.reason_code, PrescriptionEvent.detail,
                     PrescriptionEvent.at).subquery("prescription_event_view")


def reason_counts(session: Session, actor: Actor, *, region: str | None = None, since: datetime | None = None,
                  before: datetime | None = None) -> list[sa.RowMapping]:
    """Events with a reason code on the prescriptions the actor may read (of patients of `region`,
    at `since` or later, before `before`), counted by action, reason code and who gave it."""
    statement = (
        sa.select(PrescriptionEvent.action, PrescriptionEvent.reason_code, PrescriptionEvent.actor,
                  sa.func.count().label("count"))
        .join(Prescription, Prescription.id == PrescriptionEvent.prescription_id)
        .where(PrescriptionEvent.reason_code.is_not(None), visible(actor))
        .group_by(PrescriptionEvent.action, PrescriptionEvent.reason_code, PrescriptionEvent.actor)
    )
    if region:
        statement = statement.where(Prescription.patient_region.startswith(adcodes.prefix(region)))
    if since:
        statement = statement.where(PrescriptionEvent.at >= since)
    if before:
        statement = statement.where(PrescriptionEvent.at < before)
    return list(session.execute(statement).mappings().all())
