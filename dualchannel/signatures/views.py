from dualchannel import db
from dualchannel.api import blueprint
from dualchannel.auth import current_actor
from dualchannel.signatures import schemas, services

bp = blueprint("signatures", __name__, "Signing keys of physicians and pharmacists (SM2 with SM3)")


@bp.get("/signing-keys")
@bp.arguments(schemas.KeyQuery, location="query")
@bp.response(200, schemas.KeyPage)
def list_keys(args):
    """Signing keys the caller may see (public halves and certificates), newest first."""
    return services.list_keys(db.session(), current_actor(), **args)


@bp.post("/signing-keys")
@bp.arguments(schemas.KeyIn)
@bp.response(201, schemas.KeyOut)
def issue_key(body):
    """Issue a signing key to a physician or a pharmacist (admin, bureau of the holder's region)."""
    return services.issue_key(db.session(), current_actor(), **body)


@bp.post("/signing-keys/<int:key_id>/revoke")
@bp.arguments(schemas.RevokeIn)
@bp.response(200, schemas.KeyOut)
def revoke_key(body, key_id):
    """Revoke a key, from now or from when it was compromised (admin, bureau of the holder's region)."""
    return services.revoke_key(db.session(), current_actor(), key_id, **body)
