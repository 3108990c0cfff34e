"""gunicorn settings; override with GUNICORN_CMD_ARGS or the environment variables below.

Shutdown: SIGTERM (what systemd, Docker and Kubernetes send) stops accepting connections and
gives in-flight requests `graceful_timeout` seconds to finish; every state change is one
transaction, so a request cut off after that leaves nothing half-done.

Metrics: each worker is a process, so Prometheus counters live in files under
PROMETHEUS_MULTIPROC_DIR (made here when unset) and `/metrics` sums them over the workers.

Preloading: the master imports the app (and parses the county boundaries) once, before it forks
the workers, which share those pages copy-on-write: a worker starts, or replaces a dead one, in
a fraction of a second instead of loading everything again. A forked worker first empties the
database engine's pool (`wsgi.py`), so no connection is shared between processes. A HUP then
reloads the configuration but not the code: restart the master to deploy new code.
`GUNICORN_PRELOAD=0` turns preloading off (each worker loads the app itself).
"""

import gc
import os
import shutil
import tempfile

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
# Recycle workers now and then (0 = never) to bound slow leaks; jitter avoids all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# gunicorn's control socket defaults to one fixed path per user: two servers on a host would
# take each other's. Off unless a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# The app writes one JSON line per request with its request id (dualchannel/logs.py), so
# gunicorn's own access log is off unless asked for; its error log is JSON too.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# If the access log is turned on, it leaves the query string out: nothing sensitive should
# ride in URLs, and if it ever does, it does not land in a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "dualchannel.logs.JsonFormatter"}},
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        # A logging config turns gunicorn's access log on: keep it quiet unless asked for.
        "gunicorn.access": {"level": "INFO" if accesslog else "WARNING", "handlers": ["console"],
                            "propagate": False},
    },
    # The app's loggers have their own JSON handler (dualchannel.logs); nothing goes twice.
    "root": {"level": "WARNING", "handlers": []},
}

# Set before any worker imports prometheus_client (it reads the variable at import time).
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = tempfile.mkdtemp(prefix="dualchannel-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server):
    """Start from empty metric files: samples of a previous run's dead workers are stale."""
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def pre_fork(server, worker):
    """Keep the collector off the preloaded objects, so a worker's collections do not write to
    (and so copy) the pages it shares with the master."""
    gc.freeze()


def child_exit(server, worker):
    """A worker died or was recycled: drop its live gauges (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
