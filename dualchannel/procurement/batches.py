"""Batches (批次) and their products: publishing a result, reading it, and the agreement years
of a batch. A selected product sets the payment standard of its generic (`standards`).
"""

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.procurement.models import Batch, Product
from dualchannel.procurement.rules.agreement import (MAX_FIRST_YEAR_MONTHS, ProductStatus, agreement_year,
                                                     agreement_years, first_year_problem)
from dualchannel.procurement.standards import refresh_payment_standards


def batch_status(batch: Batch, today: date) -> str:
    """`upcoming` before the effective date, `ended` after the cycle, else `in_effect`."""
    if today < batch.effective_date:
        return "upcoming"
    return "ended" if today > batch.cycle_end else "in_effect"


def years_of(batch: Batch) -> list[tuple[date, date]]:
    """The batch's agreement years ``(start, end_exclusive)`` (agreement_years)."""
    return agreement_years(batch.cycle_start, batch.cycle_end, batch.first_year_end)


def year_containing(batch: Batch, on: date) -> tuple[date, date]:
    """The batch's agreement year containing `on` (agreement_year)."""
    return agreement_year(batch.cycle_start, batch.cycle_end, on, batch.first_year_end)


def year_of(batch: Batch, year_start: date, field: str = "year_start") -> tuple[date, date]:
    years = years_of(batch)
    for start, end in years:
        if start == year_start:
            return start, end
    starts = ", ".join(s.isoformat() for s, _ in years)
    raise Invalid(f"{year_start} does not start an agreement year of batch {batch.code}.",
                  {field: [FieldMessage("agreement_year_start_unknown", f"One of {starts}.", starts=starts)]},
                  code="not_an_agreement_year")


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
        raise Invalid("The cycle ends before it starts.",
                      {"cycle_end": [FieldMessage("cycle_end_before_start", "Before cycle_start.")]},
                      code="cycle_ends_before_start")
    if first_year_end is not None and (problem := first_year_problem(cycle_start, cycle_end, first_year_end)):
        raise Invalid(f"The first agreement year cannot end on {first_year_end}: {problem}.",
                      {"first_year_end": [FieldMessage(
                          "first_year_end_out_of_range",
                          f"Within the cycle, less than {MAX_FIRST_YEAR_MONTHS} months after cycle_start.",
                          months=MAX_FIRST_YEAR_MONTHS)]}, code="first_year_end_invalid")
    effective_date = effective_date or cycle_start
    if not cycle_start <= effective_date <= cycle_end:
        raise Invalid("The effective date is outside the cycle.",
                      {"effective_date": [FieldMessage("effective_date_outside_cycle", "Outside the cycle.")]},
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


def require_batch_editor(actor: Actor, batch: Batch) -> None:
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
        raise Invalid(f"No procurement product {code}.", {field: [FieldMessage("product_unknown", "Unknown product.")]},
                      code="product_unknown")
    return row


def product_id_of(code: str):
    """The id of the product with `code`, as a subquery (a filter by product code)."""
    return select(Product.id).where(Product.code == code).scalar_subquery()


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


def product_and_batch_codes(session: Session, product_ids: set[int]) -> dict[int, tuple[str, str]]:
    if not product_ids:
        return {}
    rows = session.exec(select(Product.id, Product.code, Batch.code).join(Batch, Batch.id == Product.batch_id)
                        .where(Product.id.in_(product_ids))).all()
    return {pid: (pcode, bcode) for pid, pcode, bcode in rows}


def check_product(values: dict) -> dict[str, list[str]]:
    if values["status"] == ProductStatus.SELECTED and values["price"] <= 0:
        return {"price": [FieldMessage("selected_price_not_positive", "A selected price must be positive.")]}
    return {}


def new_product(batch: Batch, values: dict) -> Product:
    values = {**values, "conversion": values.get("conversion") or Decimal(1)}
    return Product(batch_id=batch.id, created_at=clock.now(), **values)


def add_product(session: Session, actor: Actor, batch_code: str, **values) -> dict:
    """Add a product to a batch; a selected one sets the payment standard of its generic name
    from the batch's effective date (seed 001 二(四))."""
    batch = get_batch(session, actor, batch_code)
    require_batch_editor(actor, batch)
    if errors := check_product(values):
        raise Invalid("The product is invalid.", errors, code="product_invalid")
    if session.exec(select(Product.id).where(Product.code == values["code"])).first() is not None:
        raise Conflict(f"Product {values['code']} already exists.", code="product_exists")
    product = new_product(batch, values)
    session.add(product)
    session.flush()
    if product.status == ProductStatus.SELECTED:
        refresh_payment_standards(session, batch, product.generic_name)
    db.commit(session, f"Product {values['code']} already exists.", code="product_exists")
    return describe_product(product, batch)
