"""`dualchannel keys ...` (the CA's operations) and `dualchannel signature verify` (offline)."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from dualchannel import db
from dualchannel.auth import Actor, Role
from dualchannel.errors import DomainError
from dualchannel.signatures import crypto, rules, services

OPERATOR = Actor(Role.admin, None, "cli")


@click.group("keys")
def keys_group():
    """Signing keys of physicians and pharmacists (SM2 with SM3)."""


def _show(key) -> str:
    revoked = f", revoked from {key.revoked_at.isoformat()} ({key.revocation_reason})" if key.revoked_at else ""
    return (f"{key.id:6} {key.holder:32} {key.fingerprint[:16]}  {key.valid_from:%Y-%m-%d} – "
            f"{key.valid_until:%Y-%m-%d}{revoked}")


def _run(work):
    with db.new_session() as session:
        try:
            return work(session)
        except DomainError as error:
            raise click.ClickException(f"{error.detail} {error.errors or ''}".strip())


@keys_group.command("issue")
@click.option("--physician", default=None, help="physician code")
@click.option("--pharmacist", default=None, help="pharmacist's licence number")
@click.option("--valid-days", type=click.IntRange(1, 3650), default=None)
@with_appcontext
def issue_command(physician, pharmacist, valid_days):
    """Issue a new key (the holder's newest valid key signs)."""
    key = _run(lambda s: services.issue_key(s, OPERATOR, physician_code=physician, pharmacist=pharmacist,
                                            valid_days=valid_days))
    click.echo(_show(key))


@keys_group.command("revoke")
@click.argument("key_id", type=int)
@click.option("--reason", required=True)
@click.option("--compromised-since", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"]),
              default=None, help="From when the key is not trusted, with its offset (default now).")
@with_appcontext
def revoke_command(key_id, reason, compromised_since):
    """Revoke a key: signatures made from then on are refused, earlier ones still verify."""
    key = _run(lambda s: services.revoke_key(s, OPERATOR, key_id, reason=reason, compromised_since=compromised_since))
    click.echo(_show(key))


@keys_group.command("list")
@click.option("--physician", default=None)
@click.option("--pharmacist", default=None)
@with_appcontext
def list_command(physician, pharmacist):
    """Every key (of one holder), oldest first."""
    holder = (rules.physician_holder(physician) if physician
              else rules.pharmacist_holder(pharmacist) if pharmacist else None)
    for key in _run(lambda s: services.all_keys(s, holder)):
        click.echo(_show(key))


@keys_group.command("ca")
@with_appcontext
def ca_command():
    """Print the CA's public key (PEM): what verifiers pin."""
    click.echo(crypto.public_pem(services.ca_public_key()), nl=False)


@click.group("signature")
def signature_group():
    """Prescriptions' signatures."""


@signature_group.command("verify")
@click.argument("ids", nargs=-1, type=int)
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The CA's public key (PEM) to trust; default the configured CA's.")
@with_appcontext
def verify_command(ids, ca_file):
    """Check prescriptions' signatures and their reviews' (every prescription without IDS) with
    public keys only; name each that does not verify. Exit 1 when one does not."""
    from dualchannel.prescriptions import services as prescriptions

    ca = crypto.public_der_from_pem(Path(ca_file).read_text()) if ca_file else services.ca_public_key()
    checked = failed = 0
    with db.new_session() as session:
        missing = set(ids)
        for detail in prescriptions.all_details(session, list(ids) or None):
            missing.discard(detail.prescription.id)
            report = prescriptions.signature_report(session, detail, ca)
            checked += 1
            bad = [] if report["verifies"] else [f"signature INVALID: {rules.PROBLEMS[report['problem']]}"]
            bad += [f"review by {r['pharmacist'].get('licence_number')} INVALID: {rules.PROBLEMS[r['problem']]}"
                    for r in report["reviews"] if not r["verifies"]]
            failed += bool(bad)
            label = f"prescription {detail.prescription.id} ({detail.prescription.number or 'no number'})"
            for line in bad:
                click.echo(f"{label}: {line}")
            if ids and not bad:
                click.echo(f"{label}: signature verifies (key {report['key'].id}, {report['digest'][:16]}…)"
                           + f"; {len(report['reviews'])} review(s) verify" * bool(report["reviews"]))
        session.rollback()
    for prescription_id in sorted(missing):
        click.echo(f"prescription {prescription_id}: not found")
    failed += len(missing)
    click.echo(f"{checked} prescription(s) checked, {failed} with a signature that does not verify.")
    if failed:
        raise click.exceptions.Exit(1)
