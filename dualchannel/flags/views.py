from dualchannel import db
import json

from dualchannel.api import blueprint, csv_response
from dualchannel.auth import current_actor
from dualchannel.flags import schemas, services

bp = blueprint("flags", __name__, "Audit flags and their review")


@bp.get("/flags")
@bp.arguments(schemas.FlagQuery, location="query")
@bp.response(200, schemas.FlagPage)
def list_flags(args):
    """Flags in the bureau's region, newest first."""
    return services.list_flags(db.session(), current_actor(), **args)


@bp.get("/flags.csv")
@bp.arguments(schemas.FlagFilter, location="query")
@bp.response(200, {"type": "string"}, content_type="text/csv", description="UTF-8 with a byte-order mark")
def export_flags(args):
    """The filtered flags as CSV (UTF-8 with BOM)."""
    flags = services.export_flags(db.session(), current_actor(), **args)
    rows = [{**schemas.FlagOut().dump(f), "evidence": json.dumps(f.evidence, ensure_ascii=False)} for f in flags]
    return csv_response(rows, ["id", "type", "severity", "status", "subject", "region", "created_at",
                               "reviewed_by", "reviewed_at", "review_note", "evidence"], "flags.csv")


@bp.get("/flags/<int:flag_id>")
@bp.response(200, schemas.FlagOut)
def get_flag(flag_id):
    return services.get_flag(db.session(), current_actor(), flag_id)


@bp.post("/flags/<int:flag_id>/review")
@bp.arguments(schemas.ReviewIn)
@bp.response(200, schemas.FlagOut)
def review_flag(body, flag_id):
    """Confirm or dismiss a flag with a note."""
    return services.review_flag(db.session(), current_actor(), flag_id, **body)
