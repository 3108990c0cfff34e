"""The service behind gunicorn, its PostgreSQL behind a TCP proxy that can stop forwarding.

A database that accepts connections and never answers used to hang API calls for about two
minutes and take `/healthz` and `/metrics` down with them. Here, with the default settings:

- while the database hangs, `/healthz` and `/metrics` answer within 1 s, `/readyz` is 503
  within 5 s, and an API call is 503 problem+json with `Retry-After` within 15 s;
- while it is down (connections refused), the same, sooner;
- when it is back, the service answers again by itself, without a restart.
"""

import http.client
import json
import select
import socket
import threading
import time

import pytest
import sqlalchemy as sa

from bench.support import start_gunicorn
from tests.conftest import KEYS, POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")


class Proxy:
    """A TCP proxy on 127.0.0.1 to `target`. `hang()` stops forwarding in both directions, on
    open connections and on new ones (which are still accepted): a server that is stuck.
    `down()` refuses new connections and cuts open ones: a server that is gone. `forward()`
    goes back to normal."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.forwarding = threading.Event()
        self.forwarding.set()
        self.closed = False
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener = None
        self._listen()

    def _listen(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self.closed:
                if not self.forwarding.is_set():
                    time.sleep(0.05)  # read nothing, send nothing: the bytes wait in the buffers
                    continue
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable or not self.forwarding.is_set():
                    continue
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, ValueError):  # ValueError: select on a socket another thread closed
            pass
        for s in (source, sink):
            try:
                s.close()
            except OSError:
                pass

    def hang(self) -> None:
        self.forwarding.clear()

    def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            opened, self.sockets = self.sockets, []
        for s in opened:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.forwarding.set()

    def forward(self) -> None:
        if self.listener.fileno() == -1:
            self._listen()
        self.forwarding.set()

    def close(self) -> None:
        self.closed = True
        self.forwarding.set()
        self.down()


def call(port: int, path: str, token: str | None = None, timeout: float = 60):
    """(status, headers, body, seconds) of a GET on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        body = json.loads(raw) if response.headers.get("Content-Type", "").endswith("json") else raw
        return response.status, response.headers, body, elapsed
    finally:
        connection.close()


def assert_unavailable(answer, within: float) -> None:
    status, headers, body, elapsed = answer
    assert status == 503, (status, body)
    assert headers["Content-Type"] == "application/problem+json" and body["code"] == "unavailable"
    assert int(headers["Retry-After"]) >= 1
    assert elapsed < within, f"503 after {elapsed:.1f} s"


def probes_stay_up(port: int) -> None:
    """Liveness and metrics never wait on the database; readiness says no in time."""
    timings = {}
    for path, expected, within in (("/healthz", 200, 1), ("/metrics", 200, 1), ("/readyz", 503, 5)):
        status, _, _, timings[path] = call(port, path)
        assert status == expected and timings[path] < within, (path, status, timings[path])
    print("probes:", {path: f"{seconds:.2f} s" for path, seconds in timings.items()})


def recovers(port: int, token: str, within: float = 30) -> float:
    """Seconds until an API call and readiness answer 200 again."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        if call(port, "/api/v1/drugs", token)[0] == 200 and call(port, "/readyz")[0] == 200:
            return time.perf_counter() - started
        time.sleep(0.5)
    raise AssertionError(f"the service did not recover within {within} s")


def test_a_hanging_or_lost_database_gives_503_in_time_and_the_service_recovers(world, database_url, tmp_path):
    target = sa.engine.make_url(database_url)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    through_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = {"DATABASE_URL": through_proxy, "DUALCHANNEL_ID_HASH_KEY": KEYS["ID_HASH_KEY"],
           "DUALCHANNEL_ID_ENCRYPTION_KEY": KEYS["ID_ENCRYPTION_KEY"], "DUALCHANNEL_LOG_LEVEL": "WARNING"}
    server = start_gunicorn("wsgi:app", env, tmp_path / "gunicorn.log", workers=2, threads=4)
    token = world.admin.token
    try:
        for _ in range(8):  # both workers hold pooled connections through the proxy
            assert call(server.port, "/api/v1/drugs", token)[0] == 200
        assert call(server.port, "/readyz")[0] == 200

        # The database hangs: connections open, nothing answers.
        proxy.hang()
        answers = []
        calls = [threading.Thread(target=lambda: answers.append(call(server.port, "/api/v1/drugs", token)))
                 for _ in range(3)]
        for thread in calls:
            thread.start()
        time.sleep(0.5)
        probes_stay_up(server.port)  # while those calls wait on the database
        for thread in calls:
            thread.join(30)
        assert len(answers) == 3
        for answer in answers:
            assert_unavailable(answer, within=15)
        print("API calls while the database hangs: 503 after", [f"{a[3]:.1f} s" for a in answers])
        assert_unavailable(call(server.port, "/api/v1/drugs", token), within=15)
        proxy.forward()
        print(f"recovered from the hang in {recovers(server.port, token):.1f} s")

        # The database is gone: connections refused, open ones cut.
        proxy.down()
        assert_unavailable(call(server.port, "/api/v1/drugs", token), within=15)
        assert_unavailable(call(server.port, "/api/v1/drugs", token), within=5)
        probes_stay_up(server.port)
        proxy.forward()
        print(f"recovered from the outage in {recovers(server.port, token):.1f} s")
        assert server.process.poll() is None, "the gunicorn master died"
    finally:
        server.stop()
        proxy.close()


def test_a_wait_past_its_bound_is_abandoned(database_url):
    """The client's own bound, for a server that answers nothing (no statement timeout can fire
    there): past it the connection is closed and the error is a lost connection, which
    SQLAlchemy invalidates and the API answers as 503."""
    from dualchannel import db

    engine = db.create_engine(database_url)
    try:
        with engine.connect() as connection, db.deadline(1):
            started = time.perf_counter()
            with pytest.raises(sa.exc.OperationalError, match="did not answer in time"):
                connection.exec_driver_sql("SELECT pg_sleep(10)")
            assert time.perf_counter() - started < 2.5
            assert connection.invalidated
        with engine.connect() as connection:  # the pool hands out a working connection again
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.app_config(DATABASE_STATEMENT_TIMEOUT=1, DATABASE_READ_TIMEOUT=1)
def test_time_a_request_spends_computing_does_not_count(world, issue, monkeypatch):
    """The bound is on each wait for the database, not on the request: a request that computes
    longer than it (a large import, a cold cache) still commits."""
    from dualchannel.prescriptions import services

    issue_now = services.issue

    def slow_issue(*args, **kwargs):
        time.sleep(1.5)
        return issue_now(*args, **kwargs)

    monkeypatch.setattr(services, "issue", slow_issue)
    assert issue().status_code == 201
