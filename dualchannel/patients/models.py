"""Insured patients, their eligibility (待遇准入) for restricted negotiated drugs, and which
institutions have them in care.

The resident ID number is never stored in clear: `id_hash` (keyed HMAC) finds a patient,
`id_encrypted` keeps the number recoverable for audited reads, `id_number_masked` is shown.
"""

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class Patient(SQLModel, table=True):
    """An insured person as one coordinating region registered them.

    One ID number is normally one record. A second record of the same number exists only when
    someone registered it without being allowed to learn that it existed (another region's
    bureau, a physician giving another name): the registration is not refused, which would
    confirm the number, but kept and flagged `duplicate_registration` for the admin to resolve.
    `name` is stored in its normal form (`identity.normalize_name`), as searches compare it.
    """

    __table_args__ = (sa.UniqueConstraint("id_hash", "region", "name", name="uq_patient_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64, index=True)
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


class PatientCare(SQLModel, table=True):
    """An institution has the patient in care (诊疗关系): its physicians may read the patient.

    Made by a search with the ID number and the name at the institution (the patient is there,
    showing their card), by a registration there, or carried over from the prescriptions and
    eligibility it recorded before care was tracked. Never removed: the history of care is the
    history of who may have needed the record.
    """

    __tablename__ = "patient_care"

    institution_code: str = Field(foreign_key="institution.code", primary_key=True, max_length=32)
    patient_id: int = Field(foreign_key="patient.id", primary_key=True, index=True)
    basis: str = Field(max_length=16)  # search, registration, prescription, eligibility
    established_by: str = Field(max_length=64)  # the account, `physician:D370811001`
    established_at: datetime = Field(sa_type=UTCDateTime)
