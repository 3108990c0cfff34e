"""The published dual-channel pharmacy list: admitted pharmacies, filtered by region, nearest
to a point first when one is given. Read-only and anonymous."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from dualchannel.api import Page, decode_cursor, encode_cursor
from dualchannel.coverage.rules import nearest
from dualchannel.errors import FieldMessage, Invalid
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.geo import crs as geo_crs
from dualchannel.pharmacies import services as pharmacies
from dualchannel.pharmacies.models import PharmacyStatus

if TYPE_CHECKING:
    from dualchannel.pharmacies.models import Pharmacy

OPEN, SUSPENDED = "open", "suspended"


@dataclass(frozen=True)
class Published:
    """A pharmacy as the public sees it, its location in the caller's coordinate system."""

    code: str
    name: str
    address: str
    county_adcode: str | None
    county_name: str | None
    city_adcode: str | None
    city_name: str | None
    lat: float
    lon: float
    crs: str
    cold_chain: bool
    opening_state: str  # open | suspended
    distance_km: float | None


def _published(pharmacy: "Pharmacy", crs: str, distance_km: float | None) -> Published:
    county = geo_boundaries.current().get(pharmacy.county_adcode) if pharmacy.county_adcode else None
    lat, lon = geo_crs.wgs84_to(pharmacy.lat, pharmacy.lon, crs)
    return Published(
        code=pharmacy.code, name=pharmacy.name, address=pharmacy.address, county_adcode=pharmacy.county_adcode,
        county_name=county.name if county else None, city_adcode=pharmacy.city_adcode,
        city_name=county.city_name if county else None, lat=round(lat, 6), lon=round(lon, 6), crs=crs,
        cold_chain=pharmacy.cold_chain,
        opening_state=OPEN if pharmacy.status == PharmacyStatus.active.value else SUSPENDED,
        distance_km=distance_km)


def published_pharmacies(session: Session, *, region: str | None = None, lat: float | None = None,
                         lon: float | None = None, crs: str = "gcj02", limit: int | None = None,
                         cursor: str | None = None) -> Page:
    """Admitted dual-channel pharmacies (`pharmacies.admitted`) in `region`, by county and
    code; with a point (`lat`, `lon` in `crs`) nearest first, with the geodesic `distance_km`.
    Locations are given back in `crs`. Pages are offsets into that order (`cursor`)."""
    limit = limit or 50
    offset = max(decode_cursor(cursor) or 0, 0)
    found = pharmacies.admitted(session, region=region)
    if lat is None or lon is None:
        ordered = [(pharmacy, None) for pharmacy in found[offset:offset + limit]]
    else:
        if not geo_crs.in_china(lat, lon):
            outside = FieldMessage("point_outside_china", "Outside China.")
            raise Invalid("The point is not in China.", {"lat": [outside], "lon": [outside]},
                          code="point_outside_china")
        origin = geo_crs.to_wgs84(lat, lon, crs)
        ranked = nearest(origin, [(p.lat, p.lon) for p in found], offset + limit)
        ordered = [(found[index], km) for index, km in ranked[offset:]]
    more = len(found) > offset + limit
    return Page([_published(p, crs, km) for p, km in ordered], encode_cursor(offset + limit) if more else None)
