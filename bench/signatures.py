"""What signing, verifying and chaining cost: per operation, per prescription, per write step.

Run from the repository root::

    python bench/signatures.py [--count 300] [--sqlite]

1. The cryptography alone, in process (median of many): the canonical form of a prescription,
   SM3, decrypting a private key, an SM2 signature, an SM2 verification, a certificate check on
   first use of a key, an HMAC-SM3 chain link.
2. The write steps (issue, route, verify, review, dispense, settle) through the app in process,
   on PostgreSQL (BENCH_POSTGRES; database `bench_signatures`, dropped and created) or SQLite:
   `count` prescriptions with signatures and chains as built, then `count` more with signing,
   checking and chaining replaced by constants. Per step: median and p90 latency of both, their
   ratio, and the SQL statements each request runs (BEGIN/COMMIT not counted).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.support import bench_database_url, recreate_database, service_secrets  # noqa: E402
from dualchannel import create_app, db, demo, migrate  # noqa: E402
from dualchannel.history import chain  # noqa: E402
from dualchannel.prescriptions import rules  # noqa: E402
from dualchannel.signatures import crypto  # noqa: E402
from dualchannel.signatures import services as signatures  # noqa: E402

DRUG = "XC09DX04"
PATIENT_ID_NUMBER = demo._resident_id("370811", "19770630", 106)  # 孟庆华
STEPS = ("issue", "route", "verify", "review", "dispense", "settle")


def median_us(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def operations(app, repeat: int) -> dict[str, float]:
    """Median microseconds of each cryptographic operation a write step makes."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from cryptography.fernet import Fernet

    now = datetime.now(timezone.utc)
    prescription = SimpleNamespace(number=uuid.uuid4().hex, patient_region="370800", physician_code="D370811001",
                                   institution_code="H370811001", diagnosis="慢性心力衰竭", issued_at=now,
                                   valid_until=now + timedelta(days=3))
    patient = SimpleNamespace(id=6, id_hash="ab" * 32, name="孟庆华")
    items = [SimpleNamespace(drug_code=DRUG, quantity=1, days_supply=14, dosage="每日两次，每次1片")]
    key = crypto.new_private_key()
    public = crypto.public_der(key)
    fernet = Fernet(Fernet.generate_key())
    stored = fernet.encrypt(crypto.private_der(key))
    content = crypto.canonical(rules.signed_content(prescription, patient, items))
    signature = crypto.sign(key, content)
    ca = crypto.new_private_key()
    certificate = crypto.canonical({"holder": "physician:D370811001", "public_key": crypto.b64(public)})
    certified = crypto.sign(ca, certificate)
    with app.app_context():
        head = chain.genesis("prescription", prescription.number)
        link = median_us(lambda: chain.link(head, {"action": "dispense", "detail": {"packs": [["8" * 20, DRUG, 1]]},
                                                   "at": crypto.instant(now)}), repeat)
    return {
        "canonical form": median_us(lambda: crypto.canonical(rules.signed_content(prescription, patient, items)),
                                    repeat),
        "SM3 of it": median_us(lambda: crypto.sm3(content), repeat),
        "private key: decrypt + load": median_us(lambda: crypto.load_private_der(fernet.decrypt(stored)), repeat),
        "SM2 sign": median_us(lambda: crypto.sign(key, content), repeat),
        "SM2 verify": median_us(lambda: crypto.verifies(public, signature, content), repeat),
        "certificate (first use of a key)": median_us(lambda: crypto.verifies(crypto.public_der(ca), certified,
                                                                              certificate), repeat),
        "HMAC-SM3 chain link": link,
        "content": len(content),
    }


@contextmanager
def stubbed():
    """Signing, checking and chaining replaced by constants (what the steps cost without them)."""
    saved = signatures.sign, signatures.problem, chain.link, chain.next_head
    signatures.sign = lambda key, data: "c2lnbmF0dXJl"
    signatures.problem = lambda *args, **kwargs: None
    chain.link = lambda head, content: "0" * 64
    chain.next_head = lambda link: "0" * 64
    try:
        yield
    finally:
        signatures.sign, signatures.problem, chain.link, chain.next_head = saved


class Statements:
    """SQL statements run by the app's engine (transaction control not counted)."""

    def __init__(self, engine):
        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.count += 1


