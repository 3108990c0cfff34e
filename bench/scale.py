"""Scale: the hot endpoints on a database of millions of prescriptions vs. on an empty one.

Run from the repository root (PostgreSQL reachable; BENCH_POSTGRES names the server)::

    python bench/scale.py [--rows 10000000] [--requests 300] [--threads 4] [--reuse]

Creates `bench_scale_empty` and `bench_scale_full` (dropped first), loads the demo data into
both, then with COPY a few thousand prescriptions (`--small-rows`, so that every list answers a
full page there too) into the "empty" one and into the full one through psycopg 3: ~1,500 physicians and ~600
pharmacies over Shandong's cities, rows/5 patients, `rows` prescriptions over two years with
their items, history events (issue/route/verify/dispense/...) and dispensed packs, and rows/100
audit flags. Foreign-key triggers are off and secondary indexes are dropped during the load and
built afterwards, as a bulk load into PostgreSQL is done. `--reuse` keeps an already loaded
`bench_scale_full`.

Then it serves each database with gunicorn in turn and measures the hot endpoints: reads a
physician, pharmacy and bureaus make (own prescription, lists newest first, inbox, flags, a
trace code, a patient search) and the write steps (issue, route, verify, dispense, inbox).
Prints the load's rows/s and times, each endpoint's p50/p99 on both and the p99 ratio
(aim: within 2x of the empty database).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.steps import demo_actors, routed_backlog, run_steps  # noqa: E402
from bench.support import (PYTHON, ROOT, Client, bench_database_url, recreate_database,  # noqa: E402
                           run_load, secrets_env, service_secrets, start_gunicorn)
from dualchannel.geo.boundaries import Boundaries  # noqa: E402

BIG_TABLES = ("patient", "prescription", "prescription_item", "prescription_event", "trace_pack", "dispensed_pack",
              "flag")
DRUGS = ["XL01EB04", "XL01XC13", "XL01XC23", "XL01EX03", "XL01EX10", "XL01EF01", "XL04AB04", "XL04AC10",
         "XL04AA29", "XC09DX04", "XA10BK01", "XC10AX13", "XB03XA05", "XJ05AR18", "XL04AX05", "XN07XX06"]
# Share of patients by city (Jining, the demo's, a little more than its share of the province).
CITY_WEIGHT = {"370800": 4}
CHUNK = 50_000


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env={**os.environ, **env},
                          check=True, capture_output=True, text=True).stdout


def prepare(url: str, env: dict[str, str]) -> dict[str, str]:
    """A fresh database with the demo data; role -> token, plus a county bureau's and another city's."""
    recreate_database(url)
    tokens = {line.split()[0]: line.split()[-1] for line in cli(env, "demo").splitlines() if line.strip()}
    tokens["county_bureau"] = cli(env, "token", "create", "--role", "bureau", "--subject", "370811").split()[-1]
    tokens["other_bureau"] = cli(env, "token", "create", "--role", "bureau", "--subject", "370900").split()[-1]
    return tokens


# -- the bulk load -------------------------------------------------------------------------------

def _ts(value: datetime) -> str:
    return value.isoformat(" ", "seconds")


class Loader:
    """Generates the rows and COPYs them, `CHUNK` rows of text at a time."""

    def __init__(self, connection: psycopg.Connection, rows: int, seed: int = 42):
        self.connection, self.rows, self.rng = connection, rows, random.Random(seed)
        self.counts: dict[str, int] = {}
        self.now = datetime.now(timezone.utc).replace(tzinfo=None)

    def copy(self, table: str, columns: str, lines) -> None:
        buffer, n = io.StringIO(), 0
        with self.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for line in lines:
                    buffer.write(line)
                    n += 1
                    if n % CHUNK == 0:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
        self.counts[table] = self.counts.get(table, 0) + n

    def registries(self) -> dict[str, dict]:
        """Institutions, physicians and pharmacies per Shandong city; returns city -> codes."""
        boundaries = Boundaries()
        counties = [c for c in boundaries.counties if c.province_adcode == "370000"]
        cities = sorted({c.city_adcode for c in counties})
        existing = dict(self.connection.execute("SELECT code, county_adcode FROM pharmacy WHERE status = 'active'"))
        demo_physicians = [r[0] for r in self.connection.execute(
            "SELECT p.code FROM physician p JOIN institution i ON i.code = p.institution_code "
            "WHERE p.responsible")]
        by_city = {}
        stamp = _ts(self.now)
        institutions, physicians, pharmacies = [], [], []
        for city in cities:
            in_city = [c for c in counties if c.city_adcode == city]
            institution = f"H{city}900"
            institutions.append(f"{institution}\t{city}医院\t{in_city[0].adcode}\t{stamp}\n")
            codes = [f"D{city}9{n:03d}" for n in range(95)]
            physicians += [f"{code}\t医师{code[-3:]}\t{institution}\ttrue\t{stamp}\n" for code in codes]
            shops = []
            for n in range(38):
                county = in_city[n % len(in_city)]
                point = boundaries.geometry(county.adcode).representative_point()
                code = f"P{county.adcode}9{n:03d}"
                shops.append(code)
                pharmacies.append(f"{code}\t{county.name}药房{n}\t地址\t{county.adcode}\t{point.y}\t{point.x}\t"
                                  f"{county.adcode}\t{city}\tactive\tfalse\ttrue\t{stamp}\t{stamp}\n")
            if city == "370800":
                codes += demo_physicians
                shops += list(existing)
            by_city[city] = {"institution": institution, "physicians": codes, "pharmacies": shops,
                             "counties": [c.adcode for c in in_city]}
        self.copy("institution", "code, name, adcode, created_at", institutions)
        self.copy("physician", "code, name, institution_code, responsible, created_at", physicians)
        self.copy("pharmacy", "code, name, address, adcode, lat, lon, county_adcode, city_adcode, status, "
                              "cold_chain, traceability, created_at, updated_at", pharmacies)
        demo_institution = dict(self.connection.execute("SELECT code, institution_code FROM physician"))
        for city in by_city.values():
            city["institution_of"] = {code: demo_institution.get(code, city["institution"])
                                      for code in city["physicians"]}
        return by_city

    def patients(self, by_city: dict, count: int, first_id: int) -> list[tuple[int, str]]:
        cities = [c for c in by_city for _ in range(CITY_WEIGHT.get(c, 1))]
        stamp = _ts(self.now)
        ids = []

        def lines():
            for n in range(count):
                pid = first_id + n
                city = self.rng.choice(cities)
                ids.append((pid, city))
                digest = hashlib.blake2b(str(pid).encode(), digest_size=32).hexdigest()
                yield (f"{pid}\t{digest}\tbench\t{city}********{pid % 10000:04d}\t患者{pid}\t"
                       f"{'employee' if pid % 3 else 'resident'}\t{city}\t\\N\tnone\t{stamp}\n")

        self.copy("patient", "id, id_hash, id_encrypted, id_number_masked, name, insurance, region, filed_region, "
                             "assistance_category, created_at", lines())
        return ids

    def prescriptions(self, by_city: dict, patients: list[tuple[int, str]], first_id: int,
                      first_event: int) -> None:
        """Prescriptions with items, events and packs, COPYed side by side (four streams)."""
        rng, rows = self.rng, self.rows
        span = 730 * 86400
        event_id = first_event
        counts = {"prescription_item": 0, "prescription_event": 0, "trace_pack": 0, "dispensed_pack": 0}
        # One COPY at a time per connection: the other tables are written to files alongside the
        # prescriptions' COPY and streamed after it.
        folder = Path(tempfile.mkdtemp(prefix="dualchannel-scale-"))
        files = {name: open(folder / name, "w") for name in counts}
        with self.connection.cursor() as cursor, \
                cursor.copy("COPY prescription (id, patient_id, physician_code, institution_code, patient_region, "
                            "diagnosis, status, issued_at, valid_until, pharmacy_code, verified_at, dispensed_at, "
                            "updated_at) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n in range(rows):
                rx = first_id + n
                patient, city = patients[rng.randrange(len(patients))]
                place = by_city[city]
                physician = place["physicians"][rng.randrange(len(place["physicians"]))]
                pharmacy = place["pharmacies"][rng.randrange(len(place["pharmacies"]))]
                age = rng.random() * span
                issued = self.now - timedelta(seconds=int(age))
                if age < 2 * 86400:
                    status = rng.choice(("issued", "routed", "verified", "dispensed"))
                else:
                    roll = rng.random()
                    status = "dispensed" if roll < 0.88 else "expired" if roll < 0.95 else "cancelled"
                path = {"issued": 1, "routed": 2, "verified": 3, "dispensed": 4, "expired": 1, "cancelled": 1}[status]
                routed = path >= 2
                t = [issued + timedelta(minutes=10 * k) for k in range(4)]
                valid = datetime(issued.year, issued.month, issued.day) + timedelta(days=3)
                buffer.write(f"{rx}\t{patient}\t{physician}\t{place['institution_of'][physician]}\t{city}\t诊断\t"
                             f"{status}\t{_ts(issued)}\t{_ts(valid)}\t{pharmacy if routed else chr(92) + 'N'}\t"
                             f"{_ts(t[2]) if path >= 3 else chr(92) + 'N'}\t"
                             f"{_ts(t[3]) if path >= 4 else chr(92) + 'N'}\t{_ts(t[path - 1])}\n")
                drug = DRUGS[rx % len(DRUGS)]
                files["prescription_item"].write(f"{rx}\t{rx}\t{drug}\t1\t28\t每日一次\n")
                actor = f"physician:{physician}"
                moves = [("issue", "\\N", "issued", actor), ("route", "issued", "routed", actor),
                         ("verify", "routed", "verified", f"pharmacy:{pharmacy}"),
                         ("dispense", "verified", "dispensed", f"pharmacy:{pharmacy}")][:path]
                if status in ("expired", "cancelled"):
                    moves.append(("expire" if status == "expired" else "cancel", "issued", status,
                                  "system" if status == "expired" else actor))
                for k, (action, source, target, who) in enumerate(moves):
                    files["prescription_event"].write(
                        f"{event_id}\t{rx}\t{action}\t{source}\t{target}\t{who}\t{_ts(t[min(k, 3)])}\n")
                    event_id += 1
                if status == "dispensed":
                    # One whole pack: its row in the ledger (trace_pack) and this dispensing's draw.
                    files["trace_pack"].write(f"9{rx:019d}\t{drug}\t{pharmacy}\t1\t1\t{_ts(t[3])}\n")
                    files["dispensed_pack"].write(f"9{rx:019d}\t{rx}\t{drug}\t{pharmacy}\t1\t{_ts(t[3])}\n")
                    counts["dispensed_pack"] += 1
                if (n + 1) % CHUNK == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                    if (n + 1) % 1_000_000 == 0:
                        print(f"  ... {n + 1:,} prescriptions", file=sys.stderr, flush=True)
            copy.write(buffer.getvalue())
        for f in files.values():
            f.close()
        for name, columns in (("prescription_item", "id, prescription_id, drug_code, quantity, days_supply, dosage"),
                              ("prescription_event", "id, prescription_id, action, from_status, to_status, actor, at"),
                              ("trace_pack", "trace_code, drug_code, pharmacy_code, units_per_pack, units_dispensed, "
                                             "opened_at"),
                              ("dispensed_pack", "trace_code, prescription_id, drug_code, pharmacy_code, units, "
                                                 "dispensed_at")):
            with open(folder / name) as f, self.connection.cursor() as cursor, \
                    cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                while block := f.read(8 << 20):
                    copy.write(block)
            (folder / name).unlink()
        folder.rmdir()
        self.counts["prescription"] = rows
        self.counts["prescription_item"] = rows
        self.counts["prescription_event"] = event_id - first_event
        self.counts["trace_pack"] = self.counts["dispensed_pack"] = counts["dispensed_pack"]

    def flags(self, by_city: dict, count: int, first_id: int) -> None:
        counties = [c for city in by_city.values() for c in city["counties"]]
        stamp = _ts(self.now)

        def lines():
            for n in range(count):
                fid = first_id + n
                kind = ("duplicate_trace_code", "pharmacy_shopping", "overlapping_supply")[fid % 3]
                yield (f"{fid}\t{kind}\tmedium\t{'open' if fid % 4 else 'dismissed'}\tbench:{fid}\t"
                       f"{self.rng.choice(counties)}\t{{}}\tbench:{fid}\t{stamp}\n")

        self.copy("flag", "id, type, severity, status, subject, region, evidence, dedup_key, created_at", lines())


def bulk_load(url: str, rows: int) -> dict:
    """Load `rows` prescriptions and the rest into the (demo-loaded) database at `url`."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    timings = {}
    with psycopg.connect(dsn, autocommit=False) as connection:
        connection.execute("SET session_replication_role = replica")  # no FK triggers while loading
        connection.execute("SET synchronous_commit = off")
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            [list(BIG_TABLES)]).fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        first = {t: connection.execute(f"SELECT coalesce(max(id), 0) + 1000 FROM {t}").fetchone()[0]
                 for t in ("patient", "prescription", "prescription_event", "flag")}
        loader = Loader(connection, rows)
        started = time.perf_counter()
        by_city = loader.registries()
        patients = loader.patients(by_city, max(rows // 5, 1000), first["patient"])
        loader.prescriptions(by_city, patients, first["prescription"], first["prescription_event"])
        loader.flags(by_city, max(rows // 100, 100), first["flag"])
        connection.commit()
        timings["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '1GB'")
        for _, definition in indexes:
            connection.execute(definition)
        connection.commit()
        timings["indexes_s"] = time.perf_counter() - started
        for table in ("patient", "prescription", "prescription_item", "prescription_event", "flag"):
            connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        connection.commit()
        connection.autocommit = True
        started = time.perf_counter()
        connection.execute("VACUUM ANALYZE")
        timings["analyze_s"] = time.perf_counter() - started
        timings["counts"] = loader.counts
        timings["size"] = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return timings


# -- measuring -----------------------------------------------------------------------------------

def reads(tokens: dict[str, str], port: int) -> dict[str, tuple[str, str]]:
    """Read endpoints: name -> (token, path)."""
    status, page = Client(port, tokens["physician"]).call("GET", "/api/v1/prescriptions?limit=1")
    rx = page["items"][0]["id"]
    return {
        "get prescription": (tokens["physician"], f"/api/v1/prescriptions/{rx}"),
        "physician list": (tokens["physician"], "/api/v1/prescriptions"),
        "pharmacy list": (tokens["pharmacy"], "/api/v1/prescriptions"),
        "bureau list (city)": (tokens["bureau"], "/api/v1/prescriptions"),
        "bureau list (county)": (tokens["county_bureau"], "/api/v1/prescriptions"),
        "bureau list (Tai'an)": (tokens["other_bureau"], "/api/v1/prescriptions"),
        "bureau flags": (tokens["bureau"], "/api/v1/flags"),
        "pharmacy inbox": (tokens["pharmacy"], "/api/v1/pharmacy/inbox"),
    }


def measure(url: str, env: dict, tokens: dict, log: Path, *, requests: int, threads: int) -> dict:
    """The write steps first (they also fill the demo actors' pages on both databases, so every
    list answers a full page), then the reads."""
    server = start_gunicorn("wsgi:app", {**env, "DATABASE_URL": url, "DUALCHANNEL_LOG_LEVEL": "WARNING"}, log)
    results = {}
    try:
        actors = demo_actors(server.port, tokens)
        routed_backlog(actors, 60)  # a full inbox page on both databases
        for sample in run_steps(actors, count=requests, threads=threads, rate=None, max_seconds=120):
            results[sample.name] = sample
        for name, (token, path) in reads(tokens, server.port).items():
            clients = [Client(server.port, token) for _ in range(threads)]
            run_load("warm", list(range(threads * 5)), lambda i, _: clients[i].call("GET", path)[0], threads=threads)
            results[name] = run_load(name, list(range(requests)), lambda i, _: clients[i].call("GET", path)[0],
                                     threads=threads, max_seconds=120)
            for c in clients:
                c.close()
    finally:
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="prescriptions to load")
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--small-rows", type=int, default=20_000, help="prescriptions in the 'empty' database")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded bench_scale_full")
    args = parser.parse_args()
    saved = ROOT / "instance" / "bench_scale_tokens.txt"  # instance/ is git-ignored
    saved_secrets = ROOT / "instance" / "bench_scale_secrets.json"
    logs = Path(tempfile.mkdtemp(prefix="dualchannel-scale-"))
    empty_url, full_url = bench_database_url("bench_scale_empty"), bench_database_url("bench_scale_full")
    if args.reuse:
        full_tokens = dict(line.split(" ", 1) for line in saved.read_text().splitlines())
        env = secrets_env(json.loads(saved_secrets.read_text()))
        load = None
    else:
        keys = service_secrets()
        env = secrets_env(keys)
        full_tokens = prepare(full_url, {**env, "DATABASE_URL": full_url})
        started = time.perf_counter()
        load = bulk_load(full_url, args.rows)
        load["total_s"] = time.perf_counter() - started
        saved.parent.mkdir(exist_ok=True)
        saved.write_text("".join(f"{k} {v}\n" for k, v in full_tokens.items()))
        saved_secrets.write_text(json.dumps(keys))
        saved_secrets.chmod(0o600)
    empty_tokens = prepare(empty_url, {**env, "DATABASE_URL": empty_url})
    # "Empty" is the demo plus a few thousand rows: enough that every list answers a full page as
    # on the big database, so the comparison shows the table size and not the page size.
    bulk_load(empty_url, args.small_rows)
    if load:
        counts = load["counts"]
        print(f"bench/scale: loaded {args.rows:,} prescriptions in {load['total_s']:.0f} s "
              f"(COPY {load['copy_s']:.0f} s, indexes {load['indexes_s']:.0f} s, VACUUM ANALYZE "
              f"{load['analyze_s']:.0f} s); database {load['size']}")
        total_rows = sum(counts.values())
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
              + f"; {total_rows / load['copy_s']:,.0f} rows/s through COPY")
    empty = measure(empty_url, env, empty_tokens, logs / "empty.log", requests=args.requests, threads=args.threads)
    full = measure(full_url, env, full_tokens, logs / "full.log", requests=args.requests, threads=args.threads)
    print(f"\n{args.threads} clients, {args.requests} requests per endpoint; gunicorn 2 workers x 4 threads\n")
    print(f"'empty': demo data + {args.small_rows:,} prescriptions (full pages); 'full': + {args.rows:,}")
    print(f"{'endpoint':<24} {'empty p50':>9} {'empty p99':>9} {'full p50':>9} {'full p99':>9} {'p99 x':>6}  statuses (full)")
    worst = 0.0
    errors = 0
    for name, small in empty.items():
        big = full[name]
        ratio = big.percentile(99) / small.percentile(99)
        worst = max(worst, ratio)
        errors += small.errors + big.errors
        codes = ",".join(f"{k}:{v}" for k, v in sorted(big.statuses.items()))
        print(f"{name:<24} {small.percentile(50) * 1000:9.1f} {small.percentile(99) * 1000:9.1f} "
              f"{big.percentile(50) * 1000:9.1f} {big.percentile(99) * 1000:9.1f} {ratio:6.2f}  {codes}")
    print(f"\nworst p99 ratio full/empty {worst:.2f} (aim <= 2); server errors {errors}; logs in {logs}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
