from datetime import datetime, time

from flask import current_app

from dualchannel import clock, db
from dualchannel.api import blueprint, csv_response
from dualchannel.audit import monitoring, schemas, services
from dualchannel.audit.rules import Thresholds
from dualchannel.auth import Role, current_actor

bp = blueprint("audit", __name__, "Audit scan and routine monitoring of fund spending")


@bp.post("/audit/scan")
@bp.arguments(schemas.ScanIn)
@bp.response(200, schemas.ScanOut)
def scan(body):
    """Run the window rules now (admin); a second run adds no flags."""
    current_actor().require(Role.admin)
    since = body["since"] and datetime.combine(body["since"], time.min, tzinfo=clock.CHINA)
    counts = services.scan(db.session(), Thresholds.from_config(current_app.config), since=since)
    return {"new_flags": counts}


@bp.get("/audit/spending")
@bp.arguments(schemas.SpendingQuery, location="query")
@bp.response(200, schemas.SpendingOut)
def spending(args):
    """Fund spending by drug, pharmacy or county and month, with the month-on-month change."""
    return {"by": args["by"], "items": monitoring.spending(db.session(), current_actor(), **args)}


@bp.get("/audit/spending.csv")
@bp.arguments(schemas.SpendingQuery, location="query")
@bp.response(200, {"type": "string"}, content_type="text/csv", description="UTF-8 with a byte-order mark")
def spending_csv(args):
    """The same spending rows as CSV."""
    rows = schemas.SpendingRowOut(many=True).dump(monitoring.spending(db.session(), current_actor(), **args))
    return csv_response(rows, list(schemas.SpendingRowOut._declared_fields), f"spending-by-{args['by']}.csv")


@bp.get("/audit/reasons")
@bp.arguments(schemas.ReasonsQuery, location="query")
@bp.response(200, schemas.ReasonsOut)
def reasons(args):
    """Returns, cancellations and not-dispensed outcomes grouped by reason code (and by who gave them)."""
    return monitoring.reasons(db.session(), current_actor(), **args)
