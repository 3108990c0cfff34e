"""Demand declarations (需求量填报, seed 002 二(一)): an institution declares, the bureau
returns or accepts; an accepted declaration sets the agreed volume.
"""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from dualchannel import clock, db
from dualchannel.api import Page, paginate
from dualchannel.auth import Actor, Role
from dualchannel.errors import Conflict, FieldMessage, Forbidden, Invalid, NotFound
from dualchannel.procurement.alerts import sync_institutions
from dualchannel.procurement.batches import get_product, year_of
from dualchannel.procurement.models import Batch, Declaration, DeclarationStatus, Line, Product
from dualchannel.procurement.rules.agreement import add_months
from dualchannel.procurement.scope import READERS, acting_institution, institution_of, scope
from dualchannel.procurement.volumes import agreed_ratio, base_usage, line_for, round_units, set_agreed
from dualchannel.transitions import Move, table


def visible_declarations(actor: Actor):
    """The demand declarations an actor may read."""
    return scope(actor, Declaration.region, Declaration.institution_code)


def describe_declaration(session: Session, declaration: Declaration) -> dict:
    """A declaration with its product's code and, once accepted, the agreed volume."""
    product = session.get(Product, declaration.product_id)
    line = session.exec(select(Line).where(Line.institution_code == declaration.institution_code,
                                           Line.product_id == declaration.product_id,
                                           Line.year_start == declaration.year_start)).first()
    agreed = line.agreed if line is not None and declaration.status == DeclarationStatus.accepted.value else None
    return {**declaration.model_dump(), "product_code": product.code, "agreed": agreed}


def declare_demand(session: Session, actor: Actor, *, product_code: str, year_start: date, quantity: int,
                   explanation: str | None = None, institution_code: str | None = None) -> dict:
    """An institution declares its demand for a product's agreement year (seed 002 二(一)).

    "零"报量 (0) is allowed. Below the institution's history — its usage in the 12 months
    before the agreement year (`base_usage`, in the product's unit) — a written explanation
    is required. One declaration awaits the bureau at a time; after a return, declare again.
    """
    if actor.role is Role.bureau:
        raise Forbidden("Institutions declare their own demand.", code="declaration_own_only")
    ref = acting_institution(session, actor, institution_code, "declares demand")
    product, batch = get_product(session, product_code)
    year = year_of(batch, year_start)
    pending = session.exec(select(Declaration.status).where(
        Declaration.institution_code == ref.code, Declaration.product_id == product.id,
        Declaration.year_start == year[0],
        Declaration.status.in_([DeclarationStatus.submitted.value, DeclarationStatus.accepted.value]))).first()
    if pending is not None:
        raise Conflict(f"A declaration for this product and year is already {pending}.",
                       code="declaration_pending", declaration_status=pending)
    used = base_usage(session, product.generic_name, add_months(year[0], -12), year[0],
                      institution_codes={ref.code}).get(ref.code, Decimal(0))
    history = round_units(used / product.conversion)
    if quantity < history and not explanation:
        raise Invalid(f"The declaration is below the institution's history of {history}; explain why.",
                      {"explanation": [FieldMessage("explanation_required_below_history",
                                                    f"Required below the history of {history} ({product.unit}).",
                                                    history=history, unit=product.unit)]},
                      history=history, code="explanation_required")
    declaration = Declaration(institution_code=ref.code, region=ref.region, product_id=product.id,
                              year_start=year[0], quantity=quantity, history=history, explanation=explanation,
                              created_by=actor.label, created_at=clock.now())
    session.add(declaration)
    session.commit()
    return describe_declaration(session, declaration)


def _declaration(session: Session, actor: Actor, declaration_id: int) -> Declaration:
    actor.require(*READERS)
    declaration = session.exec(select(Declaration).where(Declaration.id == declaration_id,
                                                         visible_declarations(actor))).first()
    if declaration is None:
        raise NotFound(f"No declaration {declaration_id}.", code="declaration_not_found")
    return declaration


def get_declaration(session: Session, actor: Actor, declaration_id: int) -> dict:
    """A declaration visible to the actor."""
    return describe_declaration(session, _declaration(session, actor, declaration_id))


def list_declarations(session: Session, actor: Actor, *, status: str | None = None,
                      institution_code: str | None = None, limit: int | None = None,
                      cursor: str | None = None) -> Page:
    """Declarations visible to the actor, newest first."""
    actor.require(*READERS)
    statement = select(Declaration).where(visible_declarations(actor))
    if status:
        statement = statement.where(Declaration.status == status)
    if institution_code:
        statement = statement.where(Declaration.institution_code == institution_code)
    page = paginate(session, statement, Declaration.id, limit=limit, cursor=cursor)
    page.items = [describe_declaration(session, d) for d in page.items]
    return page


# The bureau's decisions on a submitted declaration.
DECISIONS: Mapping[str, Move] = table(
    Move("return", frozenset({DeclarationStatus.submitted}), DeclarationStatus.returned),
    Move("accept", frozenset({DeclarationStatus.submitted}), DeclarationStatus.accepted),
)


def _decide(session: Session, actor: Actor, declaration_id: int, action: str, note: str | None) -> Declaration:
    declaration = _declaration(session, actor, declaration_id)
    actor.require(Role.admin, Role.bureau)
    move = DECISIONS[action]
    db.change_if(session, declaration, Declaration.status.in_(move.sources),
                 values={"status": move.target, "bureau_note": note, "decided_by": actor.label,
                         "decided_at": clock.now()},
                 refusal=Conflict(f"Declaration {declaration_id} is not awaiting a decision.",
                                  code="declaration_not_pending"))
    return declaration


def return_declaration(session: Session, actor: Actor, declaration_id: int, *, note: str) -> dict:
    """The bureau sends a declaration back for a new one (退回重新填报), saying why."""
    declaration = _decide(session, actor, declaration_id, "return", note)
    session.commit()
    session.refresh(declaration)
    return describe_declaration(session, declaration)


def accept_declaration(session: Session, actor: Actor, declaration_id: int, *, ratio: Decimal | None = None,
                       quantity: int | None = None) -> dict:
    """The bureau accepts a declaration: the agreed volume becomes `quantity` when given,
    else the declared demand × the agreed-volume ratio (rounded half up)."""
    declaration = _decide(session, actor, declaration_id, "accept", None)
    product = session.get(Product, declaration.product_id)
    batch = session.get(Batch, product.batch_id)
    agreed = quantity if quantity is not None else round_units(declaration.quantity * agreed_ratio(ratio))
    ref = institution_of(session, declaration.institution_code)
    line = line_for(session, ref, product, year_of(batch, declaration.year_start))
    set_agreed(line, agreed, "declaration", actor)
    session.add(line)
    sync_institutions(session, {ref.code})
    session.commit()
    session.refresh(declaration)
    return describe_declaration(session, declaration)
