"""Settlement arithmetic for the one-stop settlement (一站式结算) of a dispensed prescription.

Pure policy: frozen dataclasses and functions of plain values, no database, no Flask. The
service layer loads a `Policy` and the patient's `Accumulators` for the year, calls `settle`,
stores the result and the new accumulators in one transaction, and calls `reverse` to undo a
settlement.

Money is `Decimal` yuan. Ratios are `Decimal` in [0, 1]. Floats are refused everywhere: a float
has already lost the fen it was meant to carry.

The rounding rule
-----------------
Every amount computed as a product (a price times a quantity, an amount times a ratio) is
rounded half-up to the fen (0.01 yuan) as soon as it is computed, per line. Everything else is
subtraction and min() of fen amounts, hence exact. The patient's part is what remains of the
line total after the rounded fund parts, so the parts sum to the total by construction.

The rules, per line, in line order
----------------------------------
Lines are settled one after another; the accumulators are advanced after each line, so a
deductible, a cap or a critical-illness tier crossed inside one claim is handled exactly where
it is crossed. Settling a claim of two lines gives the same result as settling the first line,
then the second with the advanced accumulators. R() is the rounding rule above; "remaining"
means the annual limit minus the accumulated amount, never below 0.

1. Payment standard (支付标准). ``total = R(unit_price × quantity)``;
   ``in_standard = R(min(unit_price, payment_standard) × quantity)`` (= ``total`` without a
   standard). ``over_standard = total − in_standard`` is the patient's: a price above the
   standard pays the excess, a price below it is paid at the actual price.
2. First self-pay (先行自付). ``first_self_pay = R(in_standard × first_self_pay_ratio)`` is the
   patient's. It lies outside the policy range (政策范围内): it does not consume the deductible,
   is not reimbursed by the basic fund, and is NOT counted in the critical-illness base nor in
   the medical-assistance base. (Chosen deliberately: the usual practice is that 政策范围内
   个人负担 excludes the Class B first self-pay, as it excludes the part above the standard.)
3. Basic medical insurance (基本医保). ``policy_range = in_standard − first_self_pay``.
   ``deductible = min(policy_range, remaining deductible)`` is the patient's.
   ``basic_fund = min(R((policy_range − deductible) × fund_ratio), remaining fund_cap)``.
   ``in_policy_self_pay = policy_range − basic_fund``: the deductible, the (1 − ratio) share
   and anything above the fund cap.
4. Critical illness insurance (大病保险). ``in_policy_self_pay`` is added to the annual
   ``ci_base``. The part of that addition lying above ``ci_threshold`` is reimbursed tier by
   tier: the tiers are segments of the accumulated amount ABOVE the threshold, tier i covering
   (upper_{i-1}, upper_i] with upper_{-1} = 0 and a last upper bound of None meaning no bound
   (above a last finite bound nothing is paid). One line may span several tiers.
   ``critical_illness = min(R(Σ ratio_i × overlap_i), remaining ci_cap)``.
5. Medical assistance (医疗救助). ``medical_assistance = min(R(assistance_ratio[category] ×
   (in_policy_self_pay − critical_illness)), remaining assistance_cap)``. Over-standard and
   first self-pay amounts are not assisted (step 2).
6. Patient. ``patient_pays = total − basic_fund − critical_illness − medical_assistance``
   = over_standard + first_self_pay + in_policy_self_pay − critical_illness −
   medical_assistance. No part is ever negative (each is bounded by what is left for it).

Claim totals are sums of the line parts. The accumulator delta of a claim is: deductible used,
basic fund paid, in-policy self-pay added to the CI base, CI paid, assistance paid.

Reversal (`reverse`) subtracts a settlement's delta from the accumulators. Reverse the latest
settlement first: reversing an earlier one leaves later settlements as they were settled (they
are not re-adjudicated), which is the usual practice, but their splits then no longer match a
fresh settlement in order.

Not modelled: a separate deductible for medical assistance, and different ratios per hospital
level; a region needing them would extend `Policy`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path

from dualchannel.insurance import Insurance
from dualchannel.transitions import Move, table

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
INSURANCE_TYPES = tuple(i.value for i in Insurance)

#: Medical-assistance ratios used when a policy does not give its own. Illustrative values in
#: line with common Shandong practice: people in extreme poverty (特困人员) are assisted in
#: full, subsistence-allowance recipients (低保对象) at 70 %, people on the margin of the
#: allowance (低保边缘家庭成员) at 60 %; everyone else ("none") is not assisted.
DEFAULT_ASSISTANCE_RATIOS: Mapping[str, Decimal] = {
    "none": Decimal("0"),
    "low_income": Decimal("0.70"),
    "low_income_marginal": Decimal("0.60"),
    "extreme_poverty": Decimal("1.00"),
}


def round_fen(amount: Decimal) -> Decimal:
    """Round an amount in yuan half-up to the fen: the module's one rounding rule."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def _decimal(name: str, value: object) -> Decimal:
    # bool is an int subclass; True as a price is a bug, not a yuan.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"{name}: expected Decimal, int or str, got {type(value).__name__}")
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return result


