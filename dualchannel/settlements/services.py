"""One-stop settlement (一站式结算): policies, settling a dispensed prescription, manual claims,
reversal and reconciliation.

The arithmetic is `rules.settle`; this module loads its inputs, stores its result and keeps the
patient's yearly accumulators right under concurrency. A settlement is one transaction: the
prescription's conditional move dispensed → settled (so it is settled once, whoever races),
the accumulators read under a row lock and written back `WHERE version = :read`, the
settlement and its lines. Reversal, rejection and approval are conditional updates of the
settlement's status taken from `rules.TRANSITIONS`.
"""

import functools
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.flags.services import raise_flag
from dualchannel.history import chain
from dualchannel.patients import services as patients
from dualchannel.packs import services as packs
from dualchannel.pharmacies import services as pharmacies
from dualchannel.prescriptions import services as prescriptions
from dualchannel.prescriptions.rules import Action
from dualchannel.prescriptions.rules import Status as PrescriptionStatus
from dualchannel.settlements import rules
from dualchannel.settlements.models import (
    Accumulator,
    Mode,
    Settlement,
    SettlementEvent,
    SettlementLine,
    SettlementPolicy,
)
from dualchannel.settlements.rules import Status

if TYPE_CHECKING:  # rows of other features, which their services return
    from dualchannel.drugs.models import Drug
    from dualchannel.pharmacies.models import Pharmacy
    from dualchannel.prescriptions.models import Prescription

#: The actor of `init-db`, `demo` and `policy load`.
SYSTEM = Actor(Role.admin, None, "system")
RATIO_PLACES = 4  # ratios are stored with 4 decimals (`models.Ratio`)
_ACCUMULATED = ("deductible_used", "fund_paid", "ci_base", "ci_paid", "assistance_paid")


# --- Policies -------------------------------------------------------------------------------

def policy_visible(actor: Actor):
    """Policies a bureau may read: its own region's, those inside it, and those of the regions
    containing it (a county bureau reads its city's policy). Admin reads all."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is not Role.bureau:
        return sa.false()
    containing = {actor.subject, adcodes.city_of(actor.subject), actor.subject[:2] + "0000"}
    return sa.or_(SettlementPolicy.region.startswith(adcodes.prefix(actor.subject)),
                  SettlementPolicy.region.in_(containing))


def to_policy(row: SettlementPolicy) -> rules.Policy:
    """The rules' `Policy` of a stored version."""
    return rules.Policy(
        region=row.region, insurance=row.insurance, effective_from=row.effective_from,
        deductible=row.deductible, fund_ratio=row.fund_ratio, fund_cap=row.fund_cap,
        ci_threshold=row.ci_threshold, ci_tiers=tuple((t["up_to"], t["ratio"]) for t in row.ci_tiers),
        ci_cap=row.ci_cap, assistance_cap=row.assistance_cap, assistance_ratios=row.assistance_ratios,
    )


def _check_places(policy: rules.Policy) -> None:
    ratios = [("fund_ratio", policy.fund_ratio)]
    ratios += [(f"ci_tiers.{i}.ratio", r) for i, (_, r) in enumerate(policy.ci_tiers)]
    ratios += [(f"assistance_ratios.{c}", r) for c, r in policy.assistance_ratios]
    errors = {name: [FieldMessage("too_many_decimal_places", f"At most {RATIO_PLACES} decimal places.",
                                   places=RATIO_PLACES)] for name, r in ratios
              if r != r.quantize(Decimal(1).scaleb(-RATIO_PLACES))}
    if errors:
        raise Invalid("A ratio has too many decimal places.", errors, code="ratio_too_precise")


def _row(policy: rules.Policy, actor: Actor, note: str | None) -> SettlementPolicy:
    _check_places(policy)
    if note is not None and len(note) > 500:
        raise Invalid("A policy note is at most 500 characters.",
                      {"note": [FieldMessage("policy_note_too_long", "At most 500 characters.", max=500)]},
                      code="note_too_long")
    return SettlementPolicy(
        region=policy.region, insurance=policy.insurance, effective_from=policy.effective_from,
        deductible=policy.deductible, fund_ratio=policy.fund_ratio, fund_cap=policy.fund_cap,
        ci_threshold=policy.ci_threshold,
        ci_tiers=[{"up_to": None if bound is None else str(bound), "ratio": str(ratio)}
                  for bound, ratio in policy.ci_tiers],
        ci_cap=policy.ci_cap, assistance_cap=policy.assistance_cap,
        assistance_ratios={category: str(ratio) for category, ratio in policy.assistance_ratios},
        note=note, created_by=actor.label, created_at=clock.now())


def _existing(session: Session, policy: rules.Policy) -> SettlementPolicy | None:
    return session.exec(select(SettlementPolicy).where(
        SettlementPolicy.region == policy.region, SettlementPolicy.insurance == policy.insurance,
        SettlementPolicy.effective_from == policy.effective_from)).first()


