from dualchannel import db
from dualchannel.accounts import schemas, services
from dualchannel.api import blueprint
from dualchannel.auth import current_actor

bp = blueprint("accounts", __name__, "The calling account")


@bp.get("/me")
@bp.response(200, schemas.AccountOut)
def me():
    """Role, subject and name of the token's account, with what it acts for."""
    return services.describe(db.session(), current_actor())
