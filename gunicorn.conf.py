"""gunicorn settings; override with GUNICORN_CMD_ARGS or environment variables."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20  # finish in-flight requests on SIGTERM
accesslog = "-"
# The query string is left out of access logs: nothing sensitive should ride in URLs, and if
# it ever does, it does not land in a log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
