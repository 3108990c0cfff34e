from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.institutions import schemas, services

bp = blueprint("institutions", __name__, "Designated institutions and physicians")


@bp.post("/institutions")
@bp.arguments(schemas.InstitutionIn)
@bp.response(201, schemas.InstitutionOut)
def create_institution(body):
    """Register a designated medical institution."""
    return services.create_institution(db.session(), current_actor(), **body)


@bp.get("/institutions/<code>")
@bp.response(200, schemas.InstitutionOut)
def get_institution(code):
    return services.get_institution(db.session(), current_actor(), code)


@bp.post("/physicians")
@bp.arguments(schemas.PhysicianIn)
@bp.response(201, schemas.PhysicianOut)
def create_physician(body):
    """Register a physician; `responsible` marks a 医保责任医师."""
    return services.create_physician(db.session(), current_actor(), **body)
