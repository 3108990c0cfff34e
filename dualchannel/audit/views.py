from datetime import datetime, time

from flask import current_app

from dualchannel import clock, db
from dualchannel.api import blueprint, csv_response
from dualchannel.audit import monitoring, schemas, services, tuning
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
    result = services.scan(db.session(), Thresholds.from_config(current_app.config), since=since)
    return {"new_flags": result.new_flags, "exempted": result.exempted}


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


def _defaults() -> Thresholds:
    return Thresholds.from_config(current_app.config)


@bp.get("/audit/thresholds")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.response(200, schemas.ThresholdsOut)
def get_thresholds(args):
    """The audit thresholds in force in a region (bureau: its own or one inside it), where each
    comes from, and who changed them when and why."""
    return tuning.get_thresholds(db.session(), current_actor(), defaults=_defaults(), **args)


@bp.put("/audit/thresholds")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.arguments(schemas.ThresholdsIn)
@bp.response(200, schemas.ThresholdsOut)
def set_thresholds(args, body):
    """Set the region's own thresholds (left out: inherited), with a reason; the next scan uses them."""
    return tuning.set_thresholds(db.session(), current_actor(), defaults=_defaults(), **args, **body)


@bp.post("/audit/thresholds/what-if")
@bp.arguments(schemas.RegionQuery, location="query")
@bp.arguments(schemas.ThresholdsWhatIfIn)
@bp.response(200, schemas.ThresholdsWhatIfOut)
def thresholds_what_if(args, body):
    """How many flags new thresholds would raise, and how many open ones they would clear, over
    the last `days` (default 90); nothing is saved."""
    return tuning.what_if(db.session(), current_actor(), defaults=_defaults(), **args, **body)


@bp.get("/audit/exemptions")
@bp.arguments(schemas.ExemptionQuery, location="query")
@bp.response(200, schemas.ExemptionPage)
def list_exemptions(args):
    """Exemptions in force (or all, `include_inactive=true`) in and above the bureau's region."""
    return tuning.list_exemptions(db.session(), current_actor(), **args)


@bp.post("/audit/exemptions")
@bp.arguments(schemas.ExemptionIn)
@bp.response(201, schemas.ExemptionOut)
def create_exemption(body):
    """Exempt a drug, generic, diagnosis text or patient from the scan in a region until a date."""
    return tuning.create_exemption(db.session(), current_actor(), **body)


@bp.delete("/audit/exemptions/<int:exemption_id>")
@bp.response(200, schemas.ExemptionOut)
def revoke_exemption(exemption_id):
    """End an exemption now (kept, marked revoked with who and when)."""
    return tuning.revoke_exemption(db.session(), current_actor(), exemption_id)
