"""cases (number text_pattern_ops) on PostgreSQL: a number-prefix search uses an index

案件查询 by the start of a number (``HD-20260504``, a day's cases) is ``number LIKE 'prefix%'``. A
btree in the database's collation serves LIKE only under the "C" collation; under any other
(``C.UTF-8`` and ``en_US.UTF-8`` included) PostgreSQL walked the registration index through every
case: 0.5 s at 300 000 cases. An index with the pattern operator class serves the prefix in
any collation. SQLite already searches the prefix as a range of the unique index.

Not a model (an operator class is dialect DDL): app/cases/fulltext.py ``include_object`` keeps the
models-vs-migrations comparison from reporting it. Built CONCURRENTLY, as 0038.

Revision ID: 0041
Revises: 0039
"""
from __future__ import annotations

from alembic import op

revision = '0041'
down_revision = '0039'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_cases_number_pattern ON cases "
                       "(number text_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_cases_number_pattern")
