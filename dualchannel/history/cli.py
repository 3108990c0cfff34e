"""`dualchannel history verify`: walk the tamper-evident history, for cron or an operator."""

from datetime import datetime, time

import click
from flask.cli import with_appcontext

from dualchannel import clock, db
from dualchannel.history import services


@click.group("history")
def history_group():
    """The tamper-evident history (hash chains)."""


@history_group.command("verify")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only the chains of records written since this date (China time); default every chain.")
@with_appcontext
def verify_command(since):
    """Walk the chains, name each one's first broken link, record the run (the metric
    dualchannel_history_broken_links) and flag broken chains. Exit 1 when one is broken."""
    start = None if since is None else datetime.combine(since.date(), time.min, tzinfo=clock.CHINA)
    with db.new_session() as session:
        report = services.verify(session, since=start)
        services.record(session, report)
    for finding in report.findings:
        click.echo(finding.line())
    click.echo(f"{report.chains} chain(s), {report.links} link(s) checked: {len(report.findings)} broken.")
    if report.findings:
        raise click.exceptions.Exit(1)
