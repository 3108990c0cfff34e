"""Pure rules of traceability codes and of drawing units from packs. No database here.

A drug traceability code (药品追溯码) is 20 digits; its first 7 are the product's identification
code (药品标识码, product and package). One code is one physical pack.
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from dualchannel.errors import FieldMessage

CODE_LENGTH = 20
PREFIX_LENGTH = 7


def canonical_code(text: object) -> str | None:
    """The one spelling of a traceability code, 20 ASCII digits; None when `text` is not a code.

    Every Unicode decimal digit (full-width ０-９, Arabic-Indic, Devanagari, ...) is read as the
    ASCII digit it stands for, so a pack typed in another script is the same pack, never a new
    one. Anything else (a letter, a space, a trailing newline, a superscript) makes it no code.
    """
    if not isinstance(text, str) or len(text) != CODE_LENGTH:
        return None
    digits = []
    for character in text:
        value = unicodedata.decimal(character, None)
        if value is None:
            return None
        digits.append(chr(0x30 + value))
    return "".join(digits)


def is_prefix(text: object) -> bool:
    """Whether `text` is a 7-digit product identification code (ASCII digits)."""
    return isinstance(text, str) and len(text) == PREFIX_LENGTH and text.isascii() and text.isdigit()


def product_prefix(code: str) -> str:
    """The product identification code (药品标识码) a canonical code begins with."""
    return code[:PREFIX_LENGTH]


@dataclass(frozen=True)
class Draw:
    """Units of one pack handed out by one dispensing."""

    trace_code: str
    drug_code: str
    units: int


def allocate(drug_code: str, quantity: int, codes: list[str], units_per_pack: int | None,
             units_left: dict[str, int]) -> list[Draw]:
    """Which units of which packs make up `quantity` units of a drug; ValueError when they can't
    (its argument the field message, with its code).

    A drug dispensed whole (`units_per_pack` None) takes one code per unit. A drug dispensed in
    parts (拆零) draws, in the order scanned, from each pack what it has left (`units_left` for a
    pack this pharmacy already opened, else a whole pack) until `quantity` is reached; a code
    that would give nothing, or codes that fall short, are refused.
    """
    if units_per_pack is None:
        if len(codes) != quantity:
            raise ValueError(FieldMessage("trace_codes_one_per_unit",
                                          f"{quantity} units prescribed: one trace code per unit, {len(codes)} given.",
                                          quantity=quantity, given=len(codes)))
        return [Draw(code, drug_code, 1) for code in codes]
    draws, needed = [], quantity
    for code in codes:
        left = units_left.get(code, units_per_pack)
        if needed == 0:
            raise ValueError(FieldMessage("trace_code_not_needed", f"{quantity} units are covered before trace code "
                                                                   f"{code}; scan only the packs used.",
                                          quantity=quantity, trace_code=code))
        taken = min(left, needed)
        draws.append(Draw(code, drug_code, taken))
        needed -= taken
    if needed:
        raise ValueError(FieldMessage("packs_fall_short",
                                      f"The packs scanned hold {quantity - needed} of the {quantity} units prescribed.",
                                      held=quantity - needed, quantity=quantity))
    return draws


def undo_until(dispensed_at: datetime, days: int) -> datetime:
    """The instant after which a dispensed pack can no longer be undone (exclusive)."""
    return dispensed_at + timedelta(days=days)


def may_undo(dispensed_at: datetime, now: datetime, days: int) -> bool:
    """Whether a pack dispensed at `dispensed_at` may still be undone at `now`."""
    return dispensed_at <= now < undo_until(dispensed_at, days)
