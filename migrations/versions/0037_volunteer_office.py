"""volunteer office: handed-over redemptions by date (dashboard, weekly 专报)

Revision ID: 0037
Revises: 0034
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = '0037'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vol_redemptions") as batch:
        batch.create_index("ix_vol_redemptions_status_finished_at", ["status", "finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vol_redemptions") as batch:
        batch.drop_index("ix_vol_redemptions_status_finished_at")
