"""dualchannel: dual-channel (双通道) management of negotiated drugs, and 集采 execution."""

import json
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask, jsonify


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment (or `test_config`), then features."""
    app = Flask(__name__, instance_relative_config=True,
                static_folder=str(Path(__file__).resolve().parent.parent / "static"))
    app.config.from_object("dualchannel.config")
    if test_config is None:
        from dualchannel.config import from_environment

        from_environment(app.config)
    else:
        app.config.from_mapping(test_config)
    _ensure_secrets(app)

    from dualchannel import api, cli, db, errors

    db.init_app(app)
    errors.init_app(app)
    cli.init_app(app)

    rest = api.Api(app)
    from dualchannel.drugs.views import bp as drugs_bp
    from dualchannel.flags.views import bp as flags_bp
    from dualchannel.institutions.views import bp as institutions_bp
    from dualchannel.patients.views import bp as patients_bp
    from dualchannel.pharmacies.views import bp as pharmacies_bp
    from dualchannel.prescriptions.views import bp as prescriptions_bp
    from dualchannel.procurement.views import bp as procurement_bp

    for bp in (institutions_bp, drugs_bp, pharmacies_bp, patients_bp, prescriptions_bp, flags_bp, procurement_bp):
        rest.register_blueprint(bp)
    rest.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    rest.spec.options["security"] = [{"bearer": []}]

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def _ensure_secrets(app: Flask) -> None:
    """Give a fresh machine working keys, kept in the instance folder, never in the repo."""
    needed = [k for k in ("ID_HASH_KEY", "ID_ENCRYPTION_KEY") if not app.config.get(k)]
    if not needed:
        return
    path = Path(app.instance_path) / "keys.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = json.loads(path.read_text()) if path.exists() else {}
    if not keys:
        keys = {"ID_HASH_KEY": secrets.token_hex(32), "ID_ENCRYPTION_KEY": Fernet.generate_key().decode()}
        path.write_text(json.dumps(keys))
        path.chmod(0o600)
    for key in needed:
        app.config[key] = keys[key]