def add_policy(session: Session, actor: Actor, *, region: str, insurance: str, effective_from: date,
               ci_tiers: list[dict], note: str | None = None, assistance_ratios: dict | None = None,
               **amounts: Decimal) -> SettlementPolicy:
    """Add a policy version (admin, or a bureau inside its region). Versions are immutable: the
    same region, insurance and start date twice is a Conflict; a change is a new start date."""
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(region):
        raise Forbidden("A bureau sets policies only inside its own region.", code="outside_region")
    try:
        policy = rules.Policy(
            region=region, insurance=insurance, effective_from=effective_from,
            ci_tiers=tuple((tier["up_to"], tier["ratio"]) for tier in ci_tiers),
            **({} if assistance_ratios is None else {"assistance_ratios": assistance_ratios}), **amounts)
    except (TypeError, ValueError) as error:
        raise Invalid(f"The policy is not valid: {error}.", {"body": [FieldMessage("policy_rules_broken", str(error))]},
                      code="policy_invalid")
    if _existing(session, policy) is not None:
        raise Conflict(f"A {insurance} policy of {region} from {effective_from} exists; "
                       "versions are not edited, add one with a later effective_from.", code="policy_exists")
    row = _row(policy, actor, note)
    session.add(row)
    try:
        session.commit()
    except sa.exc.IntegrityError:
        raise Conflict(f"A {insurance} policy of {region} from {effective_from} exists.", code="policy_exists")
    return row


def import_policies(session: Session, actor: Actor,
                    policies: Iterable[tuple[rules.Policy, str | None]]) -> tuple[int, int]:
    """Add every (policy, note) version not stored yet, all or nothing; returns (added, unchanged).

    A version stored with different figures is a Conflict: versions are never overwritten.
    """
    added = unchanged = 0
    differing = []
    for policy, note in policies:
        existing = _existing(session, policy)
        if existing is None:
            session.add(_row(policy, actor, note))
            session.flush()  # so the same version twice in one file is found as stored
            added += 1
        elif to_policy(existing) == policy:
            unchanged += 1
        else:
            differing.append(f"{policy.region}/{policy.insurance}/{policy.effective_from}")
    if differing:
        raise Conflict(f"Stored versions differ and are never overwritten: {', '.join(differing)}.",
                       code="policy_versions_differ")
    session.commit()
    return added, unchanged


def import_default_policies(session: Session) -> int:
    """Load the packaged example policies when no policy is stored yet; returns how many."""
    if session.exec(select(SettlementPolicy.id)).first() is not None:
        return 0
    return import_policies(session, SYSTEM, rules.load_policies_with_notes())[0]


