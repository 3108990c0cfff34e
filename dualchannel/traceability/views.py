from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.idempotency import PARAMETER as IDEMPOTENCY_KEY
from dualchannel.idempotency import idempotent
from dualchannel.traceability import schemas, services

bp = blueprint("traceability", __name__, "Drug traceability codes: the chain behind a pack, and undo")


@bp.get("/trace/<code>")
@bp.response(200, schemas.TraceOut)
def trace(code):
    """The chain behind a pack: drug, pharmacy, prescription, physician, institution, time, pickup, undos."""
    return services.trace(db.session(), current_actor(), code)


@bp.post("/trace/<code>/undo")
@bp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@bp.arguments(schemas.UndoIn)
@bp.response(200, schemas.TraceOut)
def undo(body, code):
    """The dispensing pharmacy undoes a pack returned unopened within the window (stock and code restored)."""
    return services.undo(db.session(), current_actor(), code, **body)
