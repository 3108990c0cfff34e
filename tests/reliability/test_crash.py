"""Crash safety: kill -9 the gunicorn workers in the middle of a dispensing (and settlement) load.

A real gunicorn (2 workers) serves the test's database (the SQLite file, or PostgreSQL with
TEST_DATABASE_URL). Threads dispense prescriptions, some racing for the same prescription and
some reusing another's trace codes, while every worker is killed with SIGKILL twice; the master
starts new ones. Then every request is sent again, as a client that never got its answer would.
Whatever died where, the database must hold only whole transactions:

- no trace code dispensed twice, and every dispensed prescription has exactly its packs, a
  single `dispense` event, and the stock it took;
- no prescription settled twice, every settlement's parts sum to its total, the patients'
  accumulators equal the sums of their settlements in force;
- every settlement was sent with one `Idempotency-Key` per prescription: replaying each key
  afterwards answers exactly the first answer that key got (the answer is stored in the same
  transaction as the settlement, so a kill leaves both or neither).
"""

import itertools
import os
import random
import signal
import threading
import time

import sqlalchemy as sa

from bench.support import Client, start_gunicorn
from tests.api.test_prescription_flow import ready_to_dispense
from tests.conftest import KEYS, SUITE_LIMITS
from tests.support import trace_codes

PRESCRIPTIONS = 40
THREADS = 6
SETTLEMENT = "/api/v1/prescriptions/{prescription_id}/settlement"


def jobs_for(prescriptions: list[int]) -> list[tuple[str, int, list[str]]]:
    """Two dispensings per prescription (a race), and every fifth reusing another's codes."""
    own = {rx: trace_codes(1) for rx in prescriptions}
    jobs = []
    for index, rx in enumerate(prescriptions):
        jobs.append(("dispense", rx, own[rx]))
        jobs.append(("dispense", rx, trace_codes(1)))
        if index % 5 == 0:
            other = prescriptions[(index + 1) % len(prescriptions)]
            jobs.append(("dispense", rx, own[other]))
    random.Random(9).shuffle(jobs)
    return jobs


def settlement_key(rx: int) -> str:
    return f"settle-{rx}"


def drive(port, token, jobs, kill) -> dict:
    """Send `jobs` from THREADS threads; `kill()` runs once a third of them are done. Each
    dispensing is followed by its prescription's settlement, twice with the prescription's key."""
    outcome = {"answered": 0, "lost": 0, "settled": 0, "settlement_statuses": {}, "answers": {}}
    lock = threading.Lock()
    queue = iter(jobs)
    done = itertools.count(1)
    killed = threading.Event()

    def work():
        client = Client(port, token, timeout=20)
        while True:
            with lock:
                job = next(queue, None)
            if job is None:
                break
            _, rx, codes = job
            try:
                status, _ = client.call("POST", f"/api/v1/prescriptions/{rx}/dispense",
                                        {"items": [{"drug_code": "SAC", "trace_codes": codes}]})
                assert status < 500, status
                if status in (200, 409):
                    key = settlement_key(rx)
                    for _ in range(2):  # the same key twice: a replay, never a second settlement
                        status, body = client.call("POST", SETTLEMENT.format(prescription_id=rx), {},
                                                   headers={"Idempotency-Key": key})
                        assert status < 500, status
                        with lock:
                            outcome["settled"] += status == 201
                            codes = outcome["settlement_statuses"]
                            codes[status] = codes.get(status, 0) + 1
                            if status == 201:
                                outcome["answers"].setdefault(key, body)
                with lock:
                    outcome["answered"] += 1
            except (OSError, ConnectionError):
                with lock:
                    outcome["lost"] += 1
            if next(done) == len(jobs) // 3 and not killed.is_set():
                killed.set()
                kill()
        client.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcome


def kill_workers(server, times=2) -> list[int]:
    """SIGKILL every worker, wait for the master to replace them, `times` times; the pids killed."""
    killed = []
    for _ in range(times):
        victims = server.worker_pids()
        assert victims, "no gunicorn workers to kill"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed.extend(victims)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            alive = server.worker_pids()
            if len(alive) >= 2 and not set(alive) & set(victims):
                break
            time.sleep(0.05)
        time.sleep(0.3)
    return killed


def check_dispensing(connection, prescriptions, stock_before):
    rows = connection.execute(sa.text(
        "SELECT p.id, p.status, (SELECT count(*) FROM dispensed_pack d WHERE d.prescription_id = p.id), "
        "(SELECT count(*) FROM prescription_event e WHERE e.prescription_id = p.id AND e.action = 'dispense') "
        "FROM prescription p WHERE p.id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": prescriptions}).all()
    for rx, status, packs, events in rows:
        if status in ("dispensed", "settled"):
            assert (packs, events) == (1, 1), (rx, status, packs, events)
        else:
            assert status == "verified" and (packs, events) == (0, 0), (rx, status, packs, events)
    duplicated = connection.execute(sa.text(
        "SELECT trace_code FROM dispensed_pack GROUP BY trace_code HAVING count(*) > 1")).all()
    assert not duplicated
    total_packs = connection.execute(sa.text("SELECT count(*) FROM dispensed_pack")).scalar()
    stock_after = connection.execute(sa.text(
        "SELECT quantity FROM stock WHERE pharmacy_code = 'P370811001' AND drug_code = 'SAC'")).scalar()
    assert stock_before - stock_after == total_packs
    return sum(1 for r in rows if r[1] in ("dispensed", "settled"))


