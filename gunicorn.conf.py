"""gunicorn settings; override with GUNICORN_CMD_ARGS or environment variables."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20  # finish in-flight requests on SIGTERM
# No gunicorn access log: the app writes one structured line per request (dualchannel/logs.py),
# with the route, the account and a request id, and never the query string or a body.
accesslog = None
