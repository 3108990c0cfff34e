"""The baseline of bench/flow.py: the minimal transaction, in bare Flask + SQLAlchemy Core.

`POST /items/<id>/done` moves one row with a conditional UPDATE (`WHERE id = :id AND status =
'new'`), inserts an event row and commits, then answers a small JSON body: the shape of one
step of the prescription lifecycle, without authentication, validation, scoping or history.
Nothing else goes to the database: no connection check at checkout, no `SELECT now()` (the
time is the app's); BEGIN, UPDATE, INSERT, COMMIT are its four round trips.
Served by gunicorn with the project's `gunicorn.conf.py`, on the database in DATABASE_URL.
"""

import os
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask, jsonify

metadata = sa.MetaData()
items = sa.Table("baseline_item", metadata,
                 sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("status", sa.String(12), nullable=False),
                 sa.Column("updated_at", sa.DateTime(timezone=True)))
events = sa.Table("baseline_event", metadata,
                  sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("item_id", sa.Integer, sa.ForeignKey("baseline_item.id"), index=True, nullable=False),
                  sa.Column("action", sa.String(16), nullable=False),
                  sa.Column("at", sa.DateTime(timezone=True), nullable=False))


def create_tables(url: str, rows: int) -> None:
    """(Re)create the baseline's tables with items 1..`rows` in status 'new' (PostgreSQL)."""
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(items.insert().from_select(
            ["id", "status"], sa.select(sa.func.generate_series(1, rows), sa.literal("new"))))
        connection.exec_driver_sql("ANALYZE baseline_item")
    engine.dispose()


def create_app() -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20)
    move = items.update().where(items.c.id == sa.bindparam("item_id"), items.c.status == "new") \
        .values(status="done", updated_at=sa.bindparam("now"))
    record = events.insert().values(item_id=sa.bindparam("item_id"), action="done", at=sa.bindparam("now"))

    @app.post("/items/<int:item_id>/done")
    def done(item_id):
        now = datetime.now(timezone.utc)
        with engine.begin() as connection:
            if connection.execute(move, {"item_id": item_id, "now": now}).rowcount != 1:
                return jsonify(error="conflict"), 409
            connection.execute(record, {"item_id": item_id, "now": now})
        return jsonify(id=item_id, status="done", updated_at=now.isoformat())

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


if os.environ.get("DATABASE_URL"):
    app = create_app()
