"""Structured logs: one JSON object per line, one line per request, tied by a request id.

The request id comes from the caller's `X-Request-ID` (a gateway's, so one id follows a request
through every system) or is made here, and goes back in the response's `X-Request-ID`. Every log
line written while a request is served carries it.

A request line has the method, the path without its query string, the status, the duration and
the actor's label; never a body. Resident ID numbers never appear: the API takes them only in
bodies, and a path that carries one anyway (a mistyped URL) is logged with it masked.
"""

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request

from dualchannel.identity import redact

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is echoed into headers and logs: accept only short, plain tokens.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_log = logging.getLogger("dualchannel.request")

# A message or traceback longer than this is cut in the middle: a statement or an error naming
# a huge input must not turn into a multi-megabyte line.
MAX_FIELD = 16_384


def _capped(text: str) -> str:
    if len(text) <= MAX_FIELD:
        return text
    half = MAX_FIELD // 2
    return f"{text[:half]} ...[{len(text) - MAX_FIELD} characters cut]... {text[-half:]}"


# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(_capped(record.getMessage())),
            "pid": record.process,  # which worker wrote it
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = redact(_capped(self.formatException(record.exc_info)))
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Stamp records written during a request with its id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None) and has_request_context():
            record.request_id = g.get("request_id")
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure(level: int | str = logging.INFO) -> None:
    """Send the `dualchannel` loggers to stderr as JSON lines (once per process)."""
    logger = logging.getLogger("dualchannel")
    if not any(getattr(h, "_dualchannel_json", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        handler._dualchannel_json = True
        logger.addHandler(handler)
    logger.setLevel(level)


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response):
    request_id = g.get("request_id")
    if request_id is None:  # a hook before ours failed; still answer with an id
        _start_request()
        request_id = g.request_id
    response.headers[REQUEST_ID_HEADER] = request_id
    actor = g.get("actor")
    request_log.info("request", extra={
        "request_id": request_id,
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        "path": redact(request.path),
        "remote": request.remote_addr,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 2),
        "bytes": response.calculate_content_length(),
        "actor": actor.label if actor is not None else None,
        "token_id": actor.token_id if actor is not None else None,
    })
    return response


def init_app(app: Flask) -> None:
    """JSON logging, and a request id and log line for every request."""
    configure(app.config.get("LOG_LEVEL", "INFO"))
    # Runs before the blueprints' own hooks (authentication), so even a 401 has an id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
