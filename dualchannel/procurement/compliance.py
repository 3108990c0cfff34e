"""The selected-vs-non-selected assessment per group (institution × batch × generic × agreement
year) with its exemptions (seed 002 二(四), 二(九)), read from the lines in SQL and decided by
`rules.compliance`.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel.procurement.models import Batch, Product, Purchase, SupplyProblem
from dualchannel.procurement.progress import YearInView, fen, line_progress, raw
from dualchannel.procurement.rules.agreement import ProcurementKind, ProductStatus
from dualchannel.procurement.rules.compliance import ComplianceResult, PurchaseRecord, assess_selection_compliance


def _merge(intervals: list[tuple[date, date]]) -> list[tuple[date, date]]:
    merged: list[list[date]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def assess_groups(session: Session, years: list[YearInView], as_of: date, line_filter,
                  keys: set[tuple] | None = None) -> dict:
    """`assess_selection_compliance` per group ``(institution_code, batch_id,
    generic_name, year_start)`` of the lines satisfying `line_filter` (restricted to `keys`
    when given): ``{key: ComplianceResult or None}`` (None: no selected product to compare with).

    Per group: the selected price is the highest selected price per common unit (as seed 004
    二(二) takes the category's highest for consumables); a consumable's non-selected product
    by a selected company is held to that company's own selected price; non-selected purchases
    dated within a bureau-confirmed supply problem of the group at the institution (from its
    report to its resolution) are exempt; the agreed volume is completed when the selected
    purchases reach the agreed volumes of the group's selected products.
    """
    if not years:
        return {}
    by_batch = {y.batch.id: y for y in years}
    products = {p.id: p for p in session.exec(select(Product).where(Product.batch_id.in_(by_batch)))}
    members = defaultdict(list)
    for product in products.values():
        members[(product.batch_id, product.generic_name)].append(product)
    grouped = defaultdict(list)
    for row in session.execute(line_progress(years, as_of, line_filter)):
        key = (row.institution_code, row.batch_id, products[row.product_id].generic_name, row.year_start)
        if keys is None or key in keys:
            grouped[key].append(row)
    exempt = _exempt_purchases(session, years, as_of, grouped, products)
    results = {}
    for key in grouped.keys() if keys is None else keys:
        institution, batch_id, generic, _ = key
        selected = [p for p in members.get((batch_id, generic), []) if p.status == ProductStatus.SELECTED]
        results[key] = None if not selected else _assess(
            by_batch[batch_id].batch, selected, grouped.get(key, []), products, exempt)
    return results


def _exempt_purchases(session: Session, years: list[YearInView], as_of: date, grouped: dict,
                      products: dict[int, Product]) -> dict[int, tuple[int, int]]:
    """Per non-selected line: (quantity, fen) bought within a confirmed supply problem."""
    periods = defaultdict(list)
    for problem, product in session.exec(
            select(SupplyProblem, Product).join(Product, Product.id == SupplyProblem.product_id).where(
                SupplyProblem.confirmed_on.is_not(None), SupplyProblem.reported_on <= as_of,
                Product.batch_id.in_([y.batch.id for y in years]))):
        periods[(problem.institution_code, product.batch_id, product.generic_name)].append(
            (problem.reported_on, min(problem.resolved_on or as_of, as_of)))
    exempt: dict[int, tuple[int, int]] = {}
    for key, group in grouped.items():
        spans = periods.get(key[:3])
        line_ids = [r.line_id for r in group if products[r.product_id].status != ProductStatus.SELECTED]
        if not spans or not line_ids:
            continue
        during = sa.or_(*(Purchase.purchased_on.between(s, e) for s, e in _merge(spans)))
        for line_id, quantity, amount in session.execute(
                select(Purchase.line_id, sa.func.sum(Purchase.quantity), sa.func.sum(raw(Purchase.amount)))
                .where(Purchase.line_id.in_(line_ids), Purchase.purchased_on <= as_of, during)
                .group_by(Purchase.line_id)):
            exempt[line_id] = (int(quantity), int(amount))
    return exempt


def _assess(batch: Batch, selected: list[Product], rows: list, products: dict[int, Product],
            exempt: dict[int, tuple[int, int]]) -> ComplianceResult:
    own_price: dict[str, Decimal] = {}
    for p in selected:
        own_price[p.manufacturer] = max(own_price.get(p.manufacturer, Decimal(0)), p.price / p.conversion)
    records, agreed, completed = [], Decimal(0), Decimal(0)
    for row in rows:
        product = products[row.product_id]
        if product.status == ProductStatus.SELECTED:
            agreed += (row.agreed or 0) * product.conversion
            completed += row.purchased * product.conversion
        held_to = (own_price.get(product.manufacturer) if batch.kind == ProcurementKind.CONSUMABLE
                   and product.status != ProductStatus.SELECTED else None)
        attributes = dict(unit_price=product.price, status=product.status, equal_quality=product.equal_quality,
                          maker_selected_price=held_to, conversion=product.conversion)
        exempt_quantity, exempt_fen = exempt.get(row.line_id, (0, 0))
        if row.purchased - exempt_quantity > 0:
            records.append(PurchaseRecord(quantity=Decimal(row.purchased - exempt_quantity),
                                                amount=fen(row.amount_fen - exempt_fen), **attributes))
        if exempt_quantity:
            records.append(PurchaseRecord(quantity=Decimal(exempt_quantity), amount=fen(exempt_fen),
                                                during_confirmed_supply_problem=True, **attributes))
    return assess_selection_compliance(records, selected_price=max(own_price.values()), agreed=agreed,
                                             completed=completed, kind=batch.kind)


def non_selected_candidates(years: list[YearInView], as_of: date, condition, threshold: Decimal):
    """Groups whose RAW non-selected share (before any exemption) exceeds `threshold`, as a
    query of ``(institution_code, batch_id, generic_name, year_start)``.

    Exemptions only move purchases off the non-selected side or onto the selected side, so the
    assessed share never exceeds the raw one: every group the rules would alert on is here.
    """
    p = line_progress(years, as_of, condition).subquery("p")
    units = p.c.purchased * raw(Product.conversion)
    selected = sa.func.sum(sa.case((Product.status == ProductStatus.SELECTED.value, units), else_=0))
    non_selected = sa.func.sum(sa.case((Product.status == ProductStatus.NON_SELECTED.value, units), else_=0))
    numerator, denominator = Fraction(threshold).as_integer_ratio()
    return (select(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
            .join(Product, Product.id == p.c.product_id)
            .group_by(p.c.institution_code, p.c.batch_id, Product.generic_name, p.c.year_start)
            .having(non_selected * denominator > numerator * (selected + non_selected)))
