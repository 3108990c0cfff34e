"""Money of procurement: the fund's prepayment to institutions and what it owes companies.

- Prepayment (seed 001 二(七)): the fund prepays each institution at least
  `PROCUREMENT_PREPAYMENT_RATIO` (≥ 50 %) of its agreed purchase amount, i.e. the agreed
  volumes of selected products × their selected prices. It is computed per institution ×
  company (rounded up to the fen, rules.prepayment_due), so institution and company totals
  are the same sums.
- Direct settlement (seed 000 二, seed 004 三(二): 医保基金与医药企业直接结算): for batches
  with `direct_settlement`, the fund pays each selected company for the purchases of its
  selected products, net of the prepayments already advanced for them. Settled quarterly
  (calendar quarters within the agreement year, seed 001 二(八) "季度结算"): a quarter's
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
from dualchannel.procurement import rules
from dualchannel.procurement.execution import FEN, YearInView, calendar_periods, region_condition, years_in_view
from dualchannel.procurement.models import Line, Product, Purchase
from dualchannel.procurement.services import setting, view_region, visible_lines

SELECTED = rules.ProductStatus.SELECTED.value


def _in_view(years: list[YearInView]):
    return sa.or_(*(sa.and_(Line.batch_id == y.batch.id, Line.year_start == y.start) for y in years))


def _prepayments(session: Session, actor: Actor, region: str | None, years: list[YearInView],
                 ratio: Decimal) -> dict[tuple, tuple[Decimal, Decimal]]:
    """``{(institution, batch_id, year_start, company): (agreed amount, prepayment)}``."""
    if not years:
        return {}
    amount = sa.func.sum(sa.cast(Line.agreed, sa.BigInteger) * sa.type_coerce(Product.price, sa.BigInteger))
    rows = session.execute(
        select(Line.institution_code, Line.batch_id, Line.year_start, Product.manufacturer, amount)
        .join(Product, Product.id == Line.product_id)
        .where(visible_lines(actor), region_condition(Line.region, region), _in_view(years),
               Line.agreed > 0, Product.status == SELECTED)
        .group_by(Line.institution_code, Line.batch_id, Line.year_start, Product.manufacturer))
    result = {}
    for institution, batch_id, year_start, company, scaled in rows:
        agreed_amount = Decimal(int(scaled)).scaleb(-4)  # prices are stored in 1/10000 yuan
        result[(institution, batch_id, year_start, company)] = (agreed_amount, rules.prepayment_due(agreed_amount, ratio))
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
    """What the fund owes each company under direct settlement, by quarter and at year end."""
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
    quarters = {y.batch.id: calendar_periods(y.start, y.end, "quarter") for y in years}
    starts = sorted({start for periods in quarters.values() for start, _ in periods})
    bucket = sa.case(*((Purchase.purchased_on < s, i) for i, s in enumerate(starts[1:])), else_=len(starts) - 1)
    bought = defaultdict(Decimal)
    for company, batch_id, index, fen in session.execute(
            select(Product.manufacturer, Line.batch_id, bucket, sa.func.sum(sa.type_coerce(Purchase.amount, sa.BigInteger)))
            .join(Line, Line.id == Purchase.line_id).join(Product, Product.id == Purchase.product_id)
            .where(visible_lines(actor), region_condition(Line.region, region), _in_view(years),
                   Product.status == SELECTED, Purchase.purchased_on <= as_of)
            .group_by(Product.manufacturer, Line.batch_id, bucket)):
        bought[(company, batch_id, starts[index])] += Decimal(int(fen)) * FEN
    by_batch = {y.batch.id: y for y in years}
    companies = sorted({(c, b) for c, b in prepaid} | {(c, b) for c, b, _ in bought})
    for company, batch_id in companies:
        year, paid_in_advance = by_batch[batch_id], prepaid[(company, batch_id)]
        cumulative, settled_before, rows = Decimal(0), Decimal(0), []
        for start, end in quarters[batch_id]:
            if start > as_of:
                break
            purchased = bought[(company, batch_id, start)].quantize(FEN)
            cumulative += purchased
            owed_so_far = max(Decimal(0), cumulative - paid_in_advance)
            rows.append({"quarter": f"{start.year}-Q{(start.month - 1) // 3 + 1}", "start": start, "end": end,
                         "closed": end <= as_of + timedelta(days=1), "purchased": purchased,
                         "cumulative": cumulative, "settled": owed_so_far - settled_before})
            settled_before = owed_so_far
        balance = cumulative - paid_in_advance
        report["items"].append({
            "company": company, "batch_code": year.batch.code, "year_start": year.start, "year_end": year.end,
            "prepaid": paid_in_advance, "quarters": rows,
            "year_end_reconciliation": {"reconciled": as_of + timedelta(days=1) >= year.end,
                                        "purchased": cumulative, "prepaid": paid_in_advance,
                                        "owed": max(Decimal(0), balance), "balance": f"{balance.quantize(FEN)}"}})
    return report
