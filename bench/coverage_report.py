"""Benchmark: the national coverage report (2,875 county-level units) on the demo database.

Run from the repository root::

    python bench/coverage_report.py [--repeat 20] [--extra-pharmacies 0] [--database-url URL]

It builds a fresh database (a temporary SQLite file unless ``--database-url`` names an empty
one), loads the Jining demo with ``dualchannel demo`` through the CLI runner, optionally adds
synthetic active pharmacies at random places in China, and then times in the same run

* ``GET /api/v1/coverage?region=100000`` as admin through the test client (token check, one
  GROUP BY query, report, JSON) -- the goal is under 1 s;
* the same report built by a naive loop: one ``COUNT(*)`` query per county (the baseline);

checks that both give the same counts, and prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from cryptography.fernet import Fernet

# Run as a file, so make the repository's package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualchannel import create_app, db  # noqa: E402
from dualchannel.coverage import rules  # noqa: E402
from dualchannel.geo import boundaries as geo_boundaries  # noqa: E402
from dualchannel.pharmacies.models import Pharmacy, PharmacyStatus  # noqa: E402


def median_seconds(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def naive_report(session, boundaries) -> rules.Report:
    """The baseline: the national report with one COUNT query per county."""
    counties = boundaries.counties_in("100000")
    counts = {}
    for c in counties:
        n = session.execute(sa.select(sa.func.count()).select_from(Pharmacy).where(
            Pharmacy.county_adcode == c.adcode, Pharmacy.status == PharmacyStatus.active.value)).scalar_one()
        if n:
            counts[c.adcode] = {"active": n}
    return rules.build_report(rules.describe_region("100000", counties), counties, counts)


def add_pharmacies(app, n: int, seed: int) -> None:
    """Insert n active pharmacies at uniform random places on China's land, counties computed."""
    if n <= 0:
        return
    with app.app_context():
        boundaries = geo_boundaries.current()
        rng = np.random.default_rng(seed)
        lats, lons, idx = [], [], []
        while len(idx) < n:
            lat, lon = rng.uniform(18.0, 53.5, n), rng.uniform(73.5, 135.0, n)
            found = boundaries.counties_of(lat, lon)
            keep = found >= 0
            lats += list(lat[keep])
            lons += list(lon[keep])
            idx += list(found[keep])
        now = datetime.now(timezone.utc)
        rows = [{"code": f"PBENCH{i:07d}", "name": "bench", "address": "bench", "adcode": boundaries.counties[k].adcode,
                 "lat": float(la), "lon": float(lo), "county_adcode": boundaries.counties[k].adcode,
                 "city_adcode": boundaries.counties[k].city_adcode, "status": PharmacyStatus.active.value,
                 "cold_chain": False, "traceability": True, "created_at": now, "updated_at": now}
                for i, (la, lo, k) in enumerate(zip(lats[:n], lons[:n], idx[:n]))]
        with db.engine().begin() as connection:
            connection.execute(sa.insert(Pharmacy), rows)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--extra-pharmacies", type=int, default=0,
                        help="synthetic active pharmacies added to the demo (default: the demo only)")
    parser.add_argument("--database-url", default=None, help="an EMPTY database (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=20210801)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app({"DATABASE_URL": url, "ID_HASH_KEY": "bench",
                          "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()})
        app.instance_path = tmp
        result = app.test_cli_runner().invoke(args=["demo"])
        if result.exit_code != 0:
            print(result.output, file=sys.stderr)
            return 1
        admin = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("admin"))
        add_pharmacies(app, args.extra_pharmacies, args.seed)

        client = app.test_client()
        headers = {"Authorization": f"Bearer {admin}"}
        t0 = time.perf_counter()
        first = client.get("/api/v1/coverage?region=100000", headers=headers)  # loads the boundaries
        print(f"first request: {time.perf_counter() - t0:.2f} s (boundaries: loaded once per process, by the demo)")
        assert first.status_code == 200, first.get_json()
        body = first.get_json()
        print(f"national report: {body['total']} county-level units, {body['covered']} covered, "
              f"{len(first.data) / 1e6:.2f} MB of JSON; database {url.split(':')[0]}, "
              f"{args.extra_pharmacies} synthetic pharmacies added")

        api_s = median_seconds(lambda: client.get("/api/v1/coverage?region=100000", headers=headers), args.repeat)

        with app.app_context():
            boundaries = geo_boundaries.current()
            with db.new_session() as session:
                naive = naive_report(session, boundaries)
                naive_s = median_seconds(lambda: naive_report(session, boundaries), max(3, args.repeat // 4))
        same = [(c["adcode"], c["active_pharmacies"]) for c in body["counties"]] == \
            [(r.county.adcode, r.active) for r in naive.counties]

        print(f"GET /api/v1/coverage?region=100000 (one GROUP BY): {api_s * 1000:8.1f} ms median of {args.repeat}"
              f"  [goal < 1000 ms: {'met' if api_s < 1 else 'NOT met'}]")
        print(f"naive per-county COUNT loop ({len(naive.counties)} queries): {naive_s * 1000:8.1f} ms")
        print(f"ratio naive / endpoint: {naive_s / api_s:.1f} x; same counts: {same}")
        app.extensions[db._ENGINE].dispose()
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
