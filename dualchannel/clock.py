"""The service's notion of now: UTC instants, and calendar dates in China Standard Time.

China has had no daylight saving since 1991, so a fixed +08:00 offset is exact.
Tests move time with `travel()` instead of sleeping.
"""

from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")
_offset = timedelta(0)

# Every date the service stores or computes with lies in this window: agreement years, validity
# and deadlines add days and years to dates, and 9999-12-31 plus one day is an overflow.
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2100, 12, 31)


def in_range(day: date) -> bool:
    """Whether `day` lies within MIN_DATE..MAX_DATE."""
    return MIN_DATE <= day <= MAX_DATE


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(timezone.utc) + _offset


def today() -> date:
    """Today's date in China."""
    return now().astimezone(CHINA).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in China, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def travel(delta: timedelta) -> None:
    """Shift the clock by `delta` (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Undo every `travel()` (tests only)."""
    global _offset
    _offset = timedelta(0)
