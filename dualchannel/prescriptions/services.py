"""The prescription lifecycle: issue, route, hand back, verify, dispense, cancel, expire.

Every state change is one conditional UPDATE (`WHERE id = :id AND status = :expected`) taken
from the transition table in `rules.py`; zero rows touched means someone else moved first, and
the caller gets a Conflict. The same code is exactly-once on SQLite and PostgreSQL.
"""

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from geopy.distance import geodesic
from sqlmodel import Session, select

from dualchannel import adcodes, clock
from dualchannel.api import Page, paginate
from dualchannel.audit_trail import services as audit
from dualchannel.audit_trail.models import AccessAction
from dualchannel.auth import Actor, Role
from dualchannel.drugs.models import Drug, Storage
from dualchannel.drugs.services import drugs_by_code
from dualchannel.errors import Conflict, Forbidden, Invalid, NotFound
from dualchannel.flags.services import raise_flag
from dualchannel.institutions.models import Physician
from dualchannel.patients import identity
from dualchannel.patients import services as patients
from dualchannel.patients.models import Patient
from dualchannel.pharmacies import services as pharmacies
from dualchannel.pharmacies.models import Pharmacy, PharmacyStatus
from dualchannel.prescriptions import rules
from dualchannel.prescriptions.models import (
    DispensedPack,
    PackReturn,
    Prescription,
    PrescriptionEvent,
    PrescriptionItem,
)
from dualchannel.prescriptions.rules import Action, Status


@dataclass
class PrescriptionDetail:
    """A prescription with what its readers need: patient, items, drugs, history, packs."""

    prescription: Prescription
    patient: Patient
    items: list[PrescriptionItem]
    drugs: dict[str, Drug]
    events: list[PrescriptionEvent] = field(default_factory=list)
    packs: list[DispensedPack] = field(default_factory=list)
    returns: list[PackReturn] = field(default_factory=list)


