"""Describe the calling account: its role, and the physician, pharmacy or region it acts for.

The pages ask this once at sign-in to land each role on its page and to fill their headers
(the physician's institution and home area, the pharmacy's name, the bureau's region).
"""

from dataclasses import dataclass, field

import shapely
from sqlmodel import Session

from dualchannel import adcodes
from dualchannel.auth import Actor, Role
from dualchannel.geo import boundaries as geo_boundaries
from dualchannel.geo.boundaries import NATIONAL_ADCODE, Boundaries
from dualchannel.institutions import services as institutions
from dualchannel.pharmacies import services as pharmacies


@dataclass
class Place:
    """A division with a point inside it (WGS-84) to measure distances from."""

    adcode: str
    name: str
    lat: float | None = None
    lon: float | None = None


@dataclass
class Account:
    role: str
    subject: str | None
    name: str | None
    display_name: str
    organisation: dict | None = None
    responsible: bool | None = None
    region: Place | None = None
    home: Place | None = None
    areas: list[Place] = field(default_factory=list)
    pharmacist: dict | None = None


def region_name(shapes: Boundaries, adcode: str | None) -> str | None:
    """The Chinese name of a county, city or province code, or None when the data lacks it."""
    if not adcode:
        return None
    if adcode == NATIONAL_ADCODE:
        return "全国"
    county = shapes.get(adcode)
    if county is not None:
        return county.name
    try:
        first = shapes.counties_in(adcode)[0]
    except (KeyError, IndexError):
        return None
    return first.province_name if adcode == first.province_adcode else first.city_name


def place(shapes: Boundaries, adcode: str | None) -> Place | None:
    """A county (or a whole city or province) with a point guaranteed to lie inside it."""
    name = region_name(shapes, adcode)
    if name is None:
        return None
    if shapes.get(adcode) is not None:
        area = shapes.geometry(adcode)
    else:
        area = shapely.union_all([shapes.geometry(c.adcode) for c in shapes.counties_in(adcode)])
    point = area.representative_point()
    return Place(adcode=adcode, name=name, lat=round(point.y, 6), lon=round(point.x, 6))


def _city(adcode: str) -> str:
    return adcode if adcode.endswith("00") else adcodes.city_of(adcode)


def areas(shapes: Boundaries, region: str) -> list[Place]:
    """The county-level divisions of a region, each with a point inside it (none for the
    whole country: two thousand places are no list to pick from)."""
    if region == NATIONAL_ADCODE:
        return []
    try:
        counties = shapes.counties_in(region)
    except KeyError:
        return []
    return [p for p in (place(shapes, c.adcode) for c in counties) if p]


def describe(session: Session, actor: Actor) -> Account:
    """What the pages need to know about the caller; never fails for a token whose subject
    is not (or no longer) registered: it is then described by its role alone."""
    shapes = geo_boundaries.current()
    account = Account(role=actor.role.value, subject=actor.subject, name=actor.name,
                      display_name=actor.name or actor.subject or actor.role.value)
    if actor.role is Role.admin:
        account.display_name = "系统管理员"
    elif actor.role is Role.bureau:
        region = Place(adcode=actor.subject, name=region_name(shapes, actor.subject) or actor.subject)
        account.region = region
        account.display_name = f"{region.name}医疗保障局"
        account.areas = areas(shapes, actor.subject)
    elif actor.role is Role.physician:
        physician = institutions.get_physician(session, actor.subject)
        institution = institutions.institution_by_code(session, physician.institution_code) if physician else None
        if physician is not None:
            account.display_name = physician.name
            account.responsible = physician.responsible
        if institution is not None:
            account.organisation = {"code": institution.code, "name": institution.name,
                                    "adcode": institution.adcode}
            account.home = place(shapes, institution.adcode)
            if institution.lat is not None and account.home is not None:
                # Distances from the hospital itself, not its county's centre.
                account.home = Place(adcode=institution.adcode, name=institution.name,
                                     lat=institution.lat, lon=institution.lon)
            city = _city(institution.adcode)
            account.region = Place(adcode=city, name=region_name(shapes, city) or city)
            account.areas = areas(shapes, city)
    elif actor.role is Role.pharmacy:
        pharmacy = pharmacies.pharmacy_by_code(session, actor.subject)
        if pharmacy is not None:
            account.display_name = pharmacy.name
            account.organisation = {"code": pharmacy.code, "name": pharmacy.name,
                                    "adcode": pharmacy.county_adcode, "status": pharmacy.status}
            account.home = Place(adcode=pharmacy.county_adcode,
                                 name=region_name(shapes, pharmacy.county_adcode) or pharmacy.county_adcode,
                                 lat=pharmacy.lat, lon=pharmacy.lon)
        pharmacist = pharmacies.pharmacist_by_id(session, actor.pharmacist_id)
        if pharmacist is not None:
            account.pharmacist = {"id": pharmacist.id, "licence_number": pharmacist.licence_number,
                                  "name": pharmacist.name}
    elif actor.role is Role.institution:
        # Procurement concerns hospitals and, for some products, pharmacies: either may be the subject.
        institution = (institutions.institution_by_code(session, actor.subject)
                       or pharmacies.pharmacy_by_code(session, actor.subject))
        if institution is not None:
            adcode = getattr(institution, "county_adcode", None) or institution.adcode
            account.display_name = institution.name
            account.organisation = {"code": institution.code, "name": institution.name, "adcode": adcode}
            account.home = place(shapes, adcode)
    return account
