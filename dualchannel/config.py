"""Default configuration; every key can be overridden from the environment.

`DATABASE_URL` is read as is (the name integrators know); everything else uses the
`DUALCHANNEL_` prefix, e.g. `DUALCHANNEL_TRACE_CODE_PATTERN`.
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

# National drug traceability code: 20 digits by default (the whole code must match).
TRACE_CODE_PATTERN = r"^\d{20}$"
# Days after dispensing within which a pack returned unopened may be undone. EU medicines
# verification (EMVS) allows 10; drugs once sold are normally not taken back in China (GSP),
# so the undo is an exception and a shorter window leaves less room for abuse.
TRACE_UNDO_DAYS = 7

# Prescription rules (处方管理办法): days of validity and supply.
MAX_VALID_DAYS = 3
MAX_DAYS_SUPPLY = 84

# Level of the JSON logs (dualchannel/logs.py).
LOG_LEVEL = "INFO"

LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 500


def from_environment(config):
    """Apply `DATABASE_URL`, `DUALCHANNEL_BOUNDARIES` and every `DUALCHANNEL_*` variable."""
    config.from_prefixed_env("DUALCHANNEL")
    if os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = os.environ["DATABASE_URL"]
