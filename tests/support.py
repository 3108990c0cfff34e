"""Test data helpers shared by the suites."""

import itertools
from datetime import date
import re
import threading
from contextlib import contextmanager

import sqlalchemy as sa
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

_serial = itertools.count(1)


def resident_id(area: str = "370811", born: str = "19800101") -> str:
    """A valid 18-character resident ID number, different at each call."""
    body = f"{area}{born}{next(_serial) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


_trace = itertools.count(1)


def trace_codes(n: int, product: str = "8123456") -> list[str]:
    """n fresh 20-digit traceability codes (first 7 digits: the product)."""
    return [f"{product}{next(_trace):013d}" for _ in range(n)]


# Real places (WGS-84) in known county-level divisions.
PLACES = {
    "370811": (35.4148, 116.5873),  # 任城区, near 济宁市政府
    "370881": (35.5966, 116.9914),  # 曲阜市, 孔庙
    "370883": (35.4055, 116.9730),  # 邹城市
    "370832": (35.8020, 116.0960),  # 梁山县
    "370902": (36.1863, 117.1297),  # 泰安市泰山区 (another city)
}


# An 18-character run not touching other digits: a 20-digit trace code never matches, an ID
# glued to letters ("id11010519491231002X") still does. The check digit and a real birth date
# then rule out chance digit runs. Written independently of dualchannel's own code on purpose.
# Not after a decimal point: the fraction of a float (a latency sum in /metrics) is no ID.
_ID_RUN = re.compile(r"(?<![0-9.])[0-9]{17}[0-9Xx](?![0-9])")


def find_resident_ids(text: str) -> list[str]:
    """Every full, valid resident ID number in `text` (GB 11643 check digit and birth date)."""
    found = []
    for match in _ID_RUN.finditer(text):
        number = match.group().upper()
        if ric.calc_check_digit(number) != number[-1]:
            continue
        try:
            born = ric.get_birth_date(number)
        except ValidationError:
            continue
        if 1880 <= born.year <= date.today().year:  # a random hex run's "5582" is no birth year
            found.append(number)
    return found


class StatementCounter:
    """The SQL statements each thread sends through `target` (an engine, or `sa.Engine` for
    every engine of the process), seen by a `before_cursor_execute` listener.

    `start()` begins a fresh list for the calling thread; threads that did not start are not
    recorded. SQLite's `BEGIN IMMEDIATE` is left out (PostgreSQL's BEGIN is no statement of
    SQLAlchemy's), so both databases count the same work alike. Tests pin the counts of the
    write steps with it (`tests/api/test_statement_counts.py`); `bench/instrumented.py`
    reports them per request.
    """

    def __init__(self, target):
        self.target = target
        self._local = threading.local()
        sa.event.listen(target, "before_cursor_execute", self._seen)

    def _seen(self, _connection, _cursor, statement, _parameters, _context, _executemany):
        seen = getattr(self._local, "statements", None)
        if seen is not None and statement != "BEGIN IMMEDIATE":
            seen.append(statement)

    def start(self) -> None:
        """Record this thread's statements from now on, from an empty list."""
        self._local.statements = []

    @property
    def statements(self) -> list[str]:
        """This thread's statements since `start()`."""
        return getattr(self._local, "statements", [])

    def remove(self) -> None:
        """Stop listening."""
        sa.event.remove(self.target, "before_cursor_execute", self._seen)


@contextmanager
def counting_statements(engine):
    """`with counting_statements(engine) as counter:` ... `counter.statements` (this thread's)."""
    counter = StatementCounter(engine)
    counter.start()
    try:
        yield counter
    finally:
        counter.remove()
def review(client, prescription_id, outcome="approved", **extra):
    """A pharmacist's review (审方) of a verified prescription through the API (`client` bound to a pharmacist)."""
    return client.post(f"/api/v1/prescriptions/{prescription_id}/review", {"outcome": outcome, **extra})
