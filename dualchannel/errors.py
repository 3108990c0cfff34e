"""Domain exceptions, and the one place that turns every error into problem+json (RFC 9457)."""

import json
import logging
import math

from flask import Flask, current_app, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from dualchannel.problems import PROBLEMS, field_code

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A business rule said no. Services raise these; they know nothing of HTTP.

    `code` (required) is the stable snake_case name clients act on, one of the registry
    `dualchannel.problems.PROBLEMS` (the `detail` sentence is for people and may change).
    `on_refusal` are callables taking the session that write what the refusal itself leaves
    behind (an audit flag, an access-log entry): they run after the request's own work is
    rolled back, in a transaction of their own (`db.record_refusal`).
    """

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict | None = None, *, code: str, on_refusal=(), **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.code = code
        self.on_refusal = tuple(on_refusal)
        self.extra = extra


class FieldMessage(str):
    """The message of one field (a value of a 422's `errors`) with its stable `code` and the
    values its zh-CN text fills in (`problems.FIELDS`). It is a str, so the English reads as
    before; the problem carries the codes beside it in `error_codes`, which the pages translate."""

    code: str
    params: dict

    def __new__(cls, code: str, message: str, **params):
        message_ = super().__new__(cls, message)
        message_.code, message_.params = code, params
        return message_

    def format(self, *args, **kwargs):  # marshmallow formats a validator's `error=` text: keep the code
        return FieldMessage(self.code, str.format(self, *args, **kwargs), **self.params)

    def __reduce__(self):  # copies and pickles keep the code and values
        return _field_message, (self.code, str(self), self.params)


def _field_message(code: str, message: str, params: dict) -> FieldMessage:
    return FieldMessage(code, message, **params)


class NotFound(DomainError):
    """The object does not exist, or lies outside the caller's scope (never say which)."""

    status = 404
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class Conflict(DomainError):
    """The request is well-formed but the object's state does not allow it."""

    status = 409
    title = "Conflict"


class Invalid(DomainError):
    """Well-formed input that breaks a rule (unknown drug, too long a supply, ...)."""

    status = 422
    title = "Unprocessable content"


# Codes of the errors werkzeug and webargs raise, by status.
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 408: "request_timeout", 409: "conflict",
              413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_fields",
              429: "rate_limited", 500: "internal_error", 503: "unavailable"}
PROBLEM_TYPE_PREFIX = "/problems/"