def list_policies(session: Session, actor: Actor, *, region: str | None = None, insurance: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page:
    """Policy versions the actor may read, newest first."""
    actor.require(Role.admin, Role.bureau)
    statement = select(SettlementPolicy).where(policy_visible(actor))
    if region:
        statement = statement.where(SettlementPolicy.region == region)
    if insurance:
        statement = statement.where(SettlementPolicy.insurance == insurance)
    return paginate(session, statement, SettlementPolicy.id, limit=limit, cursor=cursor)


def get_policy(session: Session, actor: Actor, policy_id: int) -> SettlementPolicy:
    actor.require(Role.admin, Role.bureau)
    row = session.exec(select(SettlementPolicy).where(SettlementPolicy.id == policy_id,
                                                      policy_visible(actor))).first()
    if row is None:
        raise NotFound(f"No settlement policy {policy_id}.", code="policy_not_found")
    return row


@functools.cache
def _policies_query() -> sa.Select:
    return select(SettlementPolicy).where(SettlementPolicy.region == sa.bindparam("region"),
                                          SettlementPolicy.insurance == sa.bindparam("insurance"),
                                          SettlementPolicy.effective_from <= sa.bindparam("on"))


def policy_in_force(session: Session, *, region: str, insurance: str, on: date) -> SettlementPolicy | None:
    """The stored version in force `on` a date (`rules.policy_for`), or None."""
    rows = {row.effective_from: row for row in session.exec(
        _policies_query(), params={"region": region, "insurance": insurance, "on": on})}
    try:
        chosen = rules.policy_for([to_policy(r) for r in rows.values()], region=region, insurance=insurance, on=on)
    except LookupError:
        return None
    return rows[chosen.effective_from]


def _no_policy(region: str, insurance: str, on: date) -> Invalid:
    return Invalid(f"No {insurance} settlement policy of region {region} is in force on {on}.",
                   {"policy": [FieldMessage("policy_not_in_force",
                                            "No policy in force; a bureau of the region adds one.",
                                            region=region, on=on.isoformat())]}, code="policy_missing")


def _policy_for(row: SettlementPolicy, assistance_category: str) -> rules.Policy:
    """The rules' policy of `row`, checked to know the patient's assistance category."""
    policy = to_policy(row)
    try:
        policy.assistance_ratio(assistance_category)
    except ValueError as error:
        raise Invalid(str(error), {"assistance_category": [
            FieldMessage("assistance_category_not_in_policy", str(error))]}, code="assistance_category_unknown")
    return policy


# --- Accumulators ---------------------------------------------------------------------------

@functools.cache
def _locked_accumulator_query(with_units: bool) -> sa.Select:
    statement = (select(Accumulator)
                 .where(Accumulator.patient_id == sa.bindparam("patient_id"), Accumulator.year == sa.bindparam("year"))
                 .with_for_update(of=Accumulator).execution_options(populate_existing=True))
    if with_units:
        statement = statement.add_columns(packs.units_dispensed_column())
    return statement


def _locked_accumulator(session: Session, patient_id: int, year: int) -> Accumulator:
    """The patient's row for `year`, created if missing, locked until the transaction ends
    (FOR UPDATE on PostgreSQL; SQLite's write transactions are serialized already)."""
    return _locked_accumulator_and_units(session, patient_id, year)[0]


def _locked_accumulator_and_units(session: Session, patient_id: int, year: int,
                                  prescription_id: int | None = None) -> tuple[Accumulator, dict[str, int]]:
    """`_locked_accumulator`, and the units still dispensed to `prescription_id` per drug, read
    once the lock is held: on PostgreSQL in the same statement (one round trip less)."""
    with_units = prescription_id is not None and session.get_bind().dialect.name == "postgresql"
    params = {"patient_id": patient_id, "year": year, **({"prescription_id": prescription_id} if with_units else {})}

    def read():
        return session.execute(_locked_accumulator_query(with_units), params).first()

    found = read()
    if found is None:
        try:
            with session.begin_nested():
                session.add(Accumulator(patient_id=patient_id, year=year, updated_at=clock.now()))
        except sa.exc.IntegrityError:
            pass  # created meanwhile by a concurrent settlement of the same patient
        found = read()
    if with_units:
        return found[0], found[1] or {}
    return found[0], packs.units_dispensed(session, prescription_id) if prescription_id is not None else {}


def _as_rules(row: Accumulator) -> rules.Accumulators:
    return rules.Accumulators(**{name: getattr(row, name) for name in _ACCUMULATED})


@functools.cache
def _write_accumulator_statement() -> sa.Update:
    """The accumulator's compare-and-set on its version, built once on the table (Core)."""
    table = Accumulator.__table__
    return (sa.update(table)
            .where(table.c.patient_id == sa.bindparam("of_patient"), table.c.year == sa.bindparam("of_year"),
                   table.c.version == sa.bindparam("read_version"))
            .values(version=table.c.version + 1, updated_at=sa.bindparam("at"),
                    **{name: sa.bindparam(f"new_{name}") for name in _ACCUMULATED}))


def _write_accumulator(session: Session, row: Accumulator, after: rules.Accumulators) -> None:
    """Write `after` into the accumulator `row` was read as (pending writes flushed first, so
    this hot row is the last one the transaction touches)."""
    session.flush()
    touched = session.execute(_write_accumulator_statement(), {
        "of_patient": row.patient_id, "of_year": row.year, "read_version": row.version, "at": clock.now(),
        **{f"new_{name}": getattr(after, name) for name in _ACCUMULATED}}).rowcount
    if touched != 1:
        raise Conflict("The patient's accumulators changed meanwhile; try again.", code="concurrent_change")


def accumulators(session: Session, patient_id: int, year: int) -> rules.Accumulators:
    """A patient's accumulators for a year (zeros when nothing was settled)."""
    row = session.exec(select(Accumulator).where(Accumulator.patient_id == patient_id, Accumulator.year == year)
                       .execution_options(populate_existing=True)).first()
    return rules.Accumulators() if row is None else _as_rules(row)


def patient_accumulators(session: Session, actor: Actor, patient_id: int, *, year: int | None = None) -> dict:
    """A patient's accumulators for a year (default this year), for a bureau of the patient's
    region or admin."""
    actor.require(Role.admin, Role.bureau)
    patient = patients.get_patient(session, actor, patient_id)
    year = year or clock.today().year
    return {"patient_id": patient.id, "year": year, **asdict(accumulators(session, patient.id, year))}


# --- Settlements ----------------------------------------------------------------------------

@dataclass
class SettlementDetail:
    """A settlement with its lines, the drugs they name and its history."""

    settlement: Settlement
    lines: list[SettlementLine]
    drugs: "dict[str, Drug]"
    events: list[SettlementEvent] = field(default_factory=list)


def visible(actor: Actor):
    """The one filter deciding which settlements an actor may read: a pharmacy its own, a
    bureau those of its region's patients or pharmacies, admin all."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.pharmacy:
        return Settlement.pharmacy_code == actor.subject
    if actor.role is Role.bureau:
        prefix = adcodes.prefix(actor.subject)
        return sa.or_(Settlement.patient_region.startswith(prefix), Settlement.pharmacy_county.startswith(prefix))
    return sa.false()


def _load(session: Session, actor: Actor, settlement_id: int) -> Settlement:
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    settlement = session.exec(select(Settlement).where(Settlement.id == settlement_id, visible(actor))
                              .execution_options(populate_existing=True)).first()
    if settlement is None:
        raise NotFound(f"No settlement {settlement_id}.", code="settlement_not_found")
    return settlement


def detail(session: Session, settlement: Settlement) -> SettlementDetail:
    lines = list(session.exec(select(SettlementLine).where(SettlementLine.settlement_id == settlement.id)
                              .order_by(SettlementLine.position)))
    return SettlementDetail(
        settlement=settlement, lines=lines,
        drugs=drugs.drugs_by_code(session, {line.drug_code for line in lines}),
        events=list(session.exec(select(SettlementEvent).where(SettlementEvent.settlement_id == settlement.id)
                                 .order_by(SettlementEvent.id))))


def get(session: Session, actor: Actor, settlement_id: int) -> SettlementDetail:
    return detail(session, _load(session, actor, settlement_id))


def list_settlements(session: Session, actor: Actor, *, pharmacy: str | None = None, status: str | None = None,
                     mode: str | None = None, prescription_id: int | None = None,
                     patient_id: int | None = None, statuses: Iterable[str] | None = None,
                     updated_from: datetime | None = None, updated_before: datetime | None = None,
                     limit: int | None = None, cursor: str | None = None) -> Page:
    """Settlements the actor may read, newest first (`statuses`: any of them; `updated_*` bound
    `updated_at`, [from, before))."""
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    statement = select(Settlement).where(visible(actor))
    for column, value in ((Settlement.pharmacy_code, pharmacy), (Settlement.status, status),
                          (Settlement.mode, mode), (Settlement.prescription_id, prescription_id),
                          (Settlement.patient_id, patient_id)):
        if value is not None:
            statement = statement.where(column == value)
    if statuses is not None:
        statement = statement.where(Settlement.status.in_(list(statuses)))
    if updated_from is not None:
        statement = statement.where(Settlement.updated_at >= updated_from)
    if updated_before is not None:
        statement = statement.where(Settlement.updated_at < updated_before)
    return paginate(session, statement, Settlement.id, limit=limit, cursor=cursor)


def details(session: Session, settlements: list[Settlement]) -> list[SettlementDetail]:
    """`detail` of several settlements in three queries."""
    ids = [s.id for s in settlements]
    lines: dict[int, list[SettlementLine]] = {i: [] for i in ids}
    events: dict[int, list[SettlementEvent]] = {i: [] for i in ids}
    for line in session.exec(select(SettlementLine).where(SettlementLine.settlement_id.in_(ids))
                             .order_by(SettlementLine.settlement_id, SettlementLine.position)):
        lines[line.settlement_id].append(line)
    for event in session.exec(select(SettlementEvent).where(SettlementEvent.settlement_id.in_(ids))
                              .order_by(SettlementEvent.id)):
        events[event.settlement_id].append(event)
    known = drugs.drugs_by_code(session, {line.drug_code for group in lines.values() for line in group})
    return [SettlementDetail(settlement=s, lines=lines[s.id], drugs=known, events=events[s.id]) for s in settlements]


def _in_force(session: Session, prescription_id: int) -> Settlement | None:
    return session.exec(select(Settlement).where(
        Settlement.prescription_id == prescription_id,
        Settlement.status.in_([s.value for s in rules.IN_FORCE]))).first()


def _refuse_settling(session: Session, actor: Actor, prescription: "Prescription", pharmacy: "Pharmacy",
                         mode: Mode) -> None:
    """A prescription not in `dispensed` cannot be settled; claiming it the other way than it
    was settled is also a `double_claim` flag (a dispensing is never paid both ways)."""
    existing = _in_force(session, prescription.id)
    if existing is not None and existing.mode != mode.value:
        attempted_at = clock.now().isoformat()
        raise Conflict(f"Prescription {prescription.id} was already settled ({existing.mode}, settlement "
                       f"{existing.id}); a dispensing is never paid both ways.", code="double_claim",
                       settlement_id=existing.id, status_now=prescription.status,
                       on_refusal=[lambda s: raise_flag(
                           s, type="double_claim", severity="high", subject=f"pharmacy:{pharmacy.code}",
                           region=pharmacy.county_adcode or prescription.patient_region,
                           dedup_key=f"double_claim:{prescription.id}:{existing.id}:{mode.value}",
                           evidence={"prescription_id": prescription.id, "settlement_id": existing.id,
                                     "settled_mode": existing.mode, "attempted_mode": mode.value,
                                     "pharmacy_code": pharmacy.code, "actor": actor.label,
                                     "attempted_at": attempted_at})])
    if existing is not None:
        raise Conflict(f"Prescription {prescription.id} is already settled (settlement {existing.id}).",
                       settlement_id=existing.id, status_now=prescription.status, code="already_settled")
    raise Conflict(f"A prescription that is {prescription.status} cannot be settled.",
                   status_now=prescription.status, code="invalid_transition", action="settle")


def _prices(session: Session, loaded, unit_prices: dict[str, Decimal], on: date,
            insurance: str) -> dict[str, tuple[Decimal, Decimal | None, Decimal]]:
    """Per drug of the prescription: the unit price charged (the agreed price unless
    `unit_prices` says otherwise), the payment standard and first self-pay ratio on `on`."""
    errors = {f"unit_prices.{code}": [FieldMessage("drug_not_on_prescription", "Not on this prescription.",
                                                    drug_code=code)]
              for code in sorted(set(unit_prices) - set(loaded.drugs))}
    prices = {}
    for item in loaded.items:
        drug = loaded.drugs[item.drug_code]
        price = unit_prices.get(drug.code, drug.agreed_price)
        if price is None:
            errors[f"unit_prices.{drug.code}"] = [FieldMessage(
                "agreed_price_missing", f"{drug.name} has no agreed price; give its unit price.", drug=drug.name)]
            continue
        prices[drug.code] = (price, *drugs.payment_standard_on(session, drug, on, insurance=insurance))
    if errors:
        raise Invalid("The prices of the prescription cannot be settled.", errors, code="prices_invalid")
    return prices


def _lines(prescription: "Prescription", loaded, units: dict[str, int],
           prices: dict[str, tuple[Decimal, Decimal | None, Decimal]]) -> list[rules.ChargeLine]:
    """One line per drug for the units still dispensed (a pack returned unopened is not paid)."""
    lines = [rules.ChargeLine(item.drug_code, units[item.drug_code], *prices[item.drug_code])
             for item in loaded.items if units.get(item.drug_code)]
    if not lines:
        raise Conflict(f"Every pack of prescription {prescription.id} was returned; there is nothing to settle.",
                       code="nothing_to_settle")
    return lines


def _flag_prices(session: Session, prescription: "Prescription", pharmacy: "Pharmacy", lines: list[rules.ChargeLine],
                 catalogue: "dict[str, Drug]") -> None:
    """Pharmacies sell at the agreed price (协议价格): charging more is flagged with evidence."""
    for line in lines:
        agreed = catalogue[line.drug_code].agreed_price
        if agreed is not None and line.unit_price > agreed:
            raise_flag(session, type="price_above_agreement", severity="medium",
                       subject=f"pharmacy:{pharmacy.code}",
                       region=pharmacy.county_adcode or prescription.patient_region,
                       dedup_key=f"price_above_agreement:{prescription.id}:{line.drug_code}:{line.unit_price}",
                       evidence={"prescription_id": prescription.id, "pharmacy_code": pharmacy.code,
                                 "drug_code": line.drug_code, "agreed_price": str(agreed),
                                 "unit_price": str(line.unit_price), "quantity": line.quantity,
                                 "excess": str(rules.round_fen((line.unit_price - agreed) * line.quantity))})


def settle_prescription(session: Session, actor: Actor, prescription_id: int, *,
                        unit_prices: dict[str, Decimal] | None = None, mode: str | None = None) -> SettlementDetail:
    """Settle a dispensed prescription (its routed, admitted pharmacy): direct settlement when
    the patient's coordinating region contains the pharmacy, else a pending manual claim (`mode`
    may ask for a manual claim anywhere, e.g. when the network is down). Unit prices are the
    agreed prices unless `unit_prices` gives others.

    What is billed is exactly what is still dispensed when the request commits: the
    prescription's conditional move to `settled` comes first and locks it, and only then are
    its dispensed units counted (with the lock on the patient's accumulators, one statement on
    PostgreSQL), so an undo either landed before (not billed) or waits and is refused
    (settled: reverse first). The patient's accumulators, the hot row, are written last.
    """
    loaded = prescriptions.load_for(session, actor, prescription_id, Action.settle)
    prescription, patient, pharmacy = loaded.prescription, loaded.patient, loaded.pharmacy
    pharmacies.ensure_admitted(pharmacy)
    in_region = adcodes.contains(patient.region, pharmacy.county_adcode)
    chosen = Mode(mode) if mode else (Mode.direct if in_region else Mode.manual)
    if prescription.status != PrescriptionStatus.dispensed.value:
        _refuse_settling(session, actor, prescription, pharmacy, chosen)
    if chosen is Mode.direct and not in_region:
        raise Invalid("Direct settlement is only for patients of the pharmacy's coordinating region; "
                      "this one is a manual reimbursement claim (手工报销).",
                      {"mode": [FieldMessage("direct_settlement_out_of_region",
                                             "The patient's coordinating region does not contain the pharmacy.")]},
                      code="direct_settlement_out_of_region")
    today = clock.today()
    # A manual claim is decided under the insured region's policy (seed 003 三(三)); when the
    # service does not hold it, the counter charges in full and that region adjudicates later.
    policy_row = policy_in_force(session, region=patient.region, insurance=patient.insurance, on=today)
    if policy_row is None and chosen is not Mode.manual:
        raise _no_policy(patient.region, patient.insurance, today)
    policy = policy_row and _policy_for(policy_row, patient.assistance_category)
    # Payment standards and first self-pay ratios in force on the dispensing date (集采, seed 001).
    dispensed_on = prescription.dispensed_at.astimezone(clock.CHINA).date()
    prices = _prices(session, loaded, unit_prices or {}, dispensed_on, patient.insurance)

    settled = prescriptions.move(session, prescription, Action.settle, actor.label, detail={"mode": chosen.value},
                                 by_admitted_pharmacy=True)
    row, units = _locked_accumulator_and_units(session, patient.id, today.year, prescription.id)
    lines = _lines(prescription, loaded, units, prices)
    result = (rules.settle(policy, _as_rules(row), lines, patient.assistance_category) if policy
              else rules.charge_in_full(_as_rules(row), lines))
    _flag_prices(session, prescription, pharmacy, lines, loaded.drugs)
    now = clock.now()
    status = Status.settled if chosen is Mode.direct else Status.pending
    settlement = Settlement(
        prescription_id=prescription.id, patient_id=patient.id, pharmacy_code=pharmacy.code,
        patient_region=patient.region, pharmacy_county=pharmacy.county_adcode or pharmacy.adcode,
        insurance=patient.insurance, assistance_category=patient.assistance_category,
        policy_id=policy_row.id if policy_row else None, year=today.year, settled_on=today, mode=chosen.value,
        status=status.value, created_by=actor.label, created_at=now, updated_at=now,
        **_amounts(result, loaded.drugs))
    rows = []
    for position, (line, split) in enumerate(zip(lines, result.lines)):
        drug = loaded.drugs[line.drug_code]
        rows.append(SettlementLine(
            position=position, drug_code=line.drug_code, quantity=line.quantity,
            unit_price=line.unit_price, agreed_price=drug.agreed_price, payment_standard=line.payment_standard,
            first_self_pay_ratio=line.first_self_pay_ratio, separate_payment=drug.separate_payment,
            **_split_parts(split)))
    event = SettlementEvent(action="settle" if chosen is Mode.direct else "claim", to_status=status.value,
                            actor=actor.label, at=now)
    # The settlement's history chain starts from the prescription's link that settled it.
    settlement.history_head = chain.append(chain.genesis("settlement", settled.chain_hash), event,
                                           settlement_link(settlement, rows))
    db.insert_with_children(session, settlement, [*rows, event], link="settlement_id",
                            told_apart_by={"settlement_line": "position"})
    _write_accumulator(session, row, result.after)
    session.commit()
    # What was just written is the answer: no need to read it back.
    return SettlementDetail(settlement=settlement, lines=rows, drugs=loaded.drugs, events=[event])


_SPLIT_PARTS = ("total", "over_standard", "first_self_pay", "policy_range", "deductible", "basic_fund",
                "in_policy_self_pay", "critical_illness", "medical_assistance", "patient_pays")


def _split_parts(split: rules.LineSplit) -> dict:
    return {name: getattr(split, name) for name in _SPLIT_PARTS}


def _amounts(result: rules.SettlementResult, catalogue: "dict[str, Drug]") -> dict:
    """A settlement's money columns from the rules' result."""
    return {"total": result.total, "basic_fund": result.basic_fund, "critical_illness": result.critical_illness,
            "medical_assistance": result.medical_assistance, "patient_pays": result.patient_pays,
            "fund_outside_budget": sum((s.basic_fund for s in result.lines if catalogue[s.drug_code].separate_payment),
                                       rules.ZERO)}


def _adjudicate(session: Session, actor: Actor, settlement: Settlement) -> None:
    """Adjudicate a claim charged in full under the insured region's policy in force on its day,
    now that the service holds it: its lines and amounts are split and the patient's
    accumulators take it (the patient is reimbursed what the funds pay)."""
    row = policy_in_force(session, region=settlement.patient_region, insurance=settlement.insurance,
                          on=settlement.settled_on)
    if row is None:
        raise Conflict(f"Claim {settlement.id} was charged in full: add the {settlement.insurance} policy of "
                       f"region {settlement.patient_region} in force on {settlement.settled_on} to adjudicate it.",
                       code="claim_policy_missing", region=settlement.patient_region)
    policy = _policy_for(row, settlement.assistance_category)
    stored = list(session.exec(select(SettlementLine).where(SettlementLine.settlement_id == settlement.id)
                               .order_by(SettlementLine.position)))
    lines = [rules.ChargeLine(s.drug_code, s.quantity, s.unit_price, s.payment_standard, s.first_self_pay_ratio)
             for s in stored]
    accumulator = _locked_accumulator(session, settlement.patient_id, settlement.year)
    result = rules.settle(policy, _as_rules(accumulator), lines, settlement.assistance_category)
    for line, split in zip(stored, result.lines):
        for name, value in _split_parts(split).items():
            setattr(line, name, value)
    catalogue = drugs.drugs_by_code(session, {s.drug_code for s in stored})
    for name, value in _amounts(result, catalogue).items():
        setattr(settlement, name, value)
    settlement.policy_id = row.id
    session.flush()
    _change(session, actor, settlement, "adjudicate", None, extra=settlement_link(settlement, stored))
    _write_accumulator(session, accumulator, result.after)


# What adjudicating a claim charged in full writes: the funds' parts and the policy applied.
_ADJUDICATED = ("policy_id", "basic_fund", "critical_illness", "medical_assistance", "fund_outside_budget",
                "patient_pays")
_ADJUDICATED_LINE = ("over_standard", "first_self_pay", "policy_range", "deductible", "basic_fund",
                     "in_policy_self_pay", "critical_illness", "medical_assistance", "patient_pays")


def settlement_link(settlement: Settlement, lines: list[SettlementLine], *, as_charged_in_full: bool = False) -> dict:
    """What a settlement's first link covers besides its event: the settlement as made (all but
    its id and what changes later) and its lines. A claim charged in full and adjudicated later
    was made with every part the patient's (`as_charged_in_full` rebuilds that from the row);
    its `adjudicate` link covers the row as adjudicated."""
    made = chain.row_content(settlement, ("id", "status", "updated_at", "history_head"))
    rows = [chain.row_content(line, ("id", "settlement_id")) for line in sorted(lines, key=lambda line: line.position)]
    if as_charged_in_full:
        made.update({name: "0.00" for name in _ADJUDICATED}, policy_id=None, patient_pays=made["total"])
        for row in rows:
            row.update({name: "0.00" for name in _ADJUDICATED_LINE}, patient_pays=row["total"])
    return {"settlement": made, "lines": rows}


def _change(session: Session, actor: Actor, settlement: Settlement, action: str, reason: str | None, *,
            extra: dict | None = None) -> None:
    """One conditional status change from `rules.TRANSITIONS`, recorded and linked into the
    settlement's history chain (with `extra`, what the step wrote besides); Conflict otherwise.
    The loaded `settlement` shows the new state."""
    move = rules.TRANSITIONS[action]
    sources, target = move.sources, move.target
    if Status(settlement.status) not in sources:
        raise Conflict(f"A settlement that is {settlement.status} cannot be {action}d.",
                       code="settlement_invalid_transition", status_now=settlement.status, action=action)
    now = clock.now()
    event = SettlementEvent(settlement_id=settlement.id, action=action, from_status=settlement.status,
                            to_status=target.value, actor=actor.label, reason=reason, at=now)
    head = settlement.history_head
    same_head = Settlement.history_head.is_(None) if head is None else Settlement.history_head == head
    db.change_if(session, settlement, Settlement.status == settlement.status, same_head,
                 values={"status": target.value, "updated_at": now,
                         "history_head": chain.append(head or chain.genesis("settlement", f"id:{settlement.id}"),
                                                      event, extra)},
                 refusal=Conflict(f"Settlement {settlement.id} was changed by another request.",
                                  code="concurrent_change"))
    session.add(event)


def _undo(session: Session, actor: Actor, settlement: Settlement, action: str, reason: str) -> None:
    """Release what a settlement took: the prescription back to `dispensed` (it may be settled
    again) and its amounts out of the patient's accumulators."""
    prescription = prescriptions.stored(session, settlement.prescription_id)
    prescriptions.move(session, prescription, Action.reverse, actor.label, reason=reason,
                       detail={"settlement_id": settlement.id, "settlement_action": action})
    lines = session.exec(select(SettlementLine).where(SettlementLine.settlement_id == settlement.id)).all()
    row = _locked_accumulator(session, settlement.patient_id, settlement.year)
    try:
        after = _as_rules(row) - rules.delta_of(lines)
    except ValueError as error:
        raise Conflict(f"The accumulators of {settlement.year} do not contain settlement {settlement.id}: {error}",
                       code="accumulators_inconsistent")
    _write_accumulator(session, row, after)


