"""Pharmacies: registration with a computed county, admission, suspension, exit, stock."""

import functools
from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel import auth
from dualchannel.auth import Actor, Role, require_registrar
from dualchannel.drugs import services as drugs
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.flags.services import raise_flag
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.geo import crs as geo_crs
from dualchannel.pharmacies import rules
from dualchannel.pharmacies.models import Pharmacist, Pharmacy, PharmacyEvent, PharmacyStatus, Stock


def locate(lat: float, lon: float, crs: str) -> tuple[float, float, geo_boundaries.County]:
    """WGS-84 coordinates and the county of a point given in any supported system."""
    if not geo_crs.in_china(lat, lon):
        outside = FieldMessage("point_outside_china", "Outside China.")
        raise Invalid("The location is not in China.", {"lat": [outside], "lon": [outside]},
                      code="point_outside_china")
    lat, lon = geo_crs.to_wgs84(lat, lon, crs)
    county = geo_boundaries.current().county_of(lat, lon)
    if county is None:
        nowhere = FieldMessage("point_in_no_county", "In no county.")
        raise Invalid("The location is in no county of China.", {"lat": [nowhere], "lon": [nowhere]},
                      code="point_outside_counties")
    return lat, lon, county


def visible(actor: Actor):
    """The one filter deciding which pharmacies an actor may read."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        prefix = adcodes.prefix(actor.subject)
        return sa.or_(Pharmacy.county_adcode.startswith(prefix), Pharmacy.adcode.startswith(prefix))
    if actor.role is Role.pharmacy:
        return Pharmacy.code == actor.subject
    if actor.role is Role.physician:
        # Physicians route prescriptions: they see the dual-channel network itself.
        return Pharmacy.status == PharmacyStatus.active.value
    return sa.false()


def ensure_admitted(pharmacy: Pharmacy) -> None:
    """Only an admitted (active) dual-channel pharmacy verifies, dispenses, settles and undoes:
    a suspended, exited or not yet admitted one is refused with 409 naming its state."""
    if pharmacy.status == PharmacyStatus.active.value:
        return
    raise Conflict(f"{pharmacy.name} ({pharmacy.code}) is {pharmacy.status}: only an admitted dual-channel "
                   "pharmacy may verify, dispense, settle or undo.",
                   code={PharmacyStatus.suspended.value: "pharmacy_suspended",
                         PharmacyStatus.exited.value: "pharmacy_exited"}.get(pharmacy.status, "pharmacy_not_admitted"),
                   pharmacy_code=pharmacy.code, pharmacy_status=pharmacy.status)


def is_active(code) -> sa.ColumnElement[bool]:
    """SQL: the pharmacy `code` (a value or a column) is admitted now. Put in the WHERE of the
    conditional UPDATE that records a pharmacy's act, so a suspension committed a moment
    before refuses it inside the same transaction."""
    return sa.exists().where(Pharmacy.code == code, Pharmacy.status == PharmacyStatus.active.value)


def create_pharmacy(session: Session, actor: Actor, *, code: str, name: str, address: str, adcode: str,
                    lat: float, lon: float, crs: str = "gcj02", cold_chain: bool = False,
                    traceability: bool = False) -> Pharmacy:
    """Register an applying pharmacy; its county is computed from where it really is."""
    require_registrar(actor, adcode)
    lat, lon, county = locate(lat, lon, crs)
    if session.get(Pharmacy, code):
        raise Conflict(f"Pharmacy {code} already exists.", code="pharmacy_exists")
    now = clock.now()
    pharmacy = Pharmacy(code=code, name=name, address=address, adcode=adcode, lat=lat, lon=lon,
                        county_adcode=county.adcode, city_adcode=county.city_adcode,
                        status=PharmacyStatus.applied.value, cold_chain=cold_chain, traceability=traceability,
                        created_at=now, updated_at=now)
    session.add(pharmacy)
    session.add(PharmacyEvent(pharmacy_code=code, action="apply", to_status=pharmacy.status,
                              actor=actor.label, at=now))
    if pharmacy.county_mismatch:
        raise_flag(session, type="county_mismatch", severity="medium", subject=f"pharmacy:{code}",
                   region=county.adcode, dedup_key=f"county_mismatch:{code}:{adcode}:{county.adcode}",
                   evidence={"pharmacy_code": code, "declared_adcode": adcode, "computed_adcode": county.adcode,
                             "computed_name": county.name, "lat": lat, "lon": lon})
    db.commit(session, f"Pharmacy {code} already exists.", code="pharmacy_exists")
    return pharmacy


def get_pharmacy(session: Session, actor: Actor, code: str) -> Pharmacy:
    pharmacy = session.exec(select(Pharmacy).where(Pharmacy.code == code, visible(actor))).first()
    if pharmacy is None:
        raise NotFound(f"No pharmacy {code}.", code="pharmacy_not_found")
    return pharmacy


def list_pharmacies(session: Session, actor: Actor, *, region: str | None = None,
                    status: str | None = None) -> list[Pharmacy]:
    statement = select(Pharmacy).where(visible(actor)).order_by(Pharmacy.county_adcode, Pharmacy.code)
    if region:
        statement = statement.where(Pharmacy.county_adcode.startswith(adcodes.prefix(region)))
    if status:
        statement = statement.where(Pharmacy.status == status)
    return list(session.exec(statement))


def active_in_county(session: Session, county_adcode: str, *, lock: bool = False) -> list[str]:
    """Codes of active dual-channel pharmacies in a county, in code order (optionally locked).

    Locks are taken in code order, so two requests racing on one county queue instead of
    deadlocking.
    """
    statement = (select(Pharmacy.code)
                 .where(Pharmacy.county_adcode == county_adcode, Pharmacy.status == PharmacyStatus.active.value)
                 .order_by(Pharmacy.code))
    if lock:
        statement = statement.with_for_update()
    return list(session.exec(statement))


def change_status(session: Session, actor: Actor, code: str, action: str, *, reason: str | None = None,
                  force: bool = False) -> Pharmacy:
    """Admit, suspend or exit a pharmacy (a bureau of its region, or an admin).

    Taking out the last active pharmacy of a county is a Conflict naming the county, unless
    forced (`force` with a reason; the history records that it was forced).
    """
    actor.require(Role.admin, Role.bureau)
    pharmacy = get_pharmacy(session, actor, code)
    move = rules.TRANSITIONS[action]
    sources, target, needs_reason = move.sources, move.target, move.needs_reason
    current = PharmacyStatus(pharmacy.status)
    if current not in sources:
        raise Conflict(f"A pharmacy that is {current.value} cannot be {rules.PAST[action]}.",
                       status_now=current.value, code="pharmacy_invalid_transition", action=action)
    if target is PharmacyStatus.active and not pharmacy.traceability:
        # Seed 003 三(二): a dual-channel pharmacy must "满足对所售药品已实现电子追溯".
        raise Conflict(f"{pharmacy.name} has no electronic traceability of the drugs it sells (药品电子追溯); "
                       "seed 003 requires it for admission.", code="traceability_required",
                       criterion="traceability")
    # Suspensions and exits always need one, so a forced one always says why.
    if needs_reason and not reason:
        raise Invalid(f"A reason is required to {action}.", {"reason": [FieldMessage("required", "Missing.")]},
                      code="reason_required")
    forced = False
    if target is not PharmacyStatus.active:
        # Lock every active pharmacy of the county, this one included: of two racing exits,
        # the second waits and then sees the first one's result.
        active = active_in_county(session, pharmacy.county_adcode, lock=True)
        others = [c for c in active if c != code]
        if rules.leaves_county_uncovered(current, len(others)):
            if not force:
                county = geo_boundaries.current().get(pharmacy.county_adcode)
                name = county.name if county else pharmacy.county_adcode
                raise Conflict(
                    f"{pharmacy.name} is the only active dual-channel pharmacy in {name} "
                    f"({pharmacy.county_adcode}): to {action} it would leave the county without one. "
                    f"Send force: true with a reason to do it anyway.",
                    uncovered=[pharmacy.county_adcode],
                    counties=[{"adcode": pharmacy.county_adcode, "name": name}],
                    code="last_pharmacy_in_county", county_name=name)
            forced = True
    now = clock.now()
    db.change_if(session, pharmacy, Pharmacy.status == current.value,
                 values={"status": target.value, "updated_at": now},
                 refusal=Conflict(f"Pharmacy {code} changed meanwhile; try again.", code="concurrent_change"))
    session.add(PharmacyEvent(pharmacy_code=code, action=action, from_status=current.value, to_status=target.value,
                              reason=reason, forced=forced, actor=actor.label, at=now))
    session.commit()
    session.refresh(pharmacy)
    return pharmacy


def update_capabilities(session: Session, actor: Actor, code: str, *, traceability: bool | None = None,
                        cold_chain: bool | None = None, reason: str) -> Pharmacy:
    """Record a pharmacy's electronic traceability or cold chain as the bureau found them
    (admin, or a bureau of its region); kept in its history with the reason."""
    actor.require(Role.admin, Role.bureau)
    pharmacy = get_pharmacy(session, actor, code)
    changes = {name: value for name, value in (("traceability", traceability), ("cold_chain", cold_chain))
               if value is not None and value != getattr(pharmacy, name)}
    if not changes:
        return pharmacy
    now = clock.now()
    for name, value in changes.items():
        setattr(pharmacy, name, value)
    pharmacy.updated_at = now
    session.add(PharmacyEvent(pharmacy_code=code, action="capabilities", from_status=pharmacy.status,
                              to_status=pharmacy.status, reason=reason, actor=actor.label, at=now,
                              detail=changes))
    session.commit()
    return pharmacy


def history(session: Session, actor: Actor, code: str) -> list[PharmacyEvent]:
    """Admissions, suspensions and exits with their reasons: for bureaus and the pharmacy itself.

    Physicians see the network (to route prescriptions), not the bureau's dealings with it.
    """
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    pharmacy = get_pharmacy(session, actor, code)
    return list(session.exec(select(PharmacyEvent).where(PharmacyEvent.pharmacy_code == pharmacy.code)
                             .order_by(PharmacyEvent.id)))


def set_stock(session: Session, actor: Actor, code: str, quantities: dict[str, int]) -> dict[str, int]:
    """Set stock levels (the pharmacy itself, or an admin); returns the whole stock."""
    if not (actor.role is Role.admin or (actor.role is Role.pharmacy and actor.subject == code)):
        if actor.role is Role.pharmacy:
            raise NotFound(f"No pharmacy {code}.", code="pharmacy_not_found")
        raise Forbidden("Only the pharmacy itself sets its stock.", code="stock_own_pharmacy_only")
    pharmacy = get_pharmacy(session, actor, code)
    known = set(drugs.drugs_by_code(session, set(quantities)))
    unknown = sorted(set(quantities) - known)
    if unknown:
        raise Invalid("Unknown drugs.", {code_: [FieldMessage("drug_unknown", "Unknown drug.")] for code_ in unknown},
                      code="drug_unknown")
    now = clock.now()
    held = {row.drug_code: row for row in session.exec(select(Stock).where(Stock.pharmacy_code == pharmacy.code,
                                                                          Stock.drug_code.in_(quantities)))}
    for drug_code, quantity in quantities.items():
        row = held.get(drug_code)
        if row is None:
            session.add(Stock(pharmacy_code=pharmacy.code, drug_code=drug_code, quantity=quantity, updated_at=now))
        else:
            row.quantity, row.updated_at = quantity, now
    session.commit()
    return stock_of(session, pharmacy.code)


def stock_of(session: Session, code: str) -> dict[str, int]:
    return dict(session.exec(select(Stock.drug_code, Stock.quantity).where(Stock.pharmacy_code == code)).all())


@functools.cache
def _take_stock_statement() -> sa.Update:
    """`take_stock`'s conditional decrement, built once on the table (Core: nothing of the
    stock is loaded in the session to keep in step)."""
    stock = Stock.__table__.c
    return (sa.update(Stock.__table__)
            .where(stock.pharmacy_code == sa.bindparam("pharmacy"), stock.drug_code == sa.bindparam("drug"),
                   stock.quantity >= sa.bindparam("taken"))
            .values(quantity=stock.quantity - sa.bindparam("taken"), updated_at=sa.bindparam("at")))


def take_stock(session: Session, code: str, needs: dict[str, int]) -> bool:
    """Decrease stock by `needs` in the caller's transaction; False when any is short. Pending
    writes are flushed first, so the stock rows (hot: every dispensing of the pharmacy) are
    locked last, right before the caller commits."""
    session.flush()
    now = clock.now()
    for drug_code, quantity in needs.items():
        touched = session.execute(_take_stock_statement(),
                                  {"pharmacy": code, "drug": drug_code, "taken": quantity, "at": now}).rowcount
        if touched != 1:
            return False
    return True


def return_stock(session: Session, code: str, returned: dict[str, int]) -> None:
    """Increase stock by `returned` (packs back on the shelf) in the caller's transaction."""
    for drug_code, quantity in returned.items():
        touched = session.execute(
            sa.update(Stock).where(Stock.pharmacy_code == code, Stock.drug_code == drug_code)
            .values(quantity=Stock.quantity + quantity, updated_at=clock.now())
        ).rowcount
        if touched != 1:
            session.add(Stock(pharmacy_code=code, drug_code=drug_code, quantity=quantity, updated_at=clock.now()))


