"""Revoking tokens (`dualchannel token revoke`): refused on their very next request, in this
process and in any other serving the same database, while tokens not revoked keep being
served from the cache (tests/reliability/test_workers.py does it with two gunicorn workers)."""

import os
import subprocess
import sys

from tests.api.test_prescription_flow import problem
from tests.conftest import KEYS, As


def test_a_revoked_token_fails_on_its_next_request(world, runner):
    pharmacy, other = world.pharmacy, world.other_pharmacy
    assert pharmacy.get("/api/v1/pharmacy/inbox").status_code == 200  # now cached
    result = runner.invoke(args=["token", "revoke", "--token", pharmacy.token])
    assert result.exit_code == 0 and "1 token(s) revoked." in result.output
    refused = problem(pharmacy.get("/api/v1/pharmacy/inbox"), 401)
    assert refused["code"] == "token_invalid"
    assert other.get("/api/v1/pharmacy/inbox").status_code == 200
    assert runner.invoke(args=["token", "revoke", "--token", pharmacy.token]).output.strip() == "0 token(s) revoked."


def test_every_token_of_an_account_or_one_by_id(world, runner, token):
    second = As(world.physician.client, token("physician", "D370811001"))
    for client in (world.physician, second, world.ordinary_physician):
        assert client.get("/api/v1/me").status_code == 200
    result = runner.invoke(args=["token", "revoke", "--role", "physician", "--subject", "D370811001"])
    assert result.exit_code == 0 and "2 token(s) revoked." in result.output
    problem(world.physician.get("/api/v1/me"), 401)
    problem(second.get("/api/v1/me"), 401)
    # By the id the access log shows for a token.
    assert world.ordinary_physician.get(f"/api/v1/patients/{world.patient['id']}").status_code == 200
    (entry,) = world.admin.get("/api/v1/access-log?actor=physician:D370811002").get_json()["items"]
    assert runner.invoke(args=["token", "revoke", "--id", str(entry["token_id"])]).exit_code == 0
    problem(world.ordinary_physician.get("/api/v1/me"), 401)
    assert world.admin.get("/api/v1/me").status_code == 200


def test_revoke_needs_exactly_one_way_to_name_the_tokens(runner):
    assert runner.invoke(args=["token", "revoke"]).exit_code == 2
    assert runner.invoke(args=["token", "revoke", "--token", "dc_x", "--id", "3"]).exit_code == 2


def test_a_revocation_made_by_another_process_is_seen_at_once(world, database_url):
    """The revocation is made by another process (the operator's `dualchannel token revoke`):
    this process's cache still holds the token, and must not serve it."""
    assert world.bureau.get("/api/v1/flags").status_code == 200  # cached here
    env = {**os.environ, "DATABASE_URL": database_url, "DUALCHANNEL_ID_HASH_KEY": KEYS["ID_HASH_KEY"],
           "DUALCHANNEL_ID_ENCRYPTION_KEY": KEYS["ID_ENCRYPTION_KEY"], "DUALCHANNEL_LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", "from dualchannel.cli import main; main()", "token", "revoke",
                           "--token", world.bureau.token], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "1 token(s) revoked." in done.stdout, done.stderr[-2000:]
    problem(world.bureau.get("/api/v1/flags"), 401)
    assert world.admin.get("/api/v1/flags").status_code == 200
