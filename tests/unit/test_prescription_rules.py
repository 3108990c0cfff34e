from datetime import datetime, timezone

import pytest

from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Action, Status


@pytest.mark.parametrize("issued_utc,days,expected_local", [
    # 10:00 in Jining, valid 1 day: until midnight starting the next day.
    ("2026-03-02T02:00:00", 1, "2026-03-03T00:00:00+08:00"),
    # 23:30 in Jining is still the issue day (15:30 UTC).
    ("2026-03-02T15:30:00", 3, "2026-03-05T00:00:00+08:00"),
    # 00:30 in Jining on 3 March is 16:30 UTC on 2 March: the local day counts.
    ("2026-03-02T16:30:00", 1, "2026-03-04T00:00:00+08:00"),
])
def test_valid_until_is_local_midnight_after_last_day(issued_utc, days, expected_local):
    issued = datetime.fromisoformat(issued_utc).replace(tzinfo=timezone.utc)
    assert rules.valid_until(issued, days).isoformat() == expected_local


def test_every_transition_is_unique_per_source_and_action():
    keys = [(t.action, t.source) for t in rules.TRANSITIONS]
    assert len(keys) == len(set(keys))


def test_only_live_states_can_expire_or_be_cancelled():
    assert set(rules.sources(Action.expire)) == set(rules.LIVE)
    assert set(rules.sources(Action.cancel)) == set(rules.LIVE)
    assert rules.transition(Action.cancel, Status.dispensed) is None


def test_happy_path_is_a_chain():
    status = Status.issued
    for action in (Action.route, Action.verify, Action.review, Action.dispense, Action.settle):
        status = rules.transition(action, status).target
    assert status is Status.settled
    assert rules.transition(Action.reverse, Status.settled).target is Status.dispensed


def test_hand_back_returns_to_issued_and_terminal_states_have_no_actions():
    assert rules.transition(Action.hand_back, Status.routed).target is Status.issued
    assert rules.actions_from(Status.cancelled) == [] and rules.actions_from(Status.expired) == []