def network_capacity(session: Session, *, regions: list[str]) -> tuple[int, int]:
    """(active dual-channel pharmacies, of them with cold chain) inside any of `regions`: one query."""
    active, cold = session.execute(_network_capacity_query(len(regions)),
                                   {f"prefix_{i}": adcodes.prefix(r) for i, r in enumerate(regions)}).one()
    return int(active), int(cold)


@functools.cache
def _network_capacity_query(regions: int) -> sa.Select:
    """`network_capacity`'s query for that many regions, built once (parameters `prefix_<i>`)."""
    in_regions = (Pharmacy.county_adcode.startswith(sa.bindparam(f"prefix_{i}", type_=sa.String)) for i in range(regions))
    return (select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((Pharmacy.cold_chain.is_(True), 1), else_=0)), 0))
            .where(Pharmacy.status == PharmacyStatus.active.value, sa.or_(*in_regions)))


def able_to_fill(session: Session, *, regions: list[str], needs: dict[str, int], cold_chain: bool) -> list[Pharmacy]:
    """Active pharmacies inside any of `regions` with the stock for `needs` (and cold chain if needed)."""
    statement = select(Pharmacy).where(
        Pharmacy.status == PharmacyStatus.active.value,
        sa.or_(*(Pharmacy.county_adcode.startswith(adcodes.prefix(r)) for r in regions)),
    )
    if cold_chain:
        statement = statement.where(Pharmacy.cold_chain.is_(True))
    for drug_code, quantity in needs.items():
        statement = statement.where(sa.exists().where(
            Stock.pharmacy_code == Pharmacy.code, Stock.drug_code == drug_code, Stock.quantity >= quantity))
    return list(session.exec(statement))


