"""Execution monitoring (seed 002 二(九)): the execution report (progress per line against the
schedule, with compliance and open alerts) and the monthly or quarterly reports for a region
(seed 001 二(八): 按月监测、季度结算). Read-only: alerts come from `alerts`.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.api import decode_cursor, encode_cursor
from dualchannel.auth import Actor, Role
from dualchannel.flags import services as flags
from dualchannel.flags.models import FlagStatus
from dualchannel.procurement import supply
from dualchannel.procurement.alerts import BEHIND, NON_SELECTED_HIGH, behind_key, non_selected_key
from dualchannel.procurement.batches import product_id_of
from dualchannel.procurement.compliance import assess_groups
from dualchannel.procurement.models import Line, Product
from dualchannel.procurement.progress import (YearInView, fen, in_view, monthly_totals, months_span, periods_of,
                                              progress, years_in_view)
from dualchannel.procurement.rules.agreement import behind_schedule, completed_share, schedule_share
from dualchannel.procurement.rules.prices import PriceDeviation
from dualchannel.procurement.scope import institution_names, region_condition, setting, view_region, visible_lines


def execution_report(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                     institution_code: str | None = None, product_code: str | None = None,
                     batch: str | None = None, behind: bool | None = None,
                     limit: int | None = None, cursor: str | None = None) -> dict:
    """Progress per product × institution × agreement year, alerts first.

    Lines behind schedule come first, most behind first; then the rest. An institution sees
    its own lines. Pages are offsets into the ordered report (`cursor`). Read-only: the alerts
    shown are those `dualchannel procurement scan` and the writes that change progress raised
    (`alerts`).
    """
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region))
    if institution_code:
        condition = sa.and_(condition, Line.institution_code == institution_code)
    group_condition = None  # the lines a shown line may be assessed with: any product
    if product_code:
        group_condition = condition
        condition = sa.and_(condition, Line.product_id == product_id_of(product_code))
    report = {"region": region, "as_of": as_of,
              "years": [{"batch_code": y.batch.code, "year_start": y.start, "year_end": y.end,
                         "schedule_share": y.schedule} for y in years],
              "summary": {"lines": 0, "with_agreement": 0, "behind": 0, "open_alerts": {}},
              "items": [], "next_cursor": None}
    if actor.role in (Role.admin, Role.bureau):
        report["summary"]["open_alerts"] = flags.open_counts(
            session, [BEHIND, NON_SELECTED_HIGH, supply.SUPPLY_OVERDUE, *(d.value for d in PriceDeviation)],
            region=region)
    if not years:
        return report
    p = progress(years, as_of, condition, setting("BEHIND_TOLERANCE"), group_condition).subquery("p")
    totals = session.execute(select(sa.func.count(), sa.func.count(p.c.agreed), sa.func.sum(p.c.behind))).one()
    report["summary"].update(lines=totals[0], with_agreement=totals[1], behind=int(totals[2] or 0))
    statement = select(p)
    if behind is not None:
        statement = statement.where(p.c.behind == int(behind))
    limit, offset = limit or 50, decode_cursor(cursor) or 0
    rows = session.execute(statement.order_by(p.c.behind.desc(), sa.func.coalesce(p.c.gap, -1e18).desc(),
                                              p.c.line_id).limit(limit + 1).offset(offset)).all()
    if len(rows) > limit:
        rows, report["next_cursor"] = rows[:limit], encode_cursor(offset + limit)
    report["items"] = _items(session, rows, years, as_of)
    return report


def _items(session: Session, rows, years: list[YearInView], as_of: date) -> list[dict]:
    if not rows:
        return []
    by_batch = {y.batch.id: y for y in years}
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_({r.product_id for r in rows})))}
    names = institution_names(session, {r.institution_code for r in rows})
    keys = {(r.institution_code, r.batch_id, products[r.product_id].generic_name, r.year_start) for r in rows}
    group_products = select(Product.id).where(Product.generic_name.in_({k[2] for k in keys}))
    compliance = assess_groups(session, years, as_of, sa.and_(Line.institution_code.in_({k[0] for k in keys}),
                                                              Line.product_id.in_(group_products)), keys)
    alert_keys = {behind_key(r.line_id) for r in rows} | {non_selected_key(*k) for k in keys}
    open_keys = {row.dedup_key for row in flags.flag_keys(session, dedup_keys=alert_keys,
                                                          status=FlagStatus.open.value)}
    tolerance = setting("BEHIND_TOLERANCE")
    together = {product_id: group for y in years for product_id, group in y.together.items()}
    assessed_with: dict[int, list[str]] = defaultdict(list)  # group -> product codes
    if together:
        for product_id, code in session.execute(select(Product.id, Product.code).where(Product.id.in_(together))
                                                .order_by(Product.code)):
            assessed_with[together[product_id]].append(code)
    items = []
    for row in rows:
        year, product = by_batch[row.batch_id], products[row.product_id]
        key = (row.institution_code, row.batch_id, product.generic_name, row.year_start)
        completed = None if row.agreed is None else completed_share(row.agreed, row.purchased)
        group_agreed, group_purchased = Decimal(str(row.group_agreed)), Decimal(str(row.group_purchased))
        group = assessed_with[together[product.id]] if product.id in together else []
        combined = completed_share(group_agreed, group_purchased) if group and group_agreed > 0 else None
        assessed = combined if combined is not None else completed
        result = compliance.get(key)
        items.append({
            "line_id": row.line_id, "institution_code": row.institution_code,
            "institution_name": names.get(row.institution_code), "region": row.region,
            "batch_code": year.batch.code, "product_code": product.code, "product_name": product.name,
            "generic_name": product.generic_name, "manufacturer": product.manufacturer, "status": product.status,
            "year_start": row.year_start, "year_end": row.year_end, "agreed": row.agreed,
            "purchased": row.purchased, "purchased_amount": fen(row.amount_fen),
            "completed_share": completed, "schedule_share": year.schedule,
            "assessed_with": group,
            "combined_completed_share": combined,
            "behind": bool(row.agreed) and assessed is not None
                      and behind_schedule(assessed, year.schedule, tolerance),
            "non_selected_share": result.non_selected_share if result else None,
            "compliant": result.compliant if result else None,
            "compliance": None if result is None else {
                "non_selected_share": result.non_selected_share, "compliant": result.compliant,
                "selected_quantity": result.selected_quantity,
                "non_selected_quantity": result.non_selected_quantity, "reasons": list(result.reasons)},
            "alerts": sorted(t for t, k in ((BEHIND, behind_key(row.line_id)), (NON_SELECTED_HIGH, non_selected_key(*key)))
                             if k in open_keys),
        })
    return items


def period_report(session: Session, actor: Actor, *, region: str | None = None, as_of: date | None = None,
                  period: str = "month", batch: str | None = None) -> dict:
    """Purchases per product and month (or quarter) of the agreement years in view, up to
    `as_of`, with the cumulative completion against the region's agreed volume and the
    schedule share at each period's end (seed 001 二(八): 按月监测、季度结算)."""
    region = view_region(actor, region)
    as_of = as_of or clock.today()
    years = years_in_view(session, as_of, batch)
    report = {"region": region, "as_of": as_of, "period": period, "items": []}
    if not years:
        return report
    condition = sa.and_(visible_lines(actor), region_condition(Line.region, region))
    totals = monthly_totals(session, years, condition, Line.product_id)
    agreed = dict(session.execute(select(Line.product_id, sa.func.sum(Line.agreed))
                                  .where(in_view(years), condition).group_by(Line.product_id)).all())
    products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_({k[0] for k in totals})))}
    by_batch = {y.batch.id: y for y in years}
    for (product_id, batch_id), months in sorted(totals.items(), key=lambda kv: products[kv[0][0]].code):
        product, year, volume = products[product_id], by_batch[batch_id], int(agreed.get(product_id) or 0)
        cumulative = 0
        for label, first, end in periods_of(year, period):
            quantity = sum(q for q, _ in months[first:end])
            cumulative += quantity
            start, stop, read_at = months_span(year, first, end)
            report["items"].append({
                "period": label, "period_start": start, "period_end": stop, "batch_code": year.batch.code,
                "year_start": year.start, "product_code": product.code, "product_name": product.name,
                "generic_name": product.generic_name, "status": product.status, "purchased": quantity,
                "amount": fen(sum(a for _, a in months[first:end])), "cumulative_purchased": cumulative,
                "agreed": volume, "completed_share": completed_share(volume, cumulative) if volume else None,
                "schedule_share": schedule_share(year.start, year.end, read_at)})
    return report


REPORT_COLUMNS = ["period", "period_start", "period_end", "batch_code", "year_start", "product_code", "product_name",
                  "generic_name", "status", "purchased", "amount", "cumulative_purchased", "agreed",
                  "completed_share", "schedule_share"]
