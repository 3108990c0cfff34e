"""The working calendar: weekends, the configured public holidays and make-up working days
(调休上班), and the admin's overrides. Supply-problem deadlines count in these working days.
"""

from datetime import date

from flask import current_app
from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.errors import NotFound
from dualchannel.procurement.models import CalendarDay
from dualchannel.procurement.rules.supply import WorkingCalendar
from dualchannel.procurement.scope import READERS


def working_calendar(session: Session) -> WorkingCalendar:
    """Weekends, the configured holidays and make-up days, then the table's overrides."""
    holidays = {date.fromisoformat(d) for d in current_app.config["PROCUREMENT_HOLIDAYS"]}
    workdays = {date.fromisoformat(d) for d in current_app.config["PROCUREMENT_MAKEUP_WORKDAYS"]}
    for day in session.exec(select(CalendarDay)):
        holidays.discard(day.day)
        workdays.discard(day.day)
        {"holiday": holidays, "workday": workdays}.get(day.kind, set()).add(day.day)
    return WorkingCalendar(holidays=holidays, makeup_workdays=workdays)


def calendar_of(session: Session, actor: Actor, *, year: int) -> dict:
    """A year's special days: holidays and make-up working days, and where each comes from."""
    actor.require(*READERS)
    days: dict[date, dict] = {}
    for kind, key in (("holiday", "PROCUREMENT_HOLIDAYS"), ("workday", "PROCUREMENT_MAKEUP_WORKDAYS")):
        for text in current_app.config[key]:
            day = date.fromisoformat(text)
            if day.year == year:
                days[day] = {"day": day, "kind": kind, "name": None, "source": "config"}
    for row in session.exec(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                      CalendarDay.day < date(year + 1, 1, 1))):
        days[row.day] = {"day": row.day, "kind": row.kind, "name": row.name, "source": "table"}
    return {"year": year, "days": [days[d] for d in sorted(days)]}


def set_calendar_day(session: Session, actor: Actor, day: str, *, kind: str, name: str | None = None) -> dict:
    """Mark a date as a holiday, a make-up working day or an ordinary day (admin)."""
    actor.require(Role.admin)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        when = None
    if when is None or not clock.in_range(when):
        raise NotFound(f"No date {day}.", code="no_such_date")
    row = session.get(CalendarDay, when)
    if row is None:
        row = CalendarDay(day=when, kind=kind, name=name, updated_by=actor.label, updated_at=clock.now())
    else:
        row.kind, row.name, row.updated_by, row.updated_at = kind, name, actor.label, clock.now()
    session.add(row)
    db.commit(session, f"{day} was set meanwhile.", code="concurrent_change")
    return {"day": when, "kind": kind, "name": name, "source": "table"}
