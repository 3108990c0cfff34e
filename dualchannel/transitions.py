"""The one shape of every state machine's table: each action is one `Move`, from any of its
sources to one target. Prescriptions, settlements, pharmacies, supply problems and demand
declarations declare theirs with it, and their services change state with a conditional UPDATE
on the move's sources (`db.change_if`; a prescription's `_record`)."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


@dataclass(frozen=True)
class Move:
    """One allowed state change: `action` takes a record from any of `sources` to `target`."""

    action: str
    sources: frozenset[StrEnum]
    target: StrEnum
    needs_reason: bool = False
    # Who may make it, where a table says (prescriptions: "physician" (its own), "pharmacy"
    # (the routed one), "pharmacist" (one of the routed pharmacy's), "system").
    by: str = ""
    label: str = ""  # zh-CN, for the pages' buttons
    # The reason codes it takes (one is required when any are listed).
    reasons: tuple[str, ...] = ()

    def allows(self, source: str) -> bool:
        return source in self.sources


def table(*moves: Move) -> Mapping[str, Move]:
    """A state machine's moves by action, read-only; an action appears once."""
    by_action = {move.action: move for move in moves}
    if len(by_action) != len(moves):
        raise ValueError("an action appears twice in a transition table")
    return MappingProxyType(by_action)
