"""Who may see and do what in procurement, shared by every use case: the institutions taking
part (a hospital or a pharmacy, `InstitutionRef`), the one visibility rule of institution-owned
records (`scope`), the region a report covers (`view_region`), the institution a write is for
(`acting_institution`), and the decimal settings (`setting`).

- batches and products: an admin, or a bureau for a batch of its own region (a national batch
  has no region: admin only); everyone reads them (they are published results);
- agreed volumes: a bureau inside its region (or an admin) sets or computes them;
- purchases, declarations, supply problems: the institution itself (role `institution`, or a
  pharmacy with role `pharmacy`), or a bureau of its region, or an admin; a bureau decides on
  declarations; institutions see only their own records.
"""

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session

from dualchannel import adcodes
from dualchannel.auth import Actor, Role
from dualchannel.errors import FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.institutions import services as institutions
from dualchannel.pharmacies import services as pharmacies
from dualchannel.procurement.models import Line


READERS = (Role.admin, Role.bureau, Role.institution, Role.pharmacy)
INSTITUTION_ROLES = (Role.institution, Role.pharmacy)


def setting(name: str) -> Decimal:
    """A decimal procurement setting from the app configuration (`PROCUREMENT_<name>`)."""
    return Decimal(str(current_app.config[f"PROCUREMENT_{name}"]))


@dataclass(frozen=True)
class InstitutionRef:
    """A hospital (定点医疗机构) or a pharmacy (定点零售药店) taking part in procurement."""

    code: str
    name: str
    kind: str  # hospital | pharmacy
    region: str  # county adcode


def institution_of(session: Session, code: str) -> InstitutionRef | None:
    """The institution or pharmacy with `code`; a pharmacy's region is its computed county."""
    hospital = institutions.institution_by_code(session, code)
    if hospital is not None:
        return InstitutionRef(hospital.code, hospital.name, "hospital", hospital.adcode)
    pharmacy = pharmacies.pharmacy_by_code(session, code)
    if pharmacy is not None:
        return InstitutionRef(pharmacy.code, pharmacy.name, "pharmacy", pharmacy.county_adcode or pharmacy.adcode)
    return None


def institution_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of institutions and pharmacies by code."""
    return {**institutions.institution_names(session, codes), **pharmacies.names(session, codes)}


def within(region_column, region: str):
    """`region_column` (a 6-digit adcode) lies in `region`, as a range an index can serve
    (``LIKE '3708%'`` cannot, outside the C collation)."""
    prefix = adcodes.prefix(region)
    return region_column.between(prefix.ljust(6, "0"), prefix.ljust(6, "9"))


def region_condition(column, region: str | None):
    """`column` (an adcode) within `region`; everything when `region` is None."""
    return sa.true() if region is None else within(column, region)


def scope(actor: Actor, region_column, institution_column):
    """The one visibility rule of every institution-owned procurement record: an admin sees
    all, a bureau its region, an institution or pharmacy its own records, nobody else any."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        return within(region_column, actor.subject)
    if actor.role in INSTITUTION_ROLES:
        return institution_column == actor.subject
    return sa.false()


def visible_lines(actor: Actor):
    """The lines (agreed volumes, progress) an actor may read."""
    return scope(actor, Line.region, Line.institution_code)


def view_region(actor: Actor, region: str | None) -> str | None:
    """The region a report covers: a bureau's own region or a part of it (another region is
    404), anything for an admin (None: everywhere), not applicable to an institution."""
    actor.require(*READERS)
    if actor.role is Role.bureau:
        region = region or actor.subject
        if not actor.in_region(region):
            raise NotFound(f"No region {region} in your scope.", code="region_not_found")
        return region
    if actor.role is Role.admin:
        return region
    return None


def acting_institution(session: Session, actor: Actor, institution_code: str | None, verb: str) -> InstitutionRef:
    """The institution a write is for: an institution acts for itself; a bureau of its region
    or an admin may act for one."""
    if actor.role in INSTITUTION_ROLES:
        if institution_code not in (None, actor.subject):
            raise Forbidden(f"An institution {verb} only for itself.", code="institution_own_only")
        institution_code = actor.subject
    else:
        actor.require(Role.admin, Role.bureau, *INSTITUTION_ROLES)
        if not institution_code:
            raise Invalid("Which institution?",
                          {"institution_code": [FieldMessage("required", "Missing.")]},
                          code="institution_required")
    ref = institution_of(session, institution_code)
    if ref is None:
        raise Invalid(f"No institution or pharmacy {institution_code}.",
                      {"institution_code": [FieldMessage("institution_unknown", "Unknown institution.")]},
                      code="institution_unknown")
    if actor.role is Role.bureau and not actor.in_region(ref.region):
        raise Forbidden(f"A bureau {verb} only inside its own region.", code="outside_region")
    return ref


def require_bureau_for(actor: Actor, region: str, verb: str) -> None:
    actor.require(Role.admin, Role.bureau)
    if not actor.in_region(region):
        raise Forbidden(f"A bureau {verb} only inside its own region.", code="outside_region")
