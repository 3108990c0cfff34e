"""Procurement (集采) use cases: batches and products, agreed volumes, purchases, demand
declarations and the working calendar. Monitoring is in `execution.py`, supply problems in
`supply.py`, prepayments and the company ledger in `money.py`.

Who may do what:
- batches and products: an admin, or a bureau for a batch of its own region (a national batch
  has no region: admin only); everyone reads them (they are published results);
- agreed volumes: a bureau inside its region (or an admin) sets or computes them;
- purchases, declarations, supply problems: the institution itself (role `institution`, or a
  pharmacy with role `pharmacy`), or a bureau of its region, or an admin; a bureau decides on
  declarations; institutions see only their own records.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.drugs.models import ALL_DRUGS, Drug
from dualchannel.errors import Conflict, Forbidden, Invalid, NotFound
from dualchannel.flags import services as flags
from dualchannel.institutions.models import Institution
from dualchannel.packs.models import DispensedPack
from dualchannel.pharmacies.models import Pharmacy
from dualchannel.procurement import rules, tables
from dualchannel.procurement.models import (
    Batch,
    CalendarDay,
    Declaration,
    DeclarationStatus,
    Line,
    Product,
    Purchase,
    month_column,
)

READERS = (Role.admin, Role.bureau, Role.institution, Role.pharmacy)
INSTITUTION_ROLES = (Role.institution, Role.pharmacy)


# ---------------------------------------------------------------------------
# Settings, institutions and scopes
# ---------------------------------------------------------------------------


def setting(name: str) -> Decimal:
    """A decimal procurement setting from the app configuration (`PROCUREMENT_<name>`)."""
    return Decimal(str(current_app.config[f"PROCUREMENT_{name}"]))


def step_down_schedule() -> rules.StepDownSchedule:
    """The payment-standard step-down: `PROCUREMENT_STEP_DOWN` or the rules' default.

    Configured as ``{"years": [["0.7", "0"], ["0.35", "0.5"], ["0", "1"]]}`` (each year:
    own-price factor, selected-price factor; the standard is kept within [selected, own price]).
    """
    configured = current_app.config.get("PROCUREMENT_STEP_DOWN")
    if not configured:
        return rules.DEFAULT_STEP_DOWN
    return rules.StepDownSchedule(
        years=tuple(rules.StepDownYear(Decimal(str(own)), Decimal(str(sel))) for own, sel in configured["years"]))


@dataclass(frozen=True)
class InstitutionRef:
    """A hospital (定点医疗机构) or a pharmacy (定点零售药店) taking part in procurement."""

    code: str
    name: str
    kind: str  # hospital | pharmacy
    region: str  # county adcode


def institution_of(session: Session, code: str) -> InstitutionRef | None:
    """The institution or pharmacy with `code`; a pharmacy's region is its computed county."""
    hospital = session.get(Institution, code)
    if hospital is not None:
        return InstitutionRef(hospital.code, hospital.name, "hospital", hospital.adcode)
    pharmacy = session.get(Pharmacy, code)
    if pharmacy is not None:
        return InstitutionRef(pharmacy.code, pharmacy.name, "pharmacy", pharmacy.county_adcode or pharmacy.adcode)
    return None


def institution_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of institutions and pharmacies by code."""
    names = dict(session.exec(select(Institution.code, Institution.name).where(Institution.code.in_(codes))).all())
    names.update(session.exec(select(Pharmacy.code, Pharmacy.name).where(Pharmacy.code.in_(codes))).all())
    return names


def within(region_column, region: str):
    """`region_column` (a 6-digit adcode) lies in `region`, as a range an index can serve
    (``LIKE '3708%'`` cannot, outside the C collation)."""
    prefix = adcodes.prefix(region)
    return region_column.between(prefix.ljust(6, "0"), prefix.ljust(6, "9"))


def scope(actor: Actor, region_column, institution_column):
    """The one visibility rule of every institution-owned procurement record: an admin sees
    all, a bureau its region, an institution or pharmacy its own records, nobody else any."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        return within(region_column, actor.subject)
    if actor.role in INSTITUTION_ROLES:
        return institution_column == actor.subject
    return sa.false()


def visible_lines(actor: Actor):
    """The lines (agreed volumes, progress) an actor may read."""
    return scope(actor, Line.region, Line.institution_code)


def visible_declarations(actor: Actor):
    """The demand declarations an actor may read."""
    return scope(actor, Declaration.region, Declaration.institution_code)


def view_region(actor: Actor, region: str | None) -> str | None:
    """The region a report covers: a bureau's own region or a part of it (another region is
    404), anything for an admin (None: everywhere), not applicable to an institution."""
    actor.require(*READERS)
    if actor.role is Role.bureau:
        region = region or actor.subject
        if not actor.in_region(region):
            raise NotFound(f"No region {region} in your scope.", code="region_not_found")
        return region
    if actor.role is Role.admin:
        return region
    return None


def acting_institution(session: Session, actor: Actor, institution_code: str | None, verb: str) -> InstitutionRef:
    """The institution a write is for: an institution acts for itself; a bureau of its region
    or an admin may act for one."""
    if actor.role in INSTITUTION_ROLES:
        if institution_code not in (None, actor.subject):
            raise Forbidden(f"An institution {verb} only for itself.", code="institution_own_only")
        institution_code = actor.subject
    else:
        actor.require(Role.admin, Role.bureau, *INSTITUTION_ROLES)
        if not institution_code:
            raise Invalid("Which institution?", {"institution_code": ["Missing."]}, code="institution_required")
    ref = institution_of(session, institution_code)
    if ref is None:
        raise Invalid(f"No institution or pharmacy {institution_code}.", {"institution_code": ["Unknown institution."]},
                      code="institution_unknown")
    if actor.role is Role.bureau and not actor.in_region(ref.region):
        raise Forbidden(f"A bureau {verb} only inside its own region.", code="outside_region")
    return ref


