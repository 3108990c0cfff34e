"""Physical packs by traceability code, what each dispensing drew from them, and undos."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import UTCDateTime


class TracePack(SQLModel, table=True):
    """One physical pack, by its traceability code: who opened it and how much of it is gone.

    The primary key makes a code one pack system-wide: a second pharmacy writing the same code
    is refused by the key itself, whoever races. A pack of a drug dispensed whole has one unit;
    a pack dispensed in parts (拆零) has the drug's `units_per_pack`, and only the pharmacy that
    opened it may draw its remaining units.
    """

    __tablename__ = "trace_pack"

    trace_code: str = Field(primary_key=True, max_length=40)  # 20 digits; older rows kept their spelling
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", max_length=32)
    units_per_pack: int
    units_dispensed: int
    opened_at: datetime = Field(sa_type=UTCDateTime)


class DispensedPack(SQLModel, table=True):
    """What one dispensing drew from one pack: the whole pack, or some of its units (拆零)."""

    __tablename__ = "dispensed_pack"
    __table_args__ = (sa.UniqueConstraint("prescription_id", "trace_code"),)

    id: int | None = Field(default=None, primary_key=True)
    trace_code: str = Field(max_length=40, index=True)
    # Looked up by prescription through the unique (prescription_id, trace_code): no index of its own.
    prescription_id: int = Field(foreign_key="prescription.id")
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", index=True, max_length=32)
    units: int = 1
    dispensed_at: datetime = Field(sa_type=UTCDateTime)


class PackReturn(SQLModel, table=True):
    """A dispensed pack returned unopened and undone (like an EU FMVS undo): the code is free again.

    Keeps the dispensing it undid, since the `dispensed_pack` and `trace_pack` rows are deleted
    so the code can be dispensed once more.
    """

    __tablename__ = "pack_return"

    id: int | None = Field(default=None, primary_key=True)
    trace_code: str = Field(max_length=40, index=True)
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", max_length=32)
    dispensed_at: datetime = Field(sa_type=UTCDateTime)
    returned_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    reason: str = Field(max_length=500)