def visible(actor: Actor):
    """The one filter deciding which prescriptions an actor may read."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.physician:
        return Prescription.physician_code == actor.subject
    if actor.role is Role.pharmacy:
        return Prescription.pharmacy_code == actor.subject
    if actor.role is Role.bureau:
        return Prescription.patient_region.startswith(adcodes.prefix(actor.subject))
    return sa.false()  # any other role (an institution's procurement account) reads none


def _load(session: Session, actor: Actor, prescription_id: int, *,
          fresh: bool = False) -> Prescription:
    statement = select(Prescription).where(Prescription.id == prescription_id, visible(actor))
    if fresh:
        statement = statement.execution_options(populate_existing=True)
    prescription = session.exec(statement).first()
    if prescription is None:
        raise NotFound(f"No prescription {prescription_id}.")
    return prescription


def _require_party(actor: Actor, prescription: Prescription, action: Action) -> None:
    """Only its physician, or the pharmacy it is routed to, may move a prescription."""
    by = next(t.by for t in rules.TRANSITIONS if t.action is action)
    if by == "physician" and not (actor.role is Role.physician and actor.subject == prescription.physician_code):
        raise Forbidden(f"Only the prescribing physician may {action.value} this prescription.")
    if by == "pharmacy" and not (actor.role is Role.pharmacy and actor.subject == prescription.pharmacy_code):
        raise Forbidden(f"Only the pharmacy it is routed to may {action.value} this prescription.")


def _move(session: Session, prescription: Prescription, action: Action, actor_label: str, *,
          reason: str | None = None, detail: dict | None = None, **values) -> None:
    """Apply one transition in the caller's transaction, or raise Conflict."""
    source = Status(prescription.status)
    step = rules.transition(action, source)
    if step is None:
        raise Conflict(f"A prescription that is {source.value} does not allow {action.value}.",
                       status_now=source.value)
    now = clock.now()
    touched = session.execute(
        sa.update(Prescription)
        .where(Prescription.id == prescription.id, Prescription.status == source.value)
        .values(status=step.target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if touched != 1:
        session.rollback()
        raise Conflict(f"Prescription {prescription.id} was changed by another request.")
    session.add(PrescriptionEvent(prescription_id=prescription.id, action=action.value, from_status=source.value,
                                  to_status=step.target.value, actor=actor_label, reason=reason, detail=detail,
                                  at=now))


def note_event(session: Session, prescription: Prescription, action: str, actor_label: str, *,
               reason: str | None = None, detail: dict | None = None) -> None:
    """Add a history event that is not a transition (a pack undone) to the caller's transaction."""
    session.add(PrescriptionEvent(prescription_id=prescription.id, action=action, actor=actor_label, reason=reason,
                                  detail=detail, at=clock.now()))


def _expire_if_overdue(session: Session, prescription: Prescription) -> bool:
    """Expire a live prescription past its validity (committed at once); True if it did."""
    if Status(prescription.status) in rules.LIVE and clock.now() >= prescription.valid_until:
        try:
            _move(session, prescription, Action.expire, "system")
        except Conflict:
            return False
        session.commit()
        session.refresh(prescription)
        return True
    return False


def _expired(prescription: Prescription, *effects) -> Conflict:
    """The refusal of a step on a prescription past its validity; the expiry itself (and any
    `effects`) is recorded although the step is refused."""
    def expire(session: Session) -> None:
        fresh = session.get(Prescription, prescription.id, populate_existing=True)
        if Status(fresh.status) in rules.LIVE:
            _move(session, fresh, Action.expire, "system")

    return Conflict(f"Prescription {prescription.id} expired at {prescription.valid_until.isoformat()}.",
                    code="prescription_expired", status_now=Status.expired.value, on_refusal=(expire, *effects))


def _refuse_if_expired(session: Session, prescription: Prescription) -> None:
    if prescription.status == Status.expired.value or (
            Status(prescription.status) in rules.LIVE and clock.now() >= prescription.valid_until):
        raise _expired(prescription)


def issue(session: Session, actor: Actor, *, patient_id: int, diagnosis: str, valid_days: int,
          items: list[dict]) -> PrescriptionDetail:
    """A responsible physician issues a dual-channel e-prescription."""
    actor.require(Role.physician)
    physician = session.get(Physician, actor.subject)
    if physician is None or not physician.responsible:
        raise Forbidden("Only a responsible physician (医保责任医师) issues dual-channel prescriptions.")
    try:  # only a patient in care at the physician's institution
        patient = patients.get_patient(session, actor, patient_id)
    except NotFound:
        raise Invalid(f"No patient {patient_id}.", {"patient_id": ["Unknown patient."]}, code="unknown_patient")
    if not 1 <= valid_days <= current_app.config["MAX_VALID_DAYS"]:
        raise Invalid("A prescription is valid 1 to 3 days.", {"valid_days": ["1 to 3."]})
    codes = [item["drug_code"] for item in items]
    if len(set(codes)) != len(codes):
        raise Invalid("Each drug appears once.", {"items": ["A drug is listed twice."]})
    drugs = drugs_by_code(session, set(codes))
    errors: dict[str, list[str]] = {}
    today = clock.today()
    for index, item in enumerate(items):
        drug = drugs.get(item["drug_code"])
        key = f"items.{index}"
        if drug is None:
            errors[key] = [f"Unknown drug {item['drug_code']}."]
        elif not drug.dual_channel:
            errors[key] = [f"{drug.name} is not a dual-channel drug."]
        elif item["days_supply"] > current_app.config["MAX_DAYS_SUPPLY"]:
            errors[key] = ["At most 84 days' supply (12 weeks, 长期处方)."]
        elif drug.requires_eligibility:
            until = patients.eligible_until(session, patient.id, drug.code)
            if until is None:
                errors[key] = [f"No eligibility (待遇准入) recorded for {drug.name}."]
            elif until < today:
                errors[key] = [f"Eligibility for {drug.name} expired on {until.isoformat()}; "
                               "a re-examination (复查评估) must renew it."]
    if errors:
        raise Invalid("The prescription breaks dual-channel rules.", errors)
    now = clock.now()
    prescription = Prescription(patient_id=patient.id, physician_code=physician.code,
                                institution_code=physician.institution_code, patient_region=patient.region,
                                diagnosis=diagnosis, status=Status.issued.value, issued_at=now,
                                valid_until=rules.valid_until(now, valid_days), updated_at=now)
    session.add(prescription)
    session.flush()
    rows = [PrescriptionItem(prescription_id=prescription.id, **item) for item in items]
    event = PrescriptionEvent(prescription_id=prescription.id, action="issue", to_status=Status.issued.value,
                              actor=actor.label, at=now)
    session.add_all([*rows, event])
    session.commit()
    # Everything the answer shows was just written: no need to read it back.
    return PrescriptionDetail(prescription=prescription, patient=patient, items=rows, drugs=drugs, events=[event])


def _committed(session: Session, prescription: Prescription) -> PrescriptionDetail:
    """Read the answer inside the writing transaction, then commit: one transaction, not two."""
    session.refresh(prescription)
    answer = detail(session, prescription)
    session.commit()
    return answer


def detail(session: Session, prescription: Prescription) -> PrescriptionDetail:
    items = list(session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription.id)
                              .order_by(PrescriptionItem.id)))
    return PrescriptionDetail(
        prescription=prescription,
        patient=session.get(Patient, prescription.patient_id),
        items=items,
        drugs=drugs_by_code(session, {i.drug_code for i in items}),
        events=list(session.exec(select(PrescriptionEvent)
                                 .where(PrescriptionEvent.prescription_id == prescription.id)
                                 .order_by(PrescriptionEvent.id))),
        packs=list(session.exec(select(DispensedPack).where(DispensedPack.prescription_id == prescription.id)
                                .order_by(DispensedPack.trace_code))),
        returns=list(session.exec(select(PackReturn).where(PackReturn.prescription_id == prescription.id)
                                  .order_by(PackReturn.id))),
    )