def _require_bureau_for(actor: Actor, region: str, verb: str) -> None:
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(region):
        raise Forbidden(f"A bureau {verb} only inside its own region.", code="outside_region")


# ---------------------------------------------------------------------------
# Batches and products
# ---------------------------------------------------------------------------


def batch_status(batch: Batch, today: date) -> str:
    """`upcoming` before the effective date, `ended` after the cycle, else `in_effect`."""
    if today < batch.effective_date:
        return "upcoming"
    return "ended" if today > batch.cycle_end else "in_effect"


def years_of(batch: Batch) -> list[tuple[date, date]]:
    """The batch's agreement years ``(start, end_exclusive)`` (rules.agreement_years)."""
    return rules.agreement_years(batch.cycle_start, batch.cycle_end, batch.first_year_end)


def year_containing(batch: Batch, on: date) -> tuple[date, date]:
    """The batch's agreement year containing `on` (rules.agreement_year)."""
    return rules.agreement_year(batch.cycle_start, batch.cycle_end, on, batch.first_year_end)


def describe_batch(batch: Batch) -> dict:
    """A batch with its agreement years and status, for the API."""
    years = years_of(batch)
    return {**batch.model_dump(), "status": batch_status(batch, clock.today()),
            "agreement_years": [{"start": s, "end": e} for s, e in years]}


def create_batch(session: Session, actor: Actor, *, code: str, name: str, kind: str, cycle_start: date,
                 cycle_end: date, effective_date: date | None = None, region: str | None = None,
                 direct_settlement: bool = True, first_self_pay_base: Decimal | None = None,
                 first_year_end: date | None = None) -> dict:
    """Publish a batch's result: an admin (national when no region) or a bureau (its region).

    `first_year_end` states the last day of an irregular first agreement year (seed 004 一:
    "首年协议期为2024年5月27日—2025年5月31日"); later years run a year each from the day after.
    """
    actor.require(Role.admin, Role.bureau)
    if actor.role is Role.bureau:
        region = region or actor.subject
        if not actor.in_region(region):
            raise Forbidden("A bureau publishes batches only for its own region.", code="outside_region")
    if cycle_end < cycle_start:
        raise Invalid("The cycle ends before it starts.", {"cycle_end": ["Before cycle_start."]},
                      code="cycle_ends_before_start")
    if first_year_end is not None and (problem := rules.first_year_problem(cycle_start, cycle_end, first_year_end)):
        raise Invalid(f"The first agreement year cannot end on {first_year_end}: {problem}.",
                      {"first_year_end": [f"Within the cycle, less than {rules.MAX_FIRST_YEAR_MONTHS} months "
                                          "after cycle_start."]}, code="first_year_end_invalid")
    effective_date = effective_date or cycle_start
    if not cycle_start <= effective_date <= cycle_end:
        raise Invalid("The effective date is outside the cycle.", {"effective_date": ["Outside the cycle."]},
                      code="effective_date_outside_cycle")
    if session.exec(select(Batch.id).where(Batch.code == code)).first() is not None:
        raise Conflict(f"Batch {code} already exists.", code="batch_exists")
    batch = Batch(code=code, name=name, kind=kind, cycle_start=cycle_start, cycle_end=cycle_end,
                  first_year_end=first_year_end, effective_date=effective_date, region=region,
                  direct_settlement=direct_settlement, first_self_pay_base=first_self_pay_base,
                  created_by=actor.label, created_at=clock.now())
    session.add(batch)
    db.commit(session, f"Batch {code} already exists.", code="batch_exists")
    return describe_batch(batch)


def get_batch(session: Session, actor: Actor, code: str) -> Batch:
    """A batch by code; published results are readable by every account."""
    batch = session.exec(select(Batch).where(Batch.code == code)).first()
    if batch is None:
        raise NotFound(f"No batch {code}.", code="batch_not_found")
    return batch


def batch_detail(session: Session, actor: Actor, code: str) -> dict:
    """A batch by code, for the API."""
    return describe_batch(get_batch(session, actor, code))


def list_batches(session: Session, actor: Actor) -> list[dict]:
    """Every batch, newest cycle first (results are public; a few dozen rows)."""
    return [describe_batch(b) for b in session.exec(select(Batch).order_by(Batch.cycle_start.desc(), Batch.id.desc()))]


def _require_batch_editor(actor: Actor, batch: Batch) -> None:
    actor.require(Role.admin, Role.bureau)
    if actor.role is Role.bureau and (batch.region is None or not actor.in_region(batch.region)):
        raise Forbidden("A bureau changes only batches of its own region; national ones are the admin's.",
                        code="batch_of_other_region")


def describe_product(product: Product, batch: Batch) -> dict:
    """A product with its batch's code, for the API."""
    return {**product.model_dump(), "batch_code": batch.code}


def get_product(session: Session, code: str, field: str = "product_code") -> tuple[Product, Batch]:
    """A product and its batch by code; an unknown code is Invalid on the field named."""
    row = session.exec(select(Product, Batch).join(Batch, Batch.id == Product.batch_id)
                       .where(Product.code == code)).first()
    if row is None:
        raise Invalid(f"No procurement product {code}.", {field: ["Unknown product."]}, code="product_unknown")
    return row


def product_detail(session: Session, actor: Actor, code: str) -> dict:
    """A product by code (404 when unknown), for the API."""
    try:
        product, batch = get_product(session, code)
    except Invalid:
        raise NotFound(f"No procurement product {code}.", code="product_not_found")
    return describe_product(product, batch)


