"""Pure rules of the dual-channel pharmacy network: admission and exit (有进有出、动态调整)."""

from collections.abc import Mapping

from dualchannel.pharmacies.models import PharmacyStatus as S
from dualchannel.transitions import Move, table

TRANSITIONS: Mapping[str, Move] = table(
    Move("admit", frozenset({S.applied, S.suspended}), S.active),
    Move("suspend", frozenset({S.active}), S.suspended, needs_reason=True),
    Move("exit", frozenset({S.applied, S.active, S.suspended}), S.exited, needs_reason=True),
)

PAST = {"admit": "admitted", "suspend": "suspended", "exit": "exited"}


def leaves_county_uncovered(status: S, other_active_in_county: int) -> bool:
    """Whether taking this pharmacy out of service leaves its county with no active one."""
    return status is S.active and other_active_in_county == 0
