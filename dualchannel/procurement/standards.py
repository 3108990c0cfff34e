"""Payment standards written into the drugs feature from a batch's selected products (seed 001
二(四)), with the step-down of drugs priced far above the standard and the first self-pay ratios.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlmodel import Session, select

from dualchannel.drugs import services as drugs
from dualchannel.drugs.models import ALL_DRUGS
from dualchannel.insurance import Insurance
from dualchannel.procurement.models import Batch, Product
from dualchannel.procurement.rules.agreement import UNIT_PRICE, ProductStatus, add_months
from dualchannel.procurement.rules.prices import (DEFAULT_STEP_DOWN, StepDownSchedule, first_self_pay_ratio,
                                                  payment_standard_on)


def check_settings(config) -> dict[str, str]:
    """What is wrong with the procurement settings only this feature can read, by setting."""
    if not config.get("PROCUREMENT_STEP_DOWN"):
        return {}
    try:
        StepDownSchedule.from_setting(config["PROCUREMENT_STEP_DOWN"])
    except ValueError as error:
        return {"PROCUREMENT_STEP_DOWN": f"a valid step-down schedule ({error})"}
    return {}


def step_down_schedule() -> StepDownSchedule:
    """The payment-standard step-down: `PROCUREMENT_STEP_DOWN` or the rules' default.

    Configured as ``{"years": [["0.7", "0"], ["0.35", "0.5"], ["0", "1"]]}`` (each year:
    own-price factor, selected-price factor; the standard is kept within [selected, own price]).
    """
    configured = current_app.config.get("PROCUREMENT_STEP_DOWN")
    if not configured:
        return DEFAULT_STEP_DOWN
    return StepDownSchedule.from_setting(configured)


def first_self_pay_ratios(batch: Batch) -> tuple[Decimal, Decimal, Decimal]:
    """(base, employee, resident) first self-pay ratios of a batch's selected products."""
    base = batch.first_self_pay_base
    if base is None:
        base = Decimal(str(current_app.config["PROCUREMENT_FIRST_SELF_PAY_BASE"][batch.kind]))
    return (base, first_self_pay_ratio(base, Insurance.EMPLOYEE, True, batch.kind),
            first_self_pay_ratio(base, Insurance.RESIDENT, True, batch.kind))


def refresh_payment_standards(session: Session, batch: Batch, generic_name: str) -> None:
    """Write the dated payment standards of a generic name from a batch, in the caller's
    transaction.

    The standard is the batch's highest selected price per common unit of the generic (with
    several selected companies, none of their products is paid below its own price). From the
    effective date it applies to every catalogue drug of that generic name (matched exactly);
    a drug priced far above it steps down year by year (`payment_standard_on` with the
    configured schedule), written as rows of that drug dated at each step, never above the
    standard it had the day before (a renewed batch continues a step-down). Drugs added to the
    catalogue later get their step-down rows at the next `dualchannel procurement scan`.
    """
    selected = list(session.exec(select(Product).where(
        Product.batch_id == batch.id, Product.generic_name == generic_name,
        Product.status == ProductStatus.SELECTED.value)))
    if not selected:
        return
    standard = max(p.price / p.conversion for p in selected).quantize(UNIT_PRICE, ROUND_HALF_UP)
    base, employee, resident = first_self_pay_ratios(batch)
    start = batch.effective_date
    rows = [{"drug_code": ALL_DRUGS, "effective_from": start, "standard": standard,
             "first_self_pay_base": base, "first_self_pay_employee": employee, "first_self_pay_resident": resident}]
    schedule = step_down_schedule()
    for drug in drugs.drugs_of_generic(session, generic_name):
        price = drugs.own_price(drug)
        if price is None or price <= standard:
            continue  # the generic's row: its own price is paid, and it counts as selected
        # A renewed batch continues a step-down already under way, never raises it.
        cap = drugs.payment_standard_on(session, drug, start - timedelta(days=1))[0]
        previous = None
        for year in range(len(schedule.years)):
            on = add_months(start, 12 * year)
            value = payment_standard_on(standard, price, start, on, schedule,
                                              consistency_evaluated=drug.consistency_evaluated
                                              ).quantize(UNIT_PRICE, ROUND_HALF_UP)
            if cap is not None:
                value = min(value, max(cap, standard))
            if value != previous:
                rows.append({"drug_code": drug.code, "effective_from": on, "standard": value,
                             "first_self_pay_base": base, "first_self_pay_employee": base,
                             "first_self_pay_resident": base})
                previous = value
    drugs.replace_payment_standards(session, generic_name=generic_name, source_batch=batch.code,
                                    effective_from=start, rows=rows)


def refresh_all_payment_standards(session: Session) -> int:
    """Rewrite the standards of every batch's selected generics (catches drugs added later).
    The caller commits; returns how many generics were written."""
    pairs = session.exec(select(Batch, Product.generic_name).join(Product, Product.batch_id == Batch.id)
                         .where(Product.status == ProductStatus.SELECTED.value)
                         .distinct().order_by(Batch.effective_date, Batch.id)).all()
    for batch, generic in pairs:
        refresh_payment_standards(session, batch, generic)
    return len(pairs)