def list_products(session: Session, actor: Actor, batch_code: str) -> list[dict]:
    """A batch's products, by generic name and status."""
    batch = get_batch(session, actor, batch_code)
    products = session.exec(select(Product).where(Product.batch_id == batch.id)
                            .order_by(Product.generic_name, Product.status, Product.code))
    return [describe_product(p, batch) for p in products]


def _check_product(values: dict) -> dict[str, list[str]]:
    if values["status"] == rules.ProductStatus.SELECTED and values["price"] <= 0:
        return {"price": ["A selected price must be positive."]}
    return {}


def _new_product(batch: Batch, values: dict) -> Product:
    values = {**values, "conversion": values.get("conversion") or Decimal(1)}
    return Product(batch_id=batch.id, created_at=clock.now(), **values)


def add_product(session: Session, actor: Actor, batch_code: str, **values) -> dict:
    """Add a product to a batch; a selected one sets the payment standard of its generic name
    from the batch's effective date (seed 001 二(四))."""
    batch = get_batch(session, actor, batch_code)
    _require_batch_editor(actor, batch)
    if errors := _check_product(values):
        raise Invalid("The product is invalid.", errors, code="product_invalid")
    if session.exec(select(Product.id).where(Product.code == values["code"])).first() is not None:
        raise Conflict(f"Product {values['code']} already exists.", code="product_exists")
    product = _new_product(batch, values)
    session.add(product)
    session.flush()
    if product.status == rules.ProductStatus.SELECTED:
        refresh_payment_standards(session, batch, product.generic_name)
    db.commit(session, f"Product {values['code']} already exists.", code="product_exists")
    return describe_product(product, batch)


PRODUCT_HEADERS = {
    "code": "code", "product_code": "code", "产品编码": "code", "产品代码": "code", "编码": "code",
    "generic_name": "generic_name", "通用名": "generic_name", "药品通用名": "generic_name",
    "产品类别": "generic_name", "category": "generic_name",
    "manufacturer": "manufacturer", "生产企业": "manufacturer", "企业名称": "manufacturer",
    "name": "name", "product_name": "name", "产品名称": "name", "药品名称": "name", "商品名": "name",
    "dosage_form": "dosage_form", "剂型": "dosage_form",
    "specification": "specification", "规格": "specification",
    "packaging": "packaging", "包装": "packaging", "包装方式": "packaging", "规格包装": "packaging",
    "unit": "unit", "计价单位": "unit", "最小计价单位": "unit",
    "price": "price", "中选价格": "price", "中选价": "price", "挂网价": "price", "价格": "price",
    "status": "status", "状态": "status", "中选状态": "status",
    "conversion": "conversion", "转换系数": "conversion",
    "equal_quality": "equal_quality", "同等质量": "equal_quality",
    "consistency_evaluated": "consistency_evaluated", "通过一致性评价": "consistency_evaluated",
    "一致性评价": "consistency_evaluated", "过评": "consistency_evaluated",
}


def import_products(session: Session, actor: Actor, batch_code: str, *, filename: str, data: bytes) -> dict:
    """Import a batch's published result table (CSV or XLSX), all rows or none.

    Every bad row is reported with its line number (the header is line 1) and its reasons:
    invalid fields, a code repeated in the file or already known, a selected price of 0.
    """
    from dualchannel.procurement.schemas import ProductRow

    batch = get_batch(session, actor, batch_code)
    _require_batch_editor(actor, batch)
    rows = tables.read_table(filename, data, PRODUCT_HEADERS,
                             {"code", "generic_name", "manufacturer", "name", "unit", "price", "status"})
    valid, problems = tables.validate_rows(rows, ProductRow())
    codes = [values["code"] for _, values in valid]
    known = set(session.exec(select(Product.code).where(Product.code.in_(codes)))) if codes else set()
    first_line: dict[str, int] = {}
    for number, values in valid:
        errors = _check_product(values)
        code = values["code"]
        if code in known:
            errors["code"] = [f"Product {code} already exists."]
        elif code in first_line:
            errors["code"] = [f"Repeats the code of line {first_line[code]}."]
        first_line.setdefault(code, number)
        if errors:
            problems.append({"line": number, "errors": errors})
    tables.reject(problems)
    products = [_new_product(batch, values) for _, values in valid]
    session.add_all(products)
    session.flush()
    for generic in sorted({p.generic_name for p in products if p.status == rules.ProductStatus.SELECTED}):
        refresh_payment_standards(session, batch, generic)
    db.commit(session, "A product of the file was added meanwhile; nothing was imported.", code="concurrent_change")
    return {"imported": len(products)}


# ---------------------------------------------------------------------------
# Payment standards (written into the drugs feature)
# ---------------------------------------------------------------------------

UNIT_PRICE = Decimal("0.0001")


def first_self_pay_ratios(batch: Batch) -> tuple[Decimal, Decimal, Decimal]:
    """(base, employee, resident) first self-pay ratios of a batch's selected products."""
    base = batch.first_self_pay_base
    if base is None:
        base = Decimal(str(current_app.config["PROCUREMENT_FIRST_SELF_PAY_BASE"][batch.kind]))
    return (base, rules.first_self_pay_ratio(base, rules.Insurance.EMPLOYEE, True, batch.kind),
            rules.first_self_pay_ratio(base, rules.Insurance.RESIDENT, True, batch.kind))