def _money(name: str, value: object) -> Decimal:
    # Limits and running totals are stored in fen; a sub-fen limit would make a capped fund
    # part sub-fen and break the "parts are whole fen" guarantee.
    amount = _decimal(name, value)
    if amount < 0:
        raise ValueError(f"{name}: must not be negative, got {amount}")
    if amount != amount.quantize(FEN):
        raise ValueError(f"{name}: must be whole fen (2 decimals), got {amount}")
    # Same exponent everywhere, so amounts print as "500.00", not "500".
    return amount.quantize(FEN)


def _ratio(name: str, value: object) -> Decimal:
    ratio = _decimal(name, value)
    if not 0 <= ratio <= 1:
        raise ValueError(f"{name}: must be between 0 and 1, got {ratio}")
    return ratio


def _remaining(cap: Decimal, used: Decimal) -> Decimal:
    # A total may exceed its cap (a policy changed mid-year): nothing remains, never less.
    return max(cap - used, ZERO)


def _set(obj: object, name: str, value: object) -> None:
    # Normalising inputs in __post_init__ of a frozen dataclass.
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class Policy:
    """Settlement policy of one coordinating region and insurance type from a date on.

    Amounts in yuan (whole fen), ratios in [0, 1]; all annual limits apply per calendar year
    through the `Accumulators` the caller passes in.

    - ``region``: adcode of the coordinating region (统筹地区), e.g. "370800".
    - ``insurance``: "employee" (职工医保) or "resident" (居民医保).
    - ``effective_from``: first day the policy applies.
    - ``deductible``: annual deductible (起付线), paid by the patient.
    - ``fund_ratio``: share of the policy range above the deductible paid by the basic fund.
    - ``fund_cap``: annual maximum paid by the basic fund (最高支付限额).
    - ``ci_threshold``: annual threshold (起付标准) of critical illness insurance on the
      accumulated in-policy self-pay.
    - ``ci_tiers``: ``((upper_bound or None, ratio), ...)``, bounds strictly increasing, on
      the accumulated amount above ``ci_threshold``; only the last bound may be None.
    - ``ci_cap``: annual maximum paid by critical illness insurance.
    - ``assistance_cap``: annual maximum of medical assistance.
    - ``assistance_ratios``: medical-assistance ratio per category; "none" is always 0.
      Stored as sorted ``(category, ratio)`` pairs (so the policy stays hashable); a mapping
      is accepted. Defaults to `DEFAULT_ASSISTANCE_RATIOS`.
    """

    region: str
    insurance: str
    effective_from: date
    deductible: Decimal
    fund_ratio: Decimal
    fund_cap: Decimal
    ci_threshold: Decimal
    ci_tiers: tuple[tuple[Decimal | None, Decimal], ...]
    ci_cap: Decimal
    assistance_cap: Decimal
    assistance_ratios: tuple[tuple[str, Decimal], ...] = field(
        default=tuple(sorted(DEFAULT_ASSISTANCE_RATIOS.items()))
    )

    def __post_init__(self) -> None:
        if not (isinstance(self.region, str) and len(self.region) == 6 and self.region.isdigit()):
            raise ValueError(f"region: expected a 6-digit adcode, got {self.region!r}")
        if self.insurance not in INSURANCE_TYPES:
            raise ValueError(
                f"insurance: expected one of {INSURANCE_TYPES}, got {self.insurance!r}")
        if not isinstance(self.effective_from, date):
            raise TypeError("effective_from: expected a date")
        for name in ("deductible", "fund_cap", "ci_threshold", "ci_cap", "assistance_cap"):
            _set(self, name, _money(name, getattr(self, name)))
        _set(self, "fund_ratio", _ratio("fund_ratio", self.fund_ratio))
        _set(self, "ci_tiers", self._normalise_tiers(self.ci_tiers))
        _set(self, "assistance_ratios", self._normalise_assistance(self.assistance_ratios))

    @staticmethod
    def _normalise_tiers(tiers: Iterable) -> tuple[tuple[Decimal | None, Decimal], ...]:
        result = []
        previous = ZERO
        pairs = list(tiers)
        for i, (bound, ratio) in enumerate(pairs):
            ratio = _ratio(f"ci_tiers[{i}].ratio", ratio)
            if bound is None:
                if i != len(pairs) - 1:
                    raise ValueError("ci_tiers: only the last tier may be unbounded")
            else:
                bound = _money(f"ci_tiers[{i}].up_to", bound)
                if bound <= previous:
                    raise ValueError("ci_tiers: upper bounds must be positive and increasing")
                previous = bound
            result.append((bound, ratio))
        return tuple(result)

    @staticmethod
    def _normalise_assistance(ratios: Mapping | Iterable) -> tuple[tuple[str, Decimal], ...]:
        items = dict(ratios.items() if isinstance(ratios, Mapping) else ratios)
        items.setdefault("none", Decimal("0"))
        result = {}
        for category, ratio in items.items():
            if not isinstance(category, str) or not category:
                raise ValueError(f"assistance_ratios: bad category {category!r}")
            result[category] = _ratio(f"assistance_ratios[{category}]", ratio)
        if result["none"] != 0:
            raise ValueError("assistance_ratios: category 'none' must be 0")
        return tuple(sorted(result.items()))

    def assistance_ratio(self, category: str) -> Decimal:
        """Medical-assistance ratio of ``category``; ValueError for a category the policy lacks."""
        for name, ratio in self.assistance_ratios:
            if name == category:
                return ratio
        known = ", ".join(name for name, _ in self.assistance_ratios)
        raise ValueError(f"unknown assistance category {category!r} (known: {known})")

    @classmethod
    def from_dict(cls, data: Mapping) -> Policy:
        """Build a policy from its JSON form (as in ``policy_example.json``).

        Keys: ``region`` (adcode string), ``insurance`` ("employee"|"resident"),
        ``effective_from`` (ISO date), ``deductible``, ``fund_ratio``, ``fund_cap``,
        ``ci_threshold``, ``ci_tiers`` (list of ``{"up_to": amount or null, "ratio": r}``),
        ``ci_cap``, ``assistance_ratios`` (optional object category → ratio),
        ``assistance_cap``, and an optional free-text ``note``. Amounts in yuan and ratios as
        decimal strings (or integers); floats are refused. Unknown keys are refused so that a
        misspelt limit cannot silently fall back to nothing.
        """
        allowed = {f.name for f in fields(cls)} | {"note"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown policy keys: {sorted(unknown)}")
        tiers = []
        for i, tier in enumerate(data["ci_tiers"]):
            if set(tier) != {"up_to", "ratio"}:
                raise ValueError(f"ci_tiers[{i}]: expected keys 'up_to' and 'ratio'")
            tiers.append((tier["up_to"], tier["ratio"]))
        optional = {}
        if "assistance_ratios" in data:
            optional["assistance_ratios"] = data["assistance_ratios"]
        return cls(
            region=data["region"],
            insurance=data["insurance"],
            effective_from=date.fromisoformat(data["effective_from"]),
            deductible=data["deductible"],
            fund_ratio=data["fund_ratio"],
            fund_cap=data["fund_cap"],
            ci_threshold=data["ci_threshold"],
            ci_tiers=tuple(tiers),
            ci_cap=data["ci_cap"],
            assistance_cap=data["assistance_cap"],
            **optional,
        )


def load_policies(path: str | Path | None = None) -> tuple[Policy, ...]:
    """Load policies from a JSON file shaped like ``policy_example.json``.

    The file is an object with a ``policies`` list of `Policy.from_dict` objects (other
    top-level keys are documentation and ignored). Without ``path``, the packaged example
    (Jining 370800, employee and resident; illustrative figures, not the official ones).
    Numbers written bare in JSON are read as Decimal, never through float.
    """
    return tuple(policy for policy, _ in load_policies_with_notes(path))


def load_policies_with_notes(path: str | Path | None = None) -> tuple[tuple[Policy, str | None], ...]:
    """`load_policies`, each policy paired with its free-text ``note`` (None without one)."""
    if path is None:
        text = resources.files(__package__).joinpath("policy_example.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    document = json.loads(text, parse_float=Decimal)
    return tuple((Policy.from_dict(item), item.get("note")) for item in document["policies"])


def policy_for(policies: Iterable[Policy], *, region: str, insurance: str, on: date) -> Policy:
    """The policy of ``region`` and ``insurance`` in force ``on`` a date (latest start ≤ on).

    LookupError when none is in force.
    """
    candidates = [
        p for p in policies
        if p.region == region and p.insurance == insurance and p.effective_from <= on
    ]
    if not candidates:
        raise LookupError(f"no {insurance} policy for region {region} in force on {on}")
    return max(candidates, key=lambda p: p.effective_from)


@dataclass(frozen=True)
class Accumulators:
    """A patient's running totals for one year, in yuan (whole fen, never negative).

    ``deductible_used``: deductible paid so far; ``fund_paid``: basic fund paid;
    ``ci_base``: in-policy self-pay accumulated toward critical illness insurance;
    ``ci_paid``: critical illness insurance paid; ``assistance_paid``: medical assistance paid.
    ``a + delta`` and ``a - delta`` add or take away another `Accumulators` field by field;
    a subtraction that would go negative raises ValueError.
    """

    deductible_used: Decimal = ZERO
    fund_paid: Decimal = ZERO
    ci_base: Decimal = ZERO
    ci_paid: Decimal = ZERO
    assistance_paid: Decimal = ZERO

    def __post_init__(self) -> None:
        for f in fields(self):
            _set(self, f.name, _money(f.name, getattr(self, f.name)))

    def __add__(self, other: Accumulators) -> Accumulators:
        if not isinstance(other, Accumulators):
            return NotImplemented
        return Accumulators(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                               for f in fields(self)})

    def __sub__(self, other: Accumulators) -> Accumulators:
        if not isinstance(other, Accumulators):
            return NotImplemented
        return Accumulators(**{f.name: getattr(self, f.name) - getattr(other, f.name)
                               for f in fields(self)})


@dataclass(frozen=True)
class ChargeLine:
    """One dispensed prescription line.

    ``quantity`` in dispensing units (≥ 1); ``unit_price`` the price charged per unit (e.g.
    the pharmacy's agreed price, any number of decimals); ``payment_standard`` per unit
    (支付标准, any number of decimals, commonly up to 4), None when the drug has none;
    ``first_self_pay_ratio`` (先行自付比例) in [0, 1], 0 for a Class A drug.
    """

    drug_code: str
    quantity: int
    unit_price: Decimal
    payment_standard: Decimal | None = None
    first_self_pay_ratio: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        if not isinstance(self.drug_code, str) or not self.drug_code:
            raise ValueError("drug_code: must be a non-empty string")
        quantity = self.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ValueError(f"quantity: must be a positive int, got {self.quantity!r}")
        _set(self, "unit_price", _decimal("unit_price", self.unit_price))
        if self.unit_price < 0:
            raise ValueError("unit_price: must not be negative")
        if self.payment_standard is not None:
            _set(self, "payment_standard", _decimal("payment_standard", self.payment_standard))
            if self.payment_standard < 0:
                raise ValueError("payment_standard: must not be negative")
        _set(self, "first_self_pay_ratio",
             _ratio("first_self_pay_ratio", self.first_self_pay_ratio))


@dataclass(frozen=True)
class LineSplit:
    """How one line's total is divided (yuan, whole fen, none negative).

    ``total = basic_fund + critical_illness + medical_assistance + patient_pays`` exactly.
    ``over_standard``, ``first_self_pay``, ``deductible`` and ``in_policy_self_pay`` are the
    patient's shares before critical illness insurance and medical assistance:
    ``patient_pays = over_standard + first_self_pay + in_policy_self_pay − critical_illness −
    medical_assistance``; ``in_policy_self_pay`` includes ``deductible`` and is what the line
    adds to the critical-illness base. ``policy_range`` is the 政策范围内 amount.
    """

    drug_code: str
    total: Decimal
    over_standard: Decimal
    first_self_pay: Decimal
    policy_range: Decimal
    deductible: Decimal
    basic_fund: Decimal
    in_policy_self_pay: Decimal
    critical_illness: Decimal
    medical_assistance: Decimal
    patient_pays: Decimal


@dataclass(frozen=True)
class SettlementResult:
    """A settled claim: per-line splits, claim totals (sums of the line parts) and accumulators.

    ``delta`` is what the claim adds to the patient's accumulators; ``after = before + delta``.
    """

    lines: tuple[LineSplit, ...]
    total: Decimal
    basic_fund: Decimal
    critical_illness: Decimal
    medical_assistance: Decimal
    patient_pays: Decimal
    before: Accumulators
    delta: Accumulators
    after: Accumulators


def _critical_illness_raw(policy: Policy, base_before: Decimal, base_after: Decimal) -> Decimal:
    # Work in "amount above threshold" coordinates, where the tier bounds live.
    start = max(base_before - policy.ci_threshold, ZERO)
    end = max(base_after - policy.ci_threshold, ZERO)
    raw = Decimal(0)
    lower = ZERO
    for upper, ratio in policy.ci_tiers:
        top = end if upper is None else min(end, upper)
        overlap = top - max(start, lower)
        if overlap > 0:
            raw += overlap * ratio
        lower = upper  # None only after the last tier
    return raw


def _settle_line(policy: Policy, acc: Accumulators, line: ChargeLine,
                 assistance_ratio: Decimal) -> tuple[LineSplit, Accumulators]:
    total = round_fen(line.unit_price * line.quantity)
    if line.payment_standard is None:
        in_standard = total
    else:
        in_standard = round_fen(min(line.unit_price, line.payment_standard) * line.quantity)
    first_self_pay = round_fen(in_standard * line.first_self_pay_ratio)
    policy_range = in_standard - first_self_pay

    deductible = min(policy_range, _remaining(policy.deductible, acc.deductible_used))
    basic_fund = min(round_fen((policy_range - deductible) * policy.fund_ratio),
                     _remaining(policy.fund_cap, acc.fund_paid))
    in_policy_self_pay = policy_range - basic_fund

    critical_illness = min(
        round_fen(_critical_illness_raw(policy, acc.ci_base, acc.ci_base + in_policy_self_pay)),
        _remaining(policy.ci_cap, acc.ci_paid),
    )
    medical_assistance = min(
        round_fen((in_policy_self_pay - critical_illness) * assistance_ratio),
        _remaining(policy.assistance_cap, acc.assistance_paid),
    )
    split = LineSplit(
        drug_code=line.drug_code,
        total=total,
        over_standard=total - in_standard,
        first_self_pay=first_self_pay,
        policy_range=policy_range,
        deductible=deductible,
        basic_fund=basic_fund,
        in_policy_self_pay=in_policy_self_pay,
        critical_illness=critical_illness,
        medical_assistance=medical_assistance,
        patient_pays=total - basic_fund - critical_illness - medical_assistance,
    )
    delta = Accumulators(
        deductible_used=deductible,
        fund_paid=basic_fund,
        ci_base=in_policy_self_pay,
        ci_paid=critical_illness,
        assistance_paid=medical_assistance,
    )
    return split, delta


def settle(policy: Policy, accumulators: Accumulators, lines: Sequence[ChargeLine],
           assistance_category: str = "none") -> SettlementResult:
    """Settle a claim's ``lines`` under ``policy`` for a patient with these ``accumulators``.

    ``assistance_category`` is a key of ``policy.assistance_ratios`` ("none" when the patient
    is not a medical-assistance beneficiary). Applies the module's rules line by line in the
    given order. ValueError for an empty claim or an unknown category. Pure: the caller
    stores ``result.after`` as the patient's new accumulators.
    """
    if not lines:
        raise ValueError("a settlement needs at least one line")
    assistance_ratio = policy.assistance_ratio(assistance_category)
    splits = []
    current = accumulators
    for line in lines:
        split, delta = _settle_line(policy, current, line, assistance_ratio)
        splits.append(split)
        current = current + delta
    return SettlementResult(
        lines=tuple(splits),
        total=sum((s.total for s in splits), ZERO),
        basic_fund=sum((s.basic_fund for s in splits), ZERO),
        critical_illness=sum((s.critical_illness for s in splits), ZERO),
        medical_assistance=sum((s.medical_assistance for s in splits), ZERO),
        patient_pays=sum((s.patient_pays for s in splits), ZERO),
        before=accumulators,
        delta=current - accumulators,
        after=current,
    )


def charge_in_full(accumulators: Accumulators, lines: Sequence[ChargeLine]) -> SettlementResult:
    """A manual claim no policy can adjudicate yet (the insured region's policy is not held):
    the patient pays every line in full at the counter and nothing enters the accumulators; the
    insured region's bureau adjudicates it with `settle` when it decides the claim."""
    if not lines:
        raise ValueError("a settlement needs at least one line")
    splits = []
    for line in lines:
        total = round_fen(line.unit_price * line.quantity)
        splits.append(LineSplit(drug_code=line.drug_code, total=total, over_standard=ZERO, first_self_pay=ZERO,
                                policy_range=ZERO, deductible=ZERO, basic_fund=ZERO, in_policy_self_pay=ZERO,
                                critical_illness=ZERO, medical_assistance=ZERO, patient_pays=total))
    total = sum((s.total for s in splits), ZERO)
    return SettlementResult(lines=tuple(splits), total=total, basic_fund=ZERO, critical_illness=ZERO,
                            medical_assistance=ZERO, patient_pays=total, before=accumulators,
                            delta=Accumulators(), after=accumulators)


def reverse(accumulators: Accumulators, result: SettlementResult) -> Accumulators:
    """The accumulators with a settlement ``result`` taken back out.

    ``reverse(result.after, result) == result.before``. Reverse the latest settlement first
    (see the module docstring); ValueError when the accumulators do not contain the
    settlement (a total would go negative, e.g. accumulators of another year).
    """
    try:
        return accumulators - result.delta
    except ValueError as exc:
        raise ValueError(f"accumulators do not contain this settlement: {exc}") from None


class Status(enum.StrEnum):
    """Where a settlement stands. A direct settlement is ``settled`` at once; a manual claim
    (手工报销) is ``pending`` until a bureau approves or rejects it."""

    settled = "settled"
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    reversed = "reversed"


#: Statuses whose amounts count in the patient's accumulators (a pending claim reserves them,
#: so a decision never re-adjudicates it). Leaving them releases the accumulators.
IN_FORCE = frozenset({Status.settled, Status.pending, Status.approved})

#: The one table of settlement moves.
TRANSITIONS: Mapping[str, Move] = table(
    # A claim charged in full (no policy of the insured region held) split under that policy.
    Move("adjudicate", frozenset({Status.pending}), Status.pending),
    Move("approve", frozenset({Status.pending}), Status.approved),
    Move("reject", frozenset({Status.pending}), Status.rejected),
    Move("reverse", IN_FORCE, Status.reversed),
)


def delta_of(lines: Iterable[LineSplit]) -> Accumulators:
    """What settled ``lines`` added to the accumulators: ``SettlementResult.delta`` rebuilt
    from the lines (`LineSplit`, or stored rows with the same fields), for reversing a
    settlement read back from the database."""
    lines = list(lines)
    return Accumulators(
        deductible_used=sum((s.deductible for s in lines), ZERO),
        fund_paid=sum((s.basic_fund for s in lines), ZERO),
        ci_base=sum((s.in_policy_self_pay for s in lines), ZERO),
        ci_paid=sum((s.critical_illness for s in lines), ZERO),
        assistance_paid=sum((s.medical_assistance for s in lines), ZERO),
    )
