"""Designated medical institutions (定点医疗机构) and their physicians."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class Institution(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    adcode: str = Field(max_length=6, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Where the hospital stands (WGS-84), for distances to pharmacies; None: its county's centre.
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)


class Physician(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    institution_code: str = Field(foreign_key="institution.code", index=True, max_length=32)
    # 医保责任医师: only they may confirm eligibility and issue dual-channel prescriptions.
    responsible: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
