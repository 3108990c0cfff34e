"""dualchannel: dual-channel (双通道) management of negotiated drugs, and 集采 execution."""

import json
import secrets
from importlib import import_module
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask, jsonify

# Features with an HTTP API, each a package with a `views.bp` blueprint.
FEATURES = (
    "accounts",
    "institutions",
    "drugs",
    "pharmacies",
    "patients",
    "prescriptions",
    "traceability",
    "flags",
    "access_log",
    "coverage",
    "settlements",
    "audit",
    "procurement",
    "public",  # published lists: no token (public/views.py)
    "signatures",
    "timeline",  # a patient's events across pharmacies (reads prescriptions and settlements)
)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment (or `test_config`), checked
    (`config.validate` raises ConfigurationError naming each wrong variable), then features."""
    app = Flask(__name__, instance_relative_config=True,
                static_folder=str(Path(__file__).resolve().parent.parent / "static"))
    app.config.from_object("dualchannel.config")
    if test_config is None:
        from dualchannel.config import from_environment

        from_environment(app.config)
    else:
        app.config.from_mapping(test_config)
    _ensure_secrets(app)
    from dualchannel.config import validate
    from dualchannel.procurement import standards

    validate(app.config, feature_checks=[standards.check_settings])

    from dualchannel import api, cli, db, errors, logs, metrics, problems, ratelimit

    logs.init_app(app)
    metrics.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    problems.init_app(app)
    cli.init_app(app)

    rest = api.Api(app)
    blueprints = {}
    for feature in FEATURES:
        bp = import_module(f"dualchannel.{feature}.views").bp
        rest.register_blueprint(bp)
        blueprints[bp.name] = bp
    ratelimit.init_app(app, blueprints)
    api.document_problems(rest, app)
    rest.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    rest.spec.options["security"] = [{"bearer": []}]

    from dualchannel.fhir.views import bp as fhir_bp
    from dualchannel.history.services import metric_families

    metrics.add_source(app, lambda: metric_families(db.engine()))

    from dualchannel.pages.views import bp as pages_bp

    app.register_blueprint(fhir_bp)
    app.register_blueprint(pages_bp)

    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers (no database needed)."""
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers `SELECT 1` within DATABASE_CONNECT_TIMEOUT; otherwise
        503 so a balancer skips us."""
        try:
            db.ping()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            app.logger.warning("not ready: %s", type(error).__name__)
            return errors.unavailable("The database is not reachable.")
        return jsonify(status="ready")

    return app


def _ensure_secrets(app: Flask) -> None:
    """Give a fresh machine working keys, kept in the instance folder, never in the repo. A key
    missing from an older keys.json is added to it; the keys already there are kept."""
    needed = [k for k in SECRETS if not app.config.get(k)]
    if not needed:
        return
    path = Path(app.instance_path) / "keys.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = json.loads(path.read_text()) if path.exists() else {}
    missing = [k for k in needed if not keys.get(k)]
    if missing:
        keys.update({k: SECRETS[k]() for k in missing})
        path.write_text(json.dumps(keys))
        path.chmod(0o600)
    for key in needed:
        app.config[key] = keys[key]


def _new_ca_key() -> str:
    from dualchannel.signatures import crypto

    return crypto.new_ca_key()


# Secrets and how a fresh machine makes each (production sets them from its secret store).
SECRETS = {
    "ID_HASH_KEY": lambda: secrets.token_hex(32),
    "ID_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    "SIGNING_KEY_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    "SIGNING_CA_KEY": _new_ca_key,
    "HISTORY_KEY": lambda: secrets.token_hex(32),
}