def status_counts_by_county(session: Session, actor: Actor,
                            county_adcodes: Collection[str] | None = None) -> dict[str, dict[str, int]]:
    """How many pharmacies each computed county has in each status: one GROUP BY query.

    `county_adcodes` None means every county (the national report).
    """
    statement = (select(Pharmacy.county_adcode, Pharmacy.status, sa.func.count())
                 .where(visible(actor), Pharmacy.county_adcode.is_not(None))
                 .group_by(Pharmacy.county_adcode, Pharmacy.status))
    if county_adcodes is not None:
        statement = statement.where(Pharmacy.county_adcode.in_(list(county_adcodes)))
    counts: dict[str, dict[str, int]] = {}
    for county, status, number in session.exec(statement):
        counts.setdefault(county, {})[status] = number
    return counts


def in_counties(session: Session, actor: Actor, county_adcodes: Collection[str] | None = None, *,
                statuses: Collection[str] | None = None, codes: Collection[str] | None = None) -> list[Pharmacy]:
    """Pharmacies the actor may see whose computed county is one of `county_adcodes` (None: any),
    optionally only in `statuses` or with `codes`; in county, then code order."""
    statement = select(Pharmacy).where(visible(actor)).order_by(Pharmacy.county_adcode, Pharmacy.code)
    if county_adcodes is not None:
        statement = statement.where(Pharmacy.county_adcode.in_(list(county_adcodes)))
    if statuses is not None:
        statement = statement.where(Pharmacy.status.in_(list(statuses)))
    if codes is not None:
        statement = statement.where(Pharmacy.code.in_(list(codes)))
    return list(session.exec(statement))


