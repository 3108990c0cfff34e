"""Pure traceability policy: the undo window. No database here."""

from datetime import datetime, timedelta


def undo_until(dispensed_at: datetime, days: int) -> datetime:
    """The instant after which a dispensed pack can no longer be undone (exclusive)."""
    return dispensed_at + timedelta(days=days)


def may_undo(dispensed_at: datetime, now: datetime, days: int) -> bool:
    """Whether a pack dispensed at `dispensed_at` may still be undone at `now`."""
    return dispensed_at <= now < undo_until(dispensed_at, days)
