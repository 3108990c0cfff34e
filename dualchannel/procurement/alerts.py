"""Execution alerts (seed 002 二(九)): `procurement_behind_schedule` per line, `non_selected_share_high`
per group (`supply_overdue` is `supply`'s). Raised and resolved by `dualchannel procurement scan`
(`sync_alerts`, any region and date) and by the writes that change progress or its assessment
(`sync_institutions`: a purchase recorded or imported, an agreed volume set, computed or
accepted, a supply problem confirmed or resolved). Reading never raises or resolves anything.
"""

import hashlib
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import clock
from dualchannel.flags import services as flags
from dualchannel.flags.models import FlagStatus
from dualchannel.procurement.compliance import non_selected_candidates, assess_groups
from dualchannel.procurement.models import Line, Product
from dualchannel.procurement.progress import YearInView, in_view, progress, years_in_view
from dualchannel.procurement.rules.agreement import behind_alert_due, completed_share
from dualchannel.procurement.scope import region_condition, setting


BEHIND = "procurement_behind_schedule"
NON_SELECTED_HIGH = "non_selected_share_high"


def _group_digest(generic_name: str) -> str:
    return hashlib.sha1(generic_name.encode()).hexdigest()[:16]


def non_selected_key(institution_code: str, batch_id: int, generic_name: str, year_start: date) -> str:
    """Dedup key of the non-selected-share alert of a group."""
    return f"{NON_SELECTED_HIGH}:{institution_code}:{batch_id}:{year_start}:{_group_digest(generic_name)}"


def behind_key(line_id: int) -> str:
    """Dedup key of the behind-schedule alert of a line."""
    return f"{BEHIND}:{line_id}"


def _raised_at_or_before(evidence: dict, as_of: date) -> bool:
    """An evaluation at `as_of` may resolve only flags raised by evaluations at or before it:
    looking back must not close today's alerts."""
    return evidence.get("as_of", "") <= as_of.isoformat()


def sync_alerts(session: Session, *, region: str | None, as_of: date) -> tuple[int, int]:
    """Raise due progress alerts and resolve those whose condition no longer holds, for a region
    (None: everywhere) at `as_of`, in the caller's transaction (`dualchannel procurement scan`,
    which also runs `supply.sync_alerts`). Returns ``(raised, resolved)``.

    - `procurement_behind_schedule`, one per line behind its schedule;
    - `non_selected_share_high`, one per institution × generic × year whose assessed
      non-selected share exceeds `PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD`.

    An open alert whose condition no longer holds is `resolved` (see flags.resolve_flags), so
    a relapse raises a new one; a reviewed (confirmed or dismissed) one is left as reviewed.
    The differences are taken in SQL: only new alerts and stale ones reach Python.
    """
    return _sync_progress(session, region_condition(Line.region, region), {"region": region}, as_of)


def sync_institutions(session: Session, institution_codes: set[str]) -> tuple[int, int]:
    """After a write that changed their progress or its assessment (a purchase, an agreed
    volume, a supply problem confirmed or resolved): raise and resolve the progress alerts of
    these institutions as of today, in the caller's transaction. Returns ``(raised, resolved)``."""
    if not institution_codes:
        return 0, 0
    codes = sorted(institution_codes)
    return _sync_progress(session, Line.institution_code.in_(codes),
                          {"subjects": [f"institution:{code}" for code in codes]}, clock.today())


def _sync_progress(session: Session, lines, flagged: dict, as_of: date) -> tuple[int, int]:
    """Behind-schedule and non-selected-share alerts of the `lines` (a condition on Line) at
    `as_of`; `flagged` (filters of `flags.flag_keys`) names the open alerts the evaluation covers."""
    years = years_in_view(session, as_of)
    if not years:
        return 0, 0
    r1, s1 = _sync_behind(session, years, lines, flagged, as_of)
    r2, s2 = _sync_non_selected(session, years, lines, flagged, as_of)
    return r1 + r2, s1 + s2


