"""Registering designated institutions and their physicians."""

from sqlmodel import Session

from dualchannel import adcodes, clock, db
from dualchannel.auth import Actor, require_registrar
from dualchannel.errors import Conflict, Invalid, NotFound
from dualchannel.geo import crs as geo_crs
from dualchannel.institutions.models import Institution, Physician


def create_institution(session: Session, actor: Actor, *, code: str, name: str, adcode: str,
                       lat: float | None = None, lon: float | None = None, crs: str = "gcj02") -> Institution:
    """Register a designated medical institution (定点医疗机构), optionally with its location
    (stored as WGS-84, converted from `crs`)."""
    if not adcodes.is_valid(adcode):
        raise Invalid("adcode is not a 6-digit division code.", {"adcode": ["Not an adcode."]}, code="adcode_invalid")
    if (lat is None) != (lon is None):
        raise Invalid("Give lat and lon together.", {"lat" if lat is None else "lon": ["Give lat and lon together."]},
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
        raise Invalid(f"No institution {institution_code}.", {"institution_code": ["Unknown institution."]},
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
