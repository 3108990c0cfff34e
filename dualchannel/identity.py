"""Resident ID numbers (GB 11643): validation, masking, keyed lookup hash and encryption; and
the normal form of a person's name, which a search must give along with the number.

Validation uses python-stdnum's checksum and birth-date checks, but not its full `validate`:
that also refuses an ID whose area code did not exist in the birth year, and such IDs are real
(numbers are assigned years after birth, and divisions are renamed). See DOMAIN.md.
"""

import hashlib
import hmac
import re
import unicodedata
from datetime import date

from cryptography.fernet import Fernet
from flask import current_app
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from dualchannel import clock

_EXTENSION = "dualchannel.identity"


class InvalidIdNumber(ValueError):
    """The text is not a valid 18-character resident ID number; `code` says why (a field code
    of `problems.FIELDS`)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def normalize(number: str) -> str:
    """Validate and return the canonical form (upper-case X), or raise InvalidIdNumber."""
    if not isinstance(number, str):
        raise InvalidIdNumber("id_number_not_text", "must be a string")
    compact = ric.compact(number)
    if len(compact) != 18:
        raise InvalidIdNumber("id_number_length", "must be 18 characters")
    if not compact[:17].isdigit() or not (compact[17].isdigit() or compact[17] == "X"):
        raise InvalidIdNumber("id_number_characters", "must be 17 digits and a check digit or X")
    if compact[-1] != ric.calc_check_digit(compact):
        raise InvalidIdNumber("id_number_check_digit", "check digit does not match (ISO 7064 MOD 11-2)")
    try:
        born = ric.get_birth_date(compact)
    except ValidationError:
        raise InvalidIdNumber("id_number_birth_date", "birth date is not a real date")
    if not date(1880, 1, 1) <= born <= clock.today():
        raise InvalidIdNumber("id_number_birth_date_range", "birth date is out of range")
    return compact


# Separators typed inside the names of many ethnic minorities (阿依古丽·买买提): the standard
# middle dot U+00B7, and what keyboards and input methods give instead.
_NAME_DOTS = str.maketrans({c: "\u00b7" for c in "\u30fb\u2022\u2027\u2219\u22c5\u00b7."})


def normalize_name(name: str) -> str:
    """A name as compared and stored: NFKC (full-width letters and compatibility ideographs
    become their usual forms), invisible format characters (zero-width spaces, direction marks)
    removed, the middle-dot variants made one, whitespace collapsed and stripped. Raises
    ValueError when nothing is left."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf").translate(_NAME_DOTS)
    text = " ".join(text.split())
    if not text:
        raise ValueError("must not be blank")
    return text


def same_name(stored: str, given: str) -> bool:
    """Whether two normalised names are the same, in time that does not depend on where they
    differ."""
    return hmac.compare_digest(stored.encode(), given.encode())


def mask(number: str) -> str:
    """First 6 and last 4 visible: `370811********123X`."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


# 18 characters not touching other digits (a 20-digit trace code is not an ID number).
_ID_RUN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def redact(text: str) -> str:
    """`text` with every valid ID number in it masked: for anything that may reach a log."""

    def masked(match: re.Match) -> str:
        try:
            return mask(normalize(match.group()))
        except InvalidIdNumber:
            return match.group()

    return _ID_RUN.sub(masked, text)


class Vault:
    """Keyed hashing (lookup) and encryption (recovery) of ID numbers; keys from configuration."""

    def __init__(self, hash_key: str, encryption_key: str):
        self._hash_key = hash_key.encode()
        self._fernet = Fernet(encryption_key.encode() if isinstance(encryption_key, str) else encryption_key)

    def lookup_hash(self, number: str) -> str:
        return hmac.new(self._hash_key, number.encode(), hashlib.sha256).hexdigest()

    def encrypt(self, number: str) -> str:
        return self._fernet.encrypt(number.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def vault() -> Vault:
    """The app's vault, built once from ID_HASH_KEY and ID_ENCRYPTION_KEY."""
    if _EXTENSION not in current_app.extensions:
        current_app.extensions[_EXTENSION] = Vault(current_app.config["ID_HASH_KEY"],
                                                   current_app.config["ID_ENCRYPTION_KEY"])
    return current_app.extensions[_EXTENSION]
