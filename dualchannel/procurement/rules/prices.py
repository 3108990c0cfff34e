"""Pure rules of prices and money (seed 000, 001 二(四)/(七), 004): the payment standard's
step-down, first self-pay ratios, the prepayment due, and prices paid that break the result.
No database, no Flask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from enum import StrEnum

from dualchannel.insurance import Insurance
from dualchannel.procurement.rules.agreement import (FEN, ONE, ZERO, ProcurementKind, ProductStatus,
                                                     whole_months_between)


@dataclass(frozen=True)
class StepDownYear:
    """One year of a step-down: standard = own_price_factor × product price
    + selected_factor × selected price (then kept within [selected price, product price])."""

    own_price_factor: Decimal
    selected_factor: Decimal

    def standard(self, selected_price: Decimal, product_price: Decimal) -> Decimal:
        raw = self.own_price_factor * product_price + self.selected_factor * selected_price
        return min(max(raw, selected_price), product_price)


@dataclass(frozen=True)
class StepDownSchedule:
    """Gradual adjustment of a non-selected product's payment standard (渐进调整支付标准).

    ``years``: year 1 from the effective date, year 2 from its first anniversary, ...; the
    last entry continues and must be the selected price. Each year's standard is a linear
    formula of the product's and the selected price kept within [selected, product price], so
    it is CONTINUOUS in the product's price: no multiple of the selected price is a cliff
    (the service once took the selected price at once below 2 × and 70 % of the price from
    2 ×, so 19.99 paid 10.00 and 20.00 paid 14.00). A product close to the selected price
    reaches it at once because the formula falls below it there.
    """

    years: tuple[StepDownYear, ...]

    @classmethod
    def from_setting(cls, value) -> "StepDownSchedule":
        """The schedule `PROCUREMENT_STEP_DOWN` states: ``{"years": [[own, selected], ...]}``
        (each year's own-price and selected-price factors). ValueError when it states none."""
        try:
            return cls(years=tuple(StepDownYear(Decimal(str(own)), Decimal(str(selected)))
                                   for own, selected in value["years"]))
        except (InvalidOperation, TypeError, KeyError) as error:
            raise ValueError(f'expected {{"years": [[own, selected], ...]}} ({type(error).__name__})') from error

    def __post_init__(self) -> None:
        if not self.years:
            raise ValueError("a step-down needs at least one year")
        if any(y.own_price_factor < 0 or y.selected_factor < 0 for y in self.years):
            raise ValueError("step-down factors must not be negative")
        if self.years[-1] != StepDownYear(ZERO, ONE):
            raise ValueError("the last step-down year must be the selected price (0 × own + 1 × selected)")


# Seed 001 二(四) fixes only the end point: "患者使用药品价格与中选药品集中采购价格差异较大的，
# 通过另行制定配套措施，渐进调整支付标准，3年内调整到位". It gives no multiples or percentages,
# and seed 000 五 refers them to a document not in the seeds (鲁医保发〔2019〕93号). The defaults
# are the project's: year 1 the product's own price less 30 % (as the national pilot measures,
# 医保发〔2019〕18号, are publicly summarised), year 2 the midpoint between that and the selected
# price, the selected price from year 3 (seed 001: within 3 years) — each never below the
# selected price. The pilot's "within 2 times: the selected price at once" is NOT applied as a
# threshold: max(selected, 70 % of the price) already gives the selected price up to 1/0.7 ≈
# 1.43 × and rises smoothly from there (19.99 → 13.99, 20.00 → 14.00 against 10.00).
DEFAULT_STEP_DOWN = StepDownSchedule(
    years=(
        StepDownYear(own_price_factor=Decimal("0.70"), selected_factor=ZERO),
        StepDownYear(own_price_factor=Decimal("0.35"), selected_factor=Decimal("0.5")),
        StepDownYear(own_price_factor=ZERO, selected_factor=ONE),
    ),
)


def payment_standard_on(
    selected_price: Decimal,
    product_price: Decimal,
    effective_date: date,
    on: date,
    schedule: StepDownSchedule = DEFAULT_STEP_DOWN,
    *,
    consistency_evaluated: bool = True,
) -> Decimal:
    """Insurance payment standard per unit of a product of the selected generic on ``on``.

    Seed 001 二(四): "在医保目录范围内的以集中采购价格作为医保支付标准……患者使用价格高于
    支付标准的药品，超出支付标准的部分由患者自付……差异较大的……渐进调整支付标准，3年内调整
    到位。患者使用价格低于支付标准的药品，按实际价格支付。" Hence:

    - priced at or below the selected price → its own price (the actual price is paid);
    - a generic NOT consistency-evaluated → the selected price at once (seed 000 五: "未通过
      一致性评价的仿制药，采购价、支付标准不高于中选价格"; no transition);
    - otherwise the ``schedule`` year containing ``on`` (years counted from
      ``effective_date``'s anniversaries). The standard never goes up from one year to the
      next, always lies within [selected price, product price], and is continuous and
      non-decreasing in the product's price (no threshold where it jumps).

    Not rounded: a per-unit standard may be finer than a fen; round the settled amount.
    Raises ``ValueError`` before ``effective_date`` (no procurement standard applies yet).
    """
    if selected_price <= 0 or product_price < 0:
        raise ValueError("selected price must be positive and product price not negative")
    if on < effective_date:
        raise ValueError(f"{on} is before the effective date {effective_date}")
    if product_price <= selected_price:
        return product_price
    if not consistency_evaluated:
        return selected_price
    year_index = whole_months_between(effective_date, on) // 12
    standard = product_price
    for step in schedule.years[: year_index + 1]:
        standard = min(standard, step.standard(selected_price, product_price))
    return standard


# ---------------------------------------------------------------------------
# 6. First self-pay ratio (先行自付比例)
# ---------------------------------------------------------------------------

RESIDENT_REDUCTION = Decimal("0.10")


def first_self_pay_ratio(
    base_ratio: Decimal,
    insurance: Insurance | str,
    selected: bool,
    kind: ProcurementKind | str,
    *,
    resident_reduction: Decimal = RESIDENT_REDUCTION,
) -> Decimal:
    """First self-pay ratio of an item in the insurance scope.

    Seed 004 (聊城 二): "医保支付范围内的中选产品，以中选价格作为医保支付标准，中选产品居民
    首先自付比例下降10%，职工首先自付比例0%。" For SELECTED high-value CONSUMABLES (the
    seed's subject): residents' ratio minus 10 percentage points (read as points, not as 10 %
    of the ratio), not below 0; employees' ratio 0. Anything else keeps ``base_ratio`` (the
    seed leaves non-selected products to each city: seed 004 三(一) "各市可……通过调整个人先行
    自付比例……引导患者使用中选产品").
    """
    if not ZERO <= base_ratio <= ONE:
        raise ValueError("base_ratio must be within [0, 1]")
    insurance, kind = Insurance(insurance), ProcurementKind(kind)
    if not (selected and kind is ProcurementKind.CONSUMABLE):
        return base_ratio
    if insurance is Insurance.EMPLOYEE:
        return ZERO
    return max(ZERO, base_ratio - resident_reduction)


# ---------------------------------------------------------------------------
# 7. Prepayment
# ---------------------------------------------------------------------------

MIN_PREPAYMENT_RATIO = Decimal("0.5")


def prepayment_due(agreed_amount: Decimal, ratio: Decimal = MIN_PREPAYMENT_RATIO) -> Decimal:
    """Amount the fund prepays an institution, in yuan to the fen.

    Seed 001 二(七): "医保基金在总额预算的基础上，按不低于采购金额的50%提前预付给医疗机构".
    ``ratio`` must be within [0.5, 1]. Rounded UP to the fen, so rounding can never take the
    prepayment below the ratio.
    """
    if not MIN_PREPAYMENT_RATIO <= ratio <= ONE:
        raise ValueError("prepayment ratio must be within [0.5, 1] (seed 001 二(七): 不低于50%)")
    if agreed_amount < 0:
        raise ValueError("agreed amount must not be negative")
    return (agreed_amount * ratio).quantize(FEN, rounding=ROUND_CEILING)




class PriceDeviation(StrEnum):
    """Why a purchase's price departs from the procurement result; each names its flag type."""

    # Seed 001 二(四): "严格执行中选药品的国家集中采购价格，各医疗机构及医联体不得再次议价".
    RENEGOTIATED = "selected_price_renegotiated"
    # Seed 000 五: "同一通用名下未通过一致性评价的仿制药，采购价、支付标准不高于中选价格".
    UNEVALUATED_ABOVE_SELECTED = "unevaluated_generic_above_selected_price"


PRICE_CITATIONS: Mapping[PriceDeviation, str] = {
    PriceDeviation.RENEGOTIATED: "seed 001 二(四): 严格执行中选药品的国家集中采购价格，各医疗机构及医联体不得再次议价",
    PriceDeviation.UNEVALUATED_ABOVE_SELECTED: (
        "seed 000 五: 同一通用名下未通过一致性评价的仿制药，采购价、支付标准不高于中选价格"),
}


def purchase_price_deviation(
    *,
    quantity: int | Decimal,
    amount: Decimal,
    status: ProductStatus | str,
    price: Decimal,
    conversion: Decimal = ONE,
    consistency_evaluated: bool = True,
    selected_price: Decimal | None = None,
) -> PriceDeviation | None:
    """Whether a purchase of ``quantity`` pricing units for ``amount`` yuan breaks a price rule.

    - A SELECTED product is bought at its selected ``price``, no other: an amount that is not
      ``quantity × price`` to within rounding to the fen (less than 0.01 yuan off, either way)
      was negotiated again — ``RENEGOTIATED``, whether cheaper or dearer (seed 001 二(四)).
    - A non-selected generic NOT through consistency evaluation is bought at no more than the
      ``selected_price`` of its group (per common unit; ``conversion`` common units per pricing
      unit): more than 0.01 yuan above ``quantity × conversion × selected_price`` is
      ``UNEVALUATED_ABOVE_SELECTED`` (seed 000 五). Unknown ``selected_price``: nothing to check.

    Backup suppliers (备供) and evaluated non-selected products have their own listing prices.
    """
    status = ProductStatus(status)
    quantity = Decimal(quantity)
    if status is ProductStatus.SELECTED:
        return PriceDeviation.RENEGOTIATED if abs(amount - quantity * price) >= FEN else None
    if status is ProductStatus.NON_SELECTED and not consistency_evaluated and selected_price is not None:
        if amount - quantity * conversion * selected_price >= FEN:
            return PriceDeviation.UNEVALUATED_ABOVE_SELECTED
    return None

