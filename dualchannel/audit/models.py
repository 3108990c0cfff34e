"""What a bureau tunes in the audit scan: its region's thresholds (with every change kept) and
exemptions of legitimate cases."""

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class AuditThreshold(SQLModel, table=True):
    """A region's own threshold values (field -> number); the rest are inherited from the
    enclosing region's, then the configured defaults. One row per region that sets any."""

    __tablename__ = "audit_threshold"

    region: str = Field(primary_key=True, max_length=6)
    thresholds: dict[str, Any] = Field(sa_type=sa.JSON)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=64)


class AuditThresholdChange(SQLModel, table=True):
    """Who changed a region's thresholds, when, why, from what to what."""

    __tablename__ = "audit_threshold_change"

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6, index=True)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    changed_by: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    before: dict[str, Any] = Field(sa_type=sa.JSON)  # the region's own values before
    after: dict[str, Any] = Field(sa_type=sa.JSON)


class ExemptionKind(enum.StrEnum):
    drug = "drug"  # value: a drug code
    generic = "generic"  # value: a generic name
    diagnosis = "diagnosis"  # value: text the prescription's diagnosis contains
    patient = "patient"  # value: a patient id (never an ID number)


class AuditExemption(SQLModel, table=True):
    """Cases the scan does not flag in a region until `valid_until` (inclusive), e.g. an oncology
    regimen that legitimately involves several prescribers."""

    __tablename__ = "audit_exemption"

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6, index=True)
    kind: str = Field(max_length=12)
    value: str = Field(max_length=200)
    rule: str | None = Field(default=None, max_length=40)  # one scan rule, or None: every rule
    valid_until: date
    reason: str = Field(max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=64)
