"""Supply problems of selected products (seed 002 二(八)): an institution reports one to the
company and the bureau; the company answers within 2 working days with a promised fix at most
5 working days later; overdue ones are flagged to the bureau (`supply_overdue`) and, still
overdue `PROCUREMENT_ESCALATE_AFTER_WORKING_DAYS` working days later, escalated to the level
above, then every as many working days one level further, up to the province (county → city
→ province: "逐级上报至省级医保部门", escalation_path). Each level gets its own alert in
its own region, and reads and acts on the problem like the bureau of the institution.

A bureau confirms (核实) a problem: while it lasts, the institution's non-selected purchases of
the same generic are not assessed (seed 002 二(四)). Deadlines follow the working calendar
(`workdays.working_calendar`): weekends, public holidays, make-up working days.
"""

from collections.abc import Mapping
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.flags import services as flags
from dualchannel.flags.models import FlagStatus
from dualchannel.procurement.alerts import sync_institutions
from dualchannel.procurement.batches import get_product
from dualchannel.procurement.models import Product, SupplyProblem, SupplyStage
from dualchannel.procurement.rules.agreement import ProductStatus
from dualchannel.procurement.rules.supply import (SupplyProblemStatus, SupplyState, WorkingCalendar, escalation_path,
                                                  latest_fix_date, reply_due, supply_problem_status)
from dualchannel.procurement.scope import INSTITUTION_ROLES, READERS, acting_institution, scope
from dualchannel.procurement.workdays import working_calendar
from dualchannel.transitions import Move, table

SUPPLY_OVERDUE = "supply_overdue"
ESCALATION_RULE = "seed 002 二(八): 突出问题或无法协调解决的，逐级上报至省级医保部门"
OVERDUE_STATES = (SupplyState.REPLY_OVERDUE, SupplyState.FIX_OVERDUE)


def visible_problems(actor: Actor):
    """The supply problems an actor may read."""
    return scope(actor, SupplyProblem.region, SupplyProblem.institution_code)


def _escalate_after() -> int:
    return int(current_app.config["PROCUREMENT_ESCALATE_AFTER_WORKING_DAYS"])


def status_of(problem: SupplyProblem, today: date, calendar: WorkingCalendar) -> SupplyProblemStatus:
    """The problem's state on `today` (supply_problem_status)."""
    return supply_problem_status(problem.reported_on, problem.replied_on, problem.promised_fix,
                                       problem.resolved_on, today, calendar=calendar,
                                       escalate_after=_escalate_after())


def describe(problem: SupplyProblem, product_code: str, calendar: WorkingCalendar, today: date) -> dict:
    """A problem with its computed state and deadlines, for the API."""
    status = status_of(problem, today, calendar)
    return {**problem.model_dump(), "product_code": product_code, "state": status.state.value, "due": status.due,
            "overdue_working_days": status.overdue_working_days, "escalate": status.escalate,
            "reply_due": reply_due(problem.reported_on, calendar=calendar),
            "latest_fix_date": (latest_fix_date(problem.replied_on, calendar=calendar)
                                if problem.replied_on else None)}


def _load(session: Session, actor: Actor, problem_id: int) -> tuple[SupplyProblem, str]:
    actor.require(*READERS)
    row = session.exec(select(SupplyProblem, Product.code).join(Product, Product.id == SupplyProblem.product_id)
                       .where(SupplyProblem.id == problem_id, visible_problems(actor))).first()
    if row is None:
        raise NotFound(f"No supply problem {problem_id}.", code="supply_problem_not_found")
    return row


def _answer(session: Session, problem: SupplyProblem, product_code: str) -> dict:
    return describe(problem, product_code, working_calendar(session), clock.today())


def _within(field: str, on: date, earliest: date, today: date) -> None:
    if on > today:
        raise Invalid(f"{field} is in the future.", {field: [FieldMessage("date_in_future", "In the future.")]},
                      code="date_in_future")
    if on < earliest:
        raise Invalid(f"{field} is before {earliest}.",
                      {field: [FieldMessage("date_before_earliest", f"Not before {earliest}.",
                                            earliest=earliest.isoformat())]}, code="date_too_early")


def report(session: Session, actor: Actor, *, product_code: str, description: str, company: str | None = None,
           reported_on: date | None = None, institution_code: str | None = None) -> dict:
    """An institution reports a supply problem of a selected product (or an admin for it)."""
    if actor.role is Role.bureau:
        raise Forbidden("Institutions report their supply problems; the bureau follows them up.",
                        code="supply_problem_institution_only")
    ref = acting_institution(session, actor, institution_code, "reports supply problems")
    product, _ = get_product(session, product_code)
    if product.status != ProductStatus.SELECTED:
        raise Invalid("Supply problems concern selected products.",
                      {"product_code": [FieldMessage("product_not_selected", "Not a selected product.")]},
                      code="product_not_selected")
    today = clock.today()
    reported_on = reported_on or today
    if reported_on > today:
        raise Invalid("reported_on is in the future.",
                      {"reported_on": [FieldMessage("date_in_future", "In the future.")]}, code="date_in_future")
    problem = SupplyProblem(institution_code=ref.code, region=ref.region, product_id=product.id,
                            company=company or product.manufacturer, description=description,
                            reported_on=reported_on, reported_by=actor.label, created_at=clock.now())
    session.add(problem)
    session.commit()
    return _answer(session, problem, product.code)