def active_network(session: Session) -> list[Pharmacy]:
    """Every active dual-channel pharmacy, wherever it is.

    The active network is public (physicians and patients choose from it), so a bureau may be
    pointed at active pharmacies across its own border.
    """
    return list(session.exec(select(Pharmacy).where(Pharmacy.status == PharmacyStatus.active.value)
                             .order_by(Pharmacy.code)))


def admitted(session: Session, *, region: str | None = None) -> list[Pharmacy]:
    """The admitted dual-channel pharmacies — active, or suspended for now — whose computed
    county lies in `region` (None: everywhere), in county, then code order. This is the list
    the bureau publishes (seed 003 三(二): 纳入"双通道"管理，并及时向社会公布)."""
    statement = (select(Pharmacy).where(Pharmacy.status.in_([PharmacyStatus.active.value,
                                                              PharmacyStatus.suspended.value]))
                 .order_by(Pharmacy.county_adcode, Pharmacy.code))
    if region:
        statement = statement.where(Pharmacy.county_adcode.startswith(adcodes.prefix(region)))
    return list(session.exec(statement))


def dual_channel_drugs_in_stock(session: Session, codes: Collection[str]) -> dict[str, int]:
    """For each pharmacy code, how many dual-channel drugs it has in stock (quantity above 0)."""
    if not codes:
        return {}
    drug = drugs.drug_view()
    statement = (select(Stock.pharmacy_code, sa.func.count())
                 .join(drug, drug.c.code == Stock.drug_code)
                 .where(Stock.pharmacy_code.in_(list(codes)), Stock.quantity > 0, drug.c.dual_channel.is_(True))
                 .group_by(Stock.pharmacy_code))
    return dict(session.exec(statement).all())


