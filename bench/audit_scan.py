"""Time the full audit scan over a million dispensings on PostgreSQL.

    python bench/audit_scan.py [--dispensings 1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/bench_audit]

Creates (and drops first) its own database, loads a generated history with planted cases
(COPY), then times: a baseline full pass over the same joined rows (the least any scan must
read), and the full scan. Prints both, the ratio, and checks the planted cases were found.
Aim: the scan under 10 s on a 2-core machine.
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dualchannel import clock, db, migrate, synthetic  # noqa: E402
from dualchannel.audit import services  # noqa: E402
from dualchannel.audit.rules import Thresholds  # noqa: E402
from dualchannel.flags.models import Flag  # noqa: E402
from sqlmodel import Session, select  # noqa: E402


def fresh_database(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = db.create_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dispensings", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_audit")
    args = parser.parse_args()
    fresh_database(args.url)
    engine = db.create_engine(args.url)
    migrate.upgrade(engine)
    as_of = clock.now()
    started = time.perf_counter()
    with engine.begin() as connection:
        planted = synthetic.generate(connection, patients=args.dispensings // 6, as_of=as_of, months=6,
                                     pharmacies_per_county=max(4, args.dispensings // 12_000))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    print(f"loaded {planted.dispensings:,} dispensings in {time.perf_counter() - started:.1f} s")

    thresholds = Thresholds()
    since = as_of - timedelta(days=thresholds.lookback_days)
    with Session(engine) as session:
        started = time.perf_counter()
        lines = services._dispensing_lines(since, as_of).subquery()
        rows = session.execute(sa.select(sa.func.count(), sa.func.sum(lines.c.quantity))).one()
        baseline = time.perf_counter() - started
    with Session(engine) as session:
        started = time.perf_counter()
        counts = services.scan(session, thresholds, since=since, as_of=as_of).new_flags
        elapsed = time.perf_counter() - started
    with Session(engine) as session:
        found = {kind: set(session.exec(select(Flag.dedup_key).where(Flag.type == kind))) for kind in planted.keys}
    exact = all(found[kind] == keys for kind, keys in planted.keys.items())
    print(f"baseline: one pass over {rows[0]:,} dispensing lines   {baseline:6.2f} s")
    print(f"full audit scan ({sum(counts.values())} flags)            {elapsed:6.2f} s")
    print(f"ratio scan / baseline: {elapsed / baseline:.1f}x   aim: scan < 10 s -> "
          f"{'met' if elapsed < 10 else 'NOT met'}")
    print(f"planted cases found exactly: {exact}")
    for kind, keys in planted.keys.items():
        if found[kind] != keys:
            print(f"  {kind}: missed {sorted(keys - found[kind])[:3]}, unexpected {sorted(found[kind] - keys)[:3]}")
    engine.dispose()


if __name__ == "__main__":
    main()
