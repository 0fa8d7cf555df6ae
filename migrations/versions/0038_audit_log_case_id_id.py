"""audit_log (case_id, id) in place of (case_id): the hash chain's tail for a case in one index step

Every action reads the last audit row of its case (app/audit/chain.py, ``_tail``): ``WHERE case_id = ?
ORDER BY id DESC LIMIT 1``. With only an index on case_id, PostgreSQL at a million cases chose to
walk the primary key backwards and filter, 1.3 s for a case in the middle of the table and 2.8 s
for a new case with no rows yet (it reads the whole table). (case_id, id) answers it in one index
step, and serves every other read by case, so the single-column index goes.

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction, so an upgrade
does not block the office's writes while it builds over a large audit log.

Revision ID: 0038
Revises: 0037
"""
from __future__ import annotations

from alembic import op

revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_audit_log_case_id_id ON audit_log (case_id, id)")
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_audit_log_case_id")
    else:
        op.create_index("ix_audit_log_case_id_id", "audit_log", ["case_id", "id"], unique=False)
        op.drop_index("ix_audit_log_case_id", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"], unique=False)
    op.drop_index("ix_audit_log_case_id_id", table_name="audit_log")