def _committed_detail(session: Session, settlement: Settlement) -> SettlementDetail:
    """Commit the settlement's change and answer it as stored, with its lines."""
    session.commit()
    session.refresh(settlement)
    return detail(session, settlement)


def reverse(session: Session, actor: Actor, settlement_id: int, *, reason: str) -> SettlementDetail:
    """Reverse (冲正) a settlement or withdraw a claim: its pharmacy (not once a bureau approved
    the claim), a bureau of the patient's or the pharmacy's region, or admin. Restores the
    accumulators; the prescription returns to `dispensed`. Reverse the latest first (see
    `rules`)."""
    settlement = _load(session, actor, settlement_id)
    if actor.role is Role.pharmacy and settlement.status == Status.approved.value:
        raise Forbidden("A claim the bureau approved is reversed by a bureau, not by the pharmacy.",
                        code="claim_reversed_by_bureau")
    _change(session, actor, settlement, "reverse", reason)
    _undo(session, actor, settlement, "reverse", reason)
    return _committed_detail(session, settlement)


def _claim(session: Session, actor: Actor, settlement_id: int) -> Settlement:
    """A manual claim for the bureau of the patient's insured region (or admin) to decide: the
    insured place pays it under its own policy (seed 003 三(三): 异地就医备案……可手工报销). The
    bureau where the pharmacy stands reads it but does not decide it."""
    actor.require(Role.admin, Role.bureau)
    settlement = _load(session, actor, settlement_id)
    if settlement.mode != Mode.manual.value:
        raise Conflict(f"Settlement {settlement.id} was settled directly; only manual claims are decided.",
                       code="not_a_claim", status_now=settlement.status)
    if not actor.in_region(settlement.patient_region):
        raise Forbidden(f"Claim {settlement.id} is decided by the bureau of the patient's insured region "
                        f"({settlement.patient_region}).", code="claim_of_another_region",
                        region=settlement.patient_region)
    return settlement


