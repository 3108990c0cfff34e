"""Load test of the hot steps against gunicorn on PostgreSQL, with a bare Flask baseline.

Run from the repository root (PostgreSQL reachable; BENCH_POSTGRES names the server, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres)::

    python bench/flow.py [--count 1000] [--threads 8] [--rate 200]

Creates the database `bench_flow` (dropped first), loads the demo data, serves the app with
gunicorn (`gunicorn.conf.py`, 2 workers x 4 threads, on 127.0.0.1), and drives each hot step —
issue, route, verify, review, dispense, settle (when the endpoint exists), inbox — over `count` fresh
prescriptions: first as fast as `threads` clients get answers (throughput), then on an open
schedule of `rate` requests/s (latency at a fixed load). Then the same for
`bench/baseline_app.py`, bare Flask + SQLAlchemy doing one conditional-UPDATE-and-INSERT
transaction per request, served the same way. Prints requests/s, p50 and p99 per step, and
each step's throughput as a ratio of the baseline's (aim: >= 0.6; p99 < 50 ms at 200/s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import baseline_app  # noqa: E402
from bench.steps import demo_actors, run_steps  # noqa: E402
from bench.support import (HEADER, PYTHON, ROOT, Client, bench_database_url, format_row,  # noqa: E402
                           recreate_database, run_load, secrets_env, service_secrets, start_gunicorn)


def load_demo(env: dict[str, str]) -> dict[str, str]:
    """`dualchannel demo` into the bench database; role -> token."""
    out = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "demo"], cwd=ROOT, env={**os.environ, **env},
                         check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}


def baseline(url: str, env: dict[str, str], log: Path, *, count: int, threads: int, rate: float,
             max_seconds: float):
    """The baseline's throughput and fixed-rate samples."""
    baseline_app.create_tables(url, 2 * count)
    server = start_gunicorn("bench.baseline_app:app", env, log)
    try:
        results = []
        for label, ids, pace in (("baseline", range(1, count + 1), None),
                                 ("baseline @rate", range(count + 1, 2 * count + 1), rate)):
            clients = [Client(server.port) for _ in range(threads)]
            results.append(run_load(label, list(ids), lambda i, item: clients[i].call(
                "POST", f"/items/{item}/done")[0], threads=threads, rate=pace, max_seconds=max_seconds))
            for c in clients:
                c.close()
        return results
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="prescriptions per run (requests per step)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rate", type=float, default=200, help="requests/s of the fixed-load run")
    parser.add_argument("--max-seconds", type=float, default=60, help="cap per step")
    args = parser.parse_args()

    url = bench_database_url("bench_flow")
    recreate_database(url)
    env = {"DATABASE_URL": url, **secrets_env(service_secrets())}
    tokens = load_demo(env)
    logs = Path(tempfile.mkdtemp(prefix="dualchannel-flow-"))
    server = start_gunicorn("wsgi:app", env, logs / "app.log")
    try:
        actors = demo_actors(server.port, tokens)
        fast = run_steps(actors, count=args.count, threads=args.threads, rate=None, max_seconds=args.max_seconds)
        paced = run_steps(actors, count=args.count, threads=args.threads, rate=args.rate,
                          max_seconds=args.max_seconds, prefix="@rate ")
    finally:
        server.stop()
    base_fast, base_paced = baseline(url, env, logs / "baseline.log", count=args.count, threads=args.threads,
                                     rate=args.rate, max_seconds=args.max_seconds)

    print(f"bench/flow: gunicorn 2 workers x 4 threads on PostgreSQL, {args.threads} clients, "
          f"{args.count} requests per step; server logs in {logs}")
    print(f"\nthroughput (closed loop), ratio = step req/s / baseline req/s\n{HEADER}")
    print(format_row(base_fast))
    for sample in fast:
        print(format_row(sample, base_fast))
    print(f"\nfixed load: {args.rate:.0f} requests/s scheduled (latency from the scheduled start)\n{HEADER}")
    print(format_row(base_paced))
    for sample in paced:
        print(format_row(sample))
    worst = min(s.rate / base_fast.rate for s in fast)
    slowest = max(s.percentile(99) for s in paced) * 1000
    errors = sum(s.errors for s in fast + paced)
    print(f"\nlowest ratio to baseline {worst:.2f} (aim >= 0.6); highest p99 at {args.rate:.0f}/s {slowest:.1f} ms "
          f"(aim < 50); server errors {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
