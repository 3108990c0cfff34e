from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.drugs import schemas, services

bp = blueprint("drugs", __name__, "The drug catalogue")


@bp.post("/drugs")
@bp.arguments(schemas.DrugIn)
@bp.response(201, schemas.DrugOut)
def create_drug(body):
    """Add a drug (admin or bureau)."""
    return services.create_drug(db.session(), current_actor(), **body)


@bp.get("/drugs")
@bp.arguments(schemas.DrugQuery, location="query")
@bp.response(200, schemas.DrugList)
def list_drugs(args):
    """The catalogue; `dual_channel=true` for the prescription drug picker."""
    return {"items": services.list_drugs(db.session(), **args), "next_cursor": None}


@bp.get("/drugs/<code>")
@bp.response(200, schemas.DrugOut)
def get_drug(code):
    return services.get_drug(db.session(), code)


@bp.patch("/drugs/<code>")
@bp.arguments(schemas.DrugChangeIn)
@bp.response(200, schemas.DrugOut)
def change_drug(body, code):
    """Change a drug's traceability prefixes or units per pack (admin)."""
    return services.change_drug(db.session(), current_actor(), code, **body)


@bp.get("/drugs/<code>/payment-standard")
@bp.arguments(schemas.PaymentStandardQuery, location="query")
@bp.response(200, schemas.PaymentStandardOut)
def payment_standard(args, code):
    """The payment standard and first self-pay ratio in force on a date (`on`, `insurance`)."""
    return services.payment_standard_detail(db.session(), code, **args)
