"""Alembic environment: runs on the connection `dualchannel init-db` hands it."""

import sqlalchemy as sa
from alembic import context
from sqlmodel.sql.sqltypes import AutoString

from dualchannel.models import metadata

config = context.config


def render_item(type_, obj, autogen_context):
    """Render the project's column types as their plain SQL types: migrations outlive code."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, sa.types.TypeDecorator):
        impl = obj.impl if isinstance(obj.impl, sa.types.TypeEngine) else obj.impl()
        return f"sa.{impl!r}"
    return False


def run_migrations() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
