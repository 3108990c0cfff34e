"""Start time and memory per worker of the app under gunicorn, with and without `preload_app`.

Run from the repository root::

    python bench/startup.py [--workers 2] [--repeat 2] [--modes preload,no-preload]

The demo data go into a temporary SQLite file. For each mode (`GUNICORN_PRELOAD=1` or `0`,
read by `gunicorn.conf.py`), gunicorn serves `bench.instrumented:serve("wsgi:app")` (the app
plus an `X-Worker` header naming the worker that answered) and the script measures

* the time from starting gunicorn to the first `/healthz` 200, and until every worker has
  answered one (a worker answers only once it has loaded the app);
* each process's memory from `/proc/<pid>/smaps_rollup` when all are ready, and again after a
  few requests that use the county boundaries: RSS, PSS (shared pages split between the
  processes sharing them) and USS (pages only this process has: what a worker really adds);
* how long the master takes to replace a worker killed with SIGKILL (until the new one answers).

Prints one table per mode and the preload / no-preload ratios. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402

from bench.support import PYTHON, ROOT, Client, children, free_port  # noqa: E402

median = statistics.median
MODES = {"preload": "1", "no-preload": "0"}
USES = ("/api/v1/me", "/api/v1/coverage?region=370800", "/api/v1/coverage/suggestions?region=370800")


@dataclass
class Run:
    """What one start of gunicorn measured (seconds, MB)."""

    first: float = float("nan")
    all_ready: float = float("nan")
    replace: float = float("nan")
    memory: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # when -> kind -> values


def memory_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of a process in MB, from /proc/<pid>/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def answering_worker(port: int, path: str = "/healthz", token: str | None = None) -> int | None:
    """The pid of the worker that answered a request on a new connection, or None."""
    client = Client(port, token, timeout=2)
    try:
        status, _ = client.call("GET", path)
        return int(client.headers["X-Worker"]) if status == 200 else None
    except OSError:
        return None
    finally:
        client.close()


def wait_for_workers(process: subprocess.Popen, port: int, workers: int, started: float, deadline: float,
                     exclude: set[int] = frozenset()) -> tuple[float, float]:
    """Seconds from `started` to the first answer and until every live worker has answered."""
    first, seen = None, set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        pid = answering_worker(port)
        if pid is not None and pid not in exclude:
            first = first or time.monotonic() - started
            seen.add(pid)
            live = set(children(process.pid))
            if len(live) == workers and live <= seen:
                return first, time.monotonic() - started
        else:
            time.sleep(0.02)
    raise RuntimeError("the workers did not all answer in time")


def measure(mode: str, env: dict[str, str], workers: int, token: str, log: Path, timeout: float) -> Run:
    port = free_port()
    full = {**os.environ, **env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
            "GUNICORN_PRELOAD": MODES[mode], "PYTHONPATH": str(ROOT)}
    full.pop("PROMETHEUS_MULTIPROC_DIR", None)
    run = Run()
    started = time.monotonic()
    with open(log, "ab") as out:
        process = subprocess.Popen([PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                                    'bench.instrumented:serve("wsgi:app")'], cwd=ROOT, env=full,
                                   stdout=out, stderr=out)
    try:
        run.first, run.all_ready = wait_for_workers(process, port, workers, started, started + timeout)
        pids = children(process.pid)

        def snapshot(when):
            run.memory[when] = {"master": memory_mb(process.pid)}
            for i, pid in enumerate(sorted(pids)):
                run.memory[when][f"worker {i + 1}"] = memory_mb(pid)

        snapshot("ready")
        for _ in range(4 * workers):  # new connections, so every worker gets some
            for path in USES:
                answering_worker(port, path, token)
        snapshot("used")

        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + timeout
        while time.monotonic() < deadline:
            pid = answering_worker(port)
            if pid is not None and pid not in pids:
                run.replace = time.monotonic() - killed
                break
            time.sleep(0.02)
        return run
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="starts per mode (medians are printed)")
    parser.add_argument("--modes", default="no-preload,preload")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    modes = args.modes.split(",")

    with tempfile.TemporaryDirectory(prefix="dualchannel-startup-") as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/startup.sqlite", "DUALCHANNEL_ID_HASH_KEY": "bench-startup",
               "DUALCHANNEL_ID_ENCRYPTION_KEY": Fernet.generate_key().decode()}
        out = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "demo"], cwd=ROOT, env={**os.environ, **env},
                             check=True, capture_output=True, text=True).stdout
        token = next(line.split()[-1] for line in out.splitlines() if line.startswith("bureau"))
        results: dict[str, list[Run]] = {mode: [] for mode in modes}
        for _ in range(args.repeat):  # interleaved, so machine load hits both modes alike
            for mode in modes:
                results[mode].append(measure(mode, env, args.workers, token, Path(tmp) / f"{mode}.log", args.timeout))

    print(f"bench/startup: gunicorn {args.workers} workers, medians of {args.repeat} starts per mode")
    summary = {}
    for mode, runs in results.items():
        first = median([r.first for r in runs])
        ready = median([r.all_ready for r in runs])
        replace = median([r.replace for r in runs])
        print(f"\n{mode}: first /healthz {first:.2f} s, all {args.workers} workers answering {ready:.2f} s, "
              f"a killed worker replaced in {replace:.2f} s")
        print(f"  {'MB':<20} {'RSS':>8} {'PSS':>8} {'USS':>8}")
        for when in ("ready", "used"):
            for process in runs[0].memory[when]:
                cells = [median([r.memory[when][process][k] for r in runs]) for k in ("rss", "pss", "uss")]
                print(f"  {process + ' (' + when + ')':<20} " + " ".join(f"{c:8.1f}" for c in cells))
        workers_used = [name for name in runs[0].memory["used"] if name.startswith("worker")]
        summary[mode] = (ready, replace, *(
            median([sum(r.memory["used"][w][k] for w in workers_used) / len(workers_used) for r in runs])
            for k in ("rss", "pss", "uss")))
    if "preload" in summary and "no-preload" in summary:
        p, n = summary["preload"], summary["no-preload"]
        print(f"\npreload vs no-preload: all workers answering {p[0]:.2f} s vs {n[0]:.2f} s; worker replaced "
              f"{p[1]:.2f} s vs {n[1]:.2f} s; per worker after use RSS {p[2]:.0f} vs {n[2]:.0f} MB, "
              f"PSS {p[3]:.0f} vs {n[3]:.0f} MB, USS {p[4]:.0f} vs {n[4]:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
