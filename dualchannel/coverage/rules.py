"""Pure rules of the pharmacy network's county coverage.

Seed 003, part 3.2: at least one dual-channel pharmacy in every county-level division
(县、市、区). A county is covered when it has an active dual-channel pharmacy, counted by the
county its location falls in (computed), never by the county it declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from geopy.distance import geodesic

from dualchannel.geo.boundaries import NATIONAL_ADCODE, County

NATIONAL_NAME = "全国"

T = TypeVar("T")


@dataclass(frozen=True)
class Region:
    """The region a report is about."""

    adcode: str
    level: str  # national, province, city or county
    name: str


def describe_region(adcode: str, counties: Sequence[County]) -> Region:
    """Name and level of a region from the counties it holds.

    A code that is both a province and a city (a municipality, 北京 110000) is a province; one
    that is both a city and a county (a city without counties, 东莞 441900) is a city.
    """
    if adcode == NATIONAL_ADCODE:
        return Region(adcode, "national", NATIONAL_NAME)
    first = counties[0]
    if first.province_adcode == adcode:
        return Region(adcode, "province", first.province_name)
    if first.city_adcode == adcode:
        return Region(adcode, "city", first.city_name)
    return Region(adcode, "county", first.name)


@dataclass(frozen=True)
class CountyCoverage:
    """One county-level division and its dual-channel pharmacies by status."""

    county: County
    active: int = 0
    applied: int = 0
    suspended: int = 0

    @property
    def covered(self) -> bool:
        return self.active > 0


@dataclass(frozen=True)
class Tally:
    """Coverage of a city or province inside a report (a roll-up)."""

    adcode: str
    name: str
    total: int
    covered: int
    uncovered: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Coverage of every county-level division of a region."""

    region: Region
    counties: tuple[CountyCoverage, ...]
    cities: tuple[Tally, ...] = ()
    provinces: tuple[Tally, ...] = ()

    @property
    def total(self) -> int:
        return len(self.counties)

    @property
    def covered(self) -> int:
        return sum(1 for row in self.counties if row.covered)

    @property
    def uncovered(self) -> list[str]:
        return [row.county.adcode for row in self.counties if not row.covered]

    @property
    def uncovered_counties(self) -> list[CountyCoverage]:
        return [row for row in self.counties if not row.covered]


def roll_up(rows: Iterable[CountyCoverage], key: Callable[[County], tuple[str, str]]) -> tuple[Tally, ...]:
    """Totals per group (`key` gives a county's group adcode and name), in adcode order."""
    groups: dict[tuple[str, str], list[CountyCoverage]] = {}
    for row in rows:
        groups.setdefault(key(row.county), []).append(row)
    return tuple(
        Tally(adcode=adcode, name=name, total=len(members), covered=sum(1 for m in members if m.covered),
              uncovered=tuple(m.county.adcode for m in members if not m.covered))
        for (adcode, name), members in sorted(groups.items())
    )


def build_report(region: Region, counties: Iterable[County], counts: Mapping[str, Mapping[str, int]]) -> Report:
    """The coverage report of `region` from its counties and pharmacy counts by county and status.

    Provinces and the national report get each city's roll-up; the national one each province's too.
    """
    rows = tuple(
        CountyCoverage(county=c, active=counts.get(c.adcode, {}).get("active", 0),
                       applied=counts.get(c.adcode, {}).get("applied", 0),
                       suspended=counts.get(c.adcode, {}).get("suspended", 0))
        for c in counties
    )
    cities = provinces = ()
    if region.level in ("national", "province"):
        cities = roll_up(rows, lambda c: (c.city_adcode, c.city_name))
    if region.level == "national":
        provinces = roll_up(rows, lambda c: (c.province_adcode, c.province_name))
    return Report(region=region, counties=rows, cities=cities, provinces=provinces)


def losing_coverage(rows: Iterable[CountyCoverage], removed: Mapping[str, int]) -> list[CountyCoverage]:
    """Covered counties left with no active pharmacy once `removed[county]` active ones go."""
    return [row for row in rows if row.covered and row.active - removed.get(row.county.adcode, 0) <= 0]


# Lower is readier. An applicant has no open problem; a suspended pharmacy was admitted once but
# must first clear what it was suspended for.
STATUS_READINESS = {"applied": 0, "suspended": 1}


@dataclass(frozen=True)
class Readiness:
    """How ready a pharmacy inside an uncovered county is to be admitted.

    Compared in this order: electronic traceability (a selection criterion of seed 003 3.2),
    cold chain (needed for biologics), how many dual-channel drugs it stocks, its status, and
    whether it is documented where it stands (declared county = computed county).
    """

    traceability: bool
    cold_chain: bool
    drugs_in_stock: int
    status: str
    documented: bool

    def sort_key(self) -> tuple:
        return (not self.traceability, not self.cold_chain, -self.drugs_in_stock,
                STATUS_READINESS.get(self.status, len(STATUS_READINESS)), not self.documented)


def rank_by_readiness(candidates: Iterable[tuple[T, Readiness]], tie: Callable[[T], str]) -> list[tuple[T, Readiness]]:
    """Candidates readiest first; `tie` (e.g. the pharmacy code) orders equals."""
    return sorted(candidates, key=lambda pair: (pair[1].sort_key(), tie(pair[0])))


_EARTH_MEAN_RADIUS_KM = 6371.0088
# Haversine on the mean sphere is within 0.6 % of the geodesic distance on WGS-84.
_SPHERE_ERROR = 0.006


def haversine_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances (km) from one point to many, vectorised."""
    phi1, phi2 = np.radians(lat), np.radians(lats)
    dphi, dlambda = phi2 - phi1, np.radians(lons - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * _EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest(origin: tuple[float, float], points: Sequence[tuple[float, float]], k: int) -> list[tuple[int, float]]:
    """The `k` points nearest to `origin` (WGS-84 lat, lon): `(index, geodesic km)`, nearest first.

    A vectorised great-circle pass shortlists the points that can be in the top `k` (any point
    whose spherical distance exceeds the k-th one by more than the sphere's error cannot be);
    geopy's geodesic distance on the WGS-84 ellipsoid then orders the shortlist exactly.
    """
    if k <= 0 or not points:
        return []
    coords = np.asarray(points, dtype=np.float64)
    approx = haversine_km(origin[0], origin[1], coords[:, 0], coords[:, 1])
    kth = np.partition(approx, min(k, len(approx)) - 1)[min(k, len(approx)) - 1]
    bound = kth * (1 + _SPHERE_ERROR) / (1 - _SPHERE_ERROR) + 1e-6
    shortlist = np.flatnonzero(approx <= bound)
    exact = sorted(((geodesic(origin, (coords[i, 0], coords[i, 1])).km, int(i)) for i in shortlist))
    return [(i, round(km, 2)) for km, i in exact[:k]]
