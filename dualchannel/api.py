"""flask-smorest wiring: the Api with problem+json errors, API blueprints, list pagination, and
the fields every request schema shares. Input is bounded here, at the edge: body size and JSON
depth, unknown fields and query parameters, codes, dates, money and cursors."""

import base64
import binascii
import csv
import functools
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Response, current_app, request
from flask_smorest import Api as _Api
from sqlmodel import Session
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from dualchannel import adcodes, auth, clock, errors, problems
from dualchannel.errors import FieldMessage, Invalid, NotFound

# Integer primary keys are 32-bit on PostgreSQL (`integer`); a larger id in a URL or body is an
# object that cannot exist, not a reason for the database driver to fail.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in API routes: ids from 0 to MAX_ID; anything larger is a 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def Id(**kwargs) -> ma.fields.Integer:  # noqa: N802 - reads as a field type
    """An integer id in a request body: 1 to MAX_ID (larger ones name nothing)."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(1, MAX_ID), **kwargs)


class ProblemSchema(ma.Schema):
    """An error (RFC 9457 problem details), as `errors.problem` writes it; for the document only."""

    class Meta:
        unknown = ma.INCLUDE  # problem-specific members (`status_now`, `trace_codes`, ...)

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={
        "description": "Stable snake_case code: act on it, not on `detail`. Each is explained at `type` "
                       "(/problems/<code>) and listed under x-problem-codes.",
        "enum": sorted(problems.PROBLEMS)})
    errors = ma.fields.Dict(metadata={"description": "Field path (items.0.quantity) -> messages, every bad field at once"})
    error_codes = ma.fields.Dict(metadata={
        "description": "The same paths -> one {code, ...values} per message of `errors`, in order: act on the code "
                       "(listed under x-field-codes with its zh-CN text), not on the English message."})


class Api(_Api):
    """flask-smorest's Api, answering (and documenting) every error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def init_app(self, app, *, spec_kwargs=None):
        # Before any blueprint: rules pick their converters when they are added.
        app.url_map.converters["int"] = IdConverter
        super().init_app(app, spec_kwargs=spec_kwargs)
        # Money and every other exact decimal travel as decimal strings (every Decimal field of
        # the project is `as_string`): documented as strings, not as numbers.
        self.register_field(MoneyField, "string", None)
        self.register_field(ma.fields.Decimal, "string", None)

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)

    def _register_responses(self):
        # flask-smorest documents errors as application/json; ours are application/problem+json.
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = errors.PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default


