from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.access_log import schemas, services
from dualchannel.auth import current_actor

bp = blueprint("access_log", __name__, "Access log: who read or revealed what, when and why")


@bp.get("/access-log")
@bp.arguments(schemas.AccessQuery, location="query")
@bp.response(200, schemas.AccessPage)
def list_entries(args):
    """Reads, searches and audited reveals of patients, prescriptions and trace codes (admin, bureau)."""
    return services.list_entries(db.session(), current_actor(), **args)
