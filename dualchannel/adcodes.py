"""Administrative division codes (GB/T 2260) and region containment.

A region is a province (`370000`), a city (`370800`) or a county (`370811`); what it contains
is every code sharing its significant prefix. Municipalities (`110000`) contain their districts
(`110101`) the same way.
"""

import re

ADCODE = re.compile(r"^\d{6}$")


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
    return bool(ADCODE.match(adcode or "")) and adcode != "000000"
