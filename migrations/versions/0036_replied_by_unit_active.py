"""departments.active (a co-handling unit can be deactivated) and 责任人: cases.replied_by (who completed the lead's 办理 with 答复), indexed with registered_at for
the ledger's person filter; filled for existing cases from the audit log

Revision ID: 0036
Revises: 0034
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0036'
down_revision = '0034'
branch_labels = None
depends_on = None


# The reply completes the 办理 task at replied_at (a joint case's reply comes later, with the last
# feedback), so the last 办理 completion at or before replied_at is the reply; one probe of the
# (case_id, actor, id) index of the audit log per replied case.
BACKFILL = """
    UPDATE cases SET replied_by = (
        SELECT a.actor FROM audit_log a
        WHERE a.case_id = cases.id AND a.action = 'complete' AND a.task_bpmn_id = 'handle'
          AND a.at <= cases.replied_at
        ORDER BY a.at DESC, a.id DESC LIMIT 1)
    WHERE replied_at IS NOT NULL"""


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("replied_by", sa.String(length=50), nullable=True))
    op.create_index("ix_cases_replied_by_registered_at", "cases", ["replied_by", "registered_at"])
    op.execute(BACKFILL)
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("active")
    op.drop_index("ix_cases_replied_by_registered_at", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("replied_by")
