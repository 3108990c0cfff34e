from datetime import datetime, timedelta, timezone

import pytest

from dualchannel.patients import identity
from dualchannel.prescriptions.rules import is_trace_code
from dualchannel.traceability import rules

DISPENSED = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("offset,allowed", [
    (timedelta(0), True),
    (timedelta(days=6, hours=23, minutes=59), True),
    (timedelta(days=7), False),
    (timedelta(days=30), False),
    (timedelta(seconds=-1), False),  # before it was dispensed: a clock gone wrong, not an undo
])
def test_undo_window(offset, allowed):
    assert rules.may_undo(DISPENSED, DISPENSED + offset, 7) is allowed
    assert rules.undo_until(DISPENSED, 7) == DISPENSED + timedelta(days=7)


@pytest.mark.parametrize("code,valid", [
    ("81234560000000000001", True),
    ("8123456000000000001", False),  # 19 digits
    ("812345600000000000012", False),  # 21
    ("81234560000000000001\n", False),  # `$` alone would let a trailing newline through
    ("8123456000000000000A", False),
    ("", False),
    (None, False),
])
def test_default_trace_code_pattern(code, valid):
    assert is_trace_code(code, r"^\d{20}$") is valid


def test_custom_trace_code_pattern():
    assert is_trace_code("CN0000000042", r"[A-Z]{2}\d{10}")
    assert not is_trace_code("81234560000000000001", r"[A-Z]{2}\d{10}")


def test_redact_masks_only_valid_id_numbers():
    text = "GET /api/v1/trace/11010519491231002X then 110105194912310021 and 81234560000000000001"
    assert identity.redact(text) == ("GET /api/v1/trace/110105********002X then 110105194912310021 "
                                     "and 81234560000000000001")
    assert identity.redact("id=11010519491231002x;") == "id=110105********002X;"
