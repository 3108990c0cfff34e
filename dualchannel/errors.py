"""Domain exceptions, and the one place that turns every error into problem+json (RFC 9457)."""

import json
import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A business rule said no. Services raise these; they know nothing of HTTP."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


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


def problem(status: int, title: str, detail: str, errors=None, **extra):
    """A problem+json response. Any resident ID number in it is masked: error texts name the
    caller's input (a code, a field), and an ID number typed in the wrong field must not come back."""
    from dualchannel.patients.identity import redact

    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
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
    if isinstance(errors, dict) and errors.get("_schema") and len(errors) == 1 and error.code == 422:
        errors = {"body": errors["_schema"]}
    if isinstance(errors, list):  # a body that is not JSON at all: still field -> messages
        errors = {"body": errors}
    detail = data.get("message") or error.description or error.name
    if errors and error.code == 422:
        detail = "The request has invalid fields."
    if error.code == 400 and "json" in (data.get("messages") or {}):
        detail = "The request body is not valid JSON."
    response = problem(error.code or 500, error.name, detail, errors)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if error.code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def handle_http_exception(error: HTTPException):
    """werkzeug's and webargs' errors as problem+json."""
    if isinstance(error, InternalServerError) and error.original_exception is not None:
        log.error("unhandled error", exc_info=error.original_exception)
        return problem(500, "Internal server error", "The server failed; the error was logged.")
    return _http_problem(error)


def handle_domain_error(error: DomainError):
    response = problem(error.status, error.title, error.detail, error.errors, **error.extra)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def init_app(app: Flask) -> None:
    """Register the handlers. flask-smorest's own handler is replaced in `api.Api`."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
