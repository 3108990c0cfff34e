"""Money of procurement: the fund's prepayment to institutions and what it owes companies.

- Prepayment (seed 001 二(七)): the fund prepays each institution at least
  `PROCUREMENT_PREPAYMENT_RATIO` (≥ 50 %) of its agreed purchase amount, i.e. the agreed
  volumes of selected products × their selected prices. It is computed per institution ×
  company (rounded up to the fen, rules.prices.prepayment_due), so institution and company totals
  are the same sums.
- Direct settlement (seed 000 二, seed 004 三(二): 医保基金与医药企业直接结算): for batches
  with `direct_settlement`, the fund pays each selected company for the purchases of its
  selected products, net of the prepayments already advanced for them. Settled quarterly
  (quarters of the agreement year, seed 001 二(八) "季度结算"): a quarter's
  settlement is what the cumulative purchases exceed the prepayment by, less what earlier
  quarters settled; at the year's end ("年终清算") the balance is purchases − prepaid, negative
  when the prepayment exceeded the purchases and is to be recovered.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.auth import Actor
from dualchannel.procurement.models import Line, Product
from dualchannel.procurement.progress import (YearInView, in_view, monthly_totals, months_span, periods_of,
                                              years_in_view)
from dualchannel.procurement.rules.agreement import FEN, ProductStatus
from dualchannel.procurement.rules.prices import prepayment_due
from dualchannel.procurement.scope import region_condition, setting, view_region, visible_lines

SELECTED = ProductStatus.SELECTED.value


def _prepayments(session: Session, actor: Actor, region: str | None, years: list[YearInView],
                 ratio: Decimal) -> dict[tuple, tuple[Decimal, Decimal]]:
    """``{(institution, batch_id, year_start, company): (agreed amount, prepayment)}``."""
    if not years:
        return {}
    amount = sa.func.sum(sa.cast(Line.agreed, sa.BigInteger) * sa.type_coerce(Product.price, sa.BigInteger))
    rows = session.execute(
        select(Line.institution_code, Line.batch_id, Line.year_start, Product.manufacturer, amount)
        .join(Product, Product.id == Line.product_id)
        .where(visible_lines(actor), region_condition(Line.region, region), in_view(years),
               Line.agreed > 0, Product.status == SELECTED)
        .group_by(Line.institution_code, Line.batch_id, Line.year_start, Product.manufacturer))
    result = {}
    for institution, batch_id, year_start, company, scaled in rows:
        agreed_amount = Decimal(int(scaled)).scaleb(-4)  # prices are stored in 1/10000 yuan
        result[(institution, batch_id, year_start, company)] = (agreed_amount, prepayment_due(agreed_amount, ratio))
    return result


def prepayments(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                batch: str | None = None) -> dict:
    """The prepayment owed to each institution for the agreement years in view at `as_of`."""
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    ratio = setting("PREPAYMENT_RATIO")
    by_batch = {y.batch.id: y for y in years}
    grouped = defaultdict(list)
    for (institution, batch_id, year_start, company), amounts in sorted(
            _prepayments(session, actor, region, years, ratio).items()):
        grouped[(institution, batch_id)].append((company, *amounts))
    items = []
    for (institution, batch_id), companies in grouped.items():
        year = by_batch[batch_id]
        items.append({
            "institution_code": institution, "batch_code": year.batch.code, "year_start": year.start,
            "year_end": year.end,
            "agreed_amount": sum((a for _, a, _ in companies), Decimal(0)).quantize(FEN),
            "prepayment": sum((p for _, _, p in companies), Decimal(0)),
            "companies": [{"company": c, "agreed_amount": a.quantize(FEN), "prepayment": p} for c, a, p in companies]})
    return {"region": region, "as_of": as_of, "ratio": ratio, "items": items}


def ledger(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
           batch: str | None = None) -> dict:
    """What the fund owes each company under direct settlement, by quarter of the agreement
    year and at the year's end."""
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = [y for y in years_in_view(session, as_of, batch) if y.batch.direct_settlement]
    report = {"region": region, "as_of": as_of, "items": []}
    if not years:
        return report
    prepaid = defaultdict(Decimal)
    for (_, batch_id, _, company), (_, prepayment) in _prepayments(
            session, actor, region, years, setting("PREPAYMENT_RATIO")).items():
        prepaid[(company, batch_id)] += prepayment
    in_scope = sa.and_(visible_lines(actor), region_condition(Line.region, region), Product.status == SELECTED)
    bought = monthly_totals(session, years, in_scope, Product.manufacturer)
    by_batch = {y.batch.id: y for y in years}
    for company, batch_id in sorted(set(prepaid) | set(bought)):
        year, paid_in_advance = by_batch[batch_id], prepaid[(company, batch_id)]
        months = bought.get((company, batch_id), [])
        cumulative, settled_before, quarters = Decimal(0), Decimal(0), []
        for label, first, end in periods_of(year, "quarter"):
            purchased = sum((Decimal(fen) for _, fen in months[first:end]), Decimal(0)) * FEN
            cumulative += purchased
            owed_so_far = max(Decimal(0), cumulative - paid_in_advance)
            start, stop, _ = months_span(year, first, end)
            quarters.append({"quarter": label, "start": start, "end": stop,
                             "closed": year.months[end - 1][1] <= as_of + timedelta(days=1),
                             "purchased": purchased,
                             "cumulative": cumulative, "settled": owed_so_far - settled_before})
            settled_before = owed_so_far
        balance = cumulative - paid_in_advance
        report["items"].append({
            "company": company, "batch_code": year.batch.code, "year_start": year.start, "year_end": year.end,
            "prepaid": paid_in_advance, "quarters": quarters,
            "year_end_reconciliation": {"reconciled": year.month is None, "purchased": cumulative,
                                        "prepaid": paid_in_advance, "owed": max(Decimal(0), balance),
                                        "balance": f"{balance.quantize(FEN)}"}})
    return report