class Parser(FlaskParser):
    """webargs' parser: query parameters a route does not know are refused like unknown body
    fields (the schema's `unknown`, RAISE for every RequestSchema) instead of being dropped."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """An API blueprint under `/api/v1` whose every route requires a bearer token."""
    bp = Blueprint(name, import_name, url_prefix="/api/v1", description=description)
    bp.before_request(auth.load_actor)
    bp.before_request(refuse_unreadable_input)
    bp.after_request(_no_store)
    return bp


def _no_store(response):
    # API answers carry personal data: no browser or proxy keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


_MAX_INT64 = 2**63 - 1
_UNSTORABLE = FieldMessage("value_unstorable", "Contains a NUL character or an unpaired surrogate, or a number beyond 64 bits.")


def _storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from "\ud800" in JSON
        return False
    return True


def _find_unstorable(value, where: str, errors: dict) -> None:
    if isinstance(value, str):
        if not _storable_text(value):
            errors[where or "body"] = [_UNSTORABLE]
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > _MAX_INT64:
            errors[where or "body"] = [_UNSTORABLE]
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if not _storable_text(str(key)):
                errors[where or "body"] = [_UNSTORABLE]
            else:
                _find_unstorable(item, inner, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_unstorable(item, f"{where}.{index}" if where else str(index), errors)


# JSON nested deeper than any request schema goes is refused before anything walks it.
MAX_JSON_DEPTH = 16


def _json_depth(value) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((inner, depth + 1) for inner in item)
    return deepest


def _too_deep() -> Invalid:
    return Invalid(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
                   {"body": [FieldMessage("json_too_deep", f"At most {MAX_JSON_DEPTH} levels of nesting.",
                                          levels=MAX_JSON_DEPTH)]}, code="json_too_deep")


def _declares_query() -> bool:
    """Whether the route takes query parameters: a flask-smorest route says so in its arguments;
    a route of another kind (FHIR's search) checks its own."""
    view = current_app.view_functions.get(request.endpoint)
    if not hasattr(view, "_apidoc"):
        return True
    parameters = view._apidoc.get("arguments", {}).get("parameters", [])
    return any(p.get("in") in ("query", "querystring") for p in parameters)


def refuse_unreadable_input() -> None:
    """`before_request` of the API: refuse, before any query runs, a body larger than
    `MAX_JSON_BODY` (`MAX_CONTENT_LENGTH` for file uploads) with 413; JSON nested deeper than
    MAX_JSON_DEPTH; query parameters on a route that takes none; and what no database column
    can hold (PostgreSQL text has no NUL, UTF-8 no lone surrogate, SQLite no integer past 64
    bits), with a 422 naming the field."""
    if request.method == "OPTIONS":
        return
    if not _storable_text(request.path):
        raise NotFound("No such resource.", code="resource_not_found")
    if request.mimetype != "multipart/form-data":
        request.max_content_length = current_app.config["MAX_JSON_BODY"]
    if request.content_length is not None and request.content_length > request.max_content_length:
        raise RequestEntityTooLarge()
    if request.args and not _declares_query():
        raise Invalid(f"The request has fields this route does not take: {', '.join(sorted(request.args))}.",
                      {key: [FieldMessage("unknown_field", "Unknown field.")] for key in request.args},
                      code="unknown_fields")
    errors: dict[str, list[str]] = {}
    for key, values in request.args.lists():
        for value in values:
            _find_unstorable(value, key, errors)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # the decoder's own limit, far above MAX_JSON_DEPTH
            raise _too_deep()
        if _json_depth(body) > MAX_JSON_DEPTH:
            raise _too_deep()
        _find_unstorable(body, "", errors)
    if errors:
        raise Invalid("The request has values no record can hold.", errors, code="unstorable_value")


class RequestSchema(ma.Schema):
    """Request bodies and query strings: an unknown field is a 422 naming it (a typo such as
    `valid_dayz` must not pass silently)."""

    class Meta:
        unknown = ma.RAISE


class FullMatch(ma.validate.Regexp):
    """A pattern the whole value must match: `$` alone also matches before a final newline."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


CODE = FullMatch(r"^[A-Za-z0-9_-]{1,32}$", error=FieldMessage("code_format", "1-32 letters, digits, - or _."))


class KnownRegion(FullMatch):
    """A GB/T 2260 code (6 ASCII digits) of a province, city or county in the boundary file;
    `national` also accepts 100000, the whole country."""

    def __init__(self, *, national: bool = False):
        super().__init__(r"^[0-9]{6}$", error=FieldMessage("adcode_format", "A 6-digit administrative division code."))
        self.national = national

    def __call__(self, value):
        super().__call__(value)
        if not (adcodes.is_known(value) or (self.national and value == adcodes.NATIONAL)):
            raise ma.ValidationError(FieldMessage("adcode_unknown", "No such administrative division."))
        return value


ADCODE = KnownRegion()


class Date(ma.fields.Date):
    """A calendar date from 2000-01-01 to 2100-12-31 (`clock.MIN_DATE`..`MAX_DATE`): every date
    a request gives is stored or computed with, and must stay far from the calendar's end."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not clock.in_range(day):
            raise ma.ValidationError(FieldMessage("date_out_of_range", f"A date from {clock.MIN_DATE} to {clock.MAX_DATE}.",
                                                  min=clock.MIN_DATE.isoformat(), max=clock.MAX_DATE.isoformat()))
        return day


class Cursor(ma.fields.String):
    """A list cursor: opaque to clients, checked when decoded (`decode_cursor`)."""

    def __init__(self, **kwargs):
        super().__init__(load_default=None, validate=ma.validate.Length(1, 32), **kwargs)


class ListArgs(RequestSchema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))
    cursor = Cursor()


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """`{"items": [...], "next_cursor": ...}` for a list of `item_schema`."""
    return ma.Schema.from_dict(
        {"items": ma.fields.List(ma.fields.Nested(item_schema)),
         "next_cursor": ma.fields.String(allow_none=True)},
        name=f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
    )


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


_CURSOR_VALUE = re.compile(r"[0-9]{1,10}")


