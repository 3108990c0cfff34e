"""`dualchannel audit scan`: the batch rules, for cron or an operator."""

from datetime import datetime, time

import click
from flask import current_app
from flask.cli import with_appcontext

from dualchannel import clock, db
from dualchannel.audit import services
from dualchannel.audit.rules import Thresholds


def _instant(day) -> datetime | None:
    return None if day is None else datetime.combine(day.date(), time.max, tzinfo=clock.CHINA)


@click.group("audit")
def audit_group():
    """Audit rules over the dispensing history."""


@audit_group.command("scan")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Look at dispensings from this date (default: the configured lookback).")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="End of the window (default: now).")
@with_appcontext
def scan_command(since, as_of):
    """Run the window rules under each region's thresholds and raise new flags (exempted cases
    are counted, not flagged); a second run adds none."""
    thresholds = Thresholds.from_config(current_app.config)
    with db.new_session() as session:
        result = services.scan(session, thresholds, since=since and datetime.combine(
            since.date(), time.min, tzinfo=clock.CHINA), as_of=_instant(as_of))
    for kind, count in result.new_flags.items():
        exempted = result.exempted.get(kind, 0)
        click.echo(f"{kind:20} {count}" + (f"  ({exempted} exempted)" if exempted else ""))
    click.echo(f"{sum(result.new_flags.values())} new flag(s).")
    click.echo(f"{sum(result.exempted.values())} exempted case(s).")
