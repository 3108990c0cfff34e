"""Default configuration; every key can be overridden from the environment.

`DATABASE_URL` is read as is (the name integrators know); everything else uses the
`DUALCHANNEL_` prefix, e.g. `DUALCHANNEL_TRACE_UNDO_DAYS`. `validate` checks the result when
the app is built: a value outside the seeds' bounds stops the service from starting, with a
message naming the variable, instead of failing requests later.
"""

import logging
import os
from datetime import date
from decimal import Decimal, InvalidOperation

from dualchannel import clock

API_TITLE = "dualchannel"
API_VERSION = "v1"
OPENAPI_VERSION = "3.0.3"
OPENAPI_URL_PREFIX = "/"
OPENAPI_JSON_PATH = "openapi.json"
OPENAPI_SWAGGER_UI_PATH = "/api/docs"
# Served from static/: hospital and bureau networks are closed, no CDN.
OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"

# None means an SQLite file under the instance folder (set in create_app).
DATABASE_URL = None
# Optional path to full-resolution county boundaries (GeoJSON, optionally gzipped).
BOUNDARIES = None

# Secrets for resident ID numbers. None means "generate once into instance/keys.json"
# so a fresh machine runs; production sets them from its secret store.
ID_HASH_KEY = None
ID_ENCRYPTION_KEY = None
# Signing (dualchannel/signatures): a Fernet key encrypting the physicians' and pharmacists'
# private keys at rest; the service CA's SM2 private key (PEM, PKCS#8) certifying every signing
# key; the HMAC-SM3 key of the tamper-evident history chains. None: generated once into
# instance/keys.json, like the ID keys.
SIGNING_KEY_ENCRYPTION_KEY = None
SIGNING_CA_KEY = None
HISTORY_KEY = None
# Days a newly issued signing key is valid (a CA's certificate period).
SIGNING_KEY_VALID_DAYS = 730

# Days after dispensing within which a pack returned unopened may be undone. EU medicines
# verification (EMVS) allows 10; drugs once sold are normally not taken back in China (GSP),
# so the undo is an exception and a shorter window leaves less room for abuse.
TRACE_UNDO_DAYS = 7

# Days an `Idempotency-Key` and its stored answer are kept; `dualchannel idempotency purge`
# deletes older ones (a client retrying after that would act again). A county pharmacy may be
# offline for days; a month covers a long outage with room to spare.
IDEMPOTENCY_RETENTION_DAYS = 30

# Prescription rules (处方管理办法): days of validity and supply.
MAX_VALID_DAYS = 3
MAX_DAYS_SUPPLY = 84

# Level of the JSON logs (dualchannel/logs.py).
LOG_LEVEL = "INFO"

# Volume-based procurement (集采) execution. Ratios and shares are decimal strings.
# Agreed volume = base-year usage x ratio; seed 001 二(二): "上年度……总用量的60%—70%".
PROCUREMENT_AGREED_RATIO = "0.7"
PROCUREMENT_AGREED_RATIO_MIN = "0.6"
PROCUREMENT_AGREED_RATIO_MAX = "0.7"
# Alerts (seed 002 二(九)). Behind: completed share + tolerance < schedule share (0 = strictly
# below the 序时进度). Non-selected share of a generic above the threshold: 0.5 is exactly the
# seeds' rule "selected purchases at least the non-selected ones".
PROCUREMENT_BEHIND_TOLERANCE = "0"
# Behind-schedule alerts from this month of the agreement year (1 = as soon as a line is behind).
PROCUREMENT_BEHIND_ALERTS_FROM_MONTH = 1
PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD = "0.5"
# Supply problems still overdue this many working days after their deadline are escalated.
PROCUREMENT_ESCALATE_AFTER_WORKING_DAYS = 5
# Prepayment to institutions as a share of the agreed purchase amount (seed 001 二(七): >= 50 %).
PROCUREMENT_PREPAYMENT_RATIO = "0.5"
# First self-pay ratio (先行自付比例) of class B items before the seed 004 reduction, by batch
# kind, when a batch gives none. The seeds name no base ratio: the project's defaults.
PROCUREMENT_FIRST_SELF_PAY_BASE = {"drug": "0", "consumable": "0.2"}
# Public holidays and make-up working days (调休上班) for working-day deadlines: the State
# Council's 2026 schedule (国办发明电〔2025〕7号, 2025-11-04). Dates set through
# PUT /api/v1/procurement/calendar/{date} override these.
PROCUREMENT_HOLIDAYS = [
    "2026-01-01", "2026-01-02", "2026-01-03",  # 元旦
    "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",  # 春节
    "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23",
    "2026-04-04", "2026-04-05", "2026-04-06",  # 清明节
    "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",  # 劳动节
    "2026-06-19", "2026-06-20", "2026-06-21",  # 端午节
    "2026-09-25", "2026-09-26", "2026-09-27",  # 中秋节
    "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05",  # 国庆节
    "2026-10-06", "2026-10-07",
]
PROCUREMENT_MAKEUP_WORKDAYS = [
    "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
]

