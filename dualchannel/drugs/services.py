"""The drug catalogue: registering drugs, reading them, and their dated payment standards."""

import functools
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.drugs import rules
from dualchannel.drugs.models import ALL_DRUGS, Drug, DrugPaymentStandard
from dualchannel.errors import Conflict, FieldMessage, Invalid, NotFound
from dualchannel.insurance import Insurance

INSURANCE_TYPES = tuple(i.value for i in Insurance)


def create_drug(session: Session, actor: Actor, *, code: str, generic_name: str, name: str, unit: str,
                negotiated: bool | None = None, dual_channel: bool | None = None,
                separate_payment: bool | None = None, requires_eligibility: bool | None = None,
                storage: str | None = None, payment_standard: Decimal | None = None,
                agreed_price: Decimal | None = None, consistency_evaluated: bool = True,
                trace_prefixes: list[str] = (), units_per_pack: int | None = None) -> Drug:
    """Add a drug to the catalogue (admin or a bureau).

    A drug of the generic name of a negotiated dual-channel drug follows it (seed 003 一:
    国谈药品（含同通用名仿制药和生物类似药）): the policy fields it does not state (None) are the
    original's, and `follows` names the original (rules.policy_of_new_drug).
    """
    actor.require(Role.admin, Role.bureau)
    if session.get(Drug, code):
        raise Conflict(f"Drug {code} already exists.", code="drug_exists")
    prefixes = _free_prefixes(session, code, trace_prefixes)
    stated = {"negotiated": negotiated, "dual_channel": dual_channel, "separate_payment": separate_payment,
              "requires_eligibility": requires_eligibility, "storage": storage}
    policy, follows = rules.policy_of_new_drug(stated, original_of(session, generic_name))
    drug = Drug(code=code, generic_name=generic_name, name=name, unit=unit, payment_standard=payment_standard,
                agreed_price=agreed_price, consistency_evaluated=consistency_evaluated, follows=follows,
                trace_prefixes=prefixes, units_per_pack=units_per_pack, created_at=clock.now(), **policy)
    session.add(drug)
    db.commit(session, f"Drug {code} already exists.", code="drug_exists")
    return drug


def _free_prefixes(session: Session, code: str, prefixes) -> list[str]:
    """`prefixes` without repeats, each the product code of no other drug (a 药品标识码 names one
    product and package), or Invalid naming the drug that has it."""
    wanted = sorted(set(prefixes))
    taken = {prefix: owner.code for owner in session.exec(select(Drug).where(Drug.code != code))
             for prefix in owner.trace_prefixes if prefix in wanted}
    if taken:
        raise Invalid("A product identification code belongs to another drug.",
                      {"trace_prefixes": [FieldMessage("trace_prefix_taken", f"{prefix} is {owner}'s.",
                                                         prefix=prefix, drug=owner)
                                         for prefix, owner in sorted(taken.items())]},
                      code="trace_prefix_taken")
    return wanted


def change_drug(session: Session, actor: Actor, code: str, **changes) -> Drug:
    """Change a drug's `trace_prefixes` (药品标识码) or `units_per_pack` (None: dispensed whole),
    whichever `changes` names (admin only). A pack already opened keeps the units it was opened
    with."""
    actor.require(Role.admin)
    drug = get_drug(session, code)
    if "trace_prefixes" in changes:
        drug.trace_prefixes = _free_prefixes(session, code, changes["trace_prefixes"])
    if "units_per_pack" in changes:
        drug.units_per_pack = changes["units_per_pack"]
    session.commit()
    return drug


def owners_of_prefixes(session: Session, prefixes: set[str]) -> dict[str, Drug]:
    """The drug each of `prefixes` (product identification codes) belongs to, where known."""
    return {prefix: drug for drug in session.exec(select(Drug)) for prefix in drug.trace_prefixes
            if prefix in prefixes}


def original_of(session: Session, generic_name: str) -> dict | None:
    """The drug new drugs of `generic_name` follow, as plain values: the first registered one
    that is negotiated and dual-channel and follows none itself (a copy is never an original)."""
    original = session.exec(select(Drug).where(Drug.generic_name == generic_name, Drug.negotiated.is_(True),
                                               Drug.dual_channel.is_(True), Drug.follows.is_(None))
                            .order_by(Drug.created_at, Drug.code)).first()
    return None if original is None else original.model_dump()


def get_drug(session: Session, code: str) -> Drug:
    drug = session.get(Drug, code)
    if drug is None:
        raise NotFound(f"No drug {code}.", code="drug_not_found")
    return drug


def list_drugs(session: Session, *, dual_channel: bool | None = None) -> list[Drug]:
    """The catalogue (a few hundred rows at most), by generic name."""
    statement = select(Drug).order_by(Drug.generic_name, Drug.code)
    if dual_channel is not None:
        statement = statement.where(Drug.dual_channel == dual_channel)
    return list(session.exec(statement))


def drugs_by_code(session: Session, codes: set[str]) -> dict[str, Drug]:
    return {d.code: d for d in session.exec(_drugs_by_code_query(), params={"codes": list(codes)})}


@functools.cache
def _drugs_by_code_query() -> sa.Select:
    return select(Drug).where(Drug.code.in_(sa.bindparam("codes", expanding=True)))


def drugs_of_generic(session: Session, generic_name: str) -> list[Drug]:
    """Every catalogue drug of a generic name (exact match), by code."""
    return list(session.exec(select(Drug).where(Drug.generic_name == generic_name).order_by(Drug.code)))


