"""Prometheus metrics at `/metrics`: requests counted and timed by endpoint and status.

The endpoint label is the route's template (`/api/v1/prescriptions/<int:prescription_id>`), never
the concrete path, so the number of series stays bounded whatever callers send.

Under gunicorn each worker is its own process; with `PROMETHEUS_MULTIPROC_DIR` set (before
`prometheus_client` is imported: `gunicorn.conf.py` does it) every worker writes its samples to
files there and `/metrics` adds them up, so a scrape sees the whole server, not one worker.
"""

import os
import threading
import time

from flask import Flask, Response, g, request

UNMATCHED = "<unmatched>"
# Web latencies: 2 ms to 10 s.
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_lock = threading.Lock()
_created: tuple = ()


def _instruments():
    """Created once per process (the registry is global), by the app factory, not at import.

    The lock matters: gthread workers serve their first requests on several threads at once,
    and registering the same metric twice raises (bench/scale.py caught it as a 500).
    """
    global _created
    with _lock:
        if not _created:
            from prometheus_client import Counter, Histogram

            _created = (
                Counter("dualchannel_http_requests", "HTTP requests served.", ["method", "endpoint", "status"]),
                Histogram("dualchannel_http_request_duration_seconds", "Time to serve an HTTP request.",
                          ["method", "endpoint", "status"], buckets=BUCKETS),
            )
        return _created


def _start():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.get("metrics_started")
    if started is not None:
        rule = request.url_rule
        labels = (request.method, rule.rule if rule is not None else UNMATCHED, str(response.status_code))
        requests, latency = _instruments()
        requests.labels(*labels).inc()
        latency.labels(*labels).observe(time.perf_counter() - started)
    return response


def exposition() -> tuple[bytes, str]:
    """The current samples in the text format, summed over workers in multiprocess mode."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _instruments()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_SOURCES = "dualchannel.metric_sources"


class _Sources:
    """A collector of the gauges features compute at scrape time (e.g. the latest history check)."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source()


def add_source(app: Flask, source) -> None:
    """Add `source`, a callable returning metric families, to what `/metrics` shows."""
    app.extensions.setdefault(_SOURCES, []).append(source)


def init_app(app: Flask) -> None:
    """Time every request and serve `/metrics` (no token: it holds counts, never data)."""
    _instruments()
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_observe)

    @app.get("/metrics")
    def metrics():
        from prometheus_client import CollectorRegistry, generate_latest

        body, content_type = exposition()
        sources = app.extensions.get(_SOURCES)
        if sources:
            registry = CollectorRegistry()
            registry.register(_Sources(sources))
            body += generate_latest(registry)
        return Response(body, content_type=content_type)
