"""The drug catalogue: registering drugs and reading them."""

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.auth import Actor, Role
from dualchannel.drugs.models import Drug
from dualchannel.errors import Conflict, NotFound


def create_drug(session: Session, actor: Actor, *, code: str, generic_name: str, name: str, unit: str,
                negotiated: bool = False, dual_channel: bool = False, separate_payment: bool = False,
                requires_eligibility: bool = False, storage: str = "normal",
                payment_standard: Decimal | None = None, agreed_price: Decimal | None = None) -> Drug:
    """Add a drug to the catalogue (admin or a bureau)."""
    actor.require(Role.admin, Role.bureau)
    if session.get(Drug, code):
        raise Conflict(f"Drug {code} already exists.")
    drug = Drug(code=code, generic_name=generic_name, name=name, unit=unit, negotiated=negotiated,
                dual_channel=dual_channel, separate_payment=separate_payment,
                requires_eligibility=requires_eligibility, storage=storage,
                payment_standard=payment_standard, agreed_price=agreed_price, created_at=clock.now())
    session.add(drug)
    db.commit(session, f"Drug {code} already exists.")
    return drug


def get_drug(session: Session, code: str) -> Drug:
    drug = session.get(Drug, code)
    if drug is None:
        raise NotFound(f"No drug {code}.")
    return drug


def list_drugs(session: Session, *, dual_channel: bool | None = None) -> list[Drug]:
    """The catalogue (a few hundred rows at most), by generic name."""
    statement = select(Drug).order_by(Drug.generic_name, Drug.code)
    if dual_channel is not None:
        statement = statement.where(Drug.dual_channel == dual_channel)
    return list(session.exec(statement))


def drugs_by_code(session: Session, codes: set[str]) -> dict[str, Drug]:
    return {d.code: d for d in session.exec(select(Drug).where(Drug.code.in_(codes)))}


def payment_standard_on(session: Session, drug: Drug, on: date) -> tuple[Decimal | None, Decimal]:
    """The drug's payment standard (支付标准) per unit in force `on` a date, and its first
    self-pay ratio (先行自付比例, 0 for a Class A drug).

    For now the catalogue's own `payment_standard` and ratio 0; the dated standards of
    volume-based procurement (集采) will answer here, with this signature.
    """
    return drug.payment_standard, Decimal("0")
