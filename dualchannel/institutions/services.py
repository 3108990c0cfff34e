"""Registering designated institutions and their physicians."""

import functools

import sqlalchemy as sa
from sqlmodel import Session

from dualchannel import adcodes, clock, db
from dualchannel.auth import Actor, require_registrar
from dualchannel.errors import Conflict, FieldMessage, Invalid, NotFound
from dualchannel.geo import crs as geo_crs
from dualchannel.institutions.models import Institution, Physician


def create_institution(session: Session, actor: Actor, *, code: str, name: str, adcode: str,
                       lat: float | None = None, lon: float | None = None, crs: str = "gcj02") -> Institution:
    """Register a designated medical institution (定点医疗机构), optionally with its location
    (stored as WGS-84, converted from `crs`)."""
    if not adcodes.is_valid(adcode):
        raise Invalid("adcode is not a 6-digit division code.",
                      {"adcode": [FieldMessage("adcode_unknown", "Not an adcode.")]}, code="adcode_invalid")
    if (lat is None) != (lon is None):
        raise Invalid("Give lat and lon together.",
                      {"lat" if lat is None else "lon": [FieldMessage("lat_lon_together", "Give lat and lon together.")]},
                      code="coordinates_incomplete")
    require_registrar(actor, adcode)
    if session.get(Institution, code):
        raise Conflict(f"Institution {code} already exists.", code="institution_exists")
    if lat is not None:
        lat, lon = geo_crs.to_wgs84(lat, lon, crs)
    institution = Institution(code=code, name=name, adcode=adcode, lat=lat, lon=lon, created_at=clock.now())
    session.add(institution)
    db.commit(session, f"Institution {code} already exists.", code="institution_exists")
    return institution


def get_institution(session: Session, actor: Actor, code: str) -> Institution:
    institution = session.get(Institution, code)
    if institution is None or not actor.in_region(institution.adcode):
        raise NotFound(f"No institution {code}.", code="institution_not_found")
    return institution


def create_physician(session: Session, actor: Actor, *, code: str, name: str, institution_code: str,
                     responsible: bool) -> Physician:
    """Register a physician; `responsible` marks a 医保责任医师."""
    institution = session.get(Institution, institution_code)
    if institution is None:
        raise Invalid(f"No institution {institution_code}.",
                      {"institution_code": [FieldMessage("institution_unknown", "Unknown institution.")]},
                      code="institution_unknown")
    require_registrar(actor, institution.adcode)
    if session.get(Physician, code):
        raise Conflict(f"Physician {code} already exists.", code="physician_exists")
    physician = Physician(code=code, name=name, institution_code=institution_code, responsible=responsible,
                          created_at=clock.now())
    session.add(physician)
    db.commit(session, f"Physician {code} already exists.", code="physician_exists")
    return physician


def get_physician(session: Session, code: str) -> Physician | None:
    return session.get(Physician, code)


def read_physician(session: Session, actor: Actor, code: str) -> tuple[Physician, Institution]:
    """A physician and the institution, for whoever may read the institution (`get_institution`'s
    rule: admin, a bureau of its region); NotFound otherwise."""
    physician = session.get(Physician, code)
    institution = physician and session.get(Institution, physician.institution_code)
    if institution is None or not actor.in_region(institution.adcode):
        raise NotFound(f"No physician {code}.", code="physician_not_found")
    return physician, institution


# Read by other features (they never query the institution and physician tables themselves).

def institution_by_code(session: Session, code: str | None) -> Institution | None:
    """The institution with this code, or None (no scope check)."""
    return session.get(Institution, code) if code else None


def physician_and_institution_names(session: Session, physician_code: str,
                                    institution_code: str) -> tuple[str | None, str | None]:
    """The physician's and the institution's names, in one query (None for an unknown code)."""
    row = session.execute(sa.select(Physician.name, Institution.name).select_from(Physician)
                          .outerjoin(Institution, Institution.code == institution_code)
                          .where(Physician.code == physician_code)).first()
    return (row[0], row[1]) if row else (None, None)


def institution_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of the institutions among `codes`, by code."""
    if not codes:
        return {}
    return dict(session.execute(sa.select(Institution.code, Institution.name)
                                .where(Institution.code.in_(list(codes)))).all())


@functools.cache
def institution_view() -> sa.Subquery:
    """The institution table as other features join and read it (read-only)."""
    return sa.select(Institution.code, Institution.name, Institution.adcode).subquery("institution_view")


@functools.cache
def physician_view() -> sa.Subquery:
    """The physician table as other features join and read it (read-only)."""
    return sa.select(Physician.code, Physician.name, Physician.institution_code,
                     Physician.responsible).subquery("physician_view")


def physician_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of the physicians among `codes`, by code."""
    if not codes:
        return {}
    return dict(session.execute(sa.select(Physician.code, Physician.name)
                                .where(Physician.code.in_(list(codes)))).all())