def record_read(session: Session, actor: Actor, prescription: Prescription, **extra) -> None:
    """Add a read of `prescription` to the access log (the caller commits)."""
    audit.record(session, actor, AccessAction.read, "prescription", prescription.id,
                 patient_id=prescription.patient_id, region=prescription.patient_region, **extra)


def _record_list(session: Session, actor: Actor, page: Page, view: str) -> Page:
    if page.items:
        audit.record(session, actor, AccessAction.list, "prescription",
                     detail={"view": view, "ids": [p.id for p in page.items]})
        session.commit()
    return page


def get(session: Session, actor: Actor, prescription_id: int) -> PrescriptionDetail:
    """Read a prescription (recorded in the access log); a live one past its validity expires on read."""
    prescription = _load(session, actor, prescription_id)
    _expire_if_overdue(session, prescription)
    record_read(session, actor, prescription)
    session.commit()
    return detail(session, prescription)


def access_log(session: Session, actor: Actor, prescription_id: int, *, limit: int | None = None,
               cursor: str | None = None) -> Page:
    """Who read this prescription and its packs, and who revealed its agent's ID (admin, bureau)."""
    actor.require(Role.admin, Role.bureau)
    prescription = _load(session, actor, prescription_id)
    return audit.of_record(session, actor, "prescription", prescription.id, limit=limit, cursor=cursor)


def reveal_pickup(session: Session, actor: Actor, prescription_id: int, *, reason: str) -> dict:
    """The full ID number of the agent who picked up, for an admin or bureau, with a recorded reason."""
    actor.require(Role.admin, Role.bureau)
    reason = audit.require_reason(reason)
    prescription = _load(session, actor, prescription_id)
    if prescription.pickup_id_encrypted is None:
        raise NotFound(f"No agent picked up prescription {prescription.id}.")
    entry = audit.record(session, actor, AccessAction.reveal, "prescription", prescription.id,
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


def inbox(session: Session, actor: Actor, *, limit: int | None = None, cursor: str | None = None) -> Page:
    """Prescriptions routed to the calling pharmacy and not yet dispensed."""
    actor.require(Role.pharmacy)
    statement = select(Prescription).where(
        visible(actor), Prescription.status.in_([Status.routed.value, Status.verified.value]),
        Prescription.valid_until > clock.now())
    return _record_list(session, actor, paginate(session, statement, Prescription.id, limit=limit, cursor=cursor),
                        "inbox")


def _patient_regions(patient: Patient) -> list[str]:
    return [r for r in (patient.region, patient.filed_region) if r]


def _needs(session: Session, prescription: Prescription) -> tuple[dict[str, int], bool]:
    items = session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription.id)).all()
    drugs = drugs_by_code(session, {i.drug_code for i in items})
    cold = any(d.storage == Storage.cold_chain.value for d in drugs.values())
    return {i.drug_code: i.quantity for i in items}, cold


