"""Pure rules of supply problems (seed 002 二(八)): working days, the company's reply and fix
deadlines, the state of a problem and its escalation to the levels above. No database, no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days: Monday–Friday, minus public holidays, plus make-up working days (调休上班).

    A make-up working day is normally a Saturday or Sunday; it wins over the weekend. A date
    cannot be both a holiday and a make-up working day.
    """

    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        # Accept any iterable (a set, a list from the database) and freeze it.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "makeup_workdays", frozenset(self.makeup_workdays))
        if both := self.holidays & self.makeup_workdays:
            raise ValueError(f"dates both holiday and make-up working day: {sorted(both)}")

    def is_working_day(self, d: date) -> bool:
        if d in self.makeup_workdays:
            return True
        return d not in self.holidays and d.weekday() < 5

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``; ``d`` itself is not counted (``n=0`` gives ``d``).

        As the Civil Code counts periods (民法典 第二百零一条: "开始的当日不计入"), a problem
        reported on any day, working or not, starts counting on the next day.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_after(self, start: date, end: date) -> int:
        """Number of working days in ``(start, end]`` (0 when ``end <= start``)."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_working_day(d)
        return count


REPLY_WORKING_DAYS = 2
FIX_WORKING_DAYS = 5
ESCALATE_AFTER_WORKING_DAYS = 5


def reply_due(reported_on: date, *, calendar: WorkingCalendar) -> date:
    """Last day for the company's reply to a supply problem: 2 working days after the report.

    Seed 002 二(八): "企業應在2個工作日內進行回復並承諾問題解決時限". The report day is not
    counted; a reply on the due day is on time.
    """
    return calendar.add_working_days(reported_on, REPLY_WORKING_DAYS)


def latest_fix_date(replied_on: date, *, calendar: WorkingCalendar) -> date:
    """Latest resolution date the company may promise: 5 working days after its reply.

    Seed 002 二(八): "承諾時限不得超過5個工作日". The limit is on the PROMISED time limit
    (承诺时限), which is made in the reply, so it runs from the reply day (not counted), not
    from the report. A late reply therefore also moves this date; the lateness itself is the
    ``reply_overdue`` state of :func:`supply_problem_status`.
    """
    return calendar.add_working_days(replied_on, FIX_WORKING_DAYS)


class SupplyState(StrEnum):
    AWAITING_REPLY = "awaiting_reply"
    REPLY_OVERDUE = "reply_overdue"
    IN_PROGRESS = "in_progress"
    FIX_OVERDUE = "fix_overdue"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class SupplyProblemStatus:
    state: SupplyState
    due: date | None  # the deadline of the current stage; None once resolved
    overdue_working_days: int  # working days after ``due`` up to and including today
    escalate: bool  # overdue and overdue_working_days >= escalate_after


def supply_problem_status(
    reported_on: date,
    replied_on: date | None,
    promised_fix: date | None,
    resolved_on: date | None,
    today: date,
    *,
    calendar: WorkingCalendar,
    escalate_after: int = ESCALATE_AFTER_WORKING_DAYS,
) -> SupplyProblemStatus:
    """State of a reported supply problem on ``today`` (seed 002 二(八)).

    - resolved on or before today → ``resolved``;
    - no reply yet → ``awaiting_reply`` up to :func:`reply_due`, ``reply_overdue`` after it;
    - replied → ``in_progress`` up to the fix deadline, ``fix_overdue`` after it. The fix
      deadline is the promised date, capped at :func:`latest_fix_date` (a promise beyond
      5 working days is not allowed, "承諾時限不得超過5個工作日"); with no date promised the
      cap itself is the deadline.

    A deadline day is still on time; the day after it is overdue, even a weekend day.
    Escalation follows the seed's "對醫療機構反饋問題未在承諾時間內解決的，要及時通過約談、
    督導等方式核查處置；突出問題或無法協調解決的，逐級上報至省級醫保部門": the overdue state
    itself is the bureau's cue to act; ``escalate`` marks one still overdue after
    ``escalate_after`` more working days, to be reported upwards. The seed gives no such
    number: 5 (one more promise period) is the project's default. Events dated after
    ``today`` are treated as not yet happened.
    """
    if escalate_after < 0:
        raise ValueError("escalate_after must not be negative")
    for name, value in (("replied_on", replied_on), ("resolved_on", resolved_on)):
        if value is not None and value < reported_on:
            raise ValueError(f"{name} ({value}) is before the report ({reported_on})")
    if promised_fix is not None and (replied_on is None or promised_fix < replied_on):
        raise ValueError("a promised fix date needs a reply on or before it")

    if resolved_on is not None and resolved_on <= today:
        return SupplyProblemStatus(SupplyState.RESOLVED, None, 0, False)
    if replied_on is None or replied_on > today:
        due = reply_due(reported_on, calendar=calendar)
        waiting, late = SupplyState.AWAITING_REPLY, SupplyState.REPLY_OVERDUE
    else:
        due = latest_fix_date(replied_on, calendar=calendar)
        if promised_fix is not None:
            due = min(due, promised_fix)
        waiting, late = SupplyState.IN_PROGRESS, SupplyState.FIX_OVERDUE
    if today <= due:
        return SupplyProblemStatus(waiting, due, 0, False)
    overdue = calendar.working_days_after(due, today)
    return SupplyProblemStatus(late, due, overdue, overdue >= escalate_after)


def level_above(region: str) -> str | None:
    """The bureau one level up from a region: a county's city, a city's province; None above
    a province (the seed's top: 省级医保部门)."""
    if region.endswith("0000"):
        return None
    if region.endswith("00"):
        return region[:2] + "0000"
    return region[:4] + "00"


def escalation_path(region: str, overdue_working_days: int,
                    escalate_after: int = ESCALATE_AFTER_WORKING_DAYS) -> list[str]:
    """The bureaus above ``region`` an overdue supply problem has been reported to, nearest
    first.

    Seed 002 二(八): "突出問題或無法協調解決的，逐級上報至省級醫保部門" — level by level up to the
    province. Still overdue ``escalate_after`` working days after its deadline, a problem goes
    one level up (a county's to the city); every further ``escalate_after`` working days one
    more (the city's to the province), and no higher. The seed gives no period: one promise
    period (5 working days) per level is the project's default.
    """
    if escalate_after < 0 or overdue_working_days < 0:
        raise ValueError("working days must not be negative")
    path: list[str] = []
    above = level_above(region)
    while above is not None and overdue_working_days >= escalate_after * (len(path) + 1):
        path.append(above)
        above = level_above(above)
    return path