def get(session: Session, actor: Actor, problem_id: int) -> dict:
    """A supply problem visible to the actor."""
    return _answer(session, *_load(session, actor, problem_id))


def list_problems(session: Session, actor: Actor, *, stage: str | None = None, institution_code: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> Page:
    """Supply problems visible to the caller, newest first, with their computed state."""
    actor.require(*READERS)
    statement = select(SupplyProblem).where(visible_problems(actor))
    if stage:
        statement = statement.where(SupplyProblem.stage == stage)
    if institution_code:
        statement = statement.where(SupplyProblem.institution_code == institution_code)
    page = paginate(session, statement, SupplyProblem.id, limit=limit, cursor=cursor)
    codes = dict(session.exec(select(Product.id, Product.code).where(
        Product.id.in_({p.product_id for p in page.items}))).all()) if page.items else {}
    calendar, today = working_calendar(session), clock.today()
    page.items = [describe(p, codes[p.product_id], calendar, today) for p in page.items]
    return page


def _require_party(actor: Actor) -> None:
    """The reporting institution records what the company said and did (a problem it can see
    is its own); a bureau or an admin may too."""
    if actor.role not in INSTITUTION_ROLES:
        actor.require(Role.admin, Role.bureau)


# A supply problem's stages: the company replies with a fix date, then it is resolved.
MOVES: Mapping[str, Move] = table(
    Move("reply", frozenset({SupplyStage.reported}), SupplyStage.replied),
    Move("resolve", frozenset({SupplyStage.reported, SupplyStage.replied}), SupplyStage.resolved),
)


def _advance(session: Session, problem: SupplyProblem, action: str, **values) -> None:
    move = MOVES[action]
    db.change_if(session, problem, SupplyProblem.stage.in_(move.sources), values={"stage": move.target, **values},
                 refusal=Conflict(f"Supply problem {problem.id} is {problem.stage}; it cannot become {move.target}.",
                                  code="supply_problem_invalid_transition", stage=problem.stage, target=move.target))


def _answer_advanced(session: Session, problem: SupplyProblem, product_code: str, today: date, calendar) -> dict:
    """After a move: its alerts brought up to date (and the institution's, at the end of an
    exemption period), committed, and the problem as the answer describes it."""
    session.refresh(problem)
    _sync_one(session, problem, today, calendar)
    if problem.confirmed_on is not None:  # the end of an exemption period
        sync_institutions(session, {problem.institution_code})
    session.commit()
    return describe(problem, product_code, calendar, today)


def record_reply(session: Session, actor: Actor, problem_id: int, *, reply: str, promised_fix: date,
                 replied_on: date | None = None) -> dict:
    """The company's answer and promised fix date, at most 5 working days after the answer
    ("承诺时限不得超过5个工作日")."""
    problem, product_code = _load(session, actor, problem_id)
    _require_party(actor)
    today, calendar = clock.today(), working_calendar(session)
    replied_on = replied_on or today
    _within("replied_on", replied_on, problem.reported_on, today)
    latest = latest_fix_date(replied_on, calendar=calendar)
    if not replied_on <= promised_fix <= latest:
        raise Invalid(f"The promised fix must be between {replied_on} and {latest} (5 working days).",
                      {"promised_fix": [FieldMessage("promised_fix_out_of_range", f"Between {replied_on} and {latest}.",
                                                     earliest=replied_on.isoformat(), latest=latest.isoformat())]},
                      latest_fix_date=latest.isoformat(),
                      code="promised_fix_out_of_range")
    _advance(session, problem, "reply", replied_on=replied_on, reply=reply, promised_fix=promised_fix)
    return _answer_advanced(session, problem, product_code, today, calendar)


def resolve(session: Session, actor: Actor, problem_id: int, *, resolution: str,
            resolved_on: date | None = None) -> dict:
    """The problem is solved; its open `supply_overdue` alerts are resolved with it."""
    problem, product_code = _load(session, actor, problem_id)
    _require_party(actor)
    today, calendar = clock.today(), working_calendar(session)
    resolved_on = resolved_on or today
    _within("resolved_on", resolved_on, problem.replied_on or problem.reported_on, today)
    _advance(session, problem, "resolve", resolved_on=resolved_on, resolution=resolution)
    return _answer_advanced(session, problem, product_code, today, calendar)


def confirm(session: Session, actor: Actor, problem_id: int, *, confirmed_on: date | None = None) -> dict:
    """The bureau confirms the problem (核实): its period exempts non-selected purchases."""
    problem, product_code = _load(session, actor, problem_id)
    actor.require(Role.admin, Role.bureau)
    today = clock.today()
    confirmed_on = confirmed_on or today
    _within("confirmed_on", confirmed_on, problem.reported_on, today)
    db.change_if(session, problem, SupplyProblem.confirmed_on.is_(None),
                 values={"confirmed_on": confirmed_on, "confirmed_by": actor.label},
                 refusal=Conflict(f"Supply problem {problem_id} is already confirmed.",
                                  code="supply_problem_confirmed"))
    sync_institutions(session, {problem.institution_code})  # its period exempts purchases now
    session.commit()
    session.refresh(problem)
    return _answer(session, problem, product_code)


# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------


def _wanted(problem: SupplyProblem, product_code: str, status: SupplyProblemStatus, today: date) -> list[dict]:
    if status.state not in OVERDUE_STATES:
        return []
    evidence = {"supply_problem_id": problem.id, "institution_code": problem.institution_code,
                "product_code": product_code, "company": problem.company, "state": status.state.value,
                "due": status.due.isoformat(), "overdue_working_days": status.overdue_working_days,
                "reported_on": problem.reported_on.isoformat(), "as_of": today.isoformat(),
                "rule": "seed 002 二(八): 企业应在2个工作日内进行回复并承诺问题解决时限，承诺时限不得超过5个工作日"}
    base = f"{SUPPLY_OVERDUE}:{problem.id}:{status.state.value}"
    wanted = [{"type": SUPPLY_OVERDUE, "severity": "medium", "subject": f"supply_problem:{problem.id}",
               "region": problem.region, "dedup_key": base, "evidence": evidence}]
    below = problem.region
    for above in escalation_path(problem.region, status.overdue_working_days, _escalate_after()):
        # One alert per level reached, in that level's own region (逐级上报至省级医保部门).
        wanted.append({"type": SUPPLY_OVERDUE, "severity": "high", "subject": f"supply_problem:{problem.id}",
                       "region": above, "dedup_key": f"{base}:escalated:{above}",
                       "evidence": {**evidence, "escalated_from": below, "escalated_to": above,
                                    "escalation_rule": ESCALATION_RULE}})
        below = above
    return wanted


def _escalate(session: Session, problem: SupplyProblem, wanted: list[dict]) -> None:
    """Record the highest level the problem has reached (`escalated_to`, when it first got
    there). A conditional UPDATE on the level read: a concurrent scan writes it once."""
    reached = [alert["region"] for alert in wanted if ":escalated:" in alert["dedup_key"]]
    if not reached or problem.escalated_to == reached[-1]:
        return
    if problem.escalated_to is not None and problem.escalated_to not in reached:
        return  # the problem stood higher before (an earlier, longer overdue stage): keep it
    session.execute(sa.update(SupplyProblem).where(
        SupplyProblem.id == problem.id,
        SupplyProblem.escalated_to.is_(None) if problem.escalated_to is None
        else SupplyProblem.escalated_to == problem.escalated_to)
        .values(escalated_to=reached[-1], escalated_at=clock.now()))


def _sync_one(session: Session, problem: SupplyProblem, today: date, calendar: WorkingCalendar) -> None:
    product_code = session.get(Product, problem.product_id).code
    wanted = _wanted(problem, product_code, status_of(problem, today, calendar), today)
    _escalate(session, problem, wanted)
    flags.raise_flags(session, wanted)
    keys = {w["dedup_key"] for w in wanted}
    stale = [row.dedup_key for row in flags.flag_keys(session, type=SUPPLY_OVERDUE, status=FlagStatus.open.value,
                                                      subjects=[f"supply_problem:{problem.id}"])
             if row.dedup_key not in keys]
    flags.resolve_flags(session, stale, f"Supply problem {problem.stage} on {today}.")


def sync_alerts(session: Session, *, region: str | None, today: date) -> tuple[int, int]:
    """Raise `supply_overdue` alerts (and escalations) for the region's open problems, resolve
    those no longer overdue. The caller commits. Returns ``(raised, resolved)``."""
    in_region = sa.true() if region is None else SupplyProblem.region.startswith(adcodes.prefix(region))
    calendar = working_calendar(session)
    wanted: list[dict] = []
    evaluated = set()
    for problem, product_code in session.exec(
            select(SupplyProblem, Product.code).join(Product, Product.id == SupplyProblem.product_id)
            .where(in_region, SupplyProblem.stage != SupplyStage.resolved.value, SupplyProblem.reported_on <= today)):
        alerts = _wanted(problem, product_code, status_of(problem, today, calendar), today)
        _escalate(session, problem, alerts)
        wanted += alerts
        evaluated.add(f"supply_problem:{problem.id}")
    raised = flags.raise_flags(session, wanted)
    keys = {w["dedup_key"] for w in wanted}
    # By subject, not region: an escalation lives in the region above.
    stale = [row.dedup_key for row in flags.flag_keys(session, type=SUPPLY_OVERDUE, status=FlagStatus.open.value)
             if row.subject in evaluated and row.dedup_key not in keys]
    return raised, flags.resolve_flags(session, stale, f"No longer overdue on {today}.")
