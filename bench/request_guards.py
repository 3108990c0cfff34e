"""Benchmark: what the per-request guards of issue 17 cost, against the old fast path.

Run from the repository root::

    python bench/request_guards.py [--requests 2000] [--postgres] [--redis redis://127.0.0.1:6379/0]

In-process (the Flask test client, one thread) on the demo data, `GET /api/v1/drugs/XC09DX04`
as the pharmacy (a read of one row), timed in these modes, each after a warm-up:

* ``cached, no check``: the token from the process's cache with no database round trip (the
  pre-issue-17 fast path, whose revocations took up to 30 s to apply), the baseline;
* ``cached + epoch``: the cache as it is now, checked against the revocation epoch (one
  indexed `SELECT max(id)` in the request's transaction), so a revocation applies at once;
* ``no cache``: the token looked up on every request;
* ``+ limits (memory)`` / ``+ limits (redis)``: the epoch mode with the rate limiter's
  per-request failure checks, counts in memory or in Redis.

The modes take turns over several rounds and each keeps its fastest round, so the machine's
other load (shared cores) weighs on all alike and least. Prints µs per request and the ratio to the baseline. SQLite by default (a file under /tmp),
PostgreSQL with ``--postgres`` (the `bench_guards` database, dropped and made again).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402

from bench.support import DEFAULT_POSTGRES, bench_database_url, recreate_database  # noqa: E402
from dualchannel import auth, create_app, demo, db, migrate  # noqa: E402

LIFTED = "1000000/minute"
KEY = Fernet.generate_key().decode()


def make_app(url: str, limits: str | None | bool):
    """The app on `url`; `limits` False turns the rate limiter off, else names its storage
    (None: memory), with budgets no request here reaches."""
    config = {"DATABASE_URL": url, "ID_HASH_KEY": "bench", "ID_ENCRYPTION_KEY": KEY, "LOG_LEVEL": "WARNING"}
    if limits is False:
        config["RATELIMIT_ENABLED"] = False
    else:
        config.update(RATELIMIT_STORAGE_URL=limits, RATELIMIT_KEY_PREFIX=f"bench-guards-{uuid.uuid4().hex}",
                      RATELIMIT_FAILURES_PER_ACCOUNT=LIFTED, RATELIMIT_FAILURES_PER_ADDRESS=LIFTED)
    return create_app(config)


def timed(app, token: str, requests: int) -> float:
    """µs per request of the drug read, after a warm-up."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(50):
        assert client.get("/api/v1/drugs/XC09DX04", headers=headers).status_code == 200
    started = time.perf_counter()
    for _ in range(requests):
        client.get("/api/v1/drugs/XC09DX04", headers=headers)
    return (time.perf_counter() - started) / requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--redis", default=None, help="a Redis URL for the last mode (skipped without)")
    args = parser.parse_args(argv)
    if args.postgres:
        url = bench_database_url("bench_guards", DEFAULT_POSTGRES)
        recreate_database(url)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-guards-')) / 'guards.sqlite'}"
    setup = make_app(url, False)
    migrate.upgrade(db.create_engine(url))
    with setup.app_context():
        session = db.new_session()
        token = demo.load(session)["pharmacy"][1]
        session.close()

    original_epoch, original_ttl = auth.revocation_epoch, auth.TOKEN_CACHE_SECONDS
    plain = make_app(url, False)
    apps = {"cached, no check": plain, "cached + epoch": plain, "no cache": plain,
            "+ limits (memory)": make_app(url, None)}
    if args.redis:
        apps["+ limits (redis)"] = make_app(url, args.redis)
    # The modes take turns, round after round, and each keeps its fastest round: the machine's
    # other load then weighs on every mode alike.
    rounds: dict[str, list[float]] = {name: [] for name in apps}
    try:
        for _ in range(args.rounds):
            for name, app in apps.items():
                auth.revocation_epoch = (lambda session: 0) if name == "cached, no check" else original_epoch
                auth.TOKEN_CACHE_SECONDS = 0.0 if name == "no cache" else original_ttl
                auth._known.clear()
                rounds[name].append(timed(app, token, args.requests // args.rounds))
    finally:
        auth.revocation_epoch, auth.TOKEN_CACHE_SECONDS = original_epoch, original_ttl
    results = {name: min(values) for name, values in rounds.items()}

    base = results["cached, no check"]
    print(f"{'SQLite' if not args.postgres else 'PostgreSQL'}, {args.requests} requests per mode")
    print(f"{'mode':<22}{'µs/request':>12}{'vs baseline':>14}{'added µs':>10}")
    for name, value in results.items():
        print(f"{name:<22}{value:>12.0f}{value / base:>13.2f}x{value - base:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
