"""The migrations build exactly the schema the models declare (nothing forgotten in a revision)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dualchannel import db, migrate
from dualchannel.models import metadata


def test_migrated_schema_matches_the_models(tmp_path):
    engine = db.create_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    migrate.upgrade(engine)
    migrate.upgrade(engine)  # idempotent
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []
