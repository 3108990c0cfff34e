"""Purchases (采购记录): recording one, listing them, adding them to their lines' running totals
and flagging prices that break the result. A recorded purchase re-evaluates the institution's
progress alerts (`alerts.sync_institutions`).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor
from dualchannel.errors import Conflict, FieldMessage, Invalid
from dualchannel.flags import services as flags
from dualchannel.procurement.alerts import sync_institutions
from dualchannel.procurement.batches import get_product, product_and_batch_codes, product_id_of, year_containing
from dualchannel.procurement.models import Batch, Line, Product, Purchase, month_column
from dualchannel.procurement.rules.agreement import UNIT_PRICE, ProductStatus, month_of_year
from dualchannel.procurement.rules.prices import PRICE_CITATIONS, PriceDeviation, purchase_price_deviation
from dualchannel.procurement.scope import InstitutionRef, READERS, acting_institution, scope
from dualchannel.procurement.volumes import line_for


def purchase_problems(batch: Batch, on: date, today: date) -> dict[str, list[str]]:
    if on > today:
        return {"date": [FieldMessage("date_in_future", "In the future.")]}
    if not batch.cycle_start <= on <= batch.cycle_end:
        return {"date": [FieldMessage(
            "date_outside_procurement_cycle",
            f"Outside the procurement cycle {batch.cycle_start}..{batch.cycle_end} of batch {batch.code}.",
            start=batch.cycle_start.isoformat(), end=batch.cycle_end.isoformat(), batch=batch.code)]}
    return {}


def add_purchases(session: Session, actor: Actor, entries: list[tuple[InstitutionRef, Product, Batch, dict]]
                   ) -> list[tuple[Purchase, PriceDeviation | None]]:
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
        total = totals[(line.id, month_of_year(*year, purchase.purchased_on))]
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
            Product.status == ProductStatus.SELECTED.value)).all()
        cache[key] = max((price / conversion for price, conversion in prices), default=None)
    return cache[key]


def _flag_price_deviations(session: Session, recorded: list[tuple[InstitutionRef, Product, Purchase]]
                           ) -> list[PriceDeviation | None]:
    """Flag, for the bureau of the institution, every purchase whose price breaks the result
    (purchase_price_deviation): the purchase stays recorded (it happened), the flag
    says which rule it broke. Returns each purchase's deviation."""
    cache: dict = {}
    alerts, deviations = [], []
    for ref, product, purchase in recorded:
        selected = None
        if not product.consistency_evaluated and product.status == ProductStatus.NON_SELECTED:
            selected = _selected_price(session, product, cache)
        deviation = purchase_price_deviation(
            quantity=purchase.quantity, amount=purchase.amount, status=product.status, price=product.price,
            conversion=product.conversion, consistency_evaluated=product.consistency_evaluated,
            selected_price=selected)
        deviations.append(deviation)
        if deviation is None:
            continue
        allowed = (product.price if deviation is PriceDeviation.RENEGOTIATED
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
                                    "rule": PRICE_CITATIONS[deviation]}})
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
    if errors := purchase_problems(batch, date, clock.today()):
        raise Invalid("The purchase date is not allowed.", errors, code="purchase_date_invalid")
    if reference and session.exec(select(Purchase.id).where(Purchase.institution_code == ref.code,
                                                            Purchase.reference == reference)).first():
        raise Conflict(f"A purchase with reference {reference} is already recorded.", code="purchase_exists")
    (purchase, deviation), = add_purchases(session, actor, [(ref, product, batch, {
        "quantity": quantity, "amount": amount, "date": date, "supplier": supplier, "distributor": distributor,
        "reference": reference})])
    sync_institutions(session, {ref.code})
    db.commit(session, f"A purchase with reference {reference} is already recorded.", code="purchase_exists")
    return describe_purchase(purchase, product.code, price_deviation=deviation.value if deviation else None)


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
        statement = statement.where(Purchase.product_id == product_id_of(product_code))
    if date_from:
        statement = statement.where(Purchase.purchased_on >= date_from)
    if date_to:
        statement = statement.where(Purchase.purchased_on <= date_to)
    page = paginate(session, statement, Purchase.id, limit=limit, cursor=cursor)
    codes = product_and_batch_codes(session, {p.product_id for p in page.items})
    page.items = [describe_purchase(p, codes[p.product_id][0]) for p in page.items]
    return page
