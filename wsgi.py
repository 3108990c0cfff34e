"""WSGI entry point: `gunicorn wsgi:app`. Logs are JSON lines on stderr (DUALCHANNEL_LOG_LEVEL)."""

import os

from dualchannel import create_app, db, logs
from dualchannel.geo import boundaries

logs.configure(os.environ.get("DUALCHANNEL_LOG_LEVEL", "INFO").upper())
app = create_app()

with app.app_context():
    # Parse the county boundaries now, not on a first request (about 2 s). gunicorn imports
    # this module once, in the master (`preload_app`), and its workers share them.
    boundaries.current()
    _engine = db.engine()

# A process forked from this one (a gunicorn worker) must not use a connection opened here.
os.register_at_fork(after_in_child=lambda: _engine.dispose(close=False))
