"""Settlement policies, settlements with their lines and history, and patients' yearly totals."""

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import Money, ScaledDecimal, UnitPrice, UTCDateTime


def Ratio():  # noqa: N802 - reads as a type in column declarations
    """A ratio in [0, 1] with at most 4 decimals (0.8525 = 85.25 %)."""
    return ScaledDecimal(4)


class Mode(enum.StrEnum):
    direct = "direct"  # 直接联网结算
    manual = "manual"  # 手工报销


class SettlementPolicy(SQLModel, table=True):
    """One version of a region's settlement policy for one insurance type (see `rules.Policy`).

    Versions are never edited: a change is a new row with a later `effective_from`, and every
    settlement keeps the id of the version it was computed with.
    """

    __tablename__ = "settlement_policy"
    __table_args__ = (sa.UniqueConstraint("region", "insurance", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    region: str = Field(max_length=6, index=True)
    insurance: str = Field(max_length=16)
    effective_from: date
    deductible: Decimal = Field(sa_type=Money)
    fund_ratio: Decimal = Field(sa_type=Ratio)
    fund_cap: Decimal = Field(sa_type=Money)
    ci_threshold: Decimal = Field(sa_type=Money)
    # [{"up_to": "100000.00" | null, "ratio": "0.75"}, ...] as in policy_example.json
    ci_tiers: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    ci_cap: Decimal = Field(sa_type=Money)
    assistance_ratios: dict[str, str] = Field(sa_type=sa.JSON)  # category -> ratio string
    assistance_cap: Decimal = Field(sa_type=Money)
    note: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Accumulator(SQLModel, table=True):
    """A patient's running totals for one calendar year (`rules.Accumulators`).

    `version` grows with every change: an update is `... WHERE version = :read`, under a row
    lock where the database has them, so two settlements can never both add to the same read.
    """

    patient_id: int = Field(foreign_key="patient.id", primary_key=True)
    year: int = Field(primary_key=True)
    deductible_used: Decimal = Field(default=Decimal("0"), sa_type=Money)
    fund_paid: Decimal = Field(default=Decimal("0"), sa_type=Money)
    ci_base: Decimal = Field(default=Decimal("0"), sa_type=Money)
    ci_paid: Decimal = Field(default=Decimal("0"), sa_type=Money)
    assistance_paid: Decimal = Field(default=Decimal("0"), sa_type=Money)
    version: int = 0
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Settlement(SQLModel, table=True):
    """The one-stop settlement of a dispensed prescription: a direct settlement or a manual claim.

    The parts sum to `total`, and each part is the sum of the same part over the lines.
    """

    id: int | None = Field(default=None, primary_key=True)
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    pharmacy_code: str = Field(foreign_key="pharmacy.code", index=True, max_length=32)
    # Copied so reads scope by region without joins: the patient's coordinating region and the
    # county the pharmacy stands in.
    patient_region: str = Field(max_length=6, index=True)
    pharmacy_county: str = Field(max_length=6, index=True)
    insurance: str = Field(max_length=16)
    assistance_category: str = Field(max_length=20)
    # The policy version it was adjudicated under; None for a manual claim charged in full
    # because the insured region's policy was not held (adjudicated when it is approved).
    policy_id: int | None = Field(default=None, foreign_key="settlement_policy.id")
    year: int  # the accumulators' year
    settled_on: date = Field(index=True)  # China date, for reconciliation
    mode: str = Field(max_length=8)
    status: str = Field(max_length=10, index=True)
    total: Decimal = Field(sa_type=Money)
    basic_fund: Decimal = Field(sa_type=Money)
    critical_illness: Decimal = Field(sa_type=Money)
    medical_assistance: Decimal = Field(sa_type=Money)
    patient_pays: Decimal = Field(sa_type=Money)
    # Basic fund paid for separate-payment (单独支付) lines: outside the institution's budget total.
    fund_outside_budget: Decimal = Field(sa_type=Money)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The head of the settlement's history chain (history/chain.py), compared-and-set by every change.
    history_head: str | None = Field(default=None, max_length=64)


class SettlementLine(SQLModel, table=True):
    """How one prescription line was split (`rules.LineSplit`), with the prices it used."""

    __tablename__ = "settlement_line"

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    position: int
    drug_code: str = Field(foreign_key="drug.code", max_length=32)
    quantity: int
    unit_price: Decimal = Field(sa_type=UnitPrice)
    agreed_price: Decimal | None = Field(default=None, sa_type=UnitPrice)
    payment_standard: Decimal | None = Field(default=None, sa_type=UnitPrice)
    first_self_pay_ratio: Decimal = Field(sa_type=Ratio)
    separate_payment: bool = False  # 单独支付: outside the institution's budget total
    total: Decimal = Field(sa_type=Money)
    over_standard: Decimal = Field(sa_type=Money)
    first_self_pay: Decimal = Field(sa_type=Money)
    policy_range: Decimal = Field(sa_type=Money)
    deductible: Decimal = Field(sa_type=Money)
    basic_fund: Decimal = Field(sa_type=Money)
    in_policy_self_pay: Decimal = Field(sa_type=Money)
    critical_illness: Decimal = Field(sa_type=Money)
    medical_assistance: Decimal = Field(sa_type=Money)
    patient_pays: Decimal = Field(sa_type=Money)


class SettlementEvent(SQLModel, table=True):
    """Every change of a settlement: who, when, why."""

    __tablename__ = "settlement_event"

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    action: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=10)
    to_status: str = Field(max_length=10)
    actor: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    at: datetime = Field(sa_type=UTCDateTime)
    chain_hash: str | None = Field(default=None, max_length=64)  # its link in the settlement's chain
