"""cases (number COLLATE "C") on PostgreSQL, instead of 0041's (number text_pattern_ops)

A number-prefix search (``HD-20260906``: a day's cases) both filters and orders by the number. The
pattern operator class of 0041 served the filter but no ORDER BY, so PostgreSQL chose between reading
the whole prefix and sorting it, or walking the registration index backwards until the day came up:
at 1 000 000 cases it took the walk, 1.2 s for a day in September (bench/worklist.py). An index in
the "C" collation serves the prefix, as LIKE's range, and its order, read backwards, so the newest 21
of any prefix are one short index walk. The search orders a prefix by number (app/cases/search.py).

Not a model (a collation is dialect DDL): app/cases/fulltext.py ``include_object`` keeps the
models-vs-migrations comparison from reporting it. Built CONCURRENTLY, as 0038 and 0041.

Revision ID: 0043
Revises: 0042
"""
from __future__ import annotations

from alembic import op

revision = '0043'
down_revision = '0042'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute('CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_cases_number_c ON cases ((number COLLATE "C"))')
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_cases_number_pattern")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_cases_number_pattern ON cases "
                       "(number text_pattern_ops)")
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_cases_number_c")