def decode_cursor(cursor: str | None) -> int | None:
    """The key or offset a cursor carries: 0 to MAX_ID, else 422 (`invalid_cursor`)."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, binascii.Error):
        text = ""
    if not _CURSOR_VALUE.fullmatch(text) or int(text) > MAX_ID:
        raise Invalid("The cursor is not one this service issued.",
                      {"cursor": [FieldMessage("cursor_invalid", "Invalid cursor.")]},
                      code="invalid_cursor")
    return int(text)


def paginate(session: Session, statement, key_column, *, limit: int | None, cursor: str | None) -> Page:
    """Keyset pagination, newest first: rows with `key_column` below the cursor.

    `statement` selects the entity; `key_column` is its integer primary key.
    """
    limit = limit or 50
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(key_column < after)
    rows = list(session.exec(statement.order_by(key_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(getattr(rows[-1], key_column.key)) if more and rows else None)


# The largest amount or price a request may give, in yuan: far above any real one, and far
# enough below the BIGINT columns' range (9.2e18 fen) that totals of quantity x price and sums
# over years of purchases still fit.
MAX_MONEY = Decimal(10) ** 10


class MoneyField(ma.fields.Decimal):
    """Yuan as a decimal string: loaded exactly (at most `places` decimals, 0 to MAX_MONEY),
    dumped with 2 places, or more only when a unit price really has them."""

    def __init__(self, places: int = 2, **kwargs):
        self.max_places = places
        metadata = {"pattern": rf"^[0-9]+(\.[0-9]{{1,{max(places, 2)}}})?$", "example": "123.40",
                    **kwargs.pop("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, validate=ma.validate.Range(min=0, max=MAX_MONEY),
                         metadata=metadata, **kwargs)

    def _validated(self, value):
        if isinstance(value, float):
            value = repr(value)  # 12.3 must mean 12.3, not its binary neighbour
        if isinstance(value, str) and len(value) > 40:
            raise ma.ValidationError(FieldMessage("not_a_decimal", "Not a decimal amount."))  # before Decimal parses a megabyte
        number = super()._validated(value)
        if number is not None and number.as_tuple().exponent < -self.max_places:
            raise ma.ValidationError(FieldMessage("too_many_decimal_places", f"At most {self.max_places} decimal places.",
                                                  places=self.max_places))
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = Decimal(value)
        shown = value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value.normalize()
        return format(shown, "f")


class Timestamp(ma.fields.AwareDateTime):
    """An instant, shown in China Standard Time (+08:00) whatever zone it was stored in."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(clock.CHINA).isoformat()


def csv_response(rows, columns: list[str], filename: str) -> Response:
    """The one CSV download of the service: UTF-8 with a byte-order mark (so Excel opens the
    Chinese as Chinese), CRLF line ends, a header line of `columns`; `rows` are mappings (keys
    beyond `columns` are left out), None is an empty cell and a boolean is `true` or `false`."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in row.items()})
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class Text(ma.fields.String):
    """Free text from a person (a reason, a note): trimmed, and not blank once trimmed."""

    def __init__(self, max_length: int = 500, **kwargs):
        super().__init__(validate=ma.validate.Length(1, max_length, error=FieldMessage(
            "text_blank_or_long", "Must not be blank (at most {max} characters).", max=max_length)), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class RatioField(MoneyField):
    """A ratio or share in [0, 1] as a decimal string, at most 4 decimals."""

    def __init__(self, **kwargs):
        super().__init__(places=4, **kwargs)
        self.validators.append(ma.validate.Range(max=1))


# Codes any API operation may answer with: the edge's, authentication's and the database's.
EDGE_CODES = ("token_missing", "token_invalid", "role_forbidden", "invalid_fields", "unknown_fields", "malformed_json",
              "json_too_deep", "unstorable_value", "value_out_of_range", "payload_too_large", "unsupported_media_type",
              "rate_limited", "concurrent_change", "unavailable", "internal_error")
WRITE_CODES = ("invalid_idempotency_key", "idempotency_key_reused", "idempotency_key_in_progress")
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def document_problems(rest: Api, app) -> None:
    """Put the problem codes in /openapi.json: every code with its status, titles and page at
    the top (`x-problem-codes`), the field codes of `error_codes` with their zh-CN text
    (`x-field-codes`), the `code` member's enum in the Problem schema, and on each
    operation the codes it can answer with (`x-problem-codes`: those its feature and the
    features it calls raise, and the edge's)."""
    root = Path(__file__).resolve().parent
    rest.spec.options["x-problem-codes"] = {
        code: {"status": p.status, "title": p.title, "description": p.en, "type": "/problems/" + code}
        for code, p in sorted(problems.PROBLEMS.items())}
    rest.spec.options["x-field-codes"] = {code: {"zh": f.zh, "description": f.en}
                                          for code, f in sorted(problems.FIELDS.items())}
    paths = rest.spec._paths  # apispec keeps the operations here until to_dict()
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        module = getattr(getattr(view, "view_class", view), "__module__", "")
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        if not module.startswith("dualchannel.") or path not in paths:
            continue
        feature = root / module.split(".")[1]
        if not feature.is_dir():
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths[path].get(method.lower())
            if operation is None:
                continue
            codes = set(_feature_codes(feature)) | set(EDGE_CODES)
            if method != "GET":
                codes |= set(WRITE_CODES)
            operation["x-problem-codes"] = sorted(c for c in codes if c in problems.PROBLEMS)


@functools.cache  # the sources do not change while the process runs; parsing them costs seconds
def _feature_codes(feature: Path) -> frozenset[str]:
    codes = set(problems.codes_in(feature))
    for other in problems.imported_features(feature):
        if (feature.parent / other).is_dir():
            codes |= problems.codes_in(feature.parent / other)
        elif (feature.parent / f"{other}.py").is_file():
            codes |= problems.codes_in(feature.parent / f"{other}.py")
    return frozenset(codes)
