"""WSGI entry point: `gunicorn wsgi:app`."""

from dualchannel import create_app

app = create_app()
