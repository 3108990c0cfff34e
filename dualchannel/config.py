"""Default configuration; every key can be overridden from the environment.

`DATABASE_URL` is read as is (the name integrators know); everything else uses the
`DUALCHANNEL_` prefix, e.g. `DUALCHANNEL_TRACE_UNDO_DAYS`.
"""

import os

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
PROCUREMENT_NON_SELECTED_SHARE_THRESHOLD = "0.5"
# The execution endpoint raises due alerts itself for regions up to this many lines
# (institution x product x year; a city); larger ones rely on `dualchannel procurement scan`.
PROCUREMENT_ALERTS_ON_READ_MAX_LINES = 200_000
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

LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 500


def from_environment(config):
    """Apply `DATABASE_URL`, `DUALCHANNEL_BOUNDARIES` and every `DUALCHANNEL_*` variable."""
    config.from_prefixed_env("DUALCHANNEL")
    if os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = os.environ["DATABASE_URL"]