def refresh_payment_standards(session: Session, batch: Batch, generic_name: str) -> None:
    """Write the dated payment standards of a generic name from a batch, in the caller's
    transaction.

    The standard is the batch's highest selected price per common unit of the generic (with
    several selected companies, none of their products is paid below its own price). From the
    effective date it applies to every catalogue drug of that generic name (matched exactly);
    a drug priced far above it steps down year by year (`rules.payment_standard_on` with the
    configured schedule), written as rows of that drug dated at each step, never above the
    standard it had the day before (a renewed batch continues a step-down). Drugs added to the
    catalogue later get their step-down rows at the next `dualchannel procurement scan`.
    """
    selected = list(session.exec(select(Product).where(
        Product.batch_id == batch.id, Product.generic_name == generic_name,
        Product.status == rules.ProductStatus.SELECTED.value)))
    if not selected:
        return
    standard = max(p.price / p.conversion for p in selected).quantize(UNIT_PRICE, ROUND_HALF_UP)
    base, employee, resident = first_self_pay_ratios(batch)
    start = batch.effective_date
    rows = [{"drug_code": ALL_DRUGS, "effective_from": start, "standard": standard,
             "first_self_pay_base": base, "first_self_pay_employee": employee, "first_self_pay_resident": resident}]
    schedule = step_down_schedule()
    for drug in drugs.drugs_of_generic(session, generic_name):
        price = drugs.own_price(drug)
        if price is None or price <= standard:
            continue  # the generic's row: its own price is paid, and it counts as selected
        # A renewed batch continues a step-down already under way, never raises it.
        cap = drugs.payment_standard_on(session, drug, start - timedelta(days=1))[0]
        previous = None
        for year in range(len(schedule.years)):
            on = rules.add_months(start, 12 * year)
            value = rules.payment_standard_on(standard, price, start, on, schedule,
                                              consistency_evaluated=drug.consistency_evaluated
                                              ).quantize(UNIT_PRICE, ROUND_HALF_UP)
            if cap is not None:
                value = min(value, max(cap, standard))
            if value != previous:
                rows.append({"drug_code": drug.code, "effective_from": on, "standard": value,
                             "first_self_pay_base": base, "first_self_pay_employee": base,
                             "first_self_pay_resident": base})
                previous = value
    drugs.replace_payment_standards(session, generic_name=generic_name, source_batch=batch.code,
                                    effective_from=start, rows=rows)


def refresh_all_payment_standards(session: Session) -> int:
    """Rewrite the standards of every batch's selected generics (catches drugs added later).
    The caller commits; returns how many generics were written."""
    pairs = session.exec(select(Batch, Product.generic_name).join(Product, Product.batch_id == Batch.id)
                         .where(Product.status == rules.ProductStatus.SELECTED.value)
                         .distinct().order_by(Batch.effective_date, Batch.id)).all()
    for batch, generic in pairs:
        refresh_payment_standards(session, batch, generic)
    return len(pairs)


# ---------------------------------------------------------------------------
# Lines: agreed volumes and running purchase totals
# ---------------------------------------------------------------------------


def _year_of(batch: Batch, year_start: date, field: str = "year_start") -> tuple[date, date]:
    years = years_of(batch)
    for start, end in years:
        if start == year_start:
            return start, end
    starts = ", ".join(s.isoformat() for s, _ in years)
    raise Invalid(f"{year_start} does not start an agreement year of batch {batch.code}.",
                  {field: [f"One of {starts}."]}, code="not_an_agreement_year")


def line_for(session: Session, ref: InstitutionRef, product: Product, year: tuple[date, date]) -> Line:
    """The line of an institution × product × agreement year, created when missing."""
    statement = select(Line).where(Line.institution_code == ref.code, Line.product_id == product.id,
                                   Line.year_start == year[0])
    line = session.exec(statement).first()
    if line is not None:
        return line
    line = Line(institution_code=ref.code, region=ref.region, product_id=product.id, batch_id=product.batch_id,
                year_start=year[0], year_end=year[1], updated_at=clock.now())
    try:
        with session.begin_nested():
            session.add(line)
    except sa.exc.IntegrityError:  # created concurrently
        line = session.exec(statement).one()
    return line


def describe_line(line: Line, product_code: str, batch_code: str, **extra) -> dict:
    """A line with its product's and batch's codes, for the API."""
    return {**line.model_dump(), "product_code": product_code, "batch_code": batch_code, **extra}


def _set_agreed(line: Line, quantity: int, source: str, actor: Actor) -> None:
    line.agreed, line.agreed_source, line.agreed_by = quantity, source, actor.label
    line.agreed_at = line.updated_at = clock.now()


def set_agreed_volume(session: Session, actor: Actor, *, institution_code: str, product_code: str,
                      year_start: date, quantity: int) -> dict:
    """Set an institution's agreed volume (约定采购量) of a product for an agreement year."""
    actor.require(Role.admin, Role.bureau)
    ref = institution_of(session, institution_code)
    if ref is None:
        raise Invalid(f"No institution or pharmacy {institution_code}.", {"institution_code": ["Unknown institution."]},
                      code="institution_unknown")
    _require_bureau_for(actor, ref.region, "sets agreed volumes")
    product, batch = get_product(session, product_code)
    line = line_for(session, ref, product, _year_of(batch, year_start))
    _set_agreed(line, quantity, "bureau", actor)
    session.add(line)
    session.commit()
    return describe_line(line, product.code, batch.code)


