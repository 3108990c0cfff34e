"""Shared by the bench scripts: bench databases, a gunicorn server on a free loopback port, a
bounded load generator and latency statistics.

Every server listens on 127.0.0.1 only and every load loop is bounded in count and time.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# -- databases ---------------------------------------------------------------------------------

def bench_database_url(name: str, server: str | None = None) -> str:
    """The URL of database `name` on the server of `server` (default: BENCH_POSTGRES or local)."""
    base = sa.engine.make_url(server or os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES))
    return base.set(database=name).render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop and create the database of `url`; only ever one whose name starts with `bench_`."""
    parsed = sa.engine.make_url(url)
    if not (parsed.database or "").startswith("bench_"):
        raise SystemExit(f"refusing to recreate {parsed.database!r}: bench databases are named bench_*")
    maintenance = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    maintenance.dispose()


def service_secrets() -> dict[str, str]:
    """Fresh values of the service's secrets, by configuration name, so a bench's processes (the
    demo loader, gunicorn's workers) share them and nothing is written to instance/keys.json."""
    from cryptography.fernet import Fernet

    from dualchannel.signatures import crypto

    return {"ID_HASH_KEY": secrets.token_hex(16), "ID_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "SIGNING_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(), "SIGNING_CA_KEY": crypto.new_ca_key(),
            "HISTORY_KEY": secrets.token_hex(32)}


def secrets_env(values: dict[str, str]) -> dict[str, str]:
    """`service_secrets()` as the environment variables a server reads."""
    return {f"DUALCHANNEL_{name}": value for name, value in values.items()}


# -- servers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A gunicorn master serving `app` on 127.0.0.1:port, started by `start_gunicorn`."""

    process: subprocess.Popen
    port: int
    log: Path

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master), then a kill if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def worker_pids(self) -> list[int]:
        """The master's live worker processes (its children)."""
        return children(self.process.pid)


def children(pid: int) -> list[int]:
    """The live child processes of process `pid` (Linux /proc); none once it is gone."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def start_gunicorn(app: str, env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 4,
                   cwd: Path = ROOT, ready_path: str = "/healthz", timeout: float = 60) -> Server:
    """Start gunicorn with the project's `gunicorn.conf.py`; return once `ready_path` answers and
    every one of the `workers` processes is running (the master forks them one after another)."""
    port = free_port()
    full_env = {**os.environ, **env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                "GUNICORN_THREADS": str(threads), "PYTHONPATH": str(cwd)}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes a private one
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), app],
                                   cwd=cwd, env=full_env, stdout=out, stderr=out)
    server = Server(process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log}")
        try:
            if len(server.worker_pids()) >= workers and request(port, "GET", ready_path)[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer {ready_path} with {workers} workers within {timeout} s; see {log}")


# -- CPU -------------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds so far: a server's workers, the database's client backends, this process."""

    server: float
    database: float
    client: float


class CpuMeter:
    """Reads where CPU goes while a window runs, from /proc (Linux, server on this machine):
    the gunicorn workers of the server under load, PostgreSQL's client backends of the bench
    database (autovacuum and the checkpointer are left out) and this process, the load
    generator. Per request, the difference of two readings divided by the requests."""

    def __init__(self, url: str):
        parsed = sa.engine.make_url(url)
        self.database = parsed.database
        self.engine = sa.create_engine(parsed.set(database="postgres"), pool_size=1)

    def read(self, server: "Server") -> CpuReading:
        with self.engine.connect() as connection:
            backends = connection.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND backend_type = 'client backend'"),
                {"name": self.database}).scalars().all()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return CpuReading(sum(_process_seconds(pid) for pid in server.worker_pids()),
                          sum(_process_seconds(pid) for pid in backends), usage.ru_utime + usage.ru_stime)

    def close(self) -> None:
        self.engine.dispose()


# -- HTTP --------------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port (one per load thread)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30):
        self.port, self.token, self.timeout = port, token, timeout
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers: http.client.HTTPMessage | None = None  # of the last response

    def call(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, object]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=data, headers=sent)
                response = self.connection.getresponse()
                raw = response.read()
                self.headers = response.headers
                break
            except (ConnectionError, http.client.HTTPException):
                # The server closed an idle keep-alive connection: reconnect once.
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw

    def close(self) -> None:
        self.connection.close()


def request(port: int, method: str, path: str, body=None, token: str | None = None) -> tuple[int, object]:
    client = Client(port, token, timeout=5)
    try:
        return client.call(method, path, body)
    finally:
        client.close()


# -- load and statistics -----------------------------------------------------------------------

@dataclass
class Sample:
    """Latencies (seconds) and statuses of one step's requests."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    started: int = 0  # jobs taken; the rest of the list was left when time ran out
    statements: list[int] = field(default_factory=list)  # X-Statements of successful answers
    cpu: CpuReading | None = None  # CPU milliseconds per request, when measured (`CpuMeter`)

    def add(self, status: int, latency: float, statements: int | None = None) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if statements is not None and status < 400:
            self.statements.append(statements)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[int(p * 10) - 1]

    def measured(self, before: CpuReading, after: CpuReading) -> None:
        """Record the CPU between two readings as milliseconds per request."""
        n = len(self.latencies) or 1
        self.cpu = CpuReading(*((b - a) * 1000 / n for a, b in zip(
            (before.server, before.database, before.client), (after.server, after.database, after.client))))

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def run_load(name: str, jobs: list, call, *, threads: int, rate: float | None = None,
             max_seconds: float = 60) -> Sample:
    """Run `call(client_index, job) -> status` (or `(status, statements)`) for every job on
    `threads` threads.

    With `rate`, requests start on an open schedule of `rate` per second (latency then includes
    any queueing, as a client would see it); without, each thread sends as fast as answered.
    Stops after `max_seconds` whatever is left (`Sample.started` tells how many jobs were taken).
    """
    sample = Sample(name)
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + max_seconds
    next_index = iter(range(len(jobs)))

    def worker(thread_index: int):
        while True:
            with lock:
                if time.perf_counter() > deadline:
                    return
                index = next(next_index, None)
                if index is None:
                    return
                sample.started += 1
            if rate:
                # Open schedule: latency counts from when the request was due, so a server
                # falling behind shows as latency instead of as a slower client.
                begin = started + index / rate
                now = time.perf_counter()
                if begin > now:
                    time.sleep(begin - now)
            else:
                begin = time.perf_counter()
            answer = call(thread_index, jobs[index])
            latency = time.perf_counter() - begin
            status, statements = answer if isinstance(answer, tuple) else (answer, None)
            with lock:
                sample.add(status, latency, statements)

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(max_seconds + 30)
    sample.elapsed = time.perf_counter() - started
    return sample