def check_settlements(connection):
    """The settlement invariants."""
    from dualchannel.settlements.rules import IN_FORCE

    in_force = sorted(s.value for s in IN_FORCE)

    def query(sql):
        if "{in_force}" not in sql:
            return connection.execute(sa.text(sql)).all()
        statement = sa.text(sql.replace("{in_force}", "status IN :in_force"))
        statement = statement.bindparams(sa.bindparam("in_force", expanding=True))
        return connection.execute(statement, {"in_force": in_force}).all()

    twice = query("SELECT prescription_id FROM settlement WHERE {in_force} GROUP BY prescription_id "
                  "HAVING count(*) > 1")
    assert not twice, f"prescriptions settled twice: {twice}"
    unbalanced = query("SELECT id FROM settlement WHERE basic_fund + critical_illness + medical_assistance "
                       "+ patient_pays <> total")
    assert not unbalanced, f"settlements whose parts do not sum to the total: {unbalanced}"
    lines_off = query("SELECT s.id FROM settlement s JOIN settlement_line l ON l.settlement_id = s.id "
                      "GROUP BY s.id, s.total HAVING sum(l.total) <> s.total")
    assert not lines_off, f"settlements whose lines do not sum to the total: {lines_off}"
    off = query(
        "SELECT a.patient_id, a.year FROM accumulator a LEFT JOIN ("
        " SELECT patient_id, year, sum(basic_fund) AS fund, sum(critical_illness) AS ci,"
        " sum(medical_assistance) AS assistance FROM settlement WHERE {in_force} GROUP BY patient_id, year"
        ") s ON s.patient_id = a.patient_id AND s.year = a.year "
        "WHERE a.fund_paid <> coalesce(s.fund, 0) OR a.ci_paid <> coalesce(s.ci, 0)"
        " OR a.assistance_paid <> coalesce(s.assistance, 0)")
    assert not off, f"accumulators that differ from their settlements: {off}"
    return query("SELECT count(*) FROM settlement WHERE {in_force}")[0][0]


def test_kill_workers_mid_load_leaves_only_whole_transactions(app, world, issue, database_url, tmp_path):
    from tests.api.test_settlement import EMPLOYEE

    assert world.bureau.post("/api/v1/settlement-policies", EMPLOYEE).status_code == 201
    prescriptions = [ready_to_dispense(world, issue, "SAC", 1)["id"] for _ in range(PRESCRIPTIONS)]
    stock_before = world.pharmacy.get("/api/v1/pharmacies/P370811001/stock").get_json()["SAC"]
    # The retries answer 409 by design: the suite's lifted failure budgets, not the shipped ones.
    env = {"DATABASE_URL": database_url, **{f"DUALCHANNEL_{name}": value for name, value in KEYS.items()},
           "DUALCHANNEL_LOG_LEVEL": "WARNING", **{f"DUALCHANNEL_{key}": value for key, value in SUITE_LIMITS.items()}}
    server = start_gunicorn("wsgi:app", env, tmp_path / "gunicorn.log", workers=2, threads=4)
    try:
        jobs = jobs_for(prescriptions)
        killed = []
        first = drive(server.port, world.pharmacy.token, jobs, lambda: killed.extend(kill_workers(server)))
        assert len(killed) == 4, f"expected 2 x 2 workers killed, got {killed}"
        # A client that lost its answer sends again; done work answers 409 (or replays).
        second = drive(server.port, world.pharmacy.token, jobs, lambda: None)
        assert second["lost"] == 0 and second["answered"] == len(jobs), second
        # Every key, replayed once more, answers the first answer it ever got.
        answers = {**second["answers"], **first["answers"]}
        client = Client(server.port, world.pharmacy.token, timeout=20)
        for rx in prescriptions:
            status, body = client.call("POST", SETTLEMENT.format(prescription_id=rx), {},
                                       headers={"Idempotency-Key": settlement_key(rx)})
            assert (status, body) == (201, answers[settlement_key(rx)]), (rx, status, body)
        client.close()
        assert server.process.poll() is None, "the gunicorn master died"
    finally:
        server.stop()
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        dispensed = check_dispensing(connection, prescriptions, stock_before)
        settled = check_settlements(connection)
    engine.dispose()
    assert dispensed == PRESCRIPTIONS  # after the retries every prescription got dispensed once
    assert settled == PRESCRIPTIONS, (
        f"{settled} of {PRESCRIPTIONS} prescriptions settled; settlement answers: "
        f"{first['settlement_statuses']} then {second['settlement_statuses']}")
