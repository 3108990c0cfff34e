"""Volume-based procurement (集采) execution: batches and their products, agreed volumes with
running purchase totals, purchases, demand declarations, supply problems, the working calendar.

Quantities are whole pricing units (计价单位) of the product; prices and amounts are exact
decimals stored as scaled integers.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from dualchannel.db import Money, ScaledDecimal, UnitPrice, UTCDateTime


class Batch(SQLModel, table=True):
    """A procurement batch's published result (中选结果): its cycle and when it takes effect.

    `cycle_end` is the cycle's last day (inclusive). Agreement years start at `cycle_start`;
    the first ends on `first_year_end` when the batch states one (seed 004: 2024-05-27 to
    2025-05-31) and later years run a year each from the day after it, else they repeat on
    the anniversaries of `cycle_start` (rules.agreement_years).
    """

    __tablename__ = "procurement_batch"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=12)  # drug | consumable
    cycle_start: date
    cycle_end: date
    first_year_end: date | None = None  # last day of an irregular first agreement year
    effective_date: date
    # The bureau that published it (a province, a city); None for a national batch (admin).
    region: str | None = Field(default=None, max_length=6)
    # 医保基金与医药企业直接结算: the fund pays the companies for selected products.
    direct_settlement: bool = True
    # 先行自付比例 of class B items before the seed 004 reduction; None: the configured default.
    first_self_pay_base: Decimal | None = Field(default=None, sa_type=ScaledDecimal(4))
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Product(SQLModel, table=True):
    """A product of a batch, selected (中选), non-selected (非中选) or a backup supplier's (备供).

    Products of one batch with the same `generic_name` (a consumable's product category) form
    a group: the selected-vs-non-selected rule and the payment standard work per group.
    `price` is the selected price for a selected product and the listing price (挂网价)
    otherwise, per pricing unit. `conversion` is how many of the group's common units one
    pricing unit holds (seed 001 二(二) "按比例关系折算", e.g. 28 for a box of 28 tablets when the
    group counts tablets).
    """

    __tablename__ = "procurement_product"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="procurement_batch.id", index=True)
    code: str = Field(max_length=32, unique=True)
    generic_name: str = Field(max_length=200, index=True)
    manufacturer: str = Field(max_length=200)
    name: str = Field(max_length=200)
    dosage_form: str | None = Field(default=None, max_length=50)
    specification: str = Field(max_length=200)
    packaging: str | None = Field(default=None, max_length=200)
    unit: str = Field(max_length=20)
    price: Decimal = Field(sa_type=UnitPrice)
    status: str = Field(max_length=16)  # selected | non_selected | backup
    conversion: Decimal = Field(default=Decimal(1), sa_type=ScaledDecimal(4))
    # 达到同等质量疗效 (seed 002 二(四)): priced below the selected price, it is not assessed.
    equal_quality: bool = False
    # False for a generic not through consistency evaluation (未过评): bought at most at the
    # selected price of its group (seed 000 五: 采购价……不高于中选价格).
    consistency_evaluated: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)


MONTHS = 12  # an agreement year has at most 12 months


def month_column(kind: str, index: int) -> str:
    """Name of the line column with a month's purchases: ``q01`` quantity, ``a01`` amount
    (index 0 is the agreement year's first month)."""
    return f"{kind}{index + 1:02d}"


class Line(SQLModel, table=True):
    """One line of execution: an institution × product × agreement year.

    Holds the agreed volume (约定采购量; None when there is no agreement) and running totals of
    the line's purchases, for the year and for each month of it (month 1 starts on the year's
    start, month 2 on its first monthly anniversary, ...). They are kept in the same
    transaction as each purchase, so that monitoring at any date reads one row per line and
    only the purchases of the month containing that date.
    """

    __tablename__ = "procurement_line"
    __table_args__ = (
        sa.UniqueConstraint("institution_code", "product_id", "year_start"),
        sa.Index("ix_procurement_line_batch_id_year_start", "batch_id", "year_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution_code: str = Field(max_length=32)
    # The institution's county (a pharmacy's computed county): scopes bureau reads.
    region: str = Field(max_length=6, index=True)
    product_id: int = Field(foreign_key="procurement_product.id", index=True)
    batch_id: int = Field(foreign_key="procurement_batch.id")
    year_start: date
    year_end: date  # exclusive
    agreed: int | None = None
    agreed_source: str | None = Field(default=None, max_length=16)  # bureau | base_usage | declaration
    agreed_by: str | None = Field(default=None, max_length=64)
    agreed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    purchased: int = 0
    purchased_amount: Decimal = Field(default=Decimal(0), sa_type=Money)
    # Purchases by month of the agreement year: quantities q01..q12, amounts a01..a12.
    q01: int = 0
    q02: int = 0
    q03: int = 0
    q04: int = 0
    q05: int = 0
    q06: int = 0
    q07: int = 0
    q08: int = 0
    q09: int = 0
    q10: int = 0
    q11: int = 0
    q12: int = 0
    a01: Decimal = Field(default=Decimal(0), sa_type=Money)
    a02: Decimal = Field(default=Decimal(0), sa_type=Money)
    a03: Decimal = Field(default=Decimal(0), sa_type=Money)
    a04: Decimal = Field(default=Decimal(0), sa_type=Money)
    a05: Decimal = Field(default=Decimal(0), sa_type=Money)
    a06: Decimal = Field(default=Decimal(0), sa_type=Money)
    a07: Decimal = Field(default=Decimal(0), sa_type=Money)
    a08: Decimal = Field(default=Decimal(0), sa_type=Money)
    a09: Decimal = Field(default=Decimal(0), sa_type=Money)
    a10: Decimal = Field(default=Decimal(0), sa_type=Money)
    a11: Decimal = Field(default=Decimal(0), sa_type=Money)
    a12: Decimal = Field(default=Decimal(0), sa_type=Money)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Purchase(SQLModel, table=True):
    """A purchase record of an institution (entered or imported), with who supplied it."""

    __tablename__ = "procurement_purchase"
    __table_args__ = (
        sa.UniqueConstraint("institution_code", "reference"),
        sa.Index("ix_procurement_purchase_line_id_purchased_on", "line_id", "purchased_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="procurement_line.id")
    institution_code: str = Field(max_length=32)
    product_id: int = Field(foreign_key="procurement_product.id")
    quantity: int
    amount: Decimal = Field(sa_type=Money)
    purchased_on: date = Field(index=True)  # "date" in the API
    supplier: str = Field(max_length=200)  # the company supplying (usually the selected company)
    distributor: str | None = Field(default=None, max_length=200)  # 配送企业
    reference: str | None = Field(default=None, max_length=64)  # invoice or order number; unique per institution
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeclarationStatus(enum.StrEnum):
    submitted = "submitted"
    returned = "returned"  # 退回重新填报
    accepted = "accepted"


class Declaration(SQLModel, table=True):
    """An institution's demand declaration (需求量填报) for a product and agreement year.

    Seed 002 二(一): "零"报量 is allowed; below the institution's history it needs an
    explanation; the bureau may return it for a new declaration.
    """

    __tablename__ = "demand_declaration"

    id: int | None = Field(default=None, primary_key=True)
    institution_code: str = Field(max_length=32, index=True)
    region: str = Field(max_length=6, index=True)
    product_id: int = Field(foreign_key="procurement_product.id")
    year_start: date
    quantity: int
    history: int  # usage in the 12 months before the agreement year, in the product's unit
    explanation: str | None = Field(default=None, max_length=2000)
    status: str = Field(default=DeclarationStatus.submitted.value, max_length=12)
    bureau_note: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SupplyStage(enum.StrEnum):
    """Stored stage of a supply problem; overdue states are computed from dates."""

    reported = "reported"
    replied = "replied"
    resolved = "resolved"


class SupplyProblem(SQLModel, table=True):
    """A supply problem of a selected product reported by an institution (seed 002 二(八))."""

    __tablename__ = "supply_problem"

    id: int | None = Field(default=None, primary_key=True)
    institution_code: str = Field(max_length=32, index=True)
    region: str = Field(max_length=6, index=True)
    product_id: int = Field(foreign_key="procurement_product.id")
    company: str = Field(max_length=200)  # the selected or distribution company it was reported to
    description: str = Field(max_length=2000)
    stage: str = Field(default=SupplyStage.reported.value, max_length=10, index=True)
    reported_on: date
    reported_by: str = Field(max_length=64)
    replied_on: date | None = None
    reply: str | None = Field(default=None, max_length=2000)
    promised_fix: date | None = None
    resolved_on: date | None = None
    resolution: str | None = Field(default=None, max_length=2000)
    # 经辖区医保部门核实: non-selected purchases meanwhile are not assessed (seed 002 二(四)).
    confirmed_on: date | None = None
    confirmed_by: str | None = Field(default=None, max_length=64)
    escalated_to: str | None = Field(default=None, max_length=6)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class CalendarDay(SQLModel, table=True):
    """A date overriding the configured calendar: a public holiday, a make-up working day
    (调休上班) or an ordinary day (`normal`: Monday–Friday work, weekends do not)."""

    __tablename__ = "working_calendar_day"

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=10)  # holiday | workday | normal
    name: str | None = Field(default=None, max_length=100)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = Field(sa_type=UTCDateTime)
