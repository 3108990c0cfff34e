import marshmallow as ma
from flask_smorest import Blueprint

from dualchannel import db
from dualchannel.api import refuse_unreadable_input
from dualchannel.public import schemas, services

# Not `api.blueprint`: that one requires a bearer token on every route. This one requires none.
bp = Blueprint("public", __name__, url_prefix="/api/v1", description="Published lists, without a token")
bp.before_request(refuse_unreadable_input)


@bp.after_request
def _public_cache(response):
    # Public, and the same for everyone: caches may keep it a minute.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/public/pharmacies")
@bp.arguments(schemas.PublicPharmacyQuery, location="query", unknown=ma.RAISE)
@bp.response(200, schemas.PublicPharmacyPage)
@bp.doc(security=[])
def published_pharmacies(args):
    """The dual-channel pharmacies the bureaus have admitted (seed 003: 及时向社会公布): address,
    county, cold chain, whether open; `region` filters, `lat`/`lon` (in `crs`) sorts nearest first."""
    return services.published_pharmacies(db.session(), **args)