def _round_units(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def base_usage(session: Session, generic_name: str, start: date, end: date, *,
               institution_codes: set[str] | None = None, region: str | None = None) -> dict[str, Decimal]:
    """Usage of a generic name per institution in ``[start, end)``, in the generic's common units.

    Usage is what an institution bought of any product with that generic name (any batch),
    and for a pharmacy also what it dispensed through dual-channel prescriptions: every pack
    of a catalogue drug with the same generic name counts as one common unit. Both record the
    same medicines, so an institution's usage is the larger of the two, never their sum; the
    dispensings stand in for purchases that were never reported.
    """
    bought = (select(Purchase.institution_code,
                     sa.func.sum(Purchase.quantity * sa.type_coerce(Product.conversion, sa.BigInteger)))
              .join(Product, Product.id == Purchase.product_id)
              .where(Product.generic_name == generic_name, Purchase.purchased_on >= start, Purchase.purchased_on < end)
              .group_by(Purchase.institution_code))
    dispensed = (select(DispensedPack.pharmacy_code, sa.func.count())
                 .join(Drug, Drug.code == DispensedPack.drug_code)
                 .where(Drug.generic_name == generic_name,
                        DispensedPack.dispensed_at >= clock.start_of_day(start),
                        DispensedPack.dispensed_at < clock.start_of_day(end))
                 .group_by(DispensedPack.pharmacy_code))
    if institution_codes is not None:
        bought = bought.where(Purchase.institution_code.in_(institution_codes))
        dispensed = dispensed.where(DispensedPack.pharmacy_code.in_(institution_codes))
    usage: dict[str, Decimal] = defaultdict(Decimal)
    for code, scaled in session.execute(bought):
        usage[code] = Decimal(int(scaled)).scaleb(-4)  # conversion is stored scaled by 10^4
    for code, packs in session.execute(dispensed):
        usage[code] = max(usage[code], Decimal(packs))
    if region is not None:
        regions = {}
        for code in usage:
            ref = institution_of(session, code)
            regions[code] = ref.region if ref else None
        usage = defaultdict(Decimal, {c: u for c, u in usage.items() if adcodes.contains(region, regions[c])})
    return dict(usage)


def _ratio(ratio: Decimal | None) -> Decimal:
    low, high = setting("AGREED_RATIO_MIN"), setting("AGREED_RATIO_MAX")
    ratio = setting("AGREED_RATIO") if ratio is None else ratio
    if not low <= ratio <= high:
        raise Invalid(f"The ratio must be within {low}–{high}.", {"ratio": [f"Between {low} and {high}."]},
                      code="ratio_out_of_range", low=str(low), high=str(high))
    return ratio


def compute_agreed_volumes(session: Session, actor: Actor, *, product_code: str, year_start: date,
                           ratio: Decimal | None = None, region: str | None = None, base_start: date | None = None,
                           base_end: date | None = None) -> dict:
    """Agreed volumes of a product for every institution of a region with base-year usage:
    usage × ratio, rounded half up (seed 001 二(二): 上年度总用量的60%—70%).

    The base period defaults to the 12 months before the agreement year; usage is
    `base_usage` converted to the product's pricing unit. Volumes already set are replaced.
    """
    actor.require(Role.admin, Role.bureau)
    region = view_region(actor, region)
    product, batch = get_product(session, product_code)
    year = _year_of(batch, year_start)
    ratio = _ratio(ratio)
    base_end = base_end or year[0]
    base_start = base_start or rules.add_months(base_end, -12)
    if base_start >= base_end:
        raise Invalid("The base period is empty.", {"base_start": ["Must be before base_end."]},
                      code="base_period_empty")
    usage = base_usage(session, product.generic_name, base_start, base_end, region=region)
    items = []
    for code, used in sorted(usage.items()):
        ref = institution_of(session, code)
        if ref is None or not actor.in_region(ref.region):
            continue
        in_units = used / product.conversion
        line = line_for(session, ref, product, year)
        _set_agreed(line, _round_units(in_units * ratio), "base_usage", actor)
        session.add(line)
        items.append(describe_line(line, product.code, batch.code, base_usage=_round_units(in_units)))
    session.commit()
    return {"ratio": ratio, "base_start": base_start, "base_end": base_end, "items": items}


def list_lines(session: Session, actor: Actor, *, institution_code: str | None = None,
               product_code: str | None = None, year_start: date | None = None, limit: int | None = None,
               cursor: str | None = None) -> Page:
    """Agreed volumes visible to the caller (lines with an agreement), newest first."""
    actor.require(*READERS)
    statement = select(Line).where(visible_lines(actor), Line.agreed.is_not(None))
    if institution_code:
        statement = statement.where(Line.institution_code == institution_code)
    if product_code:
        statement = statement.where(Line.product_id == select(Product.id).where(Product.code == product_code)
                                    .scalar_subquery())
    if year_start:
        statement = statement.where(Line.year_start == year_start)
    page = paginate(session, statement, Line.id, limit=limit, cursor=cursor)
    codes = _product_and_batch_codes(session, {line.product_id for line in page.items})
    page.items = [describe_line(line, *codes[line.product_id]) for line in page.items]
    return page


def _product_and_batch_codes(session: Session, product_ids: set[int]) -> dict[int, tuple[str, str]]:
    if not product_ids:
        return {}
    rows = session.exec(select(Product.id, Product.code, Batch.code).join(Batch, Batch.id == Product.batch_id)
                        .where(Product.id.in_(product_ids))).all()
    return {pid: (pcode, bcode) for pid, pcode, bcode in rows}


# ---------------------------------------------------------------------------
# Purchases
# ---------------------------------------------------------------------------


def _purchase_problems(batch: Batch, on: date, today: date) -> dict[str, list[str]]:
    if on > today:
        return {"date": ["In the future."]}
    if not batch.cycle_start <= on <= batch.cycle_end:
        return {"date": [f"Outside the procurement cycle {batch.cycle_start}..{batch.cycle_end} of batch {batch.code}."]}
    return {}


def _add_purchases(session: Session, actor: Actor, entries: list[tuple[InstitutionRef, Product, Batch, dict]]
                   ) -> list[tuple[Purchase, rules.PriceDeviation | None]]:
    """Insert purchases and add them to their lines' running totals, of the year and of the
    month of the agreement year each falls in (one UPDATE per line and month; increments, so
    concurrent purchases of a line all count). Each comes back with its price deviation, which
    is flagged for the bureau (`_flag_price_deviations`)."""
    now = clock.now()
    purchases, totals = [], defaultdict(lambda: [0, Decimal(0)])
    for ref, product, batch, values in entries:
        year = year_containing(batch, values["date"])
        line = line_for(session, ref, product, year)
        purchase = Purchase(line_id=line.id, institution_code=ref.code, product_id=product.id,
                            quantity=values["quantity"], amount=values["amount"], purchased_on=values["date"],
                            supplier=values.get("supplier") or product.manufacturer,
                            distributor=values.get("distributor"), reference=values.get("reference"),
                            created_by=actor.label, created_at=now)
        purchases.append(purchase)
        total = totals[(line.id, rules.month_of_year(*year, purchase.purchased_on))]
        total[0] += purchase.quantity
        total[1] += purchase.amount
    session.add_all(purchases)
    for (line_id, month), (quantity, amount) in totals.items():
        in_month = getattr(Line, month_column("q", month)), getattr(Line, month_column("a", month))
        session.execute(sa.update(Line).where(Line.id == line_id).values({
            Line.purchased: Line.purchased + quantity, Line.purchased_amount: Line.purchased_amount + amount,
            in_month[0]: in_month[0] + quantity, in_month[1]: in_month[1] + amount, Line.updated_at: now}))
    session.flush()
    deviations = _flag_price_deviations(session, [(ref, product, purchase) for (ref, product, _, _), purchase
                                                  in zip(entries, purchases)])
    return list(zip(purchases, deviations))


def _selected_price(session: Session, product: Product, cache: dict) -> Decimal | None:
    """The selected price per common unit of a product's group (batch × generic): the highest
    one, as the payment standard takes it; None when the group has no selected product."""
    key = (product.batch_id, product.generic_name)
    if key not in cache:
        prices = session.exec(select(Product.price, Product.conversion).where(
            Product.batch_id == product.batch_id, Product.generic_name == product.generic_name,
            Product.status == rules.ProductStatus.SELECTED.value)).all()
        cache[key] = max((price / conversion for price, conversion in prices), default=None)
    return cache[key]


def _flag_price_deviations(session: Session, recorded: list[tuple[InstitutionRef, Product, Purchase]]
                           ) -> list[rules.PriceDeviation | None]:
    """Flag, for the bureau of the institution, every purchase whose price breaks the result
    (rules.purchase_price_deviation): the purchase stays recorded (it happened), the flag
    says which rule it broke. Returns each purchase's deviation."""
    cache: dict = {}
    alerts, deviations = [], []
    for ref, product, purchase in recorded:
        selected = None
        if not product.consistency_evaluated and product.status == rules.ProductStatus.NON_SELECTED:
            selected = _selected_price(session, product, cache)
        deviation = rules.purchase_price_deviation(
            quantity=purchase.quantity, amount=purchase.amount, status=product.status, price=product.price,
            conversion=product.conversion, consistency_evaluated=product.consistency_evaluated,
            selected_price=selected)
        deviations.append(deviation)
        if deviation is None:
            continue
        allowed = (product.price if deviation is rules.PriceDeviation.RENEGOTIATED
                   else selected * product.conversion)
        alerts.append({"type": deviation.value, "severity": "medium", "subject": f"institution:{ref.code}",
                       "region": ref.region, "dedup_key": f"{deviation.value}:{purchase.id}",
                       "evidence": {"purchase_id": purchase.id, "institution_code": ref.code,
                                    "product_code": product.code, "generic_name": product.generic_name,
                                    "status": product.status, "date": purchase.purchased_on.isoformat(),
                                    "quantity": purchase.quantity, "amount": str(purchase.amount),
                                    "unit_price_paid": str((purchase.amount / purchase.quantity).quantize(UNIT_PRICE)),
                                    "unit_price_allowed": str(allowed.quantize(UNIT_PRICE)),
                                    "supplier": purchase.supplier, "reference": purchase.reference,
                                    "rule": rules.PRICE_CITATIONS[deviation]}})
    if alerts:
        flags.raise_flags(session, alerts)
    return deviations


def describe_purchase(purchase: Purchase, product_code: str, **extra) -> dict:
    """A purchase with its product's code, for the API."""
    return {**purchase.model_dump(), "product_code": product_code, **extra}


def record_purchase(session: Session, actor: Actor, *, institution_code: str, product_code: str, quantity: int,
                    amount: Decimal, date: date, supplier: str | None = None, distributor: str | None = None,
                    reference: str | None = None) -> dict:
    """Record a purchase: the institution itself, a bureau of its region or an admin.

    Dated no later than today and inside the product's procurement cycle; `reference`
    (an invoice or order number) is accepted once per institution.
    """
    ref = acting_institution(session, actor, institution_code, "records purchases")
    product, batch = get_product(session, product_code)
    if errors := _purchase_problems(batch, date, clock.today()):
        raise Invalid("The purchase date is not allowed.", errors, code="purchase_date_invalid")
    if reference and session.exec(select(Purchase.id).where(Purchase.institution_code == ref.code,
                                                            Purchase.reference == reference)).first():
        raise Conflict(f"A purchase with reference {reference} is already recorded.", code="purchase_exists")
    (purchase, deviation), = _add_purchases(session, actor, [(ref, product, batch, {
        "quantity": quantity, "amount": amount, "date": date, "supplier": supplier, "distributor": distributor,
        "reference": reference})])
    db.commit(session, f"A purchase with reference {reference} is already recorded.", code="purchase_exists")
    return describe_purchase(purchase, product.code, price_deviation=deviation.value if deviation else None)


PURCHASE_HEADERS = {
    "institution_code": "institution_code", "医疗机构编码": "institution_code", "机构编码": "institution_code",
    "product_code": "product_code", "产品编码": "product_code", "产品代码": "product_code",
    "quantity": "quantity", "数量": "quantity", "采购数量": "quantity",
    "amount": "amount", "金额": "amount", "采购金额": "amount",
    "date": "date", "日期": "date", "采购日期": "date",
    "supplier": "supplier", "供应企业": "supplier", "生产企业": "supplier",
    "distributor": "distributor", "配送企业": "distributor",
    "reference": "reference", "订单号": "reference", "发票号": "reference",
}


def import_purchases(session: Session, actor: Actor, *, filename: str, data: bytes) -> dict:
    """Import purchase records (CSV or XLSX), all rows or none, every bad row named by line."""
    from dualchannel.procurement.schemas import PurchaseIn

    actor.require(Role.admin, Role.bureau, *INSTITUTION_ROLES)
    rows = tables.read_table(filename, data, PURCHASE_HEADERS,
                             {"institution_code", "product_code", "quantity", "amount", "date"})
    valid, problems = tables.validate_rows(rows, PurchaseIn())
    today, entries, refs, products = clock.today(), [], {}, {}
    seen_references: dict[tuple[str, str], int] = {}
    for number, values in valid:
        errors: dict[str, list[str]] = {}
        code = values["institution_code"]
        if code not in refs:
            try:
                refs[code] = acting_institution(session, actor, code, "records purchases")
            except (Invalid, Forbidden) as error:
                refs[code] = error
        if isinstance(refs[code], Exception):
            errors["institution_code"] = [refs[code].detail]
        if values["product_code"] not in products:
            products[values["product_code"]] = session.exec(
                select(Product, Batch).join(Batch, Batch.id == Product.batch_id)
                .where(Product.code == values["product_code"])).first()
        found = products[values["product_code"]]
        if found is None:
            errors["product_code"] = ["Unknown product."]
        else:
            errors.update(_purchase_problems(found[1], values["date"], today))
        if values.get("reference") and not isinstance(refs[code], Exception):
            key = (code, values["reference"])
            if key in seen_references:
                errors["reference"] = [f"Repeats the reference of line {seen_references[key]}."]
            elif session.exec(select(Purchase.id).where(Purchase.institution_code == code,
                                                        Purchase.reference == values["reference"])).first():
                errors["reference"] = ["Already recorded."]
            seen_references.setdefault(key, number)
        if errors:
            problems.append({"line": number, "errors": errors})
        else:
            entries.append((refs[code], found[0], found[1], values))
    tables.reject(problems)
    recorded = _add_purchases(session, actor, entries)
    db.commit(session, "A purchase of the file was recorded meanwhile; nothing was imported.",
              code="concurrent_change")
    return {"imported": len(entries), "price_deviations": sum(deviation is not None for _, deviation in recorded)}


def list_purchases(session: Session, actor: Actor, *, institution_code: str | None = None,
                   product_code: str | None = None, date_from: date | None = None, date_to: date | None = None,
                   limit: int | None = None, cursor: str | None = None) -> Page:
    """Purchases visible to the caller, newest first."""
    actor.require(*READERS)
    region = Line.region
    statement = (select(Purchase).join(Line, Line.id == Purchase.line_id)
                 .where(scope(actor, region, Purchase.institution_code)))
    if institution_code:
        statement = statement.where(Purchase.institution_code == institution_code)
    if product_code:
        statement = statement.where(Purchase.product_id == select(Product.id).where(Product.code == product_code)
                                    .scalar_subquery())
    if date_from:
        statement = statement.where(Purchase.purchased_on >= date_from)
    if date_to:
        statement = statement.where(Purchase.purchased_on <= date_to)
    page = paginate(session, statement, Purchase.id, limit=limit, cursor=cursor)
    codes = _product_and_batch_codes(session, {p.product_id for p in page.items})
    page.items = [describe_purchase(p, codes[p.product_id][0]) for p in page.items]
    return page


# ---------------------------------------------------------------------------
# Demand declarations (需求量填报)
# ---------------------------------------------------------------------------


def describe_declaration(session: Session, declaration: Declaration) -> dict:
    """A declaration with its product's code and, once accepted, the agreed volume."""
    product = session.get(Product, declaration.product_id)
    line = session.exec(select(Line).where(Line.institution_code == declaration.institution_code,
                                           Line.product_id == declaration.product_id,
                                           Line.year_start == declaration.year_start)).first()
    agreed = line.agreed if line is not None and declaration.status == DeclarationStatus.accepted.value else None
    return {**declaration.model_dump(), "product_code": product.code, "agreed": agreed}


def declare_demand(session: Session, actor: Actor, *, product_code: str, year_start: date, quantity: int,
                   explanation: str | None = None, institution_code: str | None = None) -> dict:
    """An institution declares its demand for a product's agreement year (seed 002 二(一)).

    "零"报量 (0) is allowed. Below the institution's history — its usage in the 12 months
    before the agreement year (`base_usage`, in the product's unit) — a written explanation
    is required. One declaration awaits the bureau at a time; after a return, declare again.
    """
    if actor.role is Role.bureau:
        raise Forbidden("Institutions declare their own demand.", code="declaration_own_only")
    ref = acting_institution(session, actor, institution_code, "declares demand")
    product, batch = get_product(session, product_code)
    year = _year_of(batch, year_start)
    pending = session.exec(select(Declaration.status).where(
        Declaration.institution_code == ref.code, Declaration.product_id == product.id,
        Declaration.year_start == year[0],
        Declaration.status.in_([DeclarationStatus.submitted.value, DeclarationStatus.accepted.value]))).first()
    if pending is not None:
        raise Conflict(f"A declaration for this product and year is already {pending}.",
                       code="declaration_pending", declaration_status=pending)
    used = base_usage(session, product.generic_name, rules.add_months(year[0], -12), year[0],
                      institution_codes={ref.code}).get(ref.code, Decimal(0))
    history = _round_units(used / product.conversion)
    if quantity < history and not explanation:
        raise Invalid(f"The declaration is below the institution's history of {history}; explain why.",
                      {"explanation": [f"Required below the history of {history} ({product.unit})."]},
                      history=history, code="explanation_required")
    declaration = Declaration(institution_code=ref.code, region=ref.region, product_id=product.id,
                              year_start=year[0], quantity=quantity, history=history, explanation=explanation,
                              created_by=actor.label, created_at=clock.now())
    session.add(declaration)
    session.commit()
    return describe_declaration(session, declaration)


def _declaration(session: Session, actor: Actor, declaration_id: int) -> Declaration:
    actor.require(*READERS)
    declaration = session.exec(select(Declaration).where(Declaration.id == declaration_id,
                                                         visible_declarations(actor))).first()
    if declaration is None:
        raise NotFound(f"No declaration {declaration_id}.", code="declaration_not_found")
    return declaration


def get_declaration(session: Session, actor: Actor, declaration_id: int) -> dict:
    """A declaration visible to the actor."""
    return describe_declaration(session, _declaration(session, actor, declaration_id))


def list_declarations(session: Session, actor: Actor, *, status: str | None = None,
                      institution_code: str | None = None, limit: int | None = None,
                      cursor: str | None = None) -> Page:
    """Declarations visible to the actor, newest first."""
    actor.require(*READERS)
    statement = select(Declaration).where(visible_declarations(actor))
    if status:
        statement = statement.where(Declaration.status == status)
    if institution_code:
        statement = statement.where(Declaration.institution_code == institution_code)
    page = paginate(session, statement, Declaration.id, limit=limit, cursor=cursor)
    page.items = [describe_declaration(session, d) for d in page.items]
    return page


def _decide(session: Session, actor: Actor, declaration_id: int, to: DeclarationStatus, note: str | None) -> Declaration:
    declaration = _declaration(session, actor, declaration_id)
    actor.require(Role.admin, Role.bureau)
    touched = session.execute(
        sa.update(Declaration).where(Declaration.id == declaration.id,
                                     Declaration.status == DeclarationStatus.submitted.value)
        .values(status=to.value, bureau_note=note, decided_by=actor.label, decided_at=clock.now())
    ).rowcount
    if touched != 1:
        session.rollback()
        raise Conflict(f"Declaration {declaration_id} is not awaiting a decision.", code="declaration_not_pending")
    return declaration


def return_declaration(session: Session, actor: Actor, declaration_id: int, *, note: str) -> dict:
    """The bureau sends a declaration back for a new one (退回重新填报), saying why."""
    declaration = _decide(session, actor, declaration_id, DeclarationStatus.returned, note)
    session.commit()
    session.refresh(declaration)
    return describe_declaration(session, declaration)


def accept_declaration(session: Session, actor: Actor, declaration_id: int, *, ratio: Decimal | None = None,
                       quantity: int | None = None) -> dict:
    """The bureau accepts a declaration: the agreed volume becomes `quantity` when given,
    else the declared demand × the agreed-volume ratio (rounded half up)."""
    declaration = _decide(session, actor, declaration_id, DeclarationStatus.accepted, None)
    product = session.get(Product, declaration.product_id)
    batch = session.get(Batch, product.batch_id)
    agreed = quantity if quantity is not None else _round_units(declaration.quantity * _ratio(ratio))
    ref = institution_of(session, declaration.institution_code)
    line = line_for(session, ref, product, _year_of(batch, declaration.year_start))
    _set_agreed(line, agreed, "declaration", actor)
    session.add(line)
    session.commit()
    session.refresh(declaration)
    return describe_declaration(session, declaration)


# ---------------------------------------------------------------------------
# Working calendar
# ---------------------------------------------------------------------------


def working_calendar(session: Session) -> rules.WorkingCalendar:
    """Weekends, the configured holidays and make-up days, then the table's overrides."""
    holidays = {date.fromisoformat(d) for d in current_app.config["PROCUREMENT_HOLIDAYS"]}
    workdays = {date.fromisoformat(d) for d in current_app.config["PROCUREMENT_MAKEUP_WORKDAYS"]}
    for day in session.exec(select(CalendarDay)):
        holidays.discard(day.day)
        workdays.discard(day.day)
        {"holiday": holidays, "workday": workdays}.get(day.kind, set()).add(day.day)
    return rules.WorkingCalendar(holidays=holidays, makeup_workdays=workdays)


def calendar_of(session: Session, actor: Actor, *, year: int) -> dict:
    """A year's special days: holidays and make-up working days, and where each comes from."""
    actor.require(*READERS)
    days: dict[date, dict] = {}
    for kind, key in (("holiday", "PROCUREMENT_HOLIDAYS"), ("workday", "PROCUREMENT_MAKEUP_WORKDAYS")):
        for text in current_app.config[key]:
            day = date.fromisoformat(text)
            if day.year == year:
                days[day] = {"day": day, "kind": kind, "name": None, "source": "config"}
    for row in session.exec(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                      CalendarDay.day < date(year + 1, 1, 1))):
        days[row.day] = {"day": row.day, "kind": row.kind, "name": row.name, "source": "table"}
    return {"year": year, "days": [days[d] for d in sorted(days)]}


def set_calendar_day(session: Session, actor: Actor, day: str, *, kind: str, name: str | None = None) -> dict:
    """Mark a date as a holiday, a make-up working day or an ordinary day (admin)."""
    actor.require(Role.admin)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        when = None
    if when is None or not clock.in_range(when):
        raise NotFound(f"No date {day}.", code="no_such_date")
    row = session.get(CalendarDay, when)
    if row is None:
        row = CalendarDay(day=when, kind=kind, name=name, updated_by=actor.label, updated_at=clock.now())
    else:
        row.kind, row.name, row.updated_by, row.updated_at = kind, name, actor.label, clock.now()
    session.add(row)
    db.commit(session, f"{day} was set meanwhile.", code="concurrent_change")
    return {"day": when, "kind": kind, "name": name, "source": "table"}
