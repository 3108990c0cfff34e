"""Coverage of the dual-channel pharmacy network on real county boundaries.

Bureaus decide admissions and exits by looking at it (seed 003, part 3.2). Everything is read
from the pharmacies' computed counties and the boundaries loaded once per process; nothing here
writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from sqlmodel import Session

from dualchannel.auth import Actor, Role
from dualchannel.coverage import rules
from dualchannel.coverage.rules import CountyCoverage, Readiness, Report
from dualchannel.errors import FieldMessage, Invalid, NotFound
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.geo.boundaries import NATIONAL_ADCODE, County
from dualchannel.pharmacies import services as pharmacies
from dualchannel.pharmacies.models import PharmacyStatus

if TYPE_CHECKING:  # pharmacies' rows, read as they come from its services
    from dualchannel.pharmacies.models import Pharmacy

# Statuses shown on the map: the network as it stands and as it may become (not exited ones).
LIVE_STATUSES = (PharmacyStatus.applied.value, PharmacyStatus.active.value, PharmacyStatus.suspended.value)
CANDIDATE_STATUSES = (PharmacyStatus.applied.value, PharmacyStatus.suspended.value)


def _region(actor: Actor, region: str) -> tuple[rules.Region, list[County]]:
    """The region and its counties, if the actor may report on it; NotFound otherwise.

    An admin may ask for any region and for the whole country (100000); a bureau only for its
    own region or a part of it: anything else answers as if it did not exist.
    """
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(region) or (region == NATIONAL_ADCODE and actor.role is not Role.admin):
        raise NotFound(f"No region {region}.", code="region_not_found")
    try:
        counties = geo_boundaries.current().counties_in(region)
    except KeyError:
        raise NotFound(f"No region {region} in the county boundaries.", code="region_not_found") from None
    return rules.describe_region(region, counties), counties


def coverage(session: Session, actor: Actor, region: str) -> Report:
    """Every county-level division of `region` with its active dual-channel pharmacies.

    Pharmacies are counted by the county their location falls in, with one GROUP BY query.
    """
    described, counties = _region(actor, region)
    scope = None if described.level == "national" else [c.adcode for c in counties]
    counts = pharmacies.status_counts_by_county(session, actor, scope)
    return rules.build_report(described, counties, counts)


@dataclass(frozen=True)
class CoverageMap:
    """A report with each county's boundary and the region's pharmacies (not exited ones)."""

    report: Report
    geometries: np.ndarray  # WGS-84 shapely geometries, aligned with report.counties
    pharmacies: list[Pharmacy]


def coverage_map(session: Session, actor: Actor, region: str) -> CoverageMap:
    """The coverage report of `region` with what a map needs to draw it."""
    report = coverage(session, actor, region)
    boundaries = geo_boundaries.current()
    indexes = [boundaries.index(row.county.adcode) for row in report.counties]
    scope = None if report.region.level == "national" else [row.county.adcode for row in report.counties]
    located = pharmacies.in_counties(session, actor, scope, statuses=LIVE_STATUSES)
    return CoverageMap(report=report, geometries=boundaries.geometries[indexes], pharmacies=located)


def display_map(session: Session, actor: Actor, region: str) -> tuple[Report, list[Pharmacy]]:
    """The coverage report of `region` for its display map, with the pharmacies (not exited) to
    draw as points in a city or county view (a national or province view draws none)."""
    report = coverage(session, actor, region)
    if report.region.level in ("national", "province"):
        return report, []
    scope = [row.county.adcode for row in report.counties]
    return report, pharmacies.in_counties(session, actor, scope, statuses=LIVE_STATUSES)


@dataclass(frozen=True)
class WhatIf:
    """What taking pharmacies out of service would do to a region's coverage."""

    report: Report  # as it is now
    excluded: list[Pharmacy]
    losing: list[CountyCoverage]  # covered now, uncovered after

    @property
    def uncovered_after(self) -> list[str]:
        return sorted(set(self.report.uncovered) | {row.county.adcode for row in self.losing})


def what_if(session: Session, actor: Actor, region: str, exclude: list[str]) -> WhatIf:
    """The counties of `region` that would lose coverage if the `exclude`d pharmacies left.

    Pharmacies the actor cannot see are unknown to it (422, never revealed); those outside the
    region or not active change nothing.
    """
    report = coverage(session, actor, region)
    codes = list(dict.fromkeys(exclude))
    found = pharmacies.in_counties(session, actor, codes=codes)
    missing = [c for c in codes if c not in {p.code for p in found}]
    if missing:
        raise Invalid("Unknown pharmacies in exclude.",
                      {"exclude": [FieldMessage("pharmacy_not_found", f"No pharmacy {c}.", pharmacy=c)
                                   for c in missing]},
                      code="pharmacy_unknown")
    removed = Counter(p.county_adcode for p in found if p.status == PharmacyStatus.active.value)
    return WhatIf(report=report, excluded=found, losing=rules.losing_coverage(report.counties, removed))


@dataclass(frozen=True)
class Nearby:
    """An active pharmacy near an uncovered county."""

    pharmacy: Pharmacy
    distance_km: float
    county: County | None  # where it stands


@dataclass(frozen=True)
class Suggestion:
    """Where to act for one uncovered county."""

    coverage: CountyCoverage
    point: tuple[float, float]  # WGS-84 (lat, lon) inside the county, distances are from here
    candidates: list[tuple[Pharmacy, Readiness]]  # inside it, readiest first
    nearest: list[Nearby]  # active ones across the border; only when there is no candidate


@dataclass(frozen=True)
class Suggestions:
    report: Report
    items: list[Suggestion]  # one per uncovered county, in adcode order


def suggestions(session: Session, actor: Actor, region: str, nearest: int = 3) -> Suggestions:
    """For each uncovered county of `region`: applied or suspended pharmacies inside it, readiest
    first; when there is none, its `nearest` active pharmacies across the border (geodesic km from
    the county's representative point)."""
    report = coverage(session, actor, region)
    uncovered = report.uncovered_counties
    if not uncovered:
        return Suggestions(report, [])
    inside = pharmacies.in_counties(session, actor, [row.county.adcode for row in uncovered],
                                    statuses=CANDIDATE_STATUSES)
    stocked = pharmacies.dual_channel_drugs_in_stock(session, [p.code for p in inside])
    by_county: dict[str, list[tuple[Pharmacy, Readiness]]] = {}
    for p in inside:
        readiness = Readiness(traceability=p.traceability, cold_chain=p.cold_chain,
                              drugs_in_stock=stocked.get(p.code, 0), status=p.status,
                              documented=not p.county_mismatch)
        by_county.setdefault(p.county_adcode, []).append((p, readiness))

    boundaries = geo_boundaries.current()
    geometries = boundaries.geometries[[boundaries.index(row.county.adcode) for row in uncovered]]
    points = shapely.point_on_surface(geometries)
    network: list[Pharmacy] | None = None
    spots: list[tuple[float, float]] = []
    result = []
    for row, point in zip(uncovered, points):
        here = (float(point.y), float(point.x))
        candidates = rules.rank_by_readiness(by_county.get(row.county.adcode, []), tie=lambda p: p.code)
        close: list[Nearby] = []
        if not candidates:
            if network is None:  # loaded once, and only when some county needs it
                network = pharmacies.active_network(session)
                spots = [(p.lat, p.lon) for p in network]
            close = [Nearby(network[i], km, boundaries.get(network[i].county_adcode))
                     for i, km in rules.nearest(here, spots, nearest)]
        result.append(Suggestion(coverage=row, point=here, candidates=candidates, nearest=close))
    return Suggestions(report, result)