# Rate limits (dualchannel/ratelimit.py), in Flask-Limiter's notation ("30/minute;300/hour":
# both must hold), each per account (the token's role:subject) and per client address. Sized
# for a busy counter: a physician finds a patient a few times a minute at most, a pharmacy
# verifying a queue fails only on a mistyped number; a hospital or pharmacy chain may send all
# its staff through one address, so the address budgets are larger.
RATELIMIT_SEARCH_PER_ACCOUNT = "30/minute;300/hour"
RATELIMIT_SEARCH_PER_ADDRESS = "120/minute;1200/hour"
RATELIMIT_REVEAL_PER_ACCOUNT = "10/minute;100/day"
RATELIMIT_REVEAL_PER_ADDRESS = "30/minute;300/day"
# Any API request answered 4xx; once spent, the account's (address's) requests answer 429.
RATELIMIT_FAILURES_PER_ACCOUNT = "60/minute;600/hour"
RATELIMIT_FAILURES_PER_ADDRESS = "300/minute;3000/hour"
# Where the counts live: None keeps them in the process (one server); production sets a Redis
# URL (redis://127.0.0.1:6379/0) so every worker and host shares them.
RATELIMIT_STORAGE_URL = None
RATELIMIT_KEY_PREFIX = "dualchannel"
# Proxies in front of the service that set X-Forwarded-For (0: none, the peer is the client).
TRUSTED_PROXIES = 0
# An account whose fruitless patient searches reach this many within the window raises an
# `id_enumeration` flag (guessing ID numbers), once per window.
ID_ENUMERATION_MISSES = 20
ID_ENUMERATION_WINDOW_MINUTES = 60


# Request bodies: JSON up to MAX_JSON_BODY bytes; file uploads (CSV/XLSX imports) up to
# MAX_CONTENT_LENGTH. Larger ones are 413.
MAX_JSON_BODY = 1024 * 1024
MAX_CONTENT_LENGTH = 16 * 1024 * 1024

# Database waits, in seconds (dualchannel/db.py). Connecting, and checking a pooled connection
# before use; one statement (PostgreSQL statement_timeout, lifted for the CLI); any one answer an
# API request waits for, after which the connection is dropped and it answers 503 (enforced by
# the client, for a server that never answers); a free pooled connection; SQLite's lock.
DATABASE_CONNECT_TIMEOUT = 3
DATABASE_STATEMENT_TIMEOUT = 10
DATABASE_READ_TIMEOUT = 12
DATABASE_POOL_TIMEOUT = 5
DATABASE_BUSY_TIMEOUT = 10
# After a failed connection or check, requests answer 503 at once (with this Retry-After) for
# this long instead of each waiting for a timeout; 0 turns this off.
DATABASE_RETRY_AFTER = 5


def from_environment(config):
    """Apply `DATABASE_URL`, `DUALCHANNEL_BOUNDARIES` and every `DUALCHANNEL_*` variable."""
    config.from_prefixed_env("DUALCHANNEL")
    if os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = os.environ["DATABASE_URL"]


class ConfigurationError(ValueError):
    """Settings the service must not start with; the message names each variable."""


def variable(key: str) -> str:
    """The environment variable that sets `key`."""
    return key if key == "DATABASE_URL" else f"DUALCHANNEL_{key}"


