"""Benchmark: the procurement execution report of a whole province on PostgreSQL.

Run from the repository root (the database is emptied and refilled; use your own)::

    python bench/procurement_execution.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/bench_procurement]
        [--institutions 10000] [--products 200] [--reuse] [--alerts]

It loads a province (370000) of institutions spread over 160 counties, a two-year drug batch
of products (half selected, half non-selected, one pair per generic name), one agreement-year
line per institution × product with an agreed volume for each selected product, and a year of
monthly purchases per line, all through COPY. Then, in the same run, it times

* the execution report of the province at the end of the agreement year, as the bureau's
  endpoint computes it (``execution.execution_report``, first page and summary; read-only):
  set-based SQL over each line's running purchase totals;
* the same report at past dates: at a month's start (whole months come from each line's
  monthly totals) and mid-month on the day every purchase of the month is dated (the worst
  case here: that month's purchases are read and grouped);
* a naive baseline: load every purchase of a county through the ORM and sum, compare and sort
  per row in Python, extrapolated to the province by purchase count, against the set-based
  report of the same county;
* with ``--alerts``, raising the province's alerts (first run inserts them, second run finds
  them all raised).

It prints each time and the ratios. The aim is the province report under 2 s on this 2-core
machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualchannel import adcodes, create_app, db, migrate  # noqa: E402
from dualchannel.auth import Actor, Role  # noqa: E402
from dualchannel.procurement import alerts, execution, progress  # noqa: E402
from dualchannel.procurement.models import Line, Purchase, month_column  # noqa: E402
from dualchannel.procurement.rules import agreement as rules  # noqa: E402

PROVINCE = "370000"
COUNTIES = [f"37{city:02d}{county:02d}" for city in range(1, 17) for county in range(1, 11)]
YEAR_START, YEAR_END = date(2025, 1, 1), date(2026, 1, 1)
NOW = "2026-01-10 00:00:00"


def reset(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(engine)


def copy(cursor, table: str, columns: list[str], lines) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
        for chunk in lines:
            out.write(chunk)


def load(engine: sa.Engine, institutions: int, products: int, seed: int) -> tuple[int, int]:
    """Fill the database; returns (lines, purchases)."""
    rng = np.random.default_rng(seed)
    generics = products // 2
    selected_price = np.round(rng.uniform(0.05, 20.0, generics), 4)  # yuan per unit, 4 places
    price = np.empty(products)
    price[0::2], price[1::2] = selected_price, np.round(selected_price * 3, 4)
    price_scaled = np.rint(price * 10_000).astype(np.int64)
    codes = [f"H{COUNTIES[i % len(COUNTIES)]}{i:05d}" for i in range(institutions)]
    regions = [COUNTIES[i % len(COUNTIES)] for i in range(institutions)]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET session_replication_role = replica")  # bulk load: no FK triggers
        copy(cursor, "institution", ["code", "name", "adcode", "created_at"],
             ["".join(f"{c}\t医院{c}\t{r}\t{NOW}\n" for c, r in zip(codes, regions))])
        copy(cursor, "procurement_batch",
             ["id", "code", "name", "kind", "cycle_start", "cycle_end", "effective_date", "region",
              "direct_settlement", "created_by", "created_at"],
             [f"1\tBENCH\t基准批次\tdrug\t2025-01-01\t2026-12-31\t2025-01-01\t{PROVINCE}\tt\tbench\t{NOW}\n"])
        copy(cursor, "procurement_product",
             ["id", "batch_id", "code", "generic_name", "manufacturer", "name", "specification", "unit", "price",
              "status", "conversion", "equal_quality", "created_at"],
             ["".join(f"{j + 1}\t1\tP{j:04d}\t通用名{j // 2:03d}\t企业{j % 7}\t产品{j:04d}\t规格\t片\t{price_scaled[j]}\t"
                      f"{'selected' if j % 2 == 0 else 'non_selected'}\t10000\tf\t{NOW}\n" for j in range(products))])

        line_chunks, purchase_chunks, totals = [], [], [0, 0]
        block = max(1, 200_000 // products)

        def line_rows():
            line_id = 0
            purchase_id = 0
            days = [date(2025, month, 15).isoformat() for month in range(1, 13)]
            for first in range(0, institutions, block):
                n = min(block, institutions - first)
                agreed = rng.integers(100, 5000, size=(n, products))
                agreed[:, 1::2] = 0
                pace = rng.uniform(0.85, 1.35, size=(n, products))  # about a fifth end the year behind
                monthly = np.rint(agreed[:, :, None] * pace[:, :, None] / 12
                                  * rng.uniform(0.5, 1.5, size=(n, products, 12))).astype(np.int64)
                monthly[:, 1::2, :] = rng.integers(0, 60, size=(n, products // 2, 12))
                amount = monthly * price_scaled[None, :, None] // 100  # fen
                lines, purchases = [], []
                for a in range(n):
                    code, region = codes[first + a], regions[first + a]
                    for j in range(products):
                        line_id += 1
                        q, fen = monthly[a, j], amount[a, j]
                        agreed_text = str(agreed[a, j]) if j % 2 == 0 else "\\N"
                        months = "\t".join(map(str, q)) + "\t" + "\t".join(map(str, fen))
                        lines.append(f"{line_id}\t{code}\t{region}\t{j + 1}\t1\t2025-01-01\t2026-01-01\t{agreed_text}\t"
                                     f"{'bureau' if j % 2 == 0 else chr(92) + 'N'}\t{int(q.sum())}\t{int(fen.sum())}\t"
                                     f"{months}\t{NOW}\n")
                        for m in range(12):
                            purchase_id += 1
                            purchases.append(f"{purchase_id}\t{line_id}\t{code}\t{j + 1}\t{q[m]}\t{fen[m]}\t{days[m]}\t"
                                             f"企业{j % 7}\tbench\t{NOW}\n")
                totals[0], totals[1] = line_id, purchase_id
                yield "".join(lines), "".join(purchases)

        for lines, purchases in line_rows():
            line_chunks.append(lines)
            purchase_chunks.append(purchases)
            if sum(len(c) for c in purchase_chunks) > 50_000_000:
                copy(cursor, "procurement_line", LINE_COLUMNS, line_chunks)
                copy(cursor, "procurement_purchase", PURCHASE_COLUMNS, purchase_chunks)
                line_chunks, purchase_chunks = [], []
        copy(cursor, "procurement_line", LINE_COLUMNS, line_chunks)
        copy(cursor, "procurement_purchase", PURCHASE_COLUMNS, purchase_chunks)
        for table in ("procurement_batch", "procurement_product", "procurement_line", "procurement_purchase"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return totals[0], totals[1]


LINE_COLUMNS = ["id", "institution_code", "region", "product_id", "batch_id", "year_start", "year_end", "agreed",
                "agreed_source", "purchased", "purchased_amount",
                *(month_column("q", m) for m in range(12)), *(month_column("a", m) for m in range(12)), "updated_at"]
PURCHASE_COLUMNS = ["id", "line_id", "institution_code", "product_id", "quantity", "amount", "purchased_on",
                    "supplier", "created_by", "created_at"]


def naive_report(session, region: str, as_of: date, tolerance=rules.ZERO) -> list[tuple]:
    """What a straightforward implementation does: every purchase through the ORM, summed per
    line in a Python loop, then every line's shares by the rules, sorted, first page kept."""
    batch_years = progress.years_in_view(session, as_of)
    schedule = {y.batch.id: int(y.schedule * progress.SCALE) for y in batch_years}
    prefix = adcodes.prefix(region)
    lines = {line.id: line for line in session.exec(sa.select(Line).where(Line.region.startswith(prefix))).scalars()}
    purchased = defaultdict(int)
    for purchase in session.exec(sa.select(Purchase).join(Line, Line.id == Purchase.line_id).where(
            Line.region.startswith(prefix), Purchase.purchased_on <= as_of)).scalars():
        purchased[purchase.line_id] += purchase.quantity
    rows = []
    for line_id, line in lines.items():
        if line.agreed is None:
            rows.append((False, -1e18, line_id))
            continue
        completed = rules.completed_share(line.agreed, purchased[line_id])
        behind = rules.behind_schedule(completed, schedule[line.batch_id] / Decimal(progress.SCALE), tolerance)
        gap = float(schedule[line.batch_id]) - float(purchased[line_id] * progress.SCALE) / line.agreed
        rows.append((behind, gap, line_id))
    rows.sort(key=lambda r: (not r[0], -r[1], r[2]))
    return rows[:50]


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_procurement")
    parser.add_argument("--institutions", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20251231)
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run")
    parser.add_argument("--alerts", action="store_true", help="also time raising the province's alerts")
    args = parser.parse_args(argv)
    if args.products % 2:
        parser.error("--products must be even (one selected and one non-selected product per generic)")

    engine = db.create_engine(args.url)
    if args.reuse:
        with engine.connect() as connection:
            lines = connection.exec_driver_sql("SELECT count(*) FROM procurement_line").scalar()
            purchases = connection.exec_driver_sql("SELECT count(*) FROM procurement_purchase").scalar()
        print(f"reusing {lines:,} lines and {purchases:,} purchases")
    else:
        start = time.perf_counter()
        reset(engine)
        lines, purchases = load(engine, args.institutions, args.products, args.seed)
        print(f"loaded {args.institutions:,} institutions x {args.products} products: {lines:,} lines, "
              f"{purchases:,} monthly purchases (COPY, indexes, VACUUM ANALYZE) in {time.perf_counter() - start:.0f} s")
    engine.dispose()

    app = create_app({"DATABASE_URL": args.url, "ID_HASH_KEY": "bench", "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    bureau = Actor(Role.bureau, PROVINCE, "bench")
    with app.app_context():
        session = db.new_session()

        def report(as_of: date, region: str = PROVINCE):
            result = execution.execution_report(session, bureau, region=region, as_of=as_of)
            session.rollback()
            return result

        year_end = date(2025, 12, 31)
        full_s, full = timed(lambda: report(year_end))
        summary = full["summary"]
        print(f"execution report, province {PROVINCE} as of {year_end}: {full_s:.3f} s "
              f"({summary['lines']:,} lines, {summary['behind']:,} behind; first page of {len(full['items'])}) "
              f"[aim < 2 s: {'met' if full_s < 2 else 'NOT met'}]")
        for past, label in ((date(2025, 7, 1), "a past month's start: whole months from the lines"),
                            (date(2025, 7, 15), "mid-month, the purchase day: that month's purchases read")):
            past_s, past_report = timed(lambda: report(past), repeat=2)
            print(f"execution report, province {PROVINCE} as of {past} ({label}): {past_s:.3f} s "
                  f"({past_report['summary']['behind']:,} behind)")

        county = COUNTIES[0]
        county_s, county_report = timed(lambda: report(year_end, county))
        naive_s, naive = timed(lambda: naive_report(session, county, year_end), repeat=1)
        session.rollback()
        same = [i["line_id"] for i in county_report["items"]] == [r[2] for r in naive]
        county_purchases = session.execute(sa.select(sa.func.count()).select_from(Purchase).join(
            Line, Line.id == Purchase.line_id).where(Line.region == county)).scalar()
        session.rollback()
        extrapolated = naive_s * purchases / max(county_purchases, 1)
        print(f"naive per-row loop, county {county} ({county_purchases:,} purchases): {naive_s:.2f} s; set-based "
              f"report of the same county: {county_s:.3f} s; ratio {naive_s / county_s:.0f}x; same first page: {same}")
        print(f"naive extrapolated to the province ({purchases:,} purchases): {extrapolated:.0f} s; "
              f"set-based province report {full_s:.3f} s; ratio {extrapolated / full_s:.0f}x")

        if args.alerts:
            session.execute(sa.text("TRUNCATE flag"))
            session.commit()
            for label in ("first", "repeat"):
                start = time.perf_counter()
                raised, resolved = alerts.sync_alerts(session, region=PROVINCE, as_of=year_end)
                session.commit()
                print(f"alerts, {label} run: {raised:,} raised, {resolved:,} resolved in {time.perf_counter() - start:.1f} s")
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