def approve(session: Session, actor: Actor, settlement_id: int, *, note: str | None = None) -> SettlementDetail:
    """The bureau of the patient's insured region approves a pending manual claim; a claim
    charged in full is adjudicated under that region's policy first."""
    settlement = _claim(session, actor, settlement_id)
    if settlement.policy_id is None and settlement.status == Status.pending.value:
        _adjudicate(session, actor, settlement)
    _change(session, actor, settlement, "approve", note)
    return _committed_detail(session, settlement)


def reject(session: Session, actor: Actor, settlement_id: int, *, reason: str) -> SettlementDetail:
    """The insured region's bureau rejects a pending manual claim: the accumulators are released and the
    prescription returns to `dispensed`, so a corrected claim can be made."""
    settlement = _claim(session, actor, settlement_id)
    _change(session, actor, settlement, "reject", reason)
    _undo(session, actor, settlement, "reject", reason)
    return _committed_detail(session, settlement)


# --- Reconciliation -------------------------------------------------------------------------

PARTS = ("total", "basic_fund", "critical_illness", "medical_assistance", "patient_pays")


@dataclass
class Reconciliation:
    """Counts and totals by fund per pharmacy, mode and status over one day or month."""

    period: str
    label: str
    start: date
    end: date  # exclusive
    rows: list[dict]
    totals: dict
    invariant: dict


