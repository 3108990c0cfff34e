"""Pure rules of the selected-vs-non-selected assessment (seed 002 二(四), 二(九)): how each
purchase is treated and whether a group of purchases complies. No database, no Flask."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from dualchannel.procurement.rules.agreement import ONE, ZERO, ProcurementKind, ProductStatus, to_share


class Treatment(StrEnum):
    """How a purchase is treated in the selected-vs-non-selected assessment."""

    SELECTED = "selected"
    COUNTED_AS_SELECTED = "counted_as_selected"
    NON_SELECTED = "non_selected"
    # Exemptions: left out of the assessment.
    BACKUP_SUPPLIER = "backup_supplier"
    CONFIRMED_SUPPLY_PROBLEM = "confirmed_supply_problem"
    CHEAPER_EQUIVALENT = "cheaper_equivalent"
    COMPLETED_AT_OR_BELOW_SELECTED_PRICE = "completed_at_or_below_selected_price"
    NOT_REGARDED_NON_SELECTED = "not_regarded_non_selected"

    @property
    def exempt(self) -> bool:
        return self not in _COUNTED


_COUNTED = frozenset({Treatment.SELECTED, Treatment.COUNTED_AS_SELECTED, Treatment.NON_SELECTED})

RULE_CITATION = (
    "seed 000 二: 采购周期内每年采购中选药品使用量不得低于非中选药品采购量; "
    "seed 001 二(二): 采购的非中选药品数量按比例关系折算后不得超过中选品种"
)

CITATIONS: Mapping[Treatment, str] = {
    Treatment.COUNTED_AS_SELECTED: (
        "seed 004 二(二): 中选企业的非中选产品按不高于本企业该产品类别中选价挂网的，可视为中选产品"
    ),
    Treatment.BACKUP_SUPPLIER: "seed 002 二(四): 醫療機構采購國家集采備供企業藥品……不納入執行情況考核范圍",
    Treatment.CONFIRMED_SUPPLY_PROBLEM: (
        "seed 002 二(四): 醫療機構反映中選藥品出現供應問題的，經轄區內醫保部門核實後，"
        "該醫療機構采購非中選藥品的，相應的用量不計入執行情況考核范圍"
    ),
    Treatment.CHEAPER_EQUIVALENT: (
        "seed 002 二(四): 價格低于中選藥品且達到同等質量療效的非中選藥品或可替代藥品，"
        "不納入執行情況考核范圍"
    ),
    Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE: (
        "seed 000 二: 将挂网价调整至我省中选价(含)以下,医疗机构完成中选药品约定采购量后可自主"
        "选择采购,不受“采购周期内每年采购中选药品使用量不得低于非中选药品采购量”限制"
    ),
    Treatment.NOT_REGARDED_NON_SELECTED: (
        "seed 004 二(二): 未中选企业的产品按不高于同产品类别最高中选价挂网的，"
        "在医疗机构考核时不视为非中选产品"
    ),
}


@dataclass(frozen=True)
class PurchaseRecord:
    """One purchase of an institution × generic (or consumable category) × agreement year.

    ``quantity`` is in the record's own unit and ``unit_price`` per that unit (the listing
    price, 挂网价, paid); ``conversion`` is how many of the group's common units one record
    unit holds — seed 001 二(二) compares quantities "按比例关系折算" (e.g. a box of 14 vs 28
    tablets). Prices in the assessment are compared per common unit.

    ``maker_selected_price`` is set only when the maker is a selected company of this
    consumable category: its own selected price per common unit (seed 004 二(二)).
    ``during_confirmed_supply_problem``: bought while a bureau-confirmed supply problem of the
    selected product was open. ``equal_quality``: declared of equal quality and efficacy
    (达到同等质量疗效), e.g. a substitutable product (可替代药品); its price is checked here.
    """

    quantity: Decimal
    amount: Decimal
    unit_price: Decimal
    status: ProductStatus
    during_confirmed_supply_problem: bool = False
    equal_quality: bool = False
    maker_selected_price: Decimal | None = None
    conversion: Decimal = ONE

    def __post_init__(self) -> None:
        # Plain strings from the database ("backup") become the enum, so identity checks hold.
        object.__setattr__(self, "status", ProductStatus(self.status))
        if self.quantity < 0 or self.amount < 0 or self.unit_price < 0:
            raise ValueError("quantity, amount and unit price must not be negative")
        if self.conversion <= 0:
            raise ValueError("conversion must be positive")

    @property
    def common_quantity(self) -> Decimal:
        return self.quantity * self.conversion

    def priced_at_most(self, price_per_common_unit: Decimal) -> bool:
        # Cross-multiplied so no inexact division is needed.
        return self.unit_price <= price_per_common_unit * self.conversion

    def priced_below(self, price_per_common_unit: Decimal) -> bool:
        return self.unit_price < price_per_common_unit * self.conversion


def classify_purchase(
    record: PurchaseRecord,
    *,
    selected_price: Decimal,
    agreed_completed: bool,
    kind: ProcurementKind | str,
) -> Treatment:
    """How one purchase is treated in the assessment.

    Checked in this order, the first that applies wins:

    1. backup supplier (备供) → ``BACKUP_SUPPLIER`` (seed 002 二(四));
    2. a selected product → ``SELECTED``;
    3. consumables, seed 004 二(二): a selected company's non-selected product listed at or
       below ITS OWN selected price in the category → ``COUNTED_AS_SELECTED`` ("可视为中选
       产品"); a non-selected company's product at or below ``selected_price`` (the category's
       HIGHEST selected price) → ``NOT_REGARDED_NON_SELECTED`` ("不视为非中选产品": it leaves
       the non-selected side but is not added to the selected side);
    4. bought during a bureau-confirmed supply problem → ``CONFIRMED_SUPPLY_PROBLEM``
       (seed 002 二(四));
    5. equal quality and priced strictly below the selected price ("價格低于中選藥品") →
       ``CHEAPER_EQUIVALENT`` (seed 002 二(四));
    6. drugs, seed 000 二: agreed volume completed and listed at or below the selected price
       ("中选价(含)以下") → ``COMPLETED_AT_OR_BELOW_SELECTED_PRICE``;
    7. otherwise ``NON_SELECTED``.
    """
    kind = ProcurementKind(kind)
    if record.status is ProductStatus.BACKUP:
        return Treatment.BACKUP_SUPPLIER
    if record.status is ProductStatus.SELECTED:
        return Treatment.SELECTED
    if kind is ProcurementKind.CONSUMABLE:
        # Seed 004 treats the two kinds of maker differently: a selected company is held to
        # its own selected price, any other company to the category's highest one.
        if record.maker_selected_price is not None:
            if record.priced_at_most(record.maker_selected_price):
                return Treatment.COUNTED_AS_SELECTED
        elif record.priced_at_most(selected_price):
            return Treatment.NOT_REGARDED_NON_SELECTED
    if record.during_confirmed_supply_problem:
        return Treatment.CONFIRMED_SUPPLY_PROBLEM
    if record.equal_quality and record.priced_below(selected_price):
        return Treatment.CHEAPER_EQUIVALENT
    if kind is ProcurementKind.DRUG and agreed_completed and record.priced_at_most(selected_price):
        return Treatment.COMPLETED_AT_OR_BELOW_SELECTED_PRICE
    return Treatment.NON_SELECTED


@dataclass(frozen=True)
class ComplianceResult:
    """Outcome of :func:`assess_selection_compliance`; quantities in the common unit."""

    selected_quantity: Decimal  # counted on the selected side, incl. counted-as-selected
    non_selected_quantity: Decimal  # counted on the non-selected side
    counted_as_selected_quantity: Decimal  # seed 004 二(二), part of selected_quantity
    exempt_quantity: Mapping[Treatment, Decimal]  # left out, by reason (only reasons that occurred)
    selected_amount: Decimal
    non_selected_amount: Decimal
    non_selected_share: Decimal  # non-selected / (selected + non-selected), 0 when both are 0
    agreed_completed: bool
    compliant: bool
    reasons: tuple[str, ...]


def assess_selection_compliance(
    purchases: Iterable[PurchaseRecord],
    *,
    selected_price: Decimal,
    agreed: Decimal,
    completed: Decimal,
    kind: ProcurementKind | str = ProcurementKind.DRUG,
) -> ComplianceResult:
    """Selected vs non-selected rule for one institution × generic (or consumable category)
    × agreement year.

    The rule, by QUANTITY (seed 000 二: "采购周期内每年采购中选药品使用量不得低于非中选药品
    采购量"; seed 001 二(二): "采购的非中选药品数量按比例关系折算后不得超过中选品种"):
    compliant when the counted selected quantity is at least the counted non-selected
    quantity. Each purchase is classified by :func:`classify_purchase`, which lists the
    exemptions and their order.

    ``selected_price`` is per common unit: the selected price of the generic for drugs, the
    category's highest selected price for consumables (seed 004 二(二) "同产品类别最高中选价").
    ``agreed`` and ``completed`` are the institution's agreed volume and the quantity of it
    completed so far; the agreed volume counts as completed when ``completed >= agreed``.
    ``reasons`` lists, for people, each exemption applied and the verdict, with its clause.
    """
    if agreed < 0 or completed < 0:
        raise ValueError("agreed and completed volumes must not be negative")
    agreed_completed = completed >= agreed
    quantities: dict[Treatment, Decimal] = {}
    amounts: dict[Treatment, Decimal] = {}
    for record in purchases:
        treatment = classify_purchase(
            record, selected_price=selected_price, agreed_completed=agreed_completed, kind=kind
        )
        quantities[treatment] = quantities.get(treatment, ZERO) + record.common_quantity
        amounts[treatment] = amounts.get(treatment, ZERO) + record.amount

    as_selected = quantities.get(Treatment.COUNTED_AS_SELECTED, ZERO)
    selected = quantities.get(Treatment.SELECTED, ZERO) + as_selected
    non_selected = quantities.get(Treatment.NON_SELECTED, ZERO)
    exempt = {t: q for t, q in quantities.items() if t.exempt}
    counted = selected + non_selected
    share = to_share(Fraction(non_selected) / Fraction(counted) if counted else Fraction(0))
    compliant = selected >= non_selected

    reasons = [f"{t.value}: {q} not counted ({CITATIONS[t]})" for t, q in exempt.items()]
    if as_selected:
        reasons.append(f"counted_as_selected: {as_selected} ({CITATIONS[Treatment.COUNTED_AS_SELECTED]})")
    verdict = "selected_not_below_non_selected" if compliant else "non_selected_exceeds_selected"
    reasons.append(f"{verdict}: selected {selected}, non-selected {non_selected} ({RULE_CITATION})")

    return ComplianceResult(
        selected_quantity=selected,
        non_selected_quantity=non_selected,
        counted_as_selected_quantity=as_selected,
        exempt_quantity=exempt,
        selected_amount=sum(
            (amounts.get(t, ZERO) for t in (Treatment.SELECTED, Treatment.COUNTED_AS_SELECTED)), ZERO
        ),
        non_selected_amount=amounts.get(Treatment.NON_SELECTED, ZERO),
        non_selected_share=share,
        agreed_completed=agreed_completed,
        compliant=compliant,
        reasons=tuple(reasons),
    )
