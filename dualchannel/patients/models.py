"""Insured patients and their eligibility (待遇准入) for restricted negotiated drugs.

The resident ID number is never stored in clear: `id_hash` (keyed HMAC) finds a patient,
`id_encrypted` keeps the number recoverable for audited reads, `id_number_masked` is shown.
"""

import enum
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class Insurance(str, enum.Enum):
    employee = "employee"  # 职工医保
    resident = "resident"  # 城乡居民医保


class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64, unique=True)
    id_encrypted: str = Field(max_length=300)
    id_number_masked: str = Field(max_length=18)
    name: str = Field(max_length=100)
    insurance: str = Field(max_length=16)
    region: str = Field(max_length=6, index=True)  # coordinating region (统筹地区), a city adcode
    filed_region: str | None = Field(default=None, max_length=6)  # 异地就医备案
    assistance_category: str = Field(default="none", max_length=20)  # 医疗救助 group
    created_at: datetime = Field(sa_type=UTCDateTime)


class Eligibility(SQLModel, table=True):
    """A responsible physician's confirmation that the patient meets a drug's indication.

    Renewal (复查评估) adds a row; the latest `valid_until` counts.
    """

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    physician_code: str = Field(foreign_key="physician.code", max_length=32)
    valid_from: date
    valid_until: date
    created_at: datetime = Field(sa_type=UTCDateTime)