def reconciliation_window(period: str, on: date) -> tuple[date, date, str]:
    """[start, end) of the day or calendar month containing `on`, and its label."""
    if period == "day":
        return on, on + timedelta(days=1), on.isoformat()
    start = on.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end, start.strftime("%Y-%m")


def _line_sums():
    return (select(SettlementLine.settlement_id,
                   *(sa.func.sum(getattr(SettlementLine, part)).label(part) for part in PARTS))
            .group_by(SettlementLine.settlement_id).subquery())


def _money(value) -> Decimal:
    return rules.ZERO if value is None else Decimal(value).quantize(rules.FEN)


def reconciliation(session: Session, actor: Actor, *, period: str = "day", on: date | None = None,
                   pharmacy: str | None = None) -> Reconciliation:
    """Settlements made in a day or month, per pharmacy, mode and status, with the check that
    every settlement's parts equal the sums of its lines' parts and add up to its total."""
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    start, end, label = reconciliation_window(period, on or clock.today())
    scope = [visible(actor), Settlement.settled_on >= start, Settlement.settled_on < end]
    if pharmacy:
        scope.append(Settlement.pharmacy_code == pharmacy)
    lines = _line_sums()
    keys = (Settlement.pharmacy_code, Settlement.mode, Settlement.status)
    grouped = session.execute(
        select(*keys, sa.func.count(Settlement.id).label("count"),
               *(sa.func.sum(getattr(Settlement, part)).label(part) for part in PARTS),
               sa.func.sum(Settlement.fund_outside_budget).label("fund_outside_budget"),
               sa.func.sum(lines.c.total).label("lines_total"))
        .join(lines, lines.c.settlement_id == Settlement.id, isouter=True)
        .where(*scope).group_by(*keys).order_by(*keys)).all()
    rows = []
    for r in grouped:
        row = {"period": label, "pharmacy_code": r.pharmacy_code, "mode": r.mode, "status": r.status,
               "count": r.count, "fund_outside_budget": _money(r.fund_outside_budget),
               **{part: _money(getattr(r, part)) for part in PARTS}, "lines_total": _money(r.lines_total)}
        row["balanced"] = row["total"] == row["lines_total"]
        rows.append(row)
    in_force = [r for r in rows if Status(r["status"]) in rules.IN_FORCE]
    totals = {"count": sum(r["count"] for r in in_force),
              **{part: sum((r[part] for r in in_force), rules.ZERO) for part in PARTS},
              "fund_outside_budget": sum((r["fund_outside_budget"] for r in in_force), rules.ZERO)}
    unbalanced = session.exec(
        select(Settlement.id).join(lines, lines.c.settlement_id == Settlement.id, isouter=True)
        .where(*scope, sa.or_(
            lines.c.settlement_id.is_(None),
            Settlement.total != Settlement.basic_fund + Settlement.critical_illness
            + Settlement.medical_assistance + Settlement.patient_pays,
            *(getattr(Settlement, part) != getattr(lines.c, part) for part in PARTS)))
        .order_by(Settlement.id)).all()
    invariant = {"settlements_total": sum((r["total"] for r in rows), rules.ZERO),
                 "lines_total": sum((r["lines_total"] for r in rows), rules.ZERO),
                 "unbalanced_settlements": list(unbalanced)}
    invariant["balanced"] = not unbalanced and invariant["settlements_total"] == invariant["lines_total"]
    return Reconciliation(period=period, label=label, start=start, end=end, rows=rows, totals=totals,
                          invariant=invariant)


