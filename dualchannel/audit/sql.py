"""Two date functions the window rules need, compiled per database.

SQLite and PostgreSQL spell date arithmetic differently; these constructs keep the rules'
queries free of dialect branches.
"""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class days_between(FunctionElement):  # noqa: N801 - reads as an SQL function
    """`later - earlier` in (fractional) days."""

    type = sa.Float()
    inherit_cache = True
    name = "days_between"


class china_month(FunctionElement):  # noqa: N801
    """'YYYY-MM' of a stored UTC instant, in China time (+08:00)."""

    type = sa.String()
    inherit_cache = True
    name = "china_month"


@compiles(days_between, "sqlite")
def _days_sqlite(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return f"(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}))"


@compiles(days_between, "postgresql")
def _days_postgresql(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return (f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"
            " / 86400.0)")


@compiles(china_month, "sqlite")
def _month_sqlite(element, compiler, **kw):
    (instant,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(instant, **kw)}, '+8 hours')"


@compiles(china_month, "postgresql")
def _month_postgresql(element, compiler, **kw):
    (instant,) = list(element.clauses)
    return f"to_char({compiler.process(instant, **kw)} + interval '8 hours', 'YYYY-MM')"


class calendar_month(FunctionElement):  # noqa: N801
    """'YYYY-MM' of a calendar date."""

    type = sa.String()
    inherit_cache = True
    name = "calendar_month"


@compiles(calendar_month, "sqlite")
def _calendar_month_sqlite(element, compiler, **kw):
    (day,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(day, **kw)})"


@compiles(calendar_month, "postgresql")
def _calendar_month_postgresql(element, compiler, **kw):
    (day,) = list(element.clauses)
    return f"to_char({compiler.process(day, **kw)}, 'YYYY-MM')"
