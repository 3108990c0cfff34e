"""The drug catalogue as far as dual-channel needs it."""

import enum
from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from dualchannel.db import Money, UnitPrice, UTCDateTime


class Storage(str, enum.Enum):
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
    created_at: datetime = Field(sa_type=UTCDateTime)
