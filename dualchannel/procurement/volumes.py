"""Lines (institution × product × agreement year): agreed volumes (约定采购量), set by the bureau
or computed from base-year usage, and the lines' running purchase totals they are measured by.
A changed volume re-evaluates the institution's alerts (`alerts.sync_institutions`).
"""

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import FieldMessage, Invalid
from dualchannel.packs import services as packs
from dualchannel.procurement.alerts import sync_institutions
from dualchannel.procurement.batches import get_product, product_and_batch_codes, product_id_of, year_of
from dualchannel.procurement.models import Line, Product, Purchase
from dualchannel.procurement.rules.agreement import add_months
from dualchannel.procurement.scope import (InstitutionRef, READERS, institution_of, require_bureau_for, setting,
                                           view_region, visible_lines)


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


def set_agreed(line: Line, quantity: int, source: str, actor: Actor) -> None:
    line.agreed, line.agreed_source, line.agreed_by = quantity, source, actor.label
    line.agreed_at = line.updated_at = clock.now()


def set_agreed_volume(session: Session, actor: Actor, *, institution_code: str, product_code: str,
                      year_start: date, quantity: int) -> dict:
    """Set an institution's agreed volume (约定采购量) of a product for an agreement year."""
    actor.require(Role.admin, Role.bureau)
    ref = institution_of(session, institution_code)
    if ref is None:
        raise Invalid(f"No institution or pharmacy {institution_code}.",
                      {"institution_code": [FieldMessage("institution_unknown", "Unknown institution.")]},
                      code="institution_unknown")
    require_bureau_for(actor, ref.region, "sets agreed volumes")
    product, batch = get_product(session, product_code)
    line = line_for(session, ref, product, year_of(batch, year_start))
    set_agreed(line, quantity, "bureau", actor)
    session.add(line)
    sync_institutions(session, {ref.code})
    session.commit()
    return describe_line(line, product.code, batch.code)


def round_units(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def base_usage(session: Session, generic_name: str, start: date, end: date, *,
               institution_codes: set[str] | None = None, region: str | None = None) -> dict[str, Decimal]:
    """Usage of a generic name per institution in ``[start, end)``, in the generic's common units.

    Usage is what an institution bought of any product with that generic name (any batch),
    and for a pharmacy also what it dispensed through dual-channel prescriptions, in the
    catalogue drug's unit (a pack, or a part of a pack dispensed in parts: 拆零) as the
    common unit. Both record the
    same medicines, so an institution's usage is the larger of the two, never their sum; the
    dispensings stand in for purchases that were never reported.
    """
    bought = (select(Purchase.institution_code,
                     sa.func.sum(Purchase.quantity * sa.type_coerce(Product.conversion, sa.BigInteger)))
              .join(Product, Product.id == Purchase.product_id)
              .where(Product.generic_name == generic_name, Purchase.purchased_on >= start, Purchase.purchased_on < end)
              .group_by(Purchase.institution_code))
    if institution_codes is not None:
        bought = bought.where(Purchase.institution_code.in_(institution_codes))
    usage: dict[str, Decimal] = defaultdict(Decimal)
    for code, scaled in session.execute(bought):
        usage[code] = Decimal(int(scaled)).scaleb(-4)  # conversion is stored scaled by 10^4
    dispensed = packs.units_dispensed_by_pharmacy(
        session, [drug.code for drug in drugs.drugs_of_generic(session, generic_name)],
        start=clock.start_of_day(start), end=clock.start_of_day(end), pharmacy_codes=institution_codes)
    for code, units in dispensed.items():
        usage[code] = max(usage[code], Decimal(units))
    if region is not None:
        regions = {}
        for code in usage:
            ref = institution_of(session, code)
            regions[code] = ref.region if ref else None
        usage = defaultdict(Decimal, {c: u for c, u in usage.items() if adcodes.contains(region, regions[c])})
    return dict(usage)


def agreed_ratio(ratio: Decimal | None) -> Decimal:
    low, high = setting("AGREED_RATIO_MIN"), setting("AGREED_RATIO_MAX")
    ratio = setting("AGREED_RATIO") if ratio is None else ratio
    if not low <= ratio <= high:
        raise Invalid(f"The ratio must be within {low}–{high}.",
                      {"ratio": [FieldMessage("between", f"Between {low} and {high}.", min=str(low), max=str(high))]},
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
    year = year_of(batch, year_start)
    ratio = agreed_ratio(ratio)
    base_end = base_end or year[0]
    base_start = base_start or add_months(base_end, -12)
    if base_start >= base_end:
        raise Invalid("The base period is empty.",
                      {"base_start": [FieldMessage("base_start_not_before_end", "Must be before base_end.")]},
                      code="base_period_empty")
    usage = base_usage(session, product.generic_name, base_start, base_end, region=region)
    items = []
    for code, used in sorted(usage.items()):
        ref = institution_of(session, code)
        if ref is None or not actor.in_region(ref.region):
            continue
        in_units = used / product.conversion
        line = line_for(session, ref, product, year)
        set_agreed(line, round_units(in_units * ratio), "base_usage", actor)
        session.add(line)
        items.append(describe_line(line, product.code, batch.code, base_usage=round_units(in_units)))
    sync_institutions(session, {item["institution_code"] for item in items})
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
        statement = statement.where(Line.product_id == product_id_of(product_code))
    if year_start:
        statement = statement.where(Line.year_start == year_start)
    page = paginate(session, statement, Line.id, limit=limit, cursor=cursor)
    codes = product_and_batch_codes(session, {line.product_id for line in page.items})
    page.items = [describe_line(line, *codes[line.product_id]) for line in page.items]
    return page
