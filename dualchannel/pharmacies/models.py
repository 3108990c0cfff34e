"""Designated retail pharmacies (定点零售药店) and their dual-channel status."""

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class PharmacyStatus(enum.StrEnum):
    applied = "applied"
    active = "active"  # admitted to dual-channel
    suspended = "suspended"
    exited = "exited"


class Pharmacy(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    address: str = Field(max_length=300)
    adcode: str = Field(max_length=6)  # declared county
    # Location in WGS-84; the request's own system is converted at the edge.
    lat: float
    lon: float
    county_adcode: str | None = Field(default=None, max_length=6, index=True)  # computed
    city_adcode: str | None = Field(default=None, max_length=6, index=True)  # computed
    status: str = Field(default=PharmacyStatus.applied.value, max_length=12, index=True)
    cold_chain: bool = False
    traceability: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def county_mismatch(self) -> bool:
        return self.county_adcode is not None and self.county_adcode != self.adcode


class PharmacyEvent(SQLModel, table=True):
    """History of a pharmacy's admission, suspension and exit (有进有出、动态调整)."""

    __tablename__ = "pharmacy_event"

    id: int | None = Field(default=None, primary_key=True)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", index=True, max_length=32)
    action: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str = Field(max_length=12)
    reason: str | None = Field(default=None, max_length=500)
    forced: bool = False
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)  # capabilities changed
    actor: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)


class Stock(SQLModel, table=True):
    pharmacy_code: str = Field(foreign_key="pharmacy.code", primary_key=True, max_length=32)
    drug_code: str = Field(foreign_key="drug.code", primary_key=True, max_length=32)
    quantity: int = Field(ge=0)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Pharmacist(SQLModel, table=True):
    """A licensed pharmacist (执业药师) of a pharmacy: who reviews prescriptions (审方).

    A bearer token bound to a pharmacist (`api_token.pharmacist_id`) acts as the pharmacy and
    as that person: reviews are recorded and signed in their name.
    """

    id: int | None = Field(default=None, primary_key=True)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", index=True, max_length=32)
    licence_number: str = Field(max_length=32, unique=True)  # 执业药师注册证编号
    name: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
