"""Recording accesses (in the caller's transaction) and reading the log (admins and bureaus)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import adcodes, clock
from dualchannel.api import Page, paginate
from dualchannel.access_log.models import AccessAction, AccessLog
from dualchannel.auth import Actor, Role
from dualchannel.errors import FieldMessage, Invalid


def record(session: Session, actor: Actor, action: AccessAction, resource_type: str,
           resource_id: str | int | None = None, *, patient_id: int | None = None, region: str | None = None,
           related: str | None = None, reason: str | None = None,
           detail: dict[str, Any] | None = None) -> AccessLog:
    """Add an access row to the caller's transaction; the caller commits with its own work."""
    entry = AccessLog(at=clock.now(), actor=actor.label, token_id=actor.token_id, action=action.value,
                      resource_type=resource_type, resource_id=None if resource_id is None else str(resource_id),
                      related=related, patient_id=patient_id, region=region, reason=reason, detail=detail)
    session.add(entry)
    return entry


def visible(actor: Actor):
    """Admins read the whole log, a bureau the rows of its region; nobody else reads it."""
    if actor.role is Role.admin:
        return sa.true()
    if actor.role is Role.bureau:
        return AccessLog.region.startswith(adcodes.prefix(actor.subject))
    return sa.false()


def list_entries(session: Session, actor: Actor, *, action: str | None = None, resource_type: str | None = None,
                 resource_id: str | None = None, patient_id: int | None = None, actor_label: str | None = None,
                 limit: int | None = None, cursor: str | None = None) -> Page:
    """The access log, newest first, filtered; for admins and bureaus."""
    actor.require(Role.admin, Role.bureau)
    statement = select(AccessLog).where(visible(actor))
    for column, value in ((AccessLog.action, action), (AccessLog.resource_type, resource_type),
                          (AccessLog.resource_id, resource_id), (AccessLog.patient_id, patient_id),
                          (AccessLog.actor, actor_label)):
        if value is not None:
            statement = statement.where(column == value)
    return paginate(session, statement, AccessLog.id, limit=limit, cursor=cursor)


def of_record(session: Session, actor: Actor, resource_type: str, resource_id: str | int, *,
              limit: int | None = None, cursor: str | None = None) -> Page:
    """Accesses of one record and of what was reached through it, newest first.

    The caller has already checked that `actor` may see the record itself.
    """
    actor.require(Role.admin, Role.bureau)
    key = str(resource_id)
    statement = select(AccessLog).where(sa.or_(
        sa.and_(AccessLog.resource_type == resource_type, AccessLog.resource_id == key),
        AccessLog.related == related_key(resource_type, key)))
    return paginate(session, statement, AccessLog.id, limit=limit, cursor=cursor)


def related_key(resource_type: str, resource_id: str | int) -> str:
    """How a row names the record it was reached through: `prescription:12`."""
    return f"{resource_type}:{resource_id}"


def require_reason(reason: str | None) -> str:
    """A reason with words in it, for reads and undos that must say why; else Invalid."""
    text = (reason or "").strip()
    if not text:
        raise Invalid("A reason is required.", {"reason": [FieldMessage("reason_required", "Say why.")]},
                      code="reason_required")
    return text


# Read by other features (they never query the access log themselves).

def fruitless_searches(session: Session, actor_label: str, since: datetime) -> tuple[int, datetime | None]:
    """How many searches `actor_label` made since `since` that found nobody, and when the first was."""
    return tuple(session.execute(
        select(sa.func.count(), sa.func.min(AccessLog.at))
        .where(AccessLog.actor == actor_label, AccessLog.action == AccessAction.search.value,
               AccessLog.at >= since, AccessLog.resource_id.is_(None))).one())