# Read by other features (they never query the settlement tables themselves).

@functools.cache
def settlement_view() -> sa.Subquery:
    """The settlement table as other features join and read it (read-only)."""
    return sa.select(Settlement.id, Settlement.prescription_id, Settlement.patient_id, Settlement.pharmacy_code,
                     Settlement.patient_region, Settlement.pharmacy_county, Settlement.insurance,
                     Settlement.settled_on, Settlement.mode, Settlement.status, Settlement.total,
                     Settlement.basic_fund, Settlement.critical_illness, Settlement.medical_assistance,
                     Settlement.patient_pays, Settlement.fund_outside_budget, Settlement.created_at,
                     Settlement.updated_at).subquery("settlement_view")


@functools.cache
def settlement_line_view() -> sa.Subquery:
    """The settlement line table as other features join and read it (read-only)."""
    return sa.select(SettlementLine.id, SettlementLine.settlement_id, SettlementLine.position,
                     SettlementLine.drug_code, SettlementLine.quantity, SettlementLine.total,
                     SettlementLine.basic_fund, SettlementLine.critical_illness, SettlementLine.medical_assistance,
                     SettlementLine.patient_pays).subquery("settlement_line_view")


@functools.cache
def settlement_event_view() -> sa.Subquery:
    """The settlement event table as other features join and read it (read-only)."""
    return sa.select(SettlementEvent.id, SettlementEvent.settlement_id, SettlementEvent.action,
                     SettlementEvent.from_status, SettlementEvent.to_status, SettlementEvent.actor,
                     SettlementEvent.at).subquery("settlement_event_view")


def details_of_prescriptions(session: Session, prescription_ids: list[int]) -> list[SettlementDetail]:
    """`detail` of every settlement of these prescriptions, in id order (no scope check)."""
    found = list(session.exec(select(Settlement).where(Settlement.prescription_id.in_(prescription_ids))
                              .order_by(Settlement.id))) if prescription_ids else []
    return details(session, found) if found else []
