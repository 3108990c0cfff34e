"""The baseline of bench/flow.py: bare Flask + SQLAlchemy doing one insert-and-update transaction.

`POST /items/<id>/done` moves one row with a conditional UPDATE (`WHERE id = :id AND status =
'new'`), inserts an event row and commits, then answers a small JSON body: the shape of one
step of the prescription lifecycle, without authentication, validation, scoping or history.
Served by gunicorn with the project's `gunicorn.conf.py`, on the database in DATABASE_URL.
"""

import os

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
    """(Re)create the baseline's tables with `rows` items in status 'new'."""
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(items.insert(), [{"id": i, "status": "new"} for i in range(1, rows + 1)])
    engine.dispose()


def create_app() -> Flask:
    app = Flask(__name__)
    engine = sa.create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True, pool_size=10, max_overflow=20)

    @app.post("/items/<int:item_id>/done")
    def done(item_id):
        with engine.begin() as connection:
            now = connection.execute(sa.select(sa.func.now())).scalar()
            moved = connection.execute(items.update().where(items.c.id == item_id, items.c.status == "new")
                                       .values(status="done", updated_at=now)).rowcount
            if moved != 1:
                return jsonify(error="conflict"), 409
            connection.execute(events.insert().values(item_id=item_id, action="done", at=now))
        return jsonify(id=item_id, status="done", updated_at=now.isoformat())

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


if os.environ.get("DATABASE_URL"):
    app = create_app()