def pharmacy_options(session: Session, actor: Actor, prescription_id: int, *, lat: float | None = None,
                     lon: float | None = None, crs: str = "gcj02") -> list[tuple[Pharmacy, float | None]]:
    """Active pharmacies in the patient's region(s) able to fill it, nearest first (geodesic km)."""
    prescription = _load(session, actor, prescription_id)
    record_read(session, actor, prescription, detail={"view": "pharmacy-options"})
    session.commit()
    patient = session.get(Patient, prescription.patient_id)
    needs, cold = _needs(session, prescription)
    candidates = pharmacies.able_to_fill(session, regions=_patient_regions(patient), needs=needs, cold_chain=cold)
    if lat is None or lon is None:
        return [(p, None) for p in sorted(candidates, key=lambda p: p.code)]
    here = pharmacies.locate(lat, lon, crs)[:2]
    ranked = [(p, round(geodesic(here, (p.lat, p.lon)).km, 2)) for p in candidates]
    return sorted(ranked, key=lambda pair: (pair[1], pair[0].code))


def route(session: Session, actor: Actor, prescription_id: int, *, pharmacy_code: str) -> PrescriptionDetail:
    """Bind the prescription to one dual-channel pharmacy in the patient's region (定药店)."""
    prescription = _load(session, actor, prescription_id)
    _require_party(actor, prescription, Action.route)
    _refuse_if_expired(session, prescription)
    pharmacy = session.get(Pharmacy, pharmacy_code)
    if pharmacy is None:
        raise Invalid(f"No pharmacy {pharmacy_code}.", {"pharmacy_code": ["Unknown pharmacy."]})
    if pharmacy.status != PharmacyStatus.active.value:
        raise Invalid(f"{pharmacy.name} is not an active dual-channel pharmacy.",
                      {"pharmacy_code": [f"Pharmacy is {pharmacy.status}."]})
    patient = session.get(Patient, prescription.patient_id)
    if not any(adcodes.contains(r, pharmacy.county_adcode) for r in _patient_regions(patient)):
        raise Invalid(f"{pharmacy.name} is outside the patient's coordinating region.",
                      {"pharmacy_code": ["Outside the patient's coordinating region (统筹地区)."]})
    needs, cold = _needs(session, prescription)
    if cold and not pharmacy.cold_chain:
        raise Invalid(f"{pharmacy.name} has no cold chain for a cold-chain drug.",
                      {"pharmacy_code": ["No cold-chain storage."]})
    _move(session, prescription, Action.route, actor.label, pharmacy_code=pharmacy.code,
          detail={"pharmacy_code": pharmacy.code})
    return _committed(session, prescription)


def hand_back(session: Session, actor: Actor, prescription_id: int, *, reason: str | None = None) -> PrescriptionDetail:
    """The routed pharmacy hands the prescription back; it can then go to another pharmacy."""
    prescription = _load(session, actor, prescription_id)
    _require_party(actor, prescription, Action.hand_back)
    _refuse_if_expired(session, prescription)
    _move(session, prescription, Action.hand_back, actor.label, reason=reason, pharmacy_code=None,
          verified_at=None, pickup_name=None, pickup_id_masked=None, pickup_id_hash=None, pickup_id_encrypted=None,
          pickup_relation=None,
          detail={"pharmacy_code": prescription.pharmacy_code})
    return _committed(session, prescription)


