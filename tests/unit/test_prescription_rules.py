from datetime import datetime, timezone

import pytest

from dualchannel.prescriptions import rules
from dualchannel.prescriptions.rules import Action, Status
from dualchannel.transitions import Move, table


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


def test_every_action_is_one_move_to_one_target():
    assert set(rules.TRANSITIONS) == set(Action)
    assert all(move.action == action and move.sources for action, move in rules.TRANSITIONS.items())
    with pytest.raises(ValueError):
        table(Move("a", frozenset({Status.issued}), Status.routed), Move("a", frozenset({Status.routed}), Status.issued))


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


def test_every_reason_code_is_defined_and_used_and_one_action_takes_one_list():
    used = {code for t in rules.TRANSITIONS.values() for code in t.reasons}
    assert used == set(rules.REASONS)
    assert {r["code"]: r["actions"] for r in rules.reason_codes()}["out_of_stock"] == ["not_dispense", "return"]


def test_check_reason():
    assert rules.check_reason(Action.cancel, "patient_deceased", None) == {}
    assert "reason_code" in rules.check_reason(Action.cancel, None, "自由文本")
    assert "reason_code" in rules.check_reason(Action.cancel, "patient_declined", None)  # another action's
    assert "note" in rules.check_reason(Action.hand_back, "other", None)
    assert rules.check_reason(Action.hand_back, "other", "设备检修") == {}


def test_not_dispensed_is_final_and_only_from_the_pharmacy_counter():
    assert set(rules.sources(Action.not_dispense)) == {Status.routed, Status.verified, Status.reviewed}
    assert rules.TRANSITIONS[Action.not_dispense].by == "pharmacy"
    assert rules.actions_from(Status.not_dispensed) == [] and Status.not_dispensed in rules.FINAL


def test_every_phase_has_a_stage():
    phases = {s.value for s in Status} | {rules.RETURNED}
    assert set(rules.STAGES) == phases
    assert rules.phase("issued", True) == rules.RETURNED and rules.phase("routed", True) == "routed"
    for status in rules.FINAL:
        assert rules.STAGES[status.value].holder is None and not rules.STAGES[status.value].timed
    for status in rules.LIVE:
        assert rules.STAGES[status.value].timed