def _sync_behind(session: Session, years: list[YearInView], lines, flagged, as_of: date) -> tuple[int, int]:
    # Plain scans and set differences: no join on computed keys, whose plan would depend on
    # the statistics of a flag table that a scan may just have filled.
    tolerance = setting("BEHIND_TOLERANCE")
    from_month = int(current_app.config["PROCUREMENT_BEHIND_ALERTS_FROM_MONTH"])
    due = [y for y in years if behind_alert_due(y.month, from_month)]
    rows = []
    if due:
        p = progress(due, as_of, lines, tolerance).subquery("p")
        rows = session.execute(select(p).where(p.c.behind == 1)).all()
    known = {row.dedup_key: row.status for row in flags.flag_keys(session, type=BEHIND, **flagged)}
    new = [row for row in rows if behind_key(row.line_id) not in known]
    products = {p_.id: p_ for p_ in session.exec(select(Product).where(
        Product.id.in_({row.product_id for row in new})))} if new else {}
    by_batch = {y.batch.id: y for y in years}
    alerts = []
    for row in new:
        year, product = by_batch[row.batch_id], products[row.product_id]
        alerts.append({
            "type": BEHIND, "severity": "medium", "subject": f"institution:{row.institution_code}",
            "region": row.region, "dedup_key": behind_key(row.line_id),
            "evidence": {"line_id": row.line_id, "institution_code": row.institution_code,
                         "product_code": product.code, "generic_name": product.generic_name,
                         "batch_id": row.batch_id, "batch_code": year.batch.code,
                         "year_start": row.year_start.isoformat(), "year_end": row.year_end.isoformat(),
                         "agreed": row.agreed, "purchased": row.purchased,
                         "completed_share": str(completed_share(row.agreed, row.purchased)),
                         # What `behind` compared: with the company's other selected specifications
                         # of the generic (seed 002 二(四) 合并考核), in common units.
                         "assessed_completed_share": str(completed_share(
                             Decimal(str(row.group_agreed)), Decimal(str(row.group_purchased)))),
                         "schedule_share": str(year.schedule), "tolerance": str(tolerance),
                         "as_of": as_of.isoformat(), "rule": "seed 002 二(九): 中选产品采购进度低于序时进度"}})
    raised = flags.raise_flags(session, alerts)
    behind_now = {behind_key(row.line_id) for row in rows}
    maybe_stale = sorted(k for k, status in known.items() if status == FlagStatus.open.value and k not in behind_now)
    stale = []
    for start in range(0, len(maybe_stale), 1000):
        chunk = maybe_stale[start:start + 1000]
        shown = set(session.exec(select(Line.id).where(  # lines of the years in view only
            Line.id.in_([int(k.rsplit(":", 1)[1]) for k in chunk]), in_view(years))))
        for key, evidence in flags.evidence_of(session, chunk).items():
            if int(key.rsplit(":", 1)[1]) in shown and _raised_at_or_before(evidence, as_of):
                stale.append(key)
    return raised, flags.resolve_flags(session, stale, f"Back on schedule as of {as_of}.")


def _sync_non_selected(session: Session, years: list[YearInView], lines, flagged,
                       as_of: date) -> tuple[int, int]:
    threshold = setting("NON_SELECTED_SHARE_THRESHOLD")
    candidates = non_selected_candidates(years, as_of, lines, threshold).subquery("c")
    of_candidates = sa.tuple_(Line.institution_code, Line.product_id, Line.year_start).in_(
        select(candidates.c.institution_code, Product.id, candidates.c.year_start)
        .join(Product, sa.and_(Product.batch_id == candidates.c.batch_id,
                               Product.generic_name == candidates.c.generic_name)))
    results = assess_groups(session, years, as_of, sa.and_(lines, of_candidates))
    high = {key: result for key, result in results.items()
            if result is not None and result.non_selected_share > threshold}
    regions = _regions(session, {key[0] for key in high})
    by_batch, alerts = {y.batch.id: y for y in years}, []
    for key, result in high.items():
        institution, batch_id, generic, year_start = key
        alerts.append({
            "type": NON_SELECTED_HIGH, "severity": "medium", "subject": f"institution:{institution}",
            "region": regions[institution], "dedup_key": non_selected_key(*key),
            "evidence": {"institution_code": institution, "batch_id": batch_id,
                         "batch_code": by_batch[batch_id].batch.code, "generic_name": generic,
                         "year_start": year_start.isoformat(), "as_of": as_of.isoformat(),
                         "non_selected_share": str(result.non_selected_share), "threshold": str(threshold),
                         "selected_quantity": str(result.selected_quantity),
                         "non_selected_quantity": str(result.non_selected_quantity),
                         "compliant": result.compliant, "reasons": list(result.reasons),
                         "rule": "seed 002 二(九): 非中选产品采购量占同品种总采购量比例偏高"}})
    raised = flags.raise_flags(session, alerts)
    # A group that is not even a raw candidate is not high: its open flag is stale.
    still_high = {alert["dedup_key"] for alert in alerts}
    open_keys = {row.dedup_key for row in flags.flag_keys(session, type=NON_SELECTED_HIGH,
                                                          status=FlagStatus.open.value, **flagged)}
    stale = []
    for dedup_key, evidence in flags.evidence_of(session, sorted(open_keys - still_high)).items():
        year = by_batch.get(evidence.get("batch_id"))
        if year and year.start.isoformat() == evidence.get("year_start") and _raised_at_or_before(evidence, as_of):
            stale.append(dedup_key)
    return raised, flags.resolve_flags(session, stale, f"Non-selected share back within the threshold as of {as_of}.")


def _regions(session: Session, institution_codes: set[str]) -> dict[str, str]:
    codes, regions = sorted(institution_codes), {}
    for start in range(0, len(codes), 1000):
        regions.update(session.execute(select(Line.institution_code, Line.region).distinct()
                                       .where(Line.institution_code.in_(codes[start:start + 1000]))).all())
    return regions