def verify(session: Session, actor: Actor, prescription_id: int, *, id_number: str,
           pickup: dict | None = None) -> PrescriptionDetail:
    """Real-name verification (实名制) of the patient; an agent's identity is recorded."""
    prescription = _load(session, actor, prescription_id)
    _require_party(actor, prescription, Action.verify)
    _refuse_if_expired(session, prescription)
    patient = session.get(Patient, prescription.patient_id)
    if not patients.matches_id_number(patient, id_number):
        raise Invalid("The ID number is not the patient's.", {"id_number": ["Does not match the patient."]})
    values = {"verified_at": clock.now()}
    if pickup:
        agent_number = patients.parse_id_number(pickup["id_number"], "pickup.id_number")
        vault = identity.vault()
        values.update(pickup_name=pickup["name"], pickup_id_masked=identity.mask(agent_number),
                      pickup_id_hash=vault.lookup_hash(agent_number), pickup_id_encrypted=vault.encrypt(agent_number),
                      pickup_relation=pickup["relation"])
    _move(session, prescription, Action.verify, actor.label,
          detail={"pickup": bool(pickup)}, **values)
    return _committed(session, prescription)


def _trace_codes(prescription: Prescription, items: list[PrescriptionItem],
                 requested: list[dict]) -> dict[str, list[str]]:
    """Check one code per unit for every item; returns drug_code -> codes, or Invalid."""
    pattern = current_app.config["TRACE_CODE_PATTERN"]
    wanted = {i.drug_code: i.quantity for i in items}
    given: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for index, entry in enumerate(requested):
        key = f"items.{index}"
        if entry["drug_code"] not in wanted:
            errors[key] = [f"{entry['drug_code']} is not on this prescription."]
        elif entry["drug_code"] in given:
            errors[key] = [f"{entry['drug_code']} is listed twice."]
        else:
            given[entry["drug_code"]] = entry["trace_codes"]
            bad = [str(i) for i, c in enumerate(entry["trace_codes"]) if not rules.is_trace_code(c, pattern)]
            if bad:
                # Positions, not the text: a mistyped field may hold anything, an ID number too.
                errors[key] = [f"Not a traceability code (药品追溯码): trace_codes {', '.join(bad)}."]
            elif len(entry["trace_codes"]) != wanted[entry["drug_code"]]:
                errors[key] = [f"{wanted[entry['drug_code']]} units prescribed: one trace code per unit, "
                               f"{len(entry['trace_codes'])} given."]
    missing = sorted(set(wanted) - set(given))
    if missing:
        errors["items"] = [f"Not dispensed: {', '.join(missing)}."]
    # Only well-formed codes are named back; anything else was reported by position above.
    codes = [c for cs in given.values() for c in cs if rules.is_trace_code(c, pattern)]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated and "items" not in errors:
        errors["items"] = [f"A code appears twice: {', '.join(repeated)}."]
    if errors:
        raise Invalid("The trace codes do not match the prescription.", errors)
    return given


def _flag_reused_codes(session: Session, prescription: Prescription, pharmacy: Pharmacy, codes: list[str]) -> list:
    """Raise `duplicate_trace_code` for each code already dispensed; returns the earlier packs."""
    earlier = list(session.exec(select(DispensedPack).where(DispensedPack.trace_code.in_(codes))))
    for pack in earlier:
        first = session.get(Pharmacy, pack.pharmacy_code)
        raise_flag(session, type="duplicate_trace_code", severity="high", subject=f"trace:{pack.trace_code}",
                   region=pharmacy.county_adcode or prescription.patient_region,
                   dedup_key=f"duplicate_trace_code:{pack.trace_code}:{prescription.id}",
                   evidence={"trace_code": pack.trace_code, "drug_code": pack.drug_code,
                             "first_pharmacy_code": pack.pharmacy_code,
                             "first_pharmacy_county": first.county_adcode if first else None,
                             "first_prescription_id": pack.prescription_id,
                             "first_dispensed_at": pack.dispensed_at.isoformat(),
                             "attempt_pharmacy_code": pharmacy.code,
                             "attempt_prescription_id": prescription.id,
                             "pharmacies": sorted({pack.pharmacy_code, pharmacy.code})})
    return earlier


