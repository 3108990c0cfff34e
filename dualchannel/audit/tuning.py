"""A bureau tunes the audit scan for its region: thresholds (every change kept with who, when
and why), exemptions of legitimate cases, and a what-if before saving new thresholds."""

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.audit import services
from dualchannel.audit.models import AuditExemption, AuditThreshold, AuditThresholdChange, ExemptionKind
from dualchannel.audit.rules import Thresholds
from dualchannel.auth import Actor, Role
from dualchannel.drugs import services as drugs
from dualchannel.errors import Conflict, FieldMessage, Invalid, NotFound
from dualchannel.flags import services as flags
from dualchannel.flags.models import FlagStatus
from dualchannel.patients import services as patients

HISTORY_LENGTH = 100


def _region(actor: Actor, region: str | None) -> str:
    """The region the actor tunes: a bureau its own (default) or one inside it; an admin any it names."""
    actor.require(Role.admin, Role.bureau)
    region = region or (actor.subject if actor.role is Role.bureau else None)
    if region is None:
        raise Invalid("Name the region.", {"region": [FieldMessage("region_required_for_admin",
                                                           "Required (an admin has no region of its own).")]},
                      code="region_required")
    if not actor.in_region(region):
        raise NotFound(f"No region {region}.", code="region_not_found")
    return region


def _own_values(values: dict) -> dict:
    return {name: value for name, value in values.items() if value is not None}


# ---------------------------------------------------------------- thresholds

def get_thresholds(session: Session, actor: Actor, *, defaults: Thresholds, region: str | None = None) -> dict:
    """The thresholds in force in the region, where each comes from, and its change history."""
    region = _region(actor, region)
    own = services.thresholds_by_region(session)
    enclosing = sorted((r for r in own if adcodes.contains(r, region)), key=lambda r: len(adcodes.prefix(r)))
    sources = {name: "default" for name in Thresholds.tunable()}
    for r in enclosing:
        sources.update({name: r for name in own[r]})
    changes = session.exec(select(AuditThresholdChange).where(AuditThresholdChange.region == region)
                           .order_by(AuditThresholdChange.id.desc()).limit(HISTORY_LENGTH))
    return {"region": region, "thresholds": services.in_force(own, defaults, region).as_dict(),
            "own": own.get(region, {}), "sources": sources, "defaults": defaults.as_dict(),
            "history": list(changes)}


def set_thresholds(session: Session, actor: Actor, *, defaults: Thresholds, region: str | None = None,
                   thresholds: dict, reason: str) -> dict:
    """Set the region's own values (fields left out are inherited from the enclosing region or
    the defaults); the change is recorded with who, when and why. Same values: nothing recorded."""
    region = _region(actor, region)
    after = _own_values(thresholds)
    row = session.get(AuditThreshold, region, populate_existing=True, with_for_update=True)
    before = dict(row.thresholds) if row else {}
    if before != after:
        now = clock.now()
        if after and row:
            row.thresholds, row.updated_at, row.updated_by = after, now, actor.label
        elif after:
            session.add(AuditThreshold(region=region, thresholds=after, updated_at=now, updated_by=actor.label))
        else:
            session.delete(row)
        session.add(AuditThresholdChange(region=region, changed_at=now, changed_by=actor.label, reason=reason,
                                         before=before, after=after))
        # Two first settings of a region at once: one wins, the other is told to look again.
        db.commit(session, f"The thresholds of {region} were changed meanwhile; read them and retry.",
                  code="thresholds_changed_concurrently")
    return get_thresholds(session, actor, defaults=defaults, region=region)


def what_if(session: Session, actor: Actor, *, defaults: Thresholds, region: str | None = None,
            thresholds: dict, days: int = 90, as_of: datetime | None = None) -> dict:
    """What saving `thresholds` as the region's own values would do to its flags over the last
    `days`: the flags the next scan would raise (new evidence), and the open flags the new values
    would no longer raise. Nothing is saved."""
    region = _region(actor, region)
    as_of = as_of or clock.now()
    since = as_of - timedelta(days=days)
    own = services.thresholds_by_region(session)
    proposed = {**own, region: _own_values(thresholds)}
    if not proposed[region]:
        del proposed[region]
    in_force, scope = services.in_force(proposed, defaults, region), services.scope_of(proposed, region)
    candidates = services.tuned_candidates(session, in_force, scope, since=since, as_of=as_of)
    candidates, exempted = services.without_exempted(session, candidates, services.active_exemptions(session, as_of))
    wanted = {c["dedup_key"]: c["type"] for c in candidates}
    keys = list(wanted)
    existing: set[str] = set()
    for start in range(0, len(keys), 1000):
        existing.update(row.dedup_key for row in flags.flag_keys(session, dedup_keys=keys[start:start + 1000]))
    raise_ = defaultdict(int)
    for key, kind in wanted.items():
        if key not in existing:
            raise_[kind] += 1
    clear = defaultdict(int)
    flag = flags.flag_view()
    open_flags = session.execute(
        sa.select(flag.c.type, flag.c.dedup_key).where(flag.c.status == FlagStatus.open.value,
                                                       flag.c.type.in_(services.TUNED_RULES),
                                                       flag.c.created_at >= since, *scope.where(flag.c.region)))
    for kind, key in open_flags:
        if key not in wanted:
            clear[kind] += 1
    rules = services.TUNED_RULES
    return {"region": region, "days": days, "as_of": as_of, "thresholds": in_force.as_dict(),
            "would_raise": {k: raise_.get(k, 0) for k in rules}, "would_clear": {k: clear.get(k, 0) for k in rules},
            "raise_total": sum(raise_.values()), "clear_total": sum(clear.values()),
            "exempted": {k: exempted.get(k, 0) for k in rules}}


