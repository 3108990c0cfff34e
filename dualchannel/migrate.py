"""Schema migrations with Alembic, driven from the app's own CLI."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dualchannel import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine) -> None:
    """Create or upgrade the schema to the newest revision (idempotent).

    On SQLite, foreign keys are off while migrating, as SQLite's own procedure for schema
    changes asks: a batch migration rebuilds a table (copy, drop, rename), and dropping a table
    other rows refer to would fail. They are checked before the migration commits.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # outside any transaction, where the pragma takes effect
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                db.unbounded(connection)
                command.upgrade(_config(connection), "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite else []
                if broken:
                    raise RuntimeError(f"The migration leaves rows whose foreign keys are broken: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def make_revision(engine: sa.Engine, message: str) -> None:
    """Autogenerate a new revision from the models (developers only)."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