def problem(status: int, title: str, detail: str, errors=None, *, code: str | None = None, **extra):
    """A problem+json response with its stable `code` (one of `problems.PROBLEMS`) and a `type`
    URI built from it; `errors` is flattened to field path -> messages (`items.0.quantity`), and
    `error_codes` gives each message's code and values at the same place (`problems.FIELDS`). Any
    resident ID number in it is masked: error texts name the caller's input (a code, a field),
    and an ID number typed in the wrong field must not come back."""
    from dualchannel.identity import redact

    code = code or HTTP_CODES.get(status, "internal_error")
    if code not in PROBLEMS:
        log.error("problem code %r is not in the registry (dualchannel/problems.py)", code)
    body = {"type": PROBLEM_TYPE_PREFIX + code, "title": title, "status": status, "detail": detail,
            "code": code}
    if errors:
        body["errors"] = flatten_errors(errors)
        body["error_codes"] = {path: [field_code(m) for m in messages] for path, messages in body["errors"].items()}
    body.update(extra)
    response = jsonify(json.loads(redact(json.dumps(body, ensure_ascii=False, default=str))))
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def _http_problem(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    # webargs nests messages by location ({"json": {...}}); integrators want field -> messages.
    if isinstance(errors, dict) and len(errors) == 1:
        (location, inner), = errors.items()
        if location in ("json", "query", "querystring", "headers", "view_args", "form", "files"):
            errors = inner
    if isinstance(errors, list):  # a body that is not JSON at all: still field -> messages
        errors = {"body": errors}
    detail = data.get("message") or error.description or error.name
    code = None
    if errors and error.code == 422:
        detail = "The request has invalid fields."
        unknown = sorted(_unknown_fields(errors))
        if unknown:
            detail = f"The request has fields this route does not take: {', '.join(unknown)}."
            if len(unknown) == len(_leaves(errors)):
                code = "unknown_fields"
    if error.code == 400 and "json" in (data.get("messages") or {}):
        detail = "The request body is not valid JSON."
        code = "malformed_json"
    response = problem(error.code or 500, error.name, detail, errors, code=code)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if error.code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _leaves(errors, where: str = "") -> dict[str, list]:
    """Field path -> messages of a (nested) marshmallow error dict."""
    if not isinstance(errors, dict):
        return {where: errors}
    found = {}
    for key, inner in errors.items():
        found.update(_leaves(inner, f"{where}.{key}" if where else str(key)))
    return found


def flatten_errors(errors) -> dict[str, list]:
    """One shape for every 422: field path -> messages, all fields at once. marshmallow's nested
    dicts become dotted paths (`{"items": {0: {"quantity": [...]}}}` -> `items.0.quantity`); a
    schema-level message (`_schema`) belongs to the object that holds it (`body` at the top)."""
    if not isinstance(errors, dict):
        return {"body": errors if isinstance(errors, list) else [errors]}
    flat: dict[str, list] = {}
    for path, messages in _leaves(errors).items():
        parts = [part for part in path.split(".") if part != "_schema"]
        key = ".".join(parts) or "body"
        messages = messages if isinstance(messages, list) else [messages]
        flat.setdefault(key, []).extend(messages)
    return flat


def _unknown_fields(errors) -> list[str]:
    return [field for field, messages in _leaves(errors).items()
            if isinstance(messages, list) and "Unknown field." in messages]


def handle_http_exception(error: HTTPException):
    """werkzeug's and webargs' errors as problem+json."""
    if isinstance(error, InternalServerError) and error.original_exception is not None:
        log.error("unhandled error", exc_info=error.original_exception)
        return problem(500, "Internal server error", "The server failed; the error was logged.")
    return _http_problem(error)


def handle_domain_error(error: DomainError):
    if error.on_refusal:
        from dualchannel import db

        db.record_refusal(error.on_refusal)
    response = problem(error.status, error.title, error.detail, error.errors, code=error.code, **error.extra)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def unavailable(detail: str = "The database is not answering; try again shortly."):
    """503 with `Retry-After` (DATABASE_RETRY_AFTER, at least 1 s): the service is up but cannot
    reach its database."""
    response = problem(503, "Service unavailable", detail, code="unavailable")
    response.headers["Retry-After"] = str(max(1, math.ceil(current_app.config["DATABASE_RETRY_AFTER"])))
    return response


def commit_failed(error: Exception):
    """The answer when the request's final COMMIT fails: a constraint race is a conflict, a
    lost or timed-out database is 503; nothing was committed either way."""
    import sqlalchemy as sa

    if isinstance(error, sa.exc.IntegrityError):
        return problem(409, "Conflict", "A concurrent request changed the same records; nothing was saved.",
                       code="concurrent_change")
    log.warning("commit failed: %s", type(error).__name__)
    return unavailable()


def handle_database_error(error: Exception):
    """A database that is down, unreachable or too slow (or was so moments ago,
    `db.DatabaseUnavailable`) is 503 (retry later), not a 500."""
    log.warning("database unavailable: %s", type(error).__name__)
    from dualchannel import db

    db.discard_session()
    return unavailable()


def handle_data_error(error: Exception):
    """The database refused a value (too long, out of range): input the edge should have
    bounded. The request changed nothing; the caller gets a 422, and the log an error so the
    missing bound gets fixed."""
    log.error("the database refused a value: %s", type(getattr(error, "orig", error)).__name__)
    from dualchannel import db

    db.discard_session()
    return problem(422, "Unprocessable content", "A value is too large or too long to be stored.",
                   code="value_out_of_range")


def init_app(app: Flask) -> None:
    """Register the handlers. flask-smorest's own handler is replaced in `api.Api`."""
    import sqlalchemy as sa

    from dualchannel.db import DatabaseUnavailable

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa.exc.DataError, handle_data_error)
    for unavailable_error in (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError,
                              DatabaseUnavailable):
        app.register_error_handler(unavailable_error, handle_database_error)
