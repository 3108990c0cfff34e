"""Raising audit flags (never twice for the same evidence) and the bureau's review."""

import functools
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.errors import Conflict, NotFound
from dualchannel.flags.models import Flag, FlagStatus


def raise_flag(session: Session, *, type: str, severity: str, subject: str, region: str,
               evidence: dict[str, Any], dedup_key: str) -> Flag | None:
    """Add a flag to the caller's transaction unless one with `dedup_key` exists.

    The caller commits. Returns the new flag, or None when it was already raised.
    """
    if session.exec(select(Flag.id).where(Flag.dedup_key == dedup_key)).first() is not None:
        return None
    flag = Flag(type=type, severity=severity, subject=subject, region=region, evidence=evidence,
                dedup_key=dedup_key, created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(flag)
    except sa.exc.IntegrityError:
        return None  # raised concurrently by another request
    return flag


def raise_flags(session: Session, flags: Iterable[dict[str, Any]]) -> int:
    """`raise_flag` for many flags at once (periodic scans): same dedup, set-based.

    Each item has the keyword arguments of `raise_flag`. One `INSERT ... ON CONFLICT
    (dedup_key) DO NOTHING` per thousand flags: existing and concurrently raised ones are
    skipped by the unique key itself, with no lookup whose plan could go wrong on a table that
    has just grown. The caller commits. Returns how many flags are new.
    """
    now = clock.now()
    rows = list({flag["dedup_key"]: {**flag, "status": FlagStatus.open.value, "created_at": now}
                 for flag in flags}.values())
    statement = db.insert(session, Flag).on_conflict_do_nothing(index_elements=[Flag.dedup_key]).returning(Flag.id)
    return sum(len(session.execute(statement, rows[start:start + _CHUNK]).all())
               for start in range(0, len(rows), _CHUNK))


def resolve_flags(session: Session, dedup_keys: Iterable[str], note: str) -> int:
    """Close the OPEN flags among `dedup_keys` as `resolved`: their condition no longer holds.

    Reviewed flags (confirmed, dismissed) are left as the bureau decided. The dedup key gets
    the flag's id appended, so the same condition arising again raises a new flag. The caller
    commits. Returns how many were resolved.
    """
    keys, count, now = list(dedup_keys), 0, clock.now()
    for start in range(0, len(keys), _CHUNK):
        count += session.execute(
            sa.update(Flag)
            .where(Flag.dedup_key.in_(keys[start:start + _CHUNK]), Flag.status == FlagStatus.open.value)
            .values(status=FlagStatus.resolved.value, reviewed_by="system", reviewed_at=now, review_note=note,
                    dedup_key=Flag.dedup_key + ":resolved:" + sa.cast(Flag.id, sa.String))
            .execution_options(synchronize_session=False)
        ).rowcount
    return count


_CHUNK = 1000


def visible(actor: Actor):
    """A bureau sees its region's flags; an admin sees all; nobody else sees any."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        return Flag.region.startswith(adcodes.prefix(actor.subject))
    return sa.false()


def _filtered(actor: Actor, region: str | None, status: str | None, type: str | None, subject: str | None):
    actor.require(Role.admin, Role.bureau)
    statement = select(Flag).where(visible(actor))
    if region:
        statement = statement.where(Flag.region.startswith(adcodes.prefix(region)))
    if status:
        statement = statement.where(Flag.status == status)
    if type:
        statement = statement.where(Flag.type == type)
    if subject:
        statement = statement.where(Flag.subject == subject)
    return statement


def list_flags(session: Session, actor: Actor, *, region: str | None = None, status: str | None = None,
               type: str | None = None, subject: str | None = None, limit: int | None = None,
               cursor: str | None = None) -> Page:
    """Flags the actor may see, filtered, newest first."""
    statement = _filtered(actor, region, status, type, subject)
    return paginate(session, statement, Flag.id, limit=limit, cursor=cursor)


def export_flags(session: Session, actor: Actor, *, region: str | None = None, status: str | None = None,
                 type: str | None = None, subject: str | None = None, max_rows: int = 100_000) -> list[Flag]:
    """Every flag matching the filters (for the CSV export), newest first."""
    statement = _filtered(actor, region, status, type, subject)
    return list(session.exec(statement.order_by(Flag.id.desc()).limit(max_rows)))


def get_flag(session: Session, actor: Actor, flag_id: int) -> Flag:
    actor.require(Role.admin, Role.bureau)
    flag = session.exec(select(Flag).where(Flag.id == flag_id, visible(actor))).first()
    if flag is None:
        raise NotFound(f"No flag {flag_id}.", code="flag_not_found")
    return flag


def review_flag(session: Session, actor: Actor, flag_id: int, *, decision: str, note: str) -> Flag:
    """Confirm or dismiss an open flag, once."""
    flag = get_flag(session, actor, flag_id)
    db.change_if(session, flag, Flag.status == FlagStatus.open.value,
                 values={"status": decision, "review_note": note, "reviewed_by": actor.label,
                         "reviewed_at": clock.now()},
                 refusal=Conflict(f"Flag {flag_id} was already reviewed.", code="flag_already_reviewed"))
    session.commit()
    session.refresh(flag)
    return flag


# Read by other features (they never query the flag table themselves).

def open_counts(session: Session, types: Collection[str], *, region: str | None = None) -> dict[str, int]:
    """How many flags of each of `types` are open (in `region` when given)."""
    statement = (select(Flag.type, sa.func.count())
                 .where(Flag.status == FlagStatus.open.value, Flag.type.in_(list(types))).group_by(Flag.type))
    if region is not None:
        statement = statement.where(Flag.region.startswith(adcodes.prefix(region)))
    return dict(session.execute(statement).all())


def flag_keys(session: Session, *, type: str | None = None, status: str | None = None, region: str | None = None,
              subjects: Collection[str] | None = None, dedup_keys: Collection[str] | None = None) -> list[sa.Row]:
    """Dedup key, status and subject of the flags matching every filter given (scans that raise
    their own flags read them back to resolve the stale ones)."""
    conditions = []
    if type is not None:
        conditions.append(Flag.type == type)
    if status is not None:
        conditions.append(Flag.status == status)
    if region is not None:
        conditions.append(Flag.region.startswith(adcodes.prefix(region)))
    if subjects is not None:
        conditions.append(Flag.subject.in_(list(subjects)))
    if dedup_keys is not None:
        conditions.append(Flag.dedup_key.in_(list(dedup_keys)))
    return list(session.execute(select(Flag.dedup_key, Flag.status, Flag.subject).where(*conditions)).all())


def evidence_of(session: Session, dedup_keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """The evidence of the flags with `dedup_keys`, by key."""
    keys, found = list(dedup_keys), {}
    for start in range(0, len(keys), _CHUNK):
        found.update(session.execute(select(Flag.dedup_key, Flag.evidence)
                                     .where(Flag.dedup_key.in_(keys[start:start + _CHUNK]))).all())
    return found


def raised_since(session: Session, *, type: str, subject: str, since: datetime) -> bool:
    """Whether a flag of `type` about `subject` was raised at or after `since`."""
    return session.exec(select(Flag.id).where(Flag.type == type, Flag.subject == subject,
                                              Flag.created_at >= since)).first() is not None


@functools.cache
def flag_view() -> sa.Subquery:
    """The flag table as other features join and read it (read-only)."""
    return sa.select(Flag.id, Flag.type, Flag.severity, Flag.status, Flag.subject, Flag.region, Flag.dedup_key,
                     Flag.created_at).subquery("flag_view")
