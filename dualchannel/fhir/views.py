"""`/fhir/R4`: a FHIR R4 read API (JSON, `application/fhir+json`) over the same tokens, scopes and
services as `/api/v1`; errors are OperationOutcome resources here (problem+json elsewhere)."""

import json
import re
from datetime import date, datetime, timedelta
from importlib import metadata
from urllib.parse import urlencode

from flask import Blueprint, current_app, request, url_for
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

from dualchannel import api, auth, clock, db
from dualchannel.errors import DomainError, FieldMessage, HTTP_CODES, Invalid
from dualchannel.fhir import resources as fhir
from dualchannel.fhir import services
from dualchannel.identity import redact

PREFIX = "/fhir/R4"
bp = Blueprint("fhir", __name__, url_prefix=PREFIX)
PUBLIC = {"fhir.metadata"}  # the CapabilityStatement, like /openapi.json, needs no token
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_COUNT = 500


def _answer(body: dict, status: int = 200):
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = current_app.response_class(redact(text) if status >= 400 else text, status=status, mimetype=fhir.MIME)
    response.headers["Cache-Control"] = "no-store"
    return response


def _outcome(status: int, code: str, detail: str, errors: dict | None = None):
    response = _answer(fhir.operation_outcome(status, code, detail, errors), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@bp.before_request
def _authenticate():
    if request.endpoint not in PUBLIC:
        auth.load_actor()
    api.refuse_unreadable_input()


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    if error.on_refusal:
        db.record_refusal(error.on_refusal)
    return _outcome(error.status, error.code, error.detail, error.errors)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if isinstance(error, InternalServerError):
        current_app.logger.error("unhandled error", exc_info=error.original_exception)
        return _outcome(500, "internal_error", "The server failed; the error was logged.")
    status = error.code or 500
    response = _outcome(status, HTTP_CODES.get(status, "error"), error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


# -- search parameters ----------------------------------------------------------------------------

def _bad(name: str, message: FieldMessage) -> Invalid:
    return Invalid(f"The search parameter {name} is not valid.", {name: [message]}, code="search_parameter_invalid")


def _instant_range(text: str) -> tuple[datetime, datetime]:
    """[start, end) of a FHIR date (a China day) or instant (that second)."""
    if _DATE.fullmatch(text):
        day = date.fromisoformat(text)
        return clock.start_of_day(day), clock.start_of_day(day + timedelta(days=1))
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an instant needs its offset")
    return moment, moment + timedelta(seconds=1)


def _last_updated(values: list[str]) -> tuple[datetime | None, datetime | None]:
    """`_lastUpdated` parameters (each `gt`, `ge`, `lt`, `le` or `eq`, the default) as one
    [from, before) range."""
    start = end = None
    for value in values:
        prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
        try:
            low, high = _instant_range(text)
            if not 2000 <= low.year <= 2100:
                raise ValueError("out of range")
        except ValueError:
            raise _bad("_lastUpdated", FieldMessage(
                "fhir_last_updated_invalid", "A date (YYYY-MM-DD) or an instant with its offset, from 2000 to 2100, "
                                             "after gt, ge, lt, le or eq."))
        bounds = {"eq": (low, high), "ge": (low, None), "gt": (high, None), "lt": (None, low),
                  "le": (None, high)}.get(prefix)
        if bounds is None:
            raise _bad("_lastUpdated", FieldMessage("fhir_prefix_unsupported",
                                                    f"Prefix {prefix} is not supported: gt, ge, lt, le or eq.",
                                                    prefix=prefix))
        if bounds[0] is not None:
            start = max(start, bounds[0]) if start else bounds[0]
        if bounds[1] is not None:
            end = min(end, bounds[1]) if end else bounds[1]
    return start, end


def _search(resource_type: str) -> services.Search:
    """Read a search's query string into plain values; anything unknown is an error (a
    misspelt parameter silently ignored would answer another question)."""
    args = request.args
    unknown = sorted(set(args) - {"patient", "status", "_lastUpdated", "_count", "_cursor"})
    if unknown:
        raise Invalid(f"Unsupported search parameters: {', '.join(unknown)}.",
                      {name: [FieldMessage("fhir_parameter_unsupported", "Not a search parameter of this server.")]
                       for name in unknown},
                      code="search_parameter_unsupported")
    query = services.Search(cursor=args.get("_cursor"))
    if "patient" in args:
        match = re.fullmatch(r"(?:Patient/)?(\d{1,10})", args["patient"], re.ASCII)
        if not match or int(match[1]) > api.MAX_ID:
            raise _bad("patient", FieldMessage("fhir_patient_reference_invalid", "A patient id, or Patient/<id>."))
        query.patient_id = int(match[1])
    if "status" in args:
        statuses = [s for value in args.getlist("status") for s in value.split(",")]
        wrong = [s for s in statuses if s not in fhir.STATUS_CODES[resource_type]]
        if wrong:
            raise _bad("status", FieldMessage("fhir_status_unknown",
                                              f"Not a {resource_type} status: {', '.join(wrong)}.",
                                              resource_type=resource_type))
        query.statuses = statuses
    query.updated_from, query.updated_before = _last_updated(args.getlist("_lastUpdated"))
    if "_count" in args:
        count = args["_count"]
        if not (count.isascii() and count.isdecimal() and 1 <= int(count) <= MAX_COUNT):
            raise _bad("_count", FieldMessage("between", f"1 to {MAX_COUNT}.", min=1, max=MAX_COUNT))
        query.count = int(count)
    return query


def _base() -> str:
    return url_for("fhir.metadata", _external=True).removesuffix("/metadata")


def _next_url(cursor: str) -> str:
    params = [(k, v) for k, values in request.args.lists() if k != "_cursor" for v in values] + [("_cursor", cursor)]
    return f"{request.base_url}?{urlencode(params)}"


# -- routes ---------------------------------------------------------------------------------------

def metadata_view():
    """The CapabilityStatement: what this server reads and searches."""
    try:
        version = metadata.version("dualchannel")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return _answer(fhir.capability_statement(_base(), version))


bp.add_url_rule("/metadata", endpoint="metadata", view_func=metadata_view)


def _reader(resource_type: str):
    def view(fhir_id: str):
        if not _ID.fullmatch(fhir_id):
            return _outcome(404, "resource_not_found", f"No {resource_type} {fhir_id}.")
        return _answer(services.READ[resource_type](db.session(), auth.current_actor(), fhir_id))

    view.__doc__ = f"Read a {resource_type} by id."
    return view


def _searcher(resource_type: str):
    def view():
        found = services.SEARCH[resource_type](db.session(), auth.current_actor(), _search(resource_type))
        base = _base()
        entries = [(f"{base}/{resource_type}/{r['id']}", r) for r in found.resources]
        return _answer(fhir.bundle(entries, request.url, found.next_cursor and _next_url(found.next_cursor)))

    view.__doc__ = f"Search {resource_type} by patient, status, _lastUpdated; _count per page."
    return view


for _type in services.READ:
    bp.add_url_rule(f"/{_type}/<fhir_id>", endpoint=f"read_{_type}", view_func=_reader(_type), methods=["GET"])
for _type in services.SEARCH:
    bp.add_url_rule(f"/{_type}", endpoint=f"search_{_type}", view_func=_searcher(_type), methods=["GET"])


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def elsewhere(rest):
    """Anything else under /fhir/R4: writes are not supported, other types do not exist."""
    head = rest.split("/", 1)[0]
    if request.method != "GET" and (head in services.READ or head == "metadata"):
        raise MethodNotAllowed(valid_methods=["GET"], description="This FHIR server only reads.")
    raise NotFound(f"This server has no {head or 'resource'} here; see {PREFIX}/metadata.")
