"""Pure rules of the dual-channel pharmacy network: admission and exit (有进有出、动态调整)."""

from dualchannel.pharmacies.models import PharmacyStatus as S

# action -> (allowed source states, target state, needs a reason)
TRANSITIONS: dict[str, tuple[frozenset[S], S, bool]] = {
    "admit": (frozenset({S.applied, S.suspended}), S.active, False),
    "suspend": (frozenset({S.active}), S.suspended, True),
    "exit": (frozenset({S.applied, S.active, S.suspended}), S.exited, True),
}

PAST = {"admit": "admitted", "suspend": "suspended", "exit": "exited"}


def leaves_county_uncovered(status: S, other_active_in_county: int) -> bool:
    """Whether taking this pharmacy out of service leaves its county with no active one."""
    return status is S.active and other_active_in_county == 0


def admission_problem(action: str, traceability: bool) -> str | None:
    """Why a pharmacy cannot be admitted to dual-channel, or None.

    Seed 003 三(二): "将……并且满足对所售药品已实现电子追溯等条件的定点零售药店纳入“双通道”管理"
    — a pharmacy whose drugs sold are not electronically traceable is not admitted. (The other
    criteria — qualification, management, reputation, layout — are the bureau's judgement.)
    """
    if action == "admit" and not traceability:
        return "its drugs sold are not electronically traceable (电子追溯)"
    return None
