"""State that must hold across gunicorn workers (and so across hosts): a revoked token fails
on its next request whichever worker answers, and the rate limits' counts are shared through
Redis. A real gunicorn with 2 workers serves the test's database. Which worker accepts a
connection is the kernel's choice, so each step is sent to one chosen worker while the other is
paused (SIGSTOP, then SIGCONT, well within gunicorn's worker timeout); the pids in the log lines
confirm who answered."""

import json
import os
import signal
from contextlib import contextmanager

from bench.support import request, start_gunicorn
from tests.conftest import KEYS, SUITE_LIMITS, rate_limit_prefix


def serve(database_url, tmp_path, **settings):
    env = {"DATABASE_URL": database_url, "DUALCHANNEL_ID_HASH_KEY": KEYS["ID_HASH_KEY"],
           "DUALCHANNEL_ID_ENCRYPTION_KEY": KEYS["ID_ENCRYPTION_KEY"], "DUALCHANNEL_LOG_LEVEL": "INFO",
           **{f"DUALCHANNEL_{key}": value for key, value in {**SUITE_LIMITS, **settings}.items()}}
    log = tmp_path / "gunicorn.log"
    server = start_gunicorn("wsgi:app", env, log, workers=2, threads=2)
    workers = server.worker_pids()
    assert len(workers) == 2, workers
    return server, log, workers


@contextmanager
def only(worker, workers):
    """Every connection meanwhile is accepted by `worker`: the others are paused."""
    paused = [pid for pid in workers if pid != worker]
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)


def answers(log, status) -> dict[int, int]:
    """pid -> how many API requests that worker answered with `status`."""
    counts: dict[int, int] = {}
    for text in log.read_text().splitlines():
        if text.startswith("{"):
            line = json.loads(text)
            if line.get("msg") == "request" and line.get("route", "").startswith("/api/") and line["status"] == status:
                counts[line["pid"]] = counts.get(line["pid"], 0) + 1
    return counts


def test_a_revoked_token_fails_at_once_in_every_worker(world, runner, database_url, tmp_path):
    server, log, workers = serve(database_url, tmp_path)
    inbox = lambda token: request(server.port, "GET", "/api/v1/pharmacy/inbox", token=token)[0]  # noqa: E731
    try:
        for worker in workers:  # each worker checks the token once and keeps it in its cache
            with only(worker, workers):
                assert [inbox(world.pharmacy.token) for _ in range(3)] == [200] * 3
        assert answers(log, 200) == {pid: 3 for pid in workers}
        result = runner.invoke(args=["token", "revoke", "--token", world.pharmacy.token])
        assert result.exit_code == 0 and "1 token(s) revoked." in result.output
        for worker in workers:
            with only(worker, workers):
                assert inbox(world.pharmacy.token) == 401  # its very next request
                assert inbox(world.other_pharmacy.token) == 200
        assert answers(log, 401) == {pid: 1 for pid in workers}
    finally:
        server.stop()


def test_rate_limits_are_shared_by_the_workers_through_redis(world, database_url, tmp_path, redis_url):
    server, log, workers = serve(database_url, tmp_path, RATELIMIT_STORAGE_URL=redis_url,
                                 RATELIMIT_KEY_PREFIX=rate_limit_prefix(), RATELIMIT_SEARCH_PER_ACCOUNT="10/minute")
    body = {"id_number": world.patient_id_number, "name": "张三"}
    statuses = {}
    try:
        for worker in workers:
            with only(worker, workers):
                statuses[worker] = [request(server.port, "POST", "/api/v1/patients/search", body,
                                            token=world.physician.token)[0] for _ in range(6)]
    finally:
        server.stop()
    # Ten in the minute for the account over both workers; each counting alone would allow ten.
    first, second = workers
    assert statuses == {first: [200] * 6, second: [200] * 4 + [429] * 2}
    assert answers(log, 200) == {first: 6, second: 4} and answers(log, 429) == {second: 2}
