"""Schema migrations with Alembic, driven from the app's own CLI."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine) -> None:
    """Create or upgrade the schema to the newest revision (idempotent)."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")


def make_revision(engine: sa.Engine, message: str) -> None:
    """Autogenerate a new revision from the models (developers only)."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