def run_steps(client, tokens, patient_id, count, statements) -> dict[str, tuple[list[float], list[int]]]:
    """Each write step over `count` fresh prescriptions: step -> (latencies, statements)."""
    results = {step: ([], []) for step in STEPS}
    physician = {"Authorization": f"Bearer {tokens['physician']}"}
    pharmacist = {"Authorization": f"Bearer {tokens['pharmacist']}"}
    body = {"patient_id": patient_id, "diagnosis": "慢性心力衰竭", "valid_days": 3,
            "items": [{"drug_code": DRUG, "quantity": 1, "days_supply": 14, "dosage": "每日两次，每次1片"}]}
    ids = []

    def call(step, headers, method, url, json, expect):
        before, started = statements.count, time.perf_counter()
        response = client.open(url, method=method, json=json, headers=headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == expect, (step, response.status_code, response.get_json())
        results[step][0].append(elapsed)
        results[step][1].append(statements.count - before)
        return response.get_json()

    for _ in range(count):
        ids.append(call("issue", physician, "POST", "/api/v1/prescriptions", body, 201)["id"])
    for rx in ids:
        call("route", physician, "POST", f"/api/v1/prescriptions/{rx}/route", {"pharmacy_code": "P370811001"}, 200)
    for rx in ids:
        call("verify", pharmacist, "POST", f"/api/v1/prescriptions/{rx}/verify", {"id_number": PATIENT_ID_NUMBER},
             200)
    for rx in ids:
        call("review", pharmacist, "POST", f"/api/v1/prescriptions/{rx}/review", {"outcome": "approved"}, 200)
    for rx in ids:
        code = demo.trace_code(DRUG, int(uuid.uuid4().int % 10**12))
        call("dispense", pharmacist, "POST", f"/api/v1/prescriptions/{rx}/dispense",
             {"items": [{"drug_code": DRUG, "trace_codes": [code]}]}, 200)
    for rx in ids:
        call("settle", {**pharmacist, "Idempotency-Key": str(uuid.uuid4())}, "POST",
             f"/api/v1/prescriptions/{rx}/settlement", {}, 201)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="prescriptions per pass")
    parser.add_argument("--repeat", type=int, default=2000, help="repetitions of each operation")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    args = parser.parse_args()

    if args.sqlite:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='dualchannel-signatures-')) / 'bench.sqlite'}"
    else:
        url = bench_database_url("bench_signatures")
        recreate_database(url)
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING", **service_secrets()})
    logging.getLogger("dualchannel").setLevel(logging.WARNING)  # a line per request is noise here
    with app.app_context():
        migrate.upgrade(db.engine())
        with db.new_session() as session:
            tokens = {role: token for role, (_subject, token) in demo.load(session).items()}
            patient_id = session.scalar(sa.text("SELECT id FROM patient WHERE name = '孟庆华'"))
            session.execute(sa.text("UPDATE stock SET quantity = 1000000 WHERE pharmacy_code = 'P370811001'"))
            session.commit()
        statements = Statements(db.engine())
    client = app.test_client()

    ops = operations(app, args.repeat)
    run_steps(client, tokens, patient_id, 5, statements)  # warm up: token cache, keys, statement caches
    signed = run_steps(client, tokens, patient_id, args.count, statements)
    with stubbed():
        plain = run_steps(client, tokens, patient_id, args.count, statements)
    signed_again = run_steps(client, tokens, patient_id, args.count, statements)
    app.extensions[db._ENGINE].dispose()

    where = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"bench/signatures: SM2 with SM3 through tongsuopy; {args.count} prescriptions per pass on {where}\n")
    print(f"per operation (median of {args.repeat}; the signed content is {ops.pop('content')} bytes)")
    for name, value in ops.items():
        print(f"  {name:<36} {value:8.1f} µs")
    sign = ops["canonical form"] + ops["private key: decrypt + load"] + ops["SM2 sign"] + ops["HMAC-SM3 chain link"]
    verify = ops["canonical form"] + ops["SM2 verify"]
    print(f"\nper prescription: signing at issue {sign:.0f} µs (canonical form + key + sign + link); the "
          f"first check of its signature in a process {verify:.0f} µs (canonical form + verify), a later one "
          f"of the same bytes {ops['canonical form']:.0f} µs (canonical form, verification remembered); the "
          f"review's own signature {ops['canonical form'] + ops['private key: decrypt + load'] + ops['SM2 sign']:.0f} "
          f"µs; every write step one chain link, {ops['HMAC-SM3 chain link']:.0f} µs\n")
    print("write steps in process, median (p90) ms; ratio = without / with signing (1.00: no cost)")
    print(f"  {'step':<10} {'with signing':>16} {'again':>16} {'without':>16} {'ratio':>6} {'statements':>10}")
    for step in STEPS:
        def stat(samples):
            times = sorted(samples[0])
            return statistics.median(times) * 1000, times[int(len(times) * 0.9)] * 1000

        (m1, p1), (m2, p2), (m0, p0) = stat(signed[step]), stat(signed_again[step]), stat(plain[step])
        counts = sorted(set(signed[step][1]))
        shown = "/".join(map(str, counts))
        print(f"  {step:<10} {m1:7.2f} ({p1:6.2f}) {m2:7.2f} ({p2:6.2f}) {m0:7.2f} ({p0:6.2f}) "
              f"{m0 / ((m1 + m2) / 2):6.2f} {shown:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