def dispense(session: Session, actor: Actor, prescription_id: int, *, items: list[dict]) -> PrescriptionDetail:
    """Hand out the packs: one trace code per unit, each code once system-wide, stock decremented."""
    prescription = _load(session, actor, prescription_id)
    _require_party(actor, prescription, Action.dispense)
    pharmacy = session.get(Pharmacy, prescription.pharmacy_code)
    if prescription.status == Status.expired.value or (
            Status(prescription.status) in rules.LIVE and clock.now() >= prescription.valid_until):
        attempted_at = clock.now().isoformat()
        raise _expired(prescription, lambda s: raise_flag(
            s, type="expired_dispense_attempt", severity="medium",
            subject=f"pharmacy:{pharmacy.code}", region=pharmacy.county_adcode or prescription.patient_region,
            dedup_key=f"expired_dispense_attempt:{prescription.id}",
            evidence={"prescription_id": prescription.id, "pharmacy_code": pharmacy.code,
                      "valid_until": prescription.valid_until.isoformat(), "attempted_at": attempted_at}))
    if rules.transition(Action.dispense, Status(prescription.status)) is None:
        raise Conflict(f"A prescription that is {prescription.status} cannot be dispensed"
                       f"{' before verification' if prescription.status == Status.routed.value else ''}.",
                       status_now=prescription.status)
    rows = list(session.exec(select(PrescriptionItem).where(PrescriptionItem.prescription_id == prescription.id)))
    given = _trace_codes(prescription, rows, items)
    codes = [c for cs in given.values() for c in cs]
    earlier = list(session.exec(select(DispensedPack.trace_code).where(DispensedPack.trace_code.in_(codes))))
    if earlier:
        raise Conflict("A trace code was already dispensed; the pack cannot be sold twice.",
                       code="duplicate_trace_code", trace_codes=sorted(earlier),
                       on_refusal=[lambda s: _flag_reused_codes(s, prescription, pharmacy, codes)])
    now = clock.now()
    _move(session, prescription, Action.dispense, actor.label, dispensed_at=now,
          detail={"trace_codes": len(codes)})
    if not pharmacies.take_stock(session, pharmacy.code, {d: len(cs) for d, cs in given.items()}):
        session.rollback()
        raise Conflict("Not enough stock to dispense this prescription.")
    session.add_all(DispensedPack(trace_code=c, prescription_id=prescription.id, drug_code=d,
                                  pharmacy_code=pharmacy.code, dispensed_at=now)
                    for d, cs in given.items() for c in cs)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # Another pharmacy dispensed one of these codes at the same instant.
        raise Conflict("A trace code was already dispensed; the pack cannot be sold twice.",
                       code="duplicate_trace_code",
                       on_refusal=[lambda s: _flag_reused_codes(s, prescription, pharmacy, codes)])
    return _committed(session, prescription)


def cancel(session: Session, actor: Actor, prescription_id: int, *, reason: str) -> PrescriptionDetail:
    """Its physician cancels a prescription before it is dispensed."""
    prescription = _load(session, actor, prescription_id)
    _require_party(actor, prescription, Action.cancel)
    _move(session, prescription, Action.cancel, actor.label, reason=reason)
    return _committed(session, prescription)


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


def load_for(session: Session, actor: Actor, prescription_id: int, action: Action) -> Prescription:
    """A prescription the actor may read (else NotFound) and move by `action` (else Forbidden),
    freshly read, for another feature's use case that moves it (settlement)."""
    prescription = _load(session, actor, prescription_id, fresh=True)
    _require_party(actor, prescription, action)
    return prescription


def move(session: Session, prescription: Prescription, action: Action, actor_label: str, *,
         reason: str | None = None, detail: dict | None = None) -> None:
    """Apply one transition in the caller's transaction with the conditional UPDATE every move
    uses; Conflict (after a rollback) when the prescription is not, or no longer, in a state
    that allows it. The caller commits."""
    _move(session, prescription, action, actor_label, reason=reason, detail=detail)