def own_price(drug: Drug) -> Decimal | None:
    """What a unit of the drug costs: its agreed price (协议价格), else its catalogue standard."""
    return drug.agreed_price if drug.agreed_price is not None else drug.payment_standard


@functools.cache
def _standard_query() -> sa.Select:
    # The latest row on or before `on`; on the same date the drug's own row beats the generic's.
    return (select(DrugPaymentStandard)
            .where(DrugPaymentStandard.generic_name == sa.bindparam("generic_name"),
                   DrugPaymentStandard.drug_code.in_([sa.bindparam("drug_code"), ALL_DRUGS]),
                   DrugPaymentStandard.effective_from <= sa.bindparam("on"))
            .order_by(DrugPaymentStandard.effective_from.desc(),
                      sa.case((DrugPaymentStandard.drug_code == ALL_DRUGS, 1), else_=0))
            .limit(1))


def _standard_in_force(session: Session, drug: Drug, on: date) -> DrugPaymentStandard | None:
    return session.exec(_standard_query(), params={"generic_name": drug.generic_name, "drug_code": drug.code,
                                                   "on": on}).first()


def payment_standard_on(session: Session, drug: Drug, on: date, *,
                        insurance: str | None = None) -> tuple[Decimal | None, Decimal]:
    """The payment standard per unit of `drug` on date `on`, and its first self-pay ratio.

    Before any procurement standard is in force: the catalogue's `payment_standard` and a
    ratio of 0. From a batch's effective date: the standard procurement wrote for the drug's
    generic name (the selected price, or the drug's own step-down towards it), never above the
    drug's own price (seed 001 二(四): "患者使用价格低于支付标准的药品，按实际价格支付"). The
    ratio is that of `insurance` ("employee" or "resident", seed 004 二); None gives the base
    ratio before the selected-product reduction. A drug priced above a generic-wide standard
    is not treated as selected: it keeps the base ratio.
    """
    if insurance is not None and insurance not in INSURANCE_TYPES:
        raise Invalid(f"Unknown insurance type {insurance!r}.",
                      {"insurance": [FieldMessage("not_one_of", f"One of {', '.join(INSURANCE_TYPES)}.",
                                                    choices=", ".join(INSURANCE_TYPES))]},
                      code="insurance_unknown")
    row = _standard_in_force(session, drug, on)
    if row is None:
        return drug.payment_standard, Decimal(0)
    price = own_price(drug)
    standard = row.standard if price is None else min(price, row.standard)
    if insurance is None or (row.drug_code == ALL_DRUGS and price is not None and price > row.standard):
        return standard, row.first_self_pay_base
    return standard, getattr(row, f"first_self_pay_{insurance}")


def payment_standard_detail(session: Session, code: str, *, on: date, insurance: str | None = None) -> dict:
    """`payment_standard_on` for the API, with where the standard comes from."""
    drug = get_drug(session, code)
    standard, ratio = payment_standard_on(session, drug, on, insurance=insurance)
    row = _standard_in_force(session, drug, on)
    return {"drug_code": drug.code, "generic_name": drug.generic_name, "on": on, "insurance": insurance,
            "standard": standard, "first_self_pay_ratio": ratio,
            "source_batch": row.source_batch if row else None,
            "effective_from": row.effective_from if row else None}


def replace_payment_standards(session: Session, *, generic_name: str, source_batch: str, effective_from: date,
                              rows: list[dict]) -> None:
    """Write a batch's dated standards for a generic name, in the caller's transaction.

    `rows` are the batch's rows (`drug_code`, `effective_from`, `standard`, the three ratios),
    all on or after `effective_from`, the batch's start. They replace the batch's earlier rows
    and the tails (later step-down years) of batches that started on or before it; a batch
    starting later keeps its rows, and this batch's rows stop where it starts.
    """
    existing = list(session.exec(select(DrugPaymentStandard).where(DrugPaymentStandard.generic_name == generic_name)))
    starts: dict[str, date] = {}
    for row in existing:
        starts[row.source_batch] = min(starts.get(row.source_batch, row.effective_from), row.effective_from)
    successor = min((start for batch, start in starts.items() if batch != source_batch and start > effective_from),
                    default=None)
    for row in existing:
        if row.source_batch == source_batch or (starts[row.source_batch] <= effective_from
                                                and row.effective_from >= effective_from):
            session.delete(row)
    session.flush()
    now = clock.now()
    for row in rows:
        if successor is None or row["effective_from"] < successor:
            session.add(DrugPaymentStandard(generic_name=generic_name, source_batch=source_batch, created_at=now, **row))


# Read by other features (they never query the drug table themselves).

def with_drug(statement: sa.Select, code: sa.ColumnElement) -> sa.Select:
    """`statement` with the drug whose code is `code` joined and added as its next entity."""
    return statement.add_columns(Drug).join(Drug, Drug.code == code)


@functools.cache
def drug_view() -> sa.Subquery:
    """The drug table as other features join and read it (read-only)."""
    return sa.select(Drug.code, Drug.generic_name, Drug.name, Drug.dual_channel, Drug.negotiated,
                     Drug.storage, Drug.unit).subquery("drug_view")


def names(session: Session, codes: set[str]) -> dict[str, str]:
    """Names of the drugs among `codes`, by code."""
    if not codes:
        return {}
    return dict(session.execute(sa.select(Drug.code, Drug.name).where(Drug.code.in_(list(codes)))).all())
