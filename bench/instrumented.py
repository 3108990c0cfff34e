"""The apps the benches serve, with two response headers: `X-Worker` (the pid of the gunicorn
worker that answered) and `X-Statements` (the SQL statements the request executed, counted on
every engine of the process by `tests.support.StatementCounter`)::

    gunicorn -c gunicorn.conf.py 'bench.instrumented:serve("wsgi:app")'

The count is taken when the response starts, after the request's COMMIT; BEGIN, COMMIT and
a pool's connection check are round trips but no statements, so they are not in it.
"""

from __future__ import annotations

import importlib
import os

import sqlalchemy as sa

from tests.support import StatementCounter


def serve(target: str):
    """The WSGI app `module:name`, wrapped to add the two headers."""
    module, name = target.split(":")
    app = getattr(importlib.import_module(module), name)
    counter = StatementCounter(sa.Engine)

    def instrumented(environ, start_response):
        counter.start()

        def start(status, headers, exc_info=None):
            headers = [*headers, ("X-Statements", str(len(counter.statements))), ("X-Worker", str(os.getpid()))]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return instrumented