# --- Pharmacists (执业药师) -------------------------------------------------------------------

def add_pharmacist(session: Session, actor: Actor, code: str, *, licence_number: str, name: str) -> Pharmacist:
    """Register a licensed pharmacist of a pharmacy (a bureau of its region, or an admin)."""
    pharmacy = get_pharmacy(session, actor, code)
    require_registrar(actor, pharmacy.county_adcode or pharmacy.adcode)
    if session.exec(select(Pharmacist.id).where(Pharmacist.licence_number == licence_number)).first():
        raise Conflict(f"A pharmacist with licence {licence_number} is registered.", code="pharmacist_exists")
    pharmacist = Pharmacist(pharmacy_code=pharmacy.code, licence_number=licence_number, name=name,
                            created_at=clock.now())
    session.add(pharmacist)
    db.commit(session, f"A pharmacist with licence {licence_number} is registered.", code="pharmacist_exists")
    return pharmacist


def pharmacists(session: Session, actor: Actor, code: str) -> list[Pharmacist]:
    """A pharmacy's pharmacists (the pharmacy itself, a bureau of its region, an admin)."""
    actor.require(Role.admin, Role.bureau, Role.pharmacy)
    pharmacy = get_pharmacy(session, actor, code)
    return list(session.exec(select(Pharmacist).where(Pharmacist.pharmacy_code == pharmacy.code)
                             .order_by(Pharmacist.id)))


def pharmacist_token(session: Session, *, pharmacy_code: str, licence_number: str, name: str | None = None) -> str:
    """A token of the pharmacy bound to one of its pharmacists (operators, from the CLI)."""
    pharmacist = session.exec(select(Pharmacist).where(Pharmacist.licence_number == licence_number)).first()
    if pharmacist is None or pharmacist.pharmacy_code != pharmacy_code:
        raise Invalid(f"No pharmacist with licence {licence_number} at pharmacy {pharmacy_code}.",
                      {"pharmacist": [FieldMessage("pharmacist_not_of_pharmacy", "Not a pharmacist of this pharmacy.")]},
                      code="pharmacist_unknown")
    return auth.create_token(session, role=Role.pharmacy.value, subject=pharmacy_code, name=name or pharmacist.name,
                             pharmacist_id=pharmacist.id)


# Read by other features (they never query the pharmacy table themselves).

def pharmacy_by_code(session: Session, code: str | None) -> Pharmacy | None:
    """The pharmacy with this code, or None (no scope check: for services that checked theirs)."""
    return session.get(Pharmacy, code) if code else None


def with_pharmacy(statement: sa.Select, code: sa.ColumnElement) -> sa.Select:
    """`statement` with the pharmacy whose code is `code` outer-joined and added as its next
    entity (None where there is none)."""
    return statement.add_columns(Pharmacy).outerjoin(Pharmacy, Pharmacy.code == code)


def names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of the pharmacies among `codes`, by code."""
    if not codes:
        return {}
    return dict(session.execute(select(Pharmacy.code, Pharmacy.name).where(Pharmacy.code.in_(list(codes)))).all())


def pharmacist_by_id(session: Session, pharmacist_id: int | None) -> Pharmacist | None:
    """The pharmacist with this id, or None (no scope check)."""
    return session.get(Pharmacist, pharmacist_id) if pharmacist_id else None


@functools.cache
def pharmacy_view() -> sa.Subquery:
    """The pharmacy table as other features join and read it (read-only)."""
    return sa.select(Pharmacy.code, Pharmacy.name, Pharmacy.adcode, Pharmacy.county_adcode, Pharmacy.city_adcode,
                     Pharmacy.lat, Pharmacy.lon, Pharmacy.status, Pharmacy.cold_chain,
                     Pharmacy.traceability).subquery("pharmacy_view")


@functools.cache
def pharmacist_view() -> sa.Subquery:
    """The pharmacist table as other features join and read it (read-only)."""
    return sa.select(Pharmacist.id, Pharmacist.pharmacy_code, Pharmacist.licence_number,
                     Pharmacist.name).subquery("pharmacist_view")
