from datetime import datetime, timedelta, timezone

import pytest

from hypothesis import given
from hypothesis import strategies as st

from dualchannel.packs import rules
from dualchannel.packs.rules import canonical_code
from dualchannel import identity

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


@pytest.mark.parametrize("code,canonical", [
    ("81234560000000000001", "81234560000000000001"),
    ("８１２３４５６００００００００００００１", "81234560000000000001"),  # full-width
    ("٨١٢٣٤٥٦٠٠٠٠٠٠٠٠٠٠٠٠١", "81234560000000000001"),  # Arabic-Indic
    ("८१२३४५६००००००००००००१", "81234560000000000001"),  # Devanagari
    ("8１2٣4५60000000000001", "81234560000000000001"),  # mixed scripts: still one pack
    ("8123456000000000001", None),  # 19 digits
    ("812345600000000000012", None),  # 21
    ("81234560000000000001\n", None),  # `$` alone would let a trailing newline through
    ("8123456000000000001\n", None),  # 19 digits and a newline: 20 characters, still no code
    (" 8123456000000000001", None),
    ("8123456000000000000A", None),
    ("812345600000000000²1", None),  # a superscript is a digit but no decimal digit
    ("", None),
    (None, None),
])
def test_canonical_code(code, canonical):
    assert canonical_code(code) == canonical


DIGITS = [chr(zero + value) for zero in (0x30, 0xFF10, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0x1040) for value in range(10)]


@given(st.lists(st.integers(0, 9), min_size=20, max_size=20), st.lists(st.sampled_from(range(8)), min_size=20,
                                                                           max_size=20))
def test_every_spelling_of_a_code_is_one_code(values, scripts):
    """However a code's digits are written, its canonical form is the ASCII code: one pack."""
    spelled = "".join(DIGITS[script * 10 + value] for value, script in zip(values, scripts))
    assert canonical_code(spelled) == "".join(map(str, values))


@given(st.text(min_size=20, max_size=20))
def test_a_code_is_twenty_ascii_digits_or_nothing(text):
    code = canonical_code(text)
    assert code is None or (len(code) == 20 and code.isascii() and code.isdigit())


def test_allocate_whole_packs_one_code_per_unit():
    assert rules.allocate("SAC", 2, ["a", "b"], None, {}) == [rules.Draw("a", "SAC", 1), rules.Draw("b", "SAC", 1)]
    with pytest.raises(ValueError, match="one trace code per unit"):
        rules.allocate("SAC", 2, ["a"], None, {})


def test_allocate_split_packs_draws_what_each_pack_has_left():
    # 14 tablets from a fresh box of 28; then 20 from the rest of it (14 left) and a new box.
    assert rules.allocate("T", 14, ["a"], 28, {}) == [rules.Draw("a", "T", 14)]
    assert rules.allocate("T", 20, ["a", "b"], 28, {"a": 14}) == [rules.Draw("a", "T", 14), rules.Draw("b", "T", 6)]
    with pytest.raises(ValueError, match="covered before"):
        rules.allocate("T", 10, ["a", "b"], 28, {})
    with pytest.raises(ValueError, match="hold 14 of the 20"):
        rules.allocate("T", 20, ["a"], 28, {"a": 14})


def test_redact_masks_only_valid_id_numbers():
    text = "GET /api/v1/trace/11010519491231002X then 110105194912310021 and 81234560000000000001"
    assert identity.redact(text) == ("GET /api/v1/trace/110105********002X then 110105194912310021 "
                                     "and 81234560000000000001")
    assert identity.redact("id=11010519491231002x;") == "id=110105********002X;"
