"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.cases.fulltext import include_object
from app.models import Base


def test_the_migrated_database_matches_the_models(core):
    with core.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}),
                                       Base.metadata)
    assert differences == []
