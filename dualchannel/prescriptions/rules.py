"""Pure prescription policy: the state machine and the 处方管理办法 limits. No database here."""

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dualchannel import clock


class Status(str, enum.Enum):
    issued = "issued"
    routed = "routed"
    verified = "verified"
    dispensed = "dispensed"
    settled = "settled"
    cancelled = "cancelled"
    expired = "expired"


class Action(str, enum.Enum):
    route = "route"
    hand_back = "return"
    verify = "verify"
    dispense = "dispense"
    settle = "settle"
    reverse = "reverse"
    cancel = "cancel"
    expire = "expire"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: Status
    target: Status
    by: str  # who may do it: "physician" (its own), "pharmacy" (the routed one), "system"
    needs_reason: bool = False
    label: str = ""  # zh-CN, for the pages' buttons


# The one table of allowed moves: services' conditional UPDATEs and the pages' buttons read it.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.route, Status.issued, Status.routed, "physician", label="流转至药店"),
    Transition(Action.hand_back, Status.routed, Status.issued, "pharmacy", label="退回处方"),
    Transition(Action.hand_back, Status.verified, Status.issued, "pharmacy", label="退回处方"),
    Transition(Action.verify, Status.routed, Status.verified, "pharmacy", label="实名核验"),
    Transition(Action.dispense, Status.verified, Status.dispensed, "pharmacy", label="发药"),
    Transition(Action.settle, Status.dispensed, Status.settled, "pharmacy", label="结算"),
    Transition(Action.reverse, Status.settled, Status.dispensed, "pharmacy", needs_reason=True, label="冲正"),
    *(Transition(Action.cancel, s, Status.cancelled, "physician", needs_reason=True, label="作废")
      for s in (Status.issued, Status.routed, Status.verified)),
    *(Transition(Action.expire, s, Status.expired, "system")
      for s in (Status.issued, Status.routed, Status.verified)),
)

LIVE = frozenset({Status.issued, Status.routed, Status.verified})


def sources(action: Action) -> tuple[Status, ...]:
    """The states from which `action` is allowed."""
    return tuple(t.source for t in TRANSITIONS if t.action is action)


def transition(action: Action, source: Status) -> Transition | None:
    """The transition for `action` from `source`, or None when not allowed."""
    return next((t for t in TRANSITIONS if t.action is action and t.source is source), None)


def actions_from(source: Status) -> list[Transition]:
    """What can be done next from `source` (for the pages' buttons)."""
    return [t for t in TRANSITIONS if t.source is source and t.by != "system"]


def valid_until(issued_at: datetime, valid_days: int) -> datetime:
    """End of validity: valid on the day issued, extendable to at most 3 days (处方管理办法 §18).

    The returned instant is exclusive: midnight (China time) after the last valid day.
    """
    issued_day: date = issued_at.astimezone(clock.CHINA).date()
    return clock.start_of_day(issued_day + timedelta(days=valid_days))
