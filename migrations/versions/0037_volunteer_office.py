"""volunteer office: handed-over redemptions and ledger entries by date (dashboard, weekly 专报), a team's
leader, and the volunteers' one-time password reset codes

Revision ID: 0037
Revises: 0036
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vol_redemptions") as batch:
        batch.create_index("ix_vol_redemptions_status_finished_at", ["status", "finished_at"], unique=False)
    with op.batch_alter_table("vol_ledger") as batch:
        batch.create_index("ix_vol_ledger_reason_at_points", ["reason", "at", "points"], unique=False)
    with op.batch_alter_table("vol_teams") as batch:
        batch.add_column(sa.Column("leader_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_vol_teams_leader_id_volunteers"), "volunteers", ["leader_id"], ["id"],
                                 ondelete="SET NULL")
    op.create_table(
        "vol_reset_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=50), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"],
                                name=op.f("fk_vol_reset_codes_volunteer_id_volunteers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vol_reset_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_vol_reset_codes_code_hash")),
    )
    with op.batch_alter_table("vol_reset_codes") as batch:
        batch.create_index(batch.f("ix_vol_reset_codes_volunteer_id"), ["volunteer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vol_reset_codes") as batch:
        batch.drop_index(batch.f("ix_vol_reset_codes_volunteer_id"))
    op.drop_table("vol_reset_codes")
    with op.batch_alter_table("vol_teams") as batch:
        batch.drop_constraint(op.f("fk_vol_teams_leader_id_volunteers"), type_="foreignkey")
        batch.drop_column("leader_id")
    with op.batch_alter_table("vol_ledger") as batch:
        batch.drop_index("ix_vol_ledger_reason_at_points")
    with op.batch_alter_table("vol_redemptions") as batch:
        batch.drop_index("ix_vol_redemptions_status_finished_at")
