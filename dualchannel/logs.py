"""Structured request logs: one record per API request, never a body or a query string.

Each record's message is logfmt (`method=GET route=/api/v1/trace/<code> status=200 ...`) and
the same fields ride on the record as `record.http` for a JSON formatter (`JsonFormatter`,
installed by `configure()` when serving). The path is logged with any resident ID number masked, in case a
caller ever puts one in a URL.
"""

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

from dualchannel.patients.identity import redact

log = logging.getLogger("dualchannel.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _start() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]


def _finish(response):
    started = g.pop("request_started", None)
    if started is None:
        return response
    actor = g.get("actor")
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        "path": redact(request.path),
        "remote": request.remote_addr,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "actor": actor.label if actor else None,
        "token_id": actor.token_id if actor else None,
        "bytes": response.calculate_content_length(),
    }
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(level, " ".join(f"{k}={_logfmt(v)}" for k, v in fields.items()), extra={"http": fields})
    response.headers["X-Request-Id"] = fields["request_id"]
    return response


def _logfmt(value) -> str:
    if value is None:
        return "-"
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or '"' in text or not text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "message": redact(record.getMessage())}
        if hasattr(record, "http"):
            entry.update(record.http)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str | int = logging.INFO) -> None:
    """JSON lines on stderr for the service's loggers (the serving entry point calls this)."""
    logger = logging.getLogger("dualchannel")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def init_app(app: Flask) -> None:
    """Log every request once it is answered (errors included)."""
    app.before_request(_start)
    app.after_request(_finish)
