"""The access log: one row per read (or audited reveal) of personal or traceability data."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class AccessAction(enum.StrEnum):
    read = "read"  # one object shown to the caller
    list = "list"  # a list of objects; `detail.ids` names them
    search = "search"  # a lookup by ID number (the number itself is never kept)
    create = "create"  # a write not recorded elsewhere (patients)
    reveal = "reveal"  # a full ID number shown, with the reason the caller gave


class AccessLog(SQLModel, table=True):
    """Attributable to an account: the token (`token_id`) and its role and subject (`actor`).

    `resource_type`/`resource_id` name what was touched; `related` names the record it was
    reached through (a trace lookup names its prescription), so a prescription's reads include
    reads of its packs. `patient_id` and `region` scope the row to a patient and a bureau.
    Never holds an ID number: `detail` says which field was revealed, not its value.
    """

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    token_id: int | None = Field(default=None, foreign_key="api_token.id")
    action: str = Field(max_length=12, index=True)
    resource_type: str = Field(max_length=20)
    resource_id: str | None = Field(default=None, max_length=40)
    related: str | None = Field(default=None, max_length=60, index=True)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    region: str | None = Field(default=None, max_length=6, index=True)
    reason: str | None = Field(default=None, max_length=500)
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)

    __table_args__ = (
        sa.Index("ix_access_log_resource", "resource_type", "resource_id"),
        # An account's recent rows of one kind (its fruitless searches in the last hour).
        sa.Index("ix_access_log_actor_action_at", "actor", "action", "at"),
    )
