import pytest
from cryptography.fernet import Fernet

from dualchannel import identity


@pytest.mark.parametrize("number", [
    "11010519491231002X",  # the GB 11643 example
    "11010519491231002x",  # lower-case x is accepted and normalised
    "440524188001010014",  # born 1880
])
def test_valid_numbers(number):
    assert identity.normalize(number) == number.upper()


@pytest.mark.parametrize("number,why", [
    ("11010519491231002", "18"),
    ("110105194912310021", "check digit"),
    ("110105194913310021", "birth date"),
    ("1101051949123100AX", "digits"),
    ("110105219912310028", "out of range"),
])
def test_invalid_numbers(number, why):
    with pytest.raises(identity.InvalidIdNumber, match=why):
        identity.normalize(number)


def test_area_code_unknown_in_birth_year_is_not_refused():
    # 370811 (任城区) was created in 2013; people born in 1965 there carry it on new cards.
    from stdnum.cn import ric

    body = "37081119650304012"
    number = body + ric.calc_check_digit(body + "0")
    assert not ric.is_valid(number)  # python-stdnum's full validation refuses it
    assert identity.normalize(number) == number


def test_mask_shows_first_six_and_last_four():
    assert identity.mask("11010519491231002X") == "110105********002X"


def test_vault_hash_is_keyed_and_encryption_round_trips():
    a = identity.Vault("key-a", Fernet.generate_key().decode())
    b = identity.Vault("key-b", Fernet.generate_key().decode())
    number = "11010519491231002X"
    assert a.lookup_hash(number) != b.lookup_hash(number)
    assert a.lookup_hash(number) == a.lookup_hash(number)
    token = a.encrypt(number)
    assert number not in token and a.decrypt(token) == number
