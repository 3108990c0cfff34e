"""Dual-channel e-prescriptions, their items, history and the packs dispensed for them."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class Prescription(SQLModel, table=True):
    # Every list is "newest first within a scope": each scope column leads an index that ends in
    # the id, so a page is an index range however many rows the table holds (bench/scale.py).
    # Region scopes are prefix matches (LIKE '3708%'): PostgreSQL uses an index for them only
    # with pattern operators when the database's collation is not C.
    __table_args__ = (
        sa.Index("ix_prescription_physician_code_id", "physician_code", "id"),
        sa.Index("ix_prescription_pharmacy_code_id", "pharmacy_code", "id"),
        sa.Index("ix_prescription_pharmacy_code_status_id", "pharmacy_code", "status", "id"),
        sa.Index("ix_prescription_patient_region_prefix", "patient_region",
                 postgresql_ops={"patient_region": "varchar_pattern_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    physician_code: str = Field(foreign_key="physician.code", max_length=32)
    institution_code: str = Field(foreign_key="institution.code", max_length=32)
    # Copied from the patient at issue: scopes bureau reads without a join.
    patient_region: str = Field(max_length=6)
    diagnosis: str = Field(max_length=500)
    status: str = Field(max_length=16, index=True)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    pharmacy_code: str | None = Field(default=None, foreign_key="pharmacy.code", max_length=32)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # An agent picking up (代取): shown masked; found by keyed hash; recoverable only through
    # an audited reveal, like a patient's number.
    pickup_name: str | None = Field(default=None, max_length=100)
    pickup_id_masked: str | None = Field(default=None, max_length=18)
    pickup_id_hash: str | None = Field(default=None, max_length=64, index=True)
    pickup_id_encrypted: str | None = Field(default=None, max_length=300)
    pickup_relation: str | None = Field(default=None, max_length=40)
    dispensed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The prescription number (处方编号): random, unique, and in the signed content, so a copy of
    # a signed row under another id does not verify. None on rows older than signing.
    number: str | None = Field(default=None, max_length=32, unique=True)
    # The physician's SM2 signature (base64 DER) over `rules.signed_content` at issue, and the key.
    signing_key_id: int | None = Field(default=None, foreign_key="signing_key.id")
    signature: str | None = Field(default=None, max_length=200)
    # The head of the prescription's history chain (history/chain.py), compared-and-set by every write.
    history_head: str | None = Field(default=None, max_length=64)


class PrescriptionItem(SQLModel, table=True):
    __tablename__ = "prescription_item"

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    quantity: int
    days_supply: int
    dosage: str = Field(max_length=200)


class PrescriptionEvent(SQLModel, table=True):
    """Every change, attributable to an account (全流程监管); reads are in `access_log`."""

    __tablename__ = "prescription_event"

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    action: str = Field(max_length=16)  # a transition's action, "issue", or "undo_pack"
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    actor: str = Field(max_length=64)
    # A published reason code (`rules.REASONS`) of a return, cancel or not-dispensed outcome;
    # reports and flags group by it. `reason` is the free text: a note, or a reversal's reason.
    reason_code: str | None = Field(default=None, max_length=40, index=True)
    reason: str | None = Field(default=None, max_length=500)
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    at: datetime = Field(sa_type=UTCDateTime)
    chain_hash: str | None = Field(default=None, max_length=64)  # its link in the prescription's chain
