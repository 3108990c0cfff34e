"""WSGI entry point: `gunicorn wsgi:app`. Logs are JSON lines on stderr (DUALCHANNEL_LOG_LEVEL)."""

import os

from dualchannel import create_app, logs

logs.configure(os.environ.get("DUALCHANNEL_LOG_LEVEL", "INFO").upper())
app = create_app()

# Parse the county boundaries now, not on a worker's first request (about 2 s).
with app.app_context():
    from dualchannel.pharmacies.services import boundaries

    boundaries()
