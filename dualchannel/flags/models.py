"""Audit flags: signs of resale, fund fraud or broken policy, for a bureau to review."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class FlagStatus(enum.StrEnum):
    open = "open"
    confirmed = "confirmed"
    dismissed = "dismissed"
    # Closed by the system because its condition no longer holds (e.g. a procurement line back
    # on schedule); its dedup key is freed so a relapse raises a new flag.
    resolved = "resolved"


class Flag(SQLModel, table=True):
    # A bureau reads its region's flags by prefix (LIKE '3708%'): pattern operators on PostgreSQL.
    __table_args__ = (
        sa.Index("ix_flag_region_prefix", "region", postgresql_ops={"region": "varchar_pattern_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=40, index=True)
    severity: str = Field(max_length=10)  # low, medium, high
    status: str = Field(default=FlagStatus.open.value, max_length=10, index=True)
    subject: str = Field(max_length=64)  # "pharmacy:P370811001", "patient:12", ...
    # The county or city the flag belongs to, so a bureau sees only its region's flags.
    region: str = Field(max_length=6)
    evidence: dict[str, Any] = Field(sa_type=sa.JSON)
    # Same evidence, same flag: raising twice never duplicates.
    dedup_key: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_note: str | None = Field(default=None, max_length=2000)
