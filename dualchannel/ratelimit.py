"""Rate limits on the API (Flask-Limiter): guessing costs time, and an account that keeps
failing is stopped for a while.

Three budgets, each counted per account (the token's `role:subject`) and per client address:

- `search`: `POST /patients/search`;
- `reveal`: the audited reveals of a full ID number (a patient's, a picking-up agent's);
- `failures`: API requests answered 4xx (a 429 itself aside), on every API route. Once an
  account or address has spent it, all its API requests answer 429 until the window frees:
  otherwise a guesser would still tell a hit (200) from a miss (now 429).

Over a budget: 429 problem+json, code `rate_limited`, with `Retry-After` in seconds. Windows
are moving (the last minute, not the current clock minute), so a burst across a boundary gets
no double budget. Counts live in Redis when `RATELIMIT_STORAGE_URL` is set, shared by every
worker and host, with the process's memory as a fallback while Redis does not answer; otherwise
in the process's memory (the embedded default: one server).
"""

import time
from dataclasses import dataclass

import limits
import sqlalchemy as sa
from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from dualchannel import auth, errors

_EXTENSION = "dualchannel.limiter"
BUDGETS = ("SEARCH", "REVEAL", "FAILURES")
# The endpoints whose calls count against a budget, each with the query argument a call must
# carry to count (None: every call). `failures` covers every API route. A pharmacy finding its
# prescriptions by the patient's ID number is a search: it answers whether a number is one of
# its patients'.
ENDPOINTS = {
    "SEARCH": {"patients.find_patient": None, "prescriptions.pharmacy_worklist": "id_number"},
    "REVEAL": {"patients.reveal_id_number": None, "prescriptions.reveal_pickup": None},
}
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def _counted(endpoints: dict[str, str | None]) -> bool:
    """Whether the current request counts against the budget of `endpoints`."""
    if request.endpoint not in endpoints:
        return False
    argument = endpoints[request.endpoint]
    return argument is None or bool(request.args.get(argument))


@dataclass(frozen=True)
class Budget:
    name: str  # search, reveal, failures
    per_account: str
    per_address: str


def client_address() -> str:
    """The caller's address (behind `TRUSTED_PROXIES` proxies, the one they saw)."""
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The calling account (`account:physician:D370811001`); without a valid token, its address."""
    try:
        actor = auth.request_actor()
    except sa.exc.SQLAlchemyError:  # the database is down: the request fails with 503 later
        actor = None
    return f"account:{actor.label}" if actor is not None else f"anonymous:{client_address()}"


def address_key() -> str:
    return f"address:{client_address()}"


def _failed(response) -> bool:
    return 400 <= response.status_code < 500 and response.status_code != 429


def check_settings(config) -> list[Budget]:
    """The configured budgets, or ValueError naming the variable that is wrong (at start)."""
    budgets = []
    for budget in BUDGETS:
        values = []
        for per in ("ACCOUNT", "ADDRESS"):
            key = f"RATELIMIT_{budget}_PER_{per}"
            value = config.get(key)
            try:
                if not isinstance(value, str) or not limits.parse_many(value):
                    raise ValueError("empty")
            except ValueError as error:
                raise ValueError(f"DUALCHANNEL_{key}={value!r} is not a rate limit such as "
                                 f"'30/minute;300/hour' ({error}).") from None
            values.append(value)
        budgets.append(Budget(budget.lower(), *values))
    storage = config.get("RATELIMIT_STORAGE_URL")
    if storage and (not isinstance(storage, str) or storage.split("://")[0] not in STORAGE_SCHEMES):
        raise ValueError(f"DUALCHANNEL_RATELIMIT_STORAGE_URL must be a redis:// (or memory://) URL, "
                         f"not {storage!r}.")
    for key in ("ID_ENUMERATION_MISSES", "ID_ENUMERATION_WINDOW_MINUTES"):
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"DUALCHANNEL_{key} must be a whole number of at least 1, not {value!r}.")
    proxies = config.get("TRUSTED_PROXIES")
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ValueError(f"DUALCHANNEL_TRUSTED_PROXIES must be a whole number of at least 0, not {proxies!r}.")
    return budgets


def too_many_requests(error: RateLimitExceeded):
    """429 problem+json with the seconds to wait, in the body and in `Retry-After`."""
    breached = current_app.extensions[_EXTENSION].current_limit
    wait = max(1, int(breached.reset_at - time.time())) if breached is not None else 60
    budget = error.limit.scope if isinstance(error.limit.scope, str) else "requests"
    response = errors.problem(429, "Too many requests",
                              f"Too many requests ({budget}: at most {error.limit.limit}); retry after {wait} s.",
                              code="rate_limited", budget=budget, retry_after=wait)
    response.headers["Retry-After"] = str(wait)
    return response


def init_app(app: Flask, blueprints: dict) -> None:
    """Limit the API `blueprints` (name -> blueprint) as configured."""
    budgets = check_settings(app.config)
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"])
    storage = app.config.get("RATELIMIT_STORAGE_URL")
    limiter = Limiter(client_address, storage_uri=storage or "memory://", strategy="moving-window",
                      key_prefix=app.config["RATELIMIT_KEY_PREFIX"], headers_enabled=False,
                      in_memory_fallback_enabled=bool(storage))
    for budget in budgets:
        endpoints = ENDPOINTS.get(budget.name.upper())
        owners = {e.split(".")[0] for e in endpoints} if endpoints else set(blueprints)
        for value, key in ((budget.per_account, account_key), (budget.per_address, address_key)):
            for owner in owners:
                limiter.shared_limit(
                    value, scope=budget.name, key_func=key,
                    deduct_when=_failed if endpoints is None else None,
                    exempt_when=(lambda e=endpoints: not _counted(e)) if endpoints else None,
                )(blueprints[owner])
    limiter.init_app(app)
    app.extensions[_EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, too_many_requests)
