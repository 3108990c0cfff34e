"""WSGI entry point: `gunicorn wsgi:app`. Logs are JSON lines on stderr (DUALCHANNEL_LOG_LEVEL)."""

import os

from dualchannel import create_app, logs

logs.configure(os.environ.get("DUALCHANNEL_LOG_LEVEL", "INFO").upper())
app = create_app()