# ---------------------------------------------------------------- exemptions

def _enclosing(region: str) -> list[str]:
    """The region and the province and city containing it."""
    return sorted({region[:2] + "0000", region[:4] + "00", region})


def _visible(actor: Actor):
    """A bureau sees the exemptions inside its region and those of the regions containing it
    (they apply to it); an admin sees all."""
    if actor.role is Role.admin:
        return sa.true()
    return sa.or_(AuditExemption.region.startswith(adcodes.prefix(actor.subject)),
                  AuditExemption.region.in_(_enclosing(actor.subject)))


def _active(today: date):
    return sa.and_(AuditExemption.revoked_at.is_(None), AuditExemption.valid_until >= today)


def list_exemptions(session: Session, actor: Actor, *, region: str | None = None, include_inactive: bool = False,
                    limit: int | None = None, cursor: str | None = None) -> Page:
    """Exemptions the actor may see, newest first: in force, or also expired and revoked ones."""
    actor.require(Role.admin, Role.bureau)
    statement = select(AuditExemption).where(_visible(actor))
    if region:
        statement = statement.where(AuditExemption.region.startswith(adcodes.prefix(region)))
    if not include_inactive:
        statement = statement.where(_active(clock.today()))
    return paginate(session, statement, AuditExemption.id, limit=limit, cursor=cursor)


def _check_value(session: Session, region: str, kind: str, value: str) -> str:
    value = value.strip()
    if kind == ExemptionKind.patient.value:
        found = patients.patients_by_id(session, {int(value)}) if value.isdigit() and len(value) <= 10 else {}
        patient = next(iter(found.values()), None)
        if patient is None or not adcodes.contains(region, patient.region):
            raise Invalid("No such patient in the region.",
                          {"value": [FieldMessage("exemption_patient_unknown", "A patient id of the region.")]},
                          code="exemption_patient_unknown")
        return str(patient.id)
    if kind == ExemptionKind.drug.value and not drugs.drugs_by_code(session, {value}):
        raise Invalid(f"No drug {value}.", {"value": [FieldMessage("drug_unknown", "A drug code.")]},
                      code="exemption_drug_unknown")
    if kind == ExemptionKind.generic.value and not drugs.drugs_of_generic(session, value):
        raise Invalid(f"No drug with the generic name {value}.",
                      {"value": [FieldMessage("exemption_generic_unknown", "A generic name of a drug.")]},
                      code="exemption_generic_unknown")
    return value


def create_exemption(session: Session, actor: Actor, *, region: str | None = None, kind: str, value: str,
                     rule: str | None = None, valid_until: date, reason: str) -> AuditExemption:
    """Exempt a drug, a generic, a diagnosis text or a patient in the region until `valid_until`."""
    region = _region(actor, region)
    if valid_until < clock.today():
        raise Invalid("The exemption would already be over.",
                      {"valid_until": [FieldMessage("valid_until_past", "Today or later.")]},
                      code="exemption_expired")
    exemption = AuditExemption(region=region, kind=kind, value=_check_value(session, region, kind, value), rule=rule,
                               valid_until=valid_until, reason=reason, created_at=clock.now(),
                               created_by=actor.label)
    session.add(exemption)
    session.commit()
    return exemption


def revoke_exemption(session: Session, actor: Actor, exemption_id: int) -> AuditExemption:
    """End an exemption of the actor's region now (it is kept, revoked, with who and when)."""
    actor.require(Role.admin, Role.bureau)
    exemption = session.exec(select(AuditExemption).where(AuditExemption.id == exemption_id)).first()
    if exemption is None or not actor.in_region(exemption.region):
        raise NotFound(f"No exemption {exemption_id}.", code="exemption_not_found")
    db.change_if(session, exemption, AuditExemption.revoked_at.is_(None),
                 values={"revoked_at": clock.now(), "revoked_by": actor.label},
                 refusal=Conflict(f"Exemption {exemption_id} was already revoked.", code="exemption_revoked"))
    session.commit()
    session.refresh(exemption)
    return exemption