def validate(config, feature_checks=()) -> None:
    """Check every setting against its bounds (the seeds' where they set one), and run each
    of `feature_checks` (callables answering {setting: what it must be} for settings only a
    feature can read); raise ConfigurationError naming every variable that is wrong."""
    problems: list[str] = []

    def fail(key: str, expected: str) -> None:
        problems.append(f"{variable(key)} must be {expected}; got {config.get(key)!r}.")

    def number(key: str, low=None, high=None, *, integer=False, low_open=False, expected=None):
        value = config.get(key)
        try:
            if isinstance(value, bool) or (integer and not isinstance(value, int)):
                raise InvalidOperation
            found = Decimal(str(value))
            if not found.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError, TypeError):
            fail(key, expected or ("a whole number" if integer else "a number"))
            return None
        if (low is not None and (found <= low if low_open else found < low)) or (high is not None and found > high):
            fail(key, expected or f"{'above' if low_open else 'at least'} {low} and at most {high}")
            return None
        return found

    # Procurement (seed 001 二(二): agreed volume 60 %-70 % of usage; 二(七): prepayment >= 50 %).
    low = number("PROCUREMENT_AGREED_RATIO_MIN", Decimal("0.6"), Decimal("0.7"),
                 expected="between 0.6 and 0.7 (seed 001: 60%-70% of the previous year's use)")
    high = number("PROCUREMENT_AGREED_RATIO_MAX", Decimal("0.6"), Decimal("0.7"),
                  expected="between 0.6 and 0.7 (seed 001: 60%-70% of the previous year's use)")
    if low is not None and high is not None:
        if low > high:
            fail("PROCUREMENT_AGREED_RATIO_MAX", f"at least DUALCHANNEL_PROCUREMENT_AGREED_RATIO_MIN ({low})")
        else:
            number("PROCUREMENT_AGREED_RATIO", low, high,
                   expected=f"between DUALCHANNEL_PROCUREMENT_AGREED_RATIO_MIN and _MAX ({low}-{high})")
    number("PROCUREMENT_PREPAYMENT_RATIO", Decimal("0.5"), Decimal(1),
           expected="between 0.5 and 1 (seed 001: at least 50% of the agreed amount)")
    number("PROCUREMENT_BEHIND_TOLERANCE", Decimal(0), Decimal("0.99"))
    number("PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD", Decimal(0), Decimal("0.5"), low_open=True,
           expected="above 0 and at most 0.5 (the seeds: selected purchases at least the non-selected ones)")
    number("PROCUREMENT_ESCALATE_AFTER_WORKING_DAYS", 1, 365, integer=True)
    bases = config.get("PROCUREMENT_FIRST_SELF_PAY_BASE")
    try:
        if not isinstance(bases, dict) or set(bases) != {"drug", "consumable"} or not all(
                0 <= Decimal(str(v)) <= 1 for v in bases.values()):
            raise ValueError
    except (InvalidOperation, ValueError):
        fail("PROCUREMENT_FIRST_SELF_PAY_BASE", 'a JSON object {"drug": ratio, "consumable": ratio}, ratios 0 to 1')
    for key in ("PROCUREMENT_HOLIDAYS", "PROCUREMENT_MAKEUP_WORKDAYS"):
        days = config.get(key)
        try:
            if not isinstance(days, list) or not all(clock.in_range(date.fromisoformat(d)) for d in days):
                raise ValueError
        except (TypeError, ValueError):
            fail(key, f"a JSON list of dates (YYYY-MM-DD) from {clock.MIN_DATE} to {clock.MAX_DATE}")
    # Prescriptions and traceability (处方管理办法: valid at most 3 days; long prescriptions 12 weeks).
    number("MAX_VALID_DAYS", 1, 3, integer=True)
    number("MAX_DAYS_SUPPLY", 1, 84, integer=True)
    number("TRACE_UNDO_DAYS", 0, 30, integer=True)
    number("IDEMPOTENCY_RETENTION_DAYS", 1, 3650, integer=True)

    # Operations.
    if str(config.get("LOG_LEVEL", "INFO")).upper() not in logging.getLevelNamesMapping():
        fail("LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
    body = number("MAX_JSON_BODY", 1024, 1024**3, integer=True)
    number("MAX_CONTENT_LENGTH", body or 1024, 1024**3, integer=True,
           expected="a whole number of bytes, at least DUALCHANNEL_MAX_JSON_BODY")
    for key in ("DATABASE_CONNECT_TIMEOUT", "DATABASE_POOL_TIMEOUT", "DATABASE_BUSY_TIMEOUT"):
        number(key, 0, 600, low_open=True, expected="a number of seconds above 0, at most 600")
    statement = number("DATABASE_STATEMENT_TIMEOUT", 0, 3600, low_open=True,
                       expected="a number of seconds above 0, at most 3600")
    number("DATABASE_READ_TIMEOUT", statement or 0, 3600, low_open=statement is None,
           expected="a number of seconds, at least DUALCHANNEL_DATABASE_STATEMENT_TIMEOUT, at most 3600")
    number("DATABASE_RETRY_AFTER", 0, 600, expected="a number of seconds from 0 to 600")
    if config.get("DATABASE_URL"):
        import sqlalchemy as sa

        try:
            sa.engine.make_url(config["DATABASE_URL"])
        except (sa.exc.ArgumentError, ValueError):
            fail("DATABASE_URL", "an SQLAlchemy URL such as postgresql+psycopg://user@host/db")
    if config.get("ID_ENCRYPTION_KEY"):
        from cryptography.fernet import Fernet

        try:
            Fernet(config["ID_ENCRYPTION_KEY"])
        except (ValueError, TypeError):
            fail("ID_ENCRYPTION_KEY", "a Fernet key (32 url-safe base64-encoded bytes)")
    for check in feature_checks:  # settings only a feature can read (the kernel imports none)
        for key, expected in check(config).items():
            fail(key, expected)
    if problems:
        raise ConfigurationError("Invalid configuration:\n  " + "\n  ".join(problems))
