"""Load test of the write steps under gunicorn on PostgreSQL, interleaved with a minimal baseline.

Run from the repository root (PostgreSQL reachable; BENCH_POSTGRES names the server, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres)::

    python bench/flow.py [--seconds 10] [--warmup 3] [--threads 8] [--rate 100] [--patients 200]

Creates the database `bench_flow` (dropped first) with the Jining demo data, `patients` more
patients and a token for each responsible physician and active pharmacy, then serves two apps
side by side with gunicorn (`gunicorn.conf.py`, 2 workers x 4 threads, on 127.0.0.1): the
service, and `bench/baseline_app.py`, the minimal transaction (one conditional UPDATE and one
INSERT) in bare Flask + SQLAlchemy Core. Both are wrapped by `bench/instrumented.py`, whose
`X-Statements` header gives the SQL statements each request executed.

After a warm-up (`warmup` seconds of every step on both apps), every window lasts `seconds`:

1. closed loop (`threads` clients, each sending as soon as answered), the load spread as in a
   city: prescriptions of the demo's responsible physicians for random patients, routed in turn
   to every active pharmacy. Baseline, issue, baseline, route, baseline, verify, baseline, review, baseline,
   dispense, baseline, settle, baseline, inbox, baseline, floor, baseline. `floor` is the
   admin's `GET /api/v1/me`: authenticated, rate-limited, logged and committed like every API
   request, with no work of its own (no query beyond the token's revocation epoch), the most a
   step could reach on this stack;
2. the same for dispense and settle with every prescription at one pharmacy (the hot shape:
   one stock row);
3. an open schedule of `rate` requests/s per step (latency counted from when each request was
   due, so queueing shows), every window's prescriptions made before the first of them.

The prescriptions a window needs are made before it, unmeasured, by the steps before it.
Prints per window: requests, requests/s, p50, p99, statements per request (median, and the
range when they vary), the ratio of the step's requests/s to the mean of the baseline
windows either side, and the CPU milliseconds per request of the server's workers, of
PostgreSQL's backends and of this load generator (`bench.support.CpuMeter`). From those, for
each write step, the ratio it would reach if its app CPU were the floor's: how much of the
gap the step's own Python work explains. Aims: dispense and settle >= 0.6 x the baseline; p99
< 50 ms at the fixed rate; dispense <= 6 statements. Exits 1 on any 5xx.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench import baseline_app  # noqa: E402
from bench.support import (Client, CpuMeter, Sample, Server, bench_database_url, recreate_database,  # noqa: E402
                           run_load, secrets_env, service_secrets, start_gunicorn)
from dualchannel import auth, create_app, db, demo, migrate  # noqa: E402
from dualchannel.patients import services as patients_services  # noqa: E402
from dualchannel.pharmacies import services as pharmacies_services  # noqa: E402
from dualchannel.signatures import services as signatures_services  # noqa: E402

DRUG = "XC09DX04"  # 诺欣妥: no eligibility needed
HOT_PHARMACY = "P370811001"
STEPS = ("issue", "route", "verify", "review", "dispense", "settle")
OK = {"issue": 201, "route": 200, "verify": 200, "review": 200, "dispense": 200, "settle": 201, "inbox": 200, "floor": 200,
      "baseline": 200}
EXTRA = ("inbox", "floor")
SPREAD, HOT = "spread", "hot"


@dataclass(frozen=True)
class Patient:
    id: int
    id_number: str


@dataclass
class City:
    """Who acts in the bench database: tokens by physician and pharmacy code, the patients."""

    admin: str
    physicians: dict[str, str]
    pharmacies: dict[str, str]
    patients: list[Patient]


@dataclass
class Rx:
    id: int
    patient: Patient
    physician: str  # token
    pharmacy: str | None = None  # token, once routed


def load_city(url: str, keys: dict[str, str], patients: int) -> City:
    """The demo data, `patients` more patients, tokens and plenty of stock, written in-process."""
    app = create_app({"DATABASE_URL": url, **keys})
    with app.app_context():
        migrate.upgrade(db.engine())
        with db.new_session() as session:
            admin = demo.load(session)["admin"][1]
            physicians = {code: auth.create_token(session, role="physician", subject=code, name="bench")
                          for code, _, _, responsible in demo.PHYSICIANS if responsible}
            # Each active pharmacy's token is bound to a pharmacist of its own, who reviews (审方).
            pharmacies = {}
            for code, *_, status in demo.PHARMACIES:
                if status != "active":
                    continue
                pharmacist = next((p for p in pharmacies_services.pharmacists(session, demo.ADMIN, code)), None)
                if pharmacist is None:
                    pharmacist = pharmacies_services.add_pharmacist(session, demo.ADMIN, code,
                                                                    licence_number=f"YS{code[1:]}", name="药师")
                    signatures_services.issue_key(session, demo.ADMIN, pharmacist=pharmacist.licence_number)
                pharmacies[code] = auth.create_token(session, role="pharmacy", subject=code, name="bench",
                                                     pharmacist_id=pharmacist.id)
            for code in pharmacies:
                pharmacies_services.set_stock(session, demo.ADMIN, code, {DRUG: 5_000_000})
            people = []
            for i in range(patients):
                id_number = demo._resident_id("370811", (date(1940, 1, 1) + timedelta(days=7 * i)).strftime("%Y%m%d"),
                                              500 + i % 400)
                patient = patients_services.create_patient(
                    session, demo.ADMIN, id_number=id_number, name=f"患者{i}",
                    insurance=("employee", "resident")[i % 2], region="370800")
                people.append(Patient(patient.id, id_number))
                # Each prescribing physician's hospital has the patient in care (found by ID and name).
                for code, _, _, responsible in demo.PHYSICIANS:
                    if responsible:
                        patients_services.search_patient(session, auth.Actor(auth.Role.physician, code, "bench"),
                                                          id_number, f"患者{i}")
            session.commit()
    app.extensions[db._ENGINE].dispose()
    return City(admin, physicians, pharmacies, people)


class Flow:
    """The steps over HTTP, with pools of prescriptions waiting for each step per shape."""

    def __init__(self, city: City, app: Server, baseline: Server, threads: int, meter: CpuMeter | None = None):
        self.city = city
        self.threads = threads
        self.servers = {"app": app, "baseline": baseline}
        self.meter = meter
        self.app = [Client(app.port) for _ in range(threads)]
        self.baseline = [Client(baseline.port) for _ in range(threads)]
        self.pools: dict[tuple[str, str], deque[Rx]] = {}
        self.estimates: dict[str, float] = {}  # step -> requests/s seen, to size the pools
        self.items = itertools.count(1)  # baseline rows
        self.serial = itertools.count(random.randrange(10**9))
        spread = itertools.cycle(sorted(city.pharmacies))
        self.next_pharmacy = {SPREAD: lambda: next(spread), HOT: lambda: HOT_PHARMACY}
        self.inbox_tokens = itertools.cycle(sorted(city.pharmacies.values()))

    def pool(self, state: str, shape: str) -> deque[Rx]:
        """Prescriptions in `state` for `shape` (issued ones are not routed yet: any shape)."""
        return self.pools.setdefault((state, SPREAD if state == "issued" else shape), deque())

    def input(self, step: str, shape: str) -> deque[Rx] | None:
        if step in ("issue", *EXTRA, "baseline"):
            return None
        return self.pool({"route": "issued", "verify": "routed", "review": "verified", "dispense": "reviewed",
                          "settle": "dispensed"}[step], shape)

    def jobs(self, step: str, shape: str, n: int) -> list:
        source = self.input(step, shape)
        if source is not None:
            return [source.popleft() for _ in range(min(n, len(source)))]
        if step == "issue":
            physicians = list(self.city.physicians.values())
            return [(random.choice(self.city.patients), random.choice(physicians)) for _ in range(n)]
        if step == "inbox":
            return [next(self.inbox_tokens) for _ in range(n)]
        if step == "floor":
            return [self.city.admin] * n
        return [next(self.items) for _ in range(n)]

    def call(self, step: str, shape: str, index: int, job) -> tuple[int, int | None]:
        """One request of `step`; a prescription that moved goes to the next step's pool."""
        if step == "baseline":
            client = self.baseline[index]
            status, _ = client.call("POST", f"/items/{job}/done")
            return status, _statements(client)
        client = self.app[index]
        if step == "issue":
            patient, client.token = job
            status, body = client.call("POST", "/api/v1/prescriptions", {
                "patient_id": patient.id, "diagnosis": "慢性心力衰竭", "valid_days": 3,
                "items": [{"drug_code": DRUG, "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]})
            if status == OK[step]:
                self.pool("issued", shape).append(Rx(body["id"], patient, client.token))
            return status, _statements(client)
        if step == "inbox":
            client.token = job
            return client.call("GET", "/api/v1/pharmacy/inbox")[0], _statements(client)
        if step == "floor":
            client.token = job
            return client.call("GET", "/api/v1/me")[0], _statements(client)
        rx, url = job, f"/api/v1/prescriptions/{job.id}"
        if step == "route":
            client.token, code = rx.physician, self.next_pharmacy[shape]()
            status, _ = client.call("POST", f"{url}/route", {"pharmacy_code": code})
            rx.pharmacy = self.city.pharmacies[code]
        else:
            client.token = rx.pharmacy
            if step == "verify":
                status, _ = client.call("POST", f"{url}/verify", {"id_number": rx.patient.id_number})
            elif step == "review":
                status, _ = client.call("POST", f"{url}/review", {"outcome": "approved"})
            elif step == "dispense":
                code = demo.trace_code(DRUG, next(self.serial))
                status, _ = client.call("POST", f"{url}/dispense",
                                        {"items": [{"drug_code": DRUG, "trace_codes": [code]}]})
            else:
                status, _ = client.call("POST", f"{url}/settlement", {},
                                        headers={"Idempotency-Key": str(uuid.uuid4())})
        if status == OK[step] and step != "settle":
            following = {"route": "routed", "verify": "verified", "review": "reviewed", "dispense": "dispensed"}[step]
            self.pool(following, shape).append(rx)
        return status, _statements(client)

    def run(self, step: str, shape: str, n: int, *, seconds: float = 600, rate: float | None = None,
            label: str | None = None) -> Sample:
        """`step` over up to `n` jobs for at most `seconds`; jobs not started go back to their pool."""
        jobs = self.jobs(step, shape, n)
        sample = run_load(label or step, jobs, lambda i, job: self.call(step, shape, i, job), threads=self.threads,
                          rate=rate, max_seconds=seconds)
        source = self.input(step, shape)
        if source is not None:
            source.extendleft(reversed(jobs[sample.started:]))
        return sample

    def ensure(self, step: str, shape: str, n: int) -> None:
        """At least `n` prescriptions waiting for `step`, made (unmeasured) by the steps before it."""
        source = self.input(step, shape)
        if source is None:
            return
        previous = STEPS[STEPS.index(step) - 1]
        for _ in range(3):
            missing = n - len(source)
            if missing <= 0:
                return
            self.ensure(previous, shape, missing)
            self.run(previous, shape, missing, label="prepare")
        if len(source) < n:
            raise SystemExit(f"could not prepare {n} prescriptions for {step}; see the server log")

    def window(self, step: str, shape: str, seconds: float, rate: float | None = None, label: str | None = None):
        """One measured window of `step`, its prescriptions prepared first."""
        # Twice what the fastest run of the step so far would use in `seconds`: a warm server
        # is faster than its warm-up, and a window that runs out is shorter than asked.
        need = int(rate * seconds) + 20 if rate else int(self.estimates.get(step, 300) * seconds * 2) + 100
        self.ensure(step, shape, need)
        server = self.servers["baseline" if step == "baseline" else "app"]
        before = self.meter.read(server) if self.meter else None
        sample = self.run(step, shape, need, seconds=seconds, rate=rate, label=label or step)
        if self.meter:
            sample.measured(before, self.meter.read(server))
        if not rate:
            self.estimates[step] = max(self.estimates.get(step, 0), sample.rate)
        print(f"  {sample.name}: {len(sample.latencies)} requests, {sample.rate:.0f}/s", file=sys.stderr, flush=True)
        return sample


def _statements(client: Client) -> int | None:
    value = client.headers.get("X-Statements") if client.headers else None
    return int(value) if value else None


def statements(sample: Sample) -> str:
    if not sample.statements:
        return "-"
    low, mid, high = min(sample.statements), statistics.median(sample.statements), max(sample.statements)
    return f"{mid:g}" if low == high else f"{mid:g} ({low}-{high})"


HEADER = (f"{'window':<22} {'reqs':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'stmts':>10} "
          f"{'baseline':>9} {'ratio':>6} {'cpu ms/req: app':>15} {'db':>5} {'client':>6}   statuses")


def row(sample: Sample, baseline: float | None = None, seconds: float | None = None) -> str:
    ratio = f"{sample.rate / baseline:6.2f}" if baseline else "     -"
    base = f"{baseline:9.1f}" if baseline else "        -"
    codes = ",".join(f"{k}:{v}" for k, v in sorted(sample.statuses.items()))
    short = "  (ran out of prescriptions)" if seconds and sample.elapsed < 0.9 * seconds else ""
    cpu = (f"{sample.cpu.server:15.2f} {sample.cpu.database:5.2f} {sample.cpu.client:6.2f}" if sample.cpu
           else f"{'-':>15} {'-':>5} {'-':>6}")
    return (f"{sample.name:<22} {len(sample.latencies):6d} {sample.rate:8.1f} {sample.percentile(50) * 1000:7.1f} "
            f"{sample.percentile(99) * 1000:7.1f} {statements(sample):>10} {base} {ratio} {cpu}   {codes}{short}")


def interleaved(flow: Flow, steps: list[tuple[str, str]], seconds: float) -> list[tuple[Sample, float]]:
    """baseline, step, baseline, step, ..., baseline: each step with the mean of its neighbours."""
    results, samples = [], []
    before = flow.window("baseline", SPREAD, seconds, label="baseline")
    samples.append(before)
    for step, shape in steps:
        measured = flow.window(step, shape, seconds, label=f"{step} ({shape})")
        after = flow.window("baseline", SPREAD, seconds, label="baseline")
        samples += [measured, after]
        results.append((measured, (before.rate + after.rate) / 2))
        before = after
    for sample in samples:
        baseline = next((b for s, b in results if s is sample), None)
        print(row(sample, baseline, seconds), flush=True)
    return results


def ceiling(sample: Sample, baseline: float, floor: Sample) -> float:
    """The ratio `sample` would reach with the machine as busy, if its app CPU per request were
    the floor's (an authenticated no-op) and its database and client CPU stayed: what the
    step's own Python work costs the ratio."""
    cpu = sample.cpu
    return sample.rate * (cpu.server + cpu.database + cpu.client) / (floor.cpu.server + cpu.database + cpu.client) \
        / baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of every measured window")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of each step before measuring")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rate", type=float, default=100, help="requests/s of the fixed-load windows")
    parser.add_argument("--patients", type=int, default=200, help="patients besides the demo's")
    parser.add_argument("--only", nargs="+", choices=(*STEPS, *EXTRA), metavar="STEP",
                        help="measure these steps only (the steps before them still prepare their input)")
    args = parser.parse_args()
    steps = [s for s in STEPS if not args.only or s in args.only]
    extra = [s for s in EXTRA if not args.only or s in args.only]

    began = time.monotonic()
    url = bench_database_url("bench_flow")
    recreate_database(url)
    keys = service_secrets()
    city = load_city(url, keys, args.patients)
    baseline_app.create_tables(url, 2_000_000)
    env = {"DATABASE_URL": url, **secrets_env(keys)}
    logs = Path(tempfile.mkdtemp(prefix="dualchannel-flow-"))
    meter = CpuMeter(url)
    app_server = start_gunicorn('bench.instrumented:serve("wsgi:app")', env, logs / "app.log")
    baseline_server = start_gunicorn('bench.instrumented:serve("bench.baseline_app:app")', env,
                                     logs / "baseline.log")
    print(f"bench/flow: gunicorn 2 workers x 4 threads per app on PostgreSQL, {args.threads} clients, "
          f"{args.seconds:g} s windows; {len(city.physicians)} physicians, {len(city.pharmacies)} pharmacies, "
          f"{len(city.patients)} patients; server logs in {logs}", flush=True)
    try:
        flow = Flow(city, app_server, baseline_server, args.threads, meter)
        for step in ("baseline", *steps, *extra):
            flow.window(step, SPREAD, args.warmup, label="warm-up")

        print(f"\n1. closed loop, spread over {len(city.pharmacies)} pharmacies; "
              f"ratio = req/s / mean of the baseline windows either side\n{HEADER}")
        spread = interleaved(flow, [(step, SPREAD) for step in (*steps, *extra)], args.seconds)
        print(f"\n2. closed loop, hot shape: every prescription at {HOT_PHARMACY}\n{HEADER}")
        hot = interleaved(flow, [(step, HOT) for step in ("dispense", "settle") if step in steps], args.seconds)
        print(f"\n3. fixed load: {args.rate:g} requests/s scheduled (latency from the scheduled start)\n{HEADER}")
        # Every fixed-load window's prescriptions are made first, so that no window shares the
        # machine with the closed-loop burst that prepares it (or with that burst's aftermath).
        for step in reversed(steps):
            flow.ensure(step, SPREAD, int(args.rate * args.seconds) + 20)
        paced = []
        for step in ("baseline", *steps, *extra):
            paced.append(flow.window(step, SPREAD, args.seconds, rate=args.rate, label=f"{step} @{args.rate:g}/s"))
            print(row(paced[-1]), flush=True)
    finally:
        app_server.stop()
        baseline_server.stop()
        meter.close()

    ratios = {f"{s.name}": s.rate / b for s, b in spread + hot}
    worst_p99 = max(s.percentile(99) for s in paced[1:]) * 1000
    dispense = next((s for s, _ in spread if s.name.startswith("dispense")), None)
    errors = sum(s.errors for s in [*(s for s, _ in spread + hot), *paced])
    print("\nratios to the interleaved baseline (aim >= 0.6 for dispense and settle): "
          + ", ".join(f"{name} {ratio:.2f}" for name, ratio in ratios.items()))
    floor = next((s for s, _ in spread if s.name.startswith("floor")), None)
    if floor and floor.cpu:
        print("the same CPU per request if the app did no more than `floor` (its own work free): "
              + ", ".join(f"{s.name} {ceiling(s, b, floor):.2f}" for s, b in spread + hot if s.name.split()[0] in STEPS))
    print(f"highest p99 at {args.rate:g}/s {worst_p99:.1f} ms (aim < 50); dispense statements per request "
          f"{statements(dispense) if dispense else '-'} (aim <= 6); server errors {errors}; "
          f"{time.monotonic() - began:.0f} s in all")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
