"""Runs of `dualchannel history verify`: the latest one's result is a metric."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class HistoryCheck(SQLModel, table=True):
    __tablename__ = "history_check"

    id: int | None = Field(default=None, primary_key=True)
    ran_at: datetime = Field(sa_type=UTCDateTime)
    since: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: every chain
    chains: int
    links: int
    broken: int  # chains with a broken link (each named by its first broken link)
    findings: list[dict[str, Any]] = Field(sa_type=sa.JSON)  # the first 100
