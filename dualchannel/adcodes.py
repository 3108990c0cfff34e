"""Administrative division codes (GB/T 2260) and region containment.

A region is a province (`370000`), a city (`370800`) or a county (`370811`); what it contains
is every code sharing its significant prefix. Municipalities (`110000`) contain their districts
(`110101`) the same way.
"""

import functools
import re

# Six ASCII digits: `\d` would also take full-width and other Unicode digits.
ADCODE = re.compile(r"[0-9]{6}")
# The whole country (a region of the coverage reports, not one a person or a pharmacy is in).
NATIONAL = "100000"


def prefix(region: str) -> str:
    """The significant prefix of a region code: `37` for a province, `3708` for a city."""
    if region.endswith("0000"):
        return region[:2]
    if region.endswith("00"):
        return region[:4]
    return region


def contains(region: str, adcode: str | None) -> bool:
    """True when `adcode` lies inside `region` (a region contains itself)."""
    return adcode is not None and adcode.startswith(prefix(region))


def city_of(adcode: str) -> str:
    """The city-level code of a county code (`370811` -> `370800`)."""
    return adcode[:4] + "00"


def is_valid(adcode: str) -> bool:
    """Six ASCII digits, not all zero (the form of a code, not whether it exists)."""
    return bool(ADCODE.fullmatch(adcode or "")) and adcode != "000000"


def is_known(adcode: str) -> bool:
    """True when `adcode` is the code of a province, city or county-level division in the
    county boundary file (GB/T 2260, as the file carries them)."""
    if not is_valid(adcode):
        return False
    from dualchannel.geo import boundaries

    return adcode in _codes_of(boundaries.current())


@functools.lru_cache(maxsize=4)
def _codes_of(found) -> frozenset[str]:
    return frozenset(code for county in found.counties
                     for code in (county.adcode, county.city_adcode, county.province_adcode))
