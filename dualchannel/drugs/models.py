"""The drug catalogue as far as dual-channel needs it."""

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import Money, ScaledDecimal, UnitPrice, UTCDateTime


class Storage(enum.StrEnum):
    normal = "normal"
    cold_chain = "cold_chain"


class Drug(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    generic_name: str = Field(max_length=200, index=True)
    name: str = Field(max_length=200)
    negotiated: bool = False  # 国谈药品
    dual_channel: bool = False  # 纳入双通道管理
    separate_payment: bool = False  # 单独支付: outside the institution's budget total
    requires_eligibility: bool = False  # 待遇准入 before it is paid
    storage: str = Field(default=Storage.normal.value, max_length=16)
    unit: str = Field(max_length=20)
    payment_standard: Decimal | None = Field(default=None, sa_type=UnitPrice)  # per unit
    agreed_price: Decimal | None = Field(default=None, sa_type=Money)  # 协议价格, per unit
    # 药品标识码: the first 7 digits of the traceability codes of this product's packs. Empty:
    # any well-formed code is accepted for it.
    trace_prefixes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Dispensed in parts (拆零): `unit` is then the part (片), and one pack holds this many.
    # None: each unit is one pack with its own code.
    units_per_pack: int | None = None
    # False for a generic not (yet) through consistency evaluation (未过评仿制药): its payment
    # standard is at most the selected price of its generic at once (seed 000 五).
    consistency_evaluated: bool = True
    # The negotiated original whose policy a same-generic copy (仿制药, 生物类似药) follows
    # (seed 003 一: 国谈药品（含同通用名仿制药和生物类似药）).
    follows: str | None = Field(default=None, max_length=32, foreign_key="drug.code")
    created_at: datetime = Field(sa_type=UTCDateTime)


ALL_DRUGS = "*"


class DrugPaymentStandard(SQLModel, table=True):
    """A dated insurance payment standard (支付标准) of a generic name, per unit.

    Written by procurement when a batch's selected product is added (seed 001 二(四): the
    selected price is the standard of every drug of the same generic name). `drug_code` is
    `"*"` for every drug of the generic without a row of its own, or one drug's code when its
    own price steps down gradually (渐进调整) to the selected price. The row with the latest
    `effective_from` on or before a date is in force.
    """

    __tablename__ = "drug_payment_standard"
    __table_args__ = (sa.UniqueConstraint("generic_name", "drug_code", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    generic_name: str = Field(max_length=200, index=True)
    drug_code: str = Field(default=ALL_DRUGS, max_length=32)
    effective_from: date
    standard: Decimal = Field(sa_type=UnitPrice)
    # 先行自付比例: before the seed 004 reduction, and for each insurance type after it.
    first_self_pay_base: Decimal = Field(sa_type=ScaledDecimal(4))
    first_self_pay_employee: Decimal = Field(sa_type=ScaledDecimal(4))
    first_self_pay_resident: Decimal = Field(sa_type=ScaledDecimal(4))
    source_batch: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
