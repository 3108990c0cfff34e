"""The `dualchannel` command: the app's own Flask CLI with the project's commands."""

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from dualchannel import auth, db, migrate
from dualchannel.errors import DomainError


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or migrate the schema (idempotent); an empty policy table gets the example policies."""
    from dualchannel.settlements import services as settlements

    migrate.upgrade(db.engine())
    click.echo("Database is at the newest schema.")
    with db.new_session() as session:
        added = settlements.import_default_policies(session)
    if added:
        click.echo(f"Loaded {added} example settlement policies (replace them with the bureau's own).")


@click.command("make-migration")
@click.argument("message")
@with_appcontext
def make_migration_command(message):
    """Autogenerate a migration from the models (developers)."""
    migrate.make_revision(db.engine(), message)


@click.group("token")
def token_group():
    """Bearer tokens."""


@token_group.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in auth.Role]))
@click.option("--subject", default=None, help="adcode (bureau), physician, pharmacy or institution code")
@click.option("--name", default=None)
@click.option("--pharmacist", default=None, help="a pharmacy's token bound to this pharmacist (licence number)")
@with_appcontext
def token_create_command(role, subject, name, pharmacist):
    """Create a token; it is printed as the last line and never shown again."""
    from dualchannel.pharmacies import services as pharmacies

    with db.new_session() as session:
        try:
            if pharmacist:
                if role != auth.Role.pharmacy.value:
                    raise click.UsageError("--pharmacist binds a pharmacy's token: use --role pharmacy.")
                token = pharmacies.pharmacist_token(session, pharmacy_code=subject, licence_number=pharmacist,
                                                    name=name)
            else:
                token = auth.create_token(session, role=role, subject=subject, name=name)
        except DomainError as error:
            raise click.UsageError(f"{error.detail} {error.errors or ''}".strip())
    who = f" (pharmacist {pharmacist})" if pharmacist else ""
    click.echo(f"Token for {role} {subject or ''}{who}:".replace("  ", " "))
    click.echo(token)


@token_group.command("revoke")
@click.option("--token", "token", default=None, help="the token itself")
@click.option("--id", "token_id", type=int, default=None, help="the token's id (as the access log shows it)")
@click.option("--role", default=None, type=click.Choice([r.value for r in auth.Role]),
              help="with --subject: every token of that account")
@click.option("--subject", default=None)
@with_appcontext
def token_revoke_command(token, token_id, role, subject):
    """Revoke tokens: refused on their next request by every worker and host."""
    if sum(x is not None for x in (token, token_id, role)) != 1:
        raise click.UsageError("Give exactly one of --token, --id, or --role (with --subject).")
    with db.new_session() as session:
        try:
            count = auth.revoke_tokens(session, by="cli", token=token, token_id=token_id, role=role, subject=subject)
        except DomainError as error:
            raise click.UsageError(error.detail)
    click.echo(f"{count} token(s) revoked.")


@click.group("policy")
def policy_group():
    """Settlement policies."""


@policy_group.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def policy_load_command(path):
    """Add the policy versions of a JSON file (format of settlements/policy_example.json)."""
    from dualchannel.settlements import rules
    from dualchannel.settlements import services as settlements

    try:
        policies = rules.load_policies_with_notes(path)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise click.ClickException(f"{path} is not a valid policy file: {error!r}")
    with db.new_session() as session:
        try:
            added, unchanged = settlements.import_policies(session, settlements.SYSTEM, policies)
        except DomainError as error:
            raise click.ClickException(f"{error.detail} {error.errors or ''}".strip())
    click.echo(f"{added} policy version(s) added, {unchanged} already stored.")


@click.command("expire-prescriptions")
@with_appcontext
def expire_command():
    """Mark every prescription past its validity as expired."""
    from dualchannel.prescriptions import services

    with db.new_session() as session:
        count = services.expire_overdue(session)
    click.echo(f"{count} prescription(s) expired.")


@click.group("procurement")
def procurement_group():
    """Volume-based procurement (集采) execution."""


@procurement_group.command("scan")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Evaluate progress as of this date (default today).")
@click.option("--region", default=None, help="Only this region's adcode (default everywhere).")
@with_appcontext
def procurement_scan_command(as_of, region):
    """Raise due procurement alerts, resolve stale ones, refresh payment standards."""
    from dualchannel import adcodes, clock
    from dualchannel.procurement import alerts, standards, supply

    if region is not None and not adcodes.is_valid(region):
        raise click.UsageError("--region is a 6-digit adcode.")
    with db.new_session() as session:
        generics = standards.refresh_all_payment_standards(session)
        session.commit()
        raised, resolved = alerts.sync_alerts(session, region=region, as_of=as_of.date() if as_of else clock.today())
        overdue_raised, overdue_resolved = supply.sync_alerts(session, region=region, today=clock.today())
        session.commit()
        raised, resolved = raised + overdue_raised, resolved + overdue_resolved
    click.echo(f"{raised} alert(s) raised, {resolved} resolved; payment standards of {generics} generic(s) refreshed.")


@click.group("idempotency")
def idempotency_group():
    """Stored `Idempotency-Key` answers."""


@idempotency_group.command("purge")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Keep keys younger than this many days (default DUALCHANNEL_IDEMPOTENCY_RETENTION_DAYS).")
@with_appcontext
def idempotency_purge_command(days):
    """Delete the keys older than the retention period (run daily from cron)."""
    from datetime import timedelta

    from flask import current_app

    from dualchannel import clock, idempotency

    days = current_app.config["IDEMPOTENCY_RETENTION_DAYS"] if days is None else days
    with db.new_session() as session:
        count = idempotency.purge(session, older_than=clock.now() - timedelta(days=days))
        session.commit()
    click.echo(f"{count} idempotency key(s) older than {days} day(s) purged.")


@click.command("demo")
@click.option("--id-numbers/--no-id-numbers", default=None,
              help="Print the demo patients' full ID numbers (default: only when stdout is a terminal).")
@with_appcontext
def demo_command(id_numbers):
    """Load the Jining (370800) demo data into an empty database and print a token per role,
    then the demo patients' names and ID numbers (fictitious; for real-name verification)."""
    import sys

    from dualchannel import demo
    from dualchannel.identity import mask

    migrate.upgrade(db.engine())
    with db.new_session() as session:
        try:
            tokens = demo.load(session)
        except DomainError as error:
            raise click.ClickException(error.detail)
    for role, (subject, token) in tokens.items():
        click.echo(f"{role:11} {subject or '-':12} {token}")
    # The patients are demo data: their numbers are printed where a person reads them (a
    # terminal, or with --id-numbers as bin/run asks), masked where output is piped or captured.
    full = sys.stdout.isatty() if id_numbers is None else id_numbers
    click.echo("演示患者（虚构数据，用于药店实名核验）：" if full else
               "演示患者（身份证号已隐去；在终端运行或加 --id-numbers 显示完整号码）：")
    for name, number in demo.patient_list():
        click.echo(f"  患者 {name:4} {number if full else mask(number)}")


def init_app(app: Flask) -> None:
    from dualchannel.audit.cli import audit_group
    from dualchannel.history.cli import history_group
    from dualchannel.signatures.cli import keys_group, signature_group

    for command in (init_db_command, make_migration_command, token_group, policy_group, expire_command,
                    procurement_group, demo_command, idempotency_group, audit_group, keys_group, signature_group,
                    history_group):
        app.cli.add_command(command)


def main():
    """Console script entry point."""
    from dualchannel import create_app

    FlaskGroup(create_app=create_app)()
