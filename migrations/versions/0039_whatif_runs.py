"""what-if replays of the draft (whatif_runs) and the evidence a version was deployed with

``whatif_runs.active_key`` is UNIQUE and set only while a run is queued or running: two designers
starting the same replay at once cannot both insert one (the second is shown the first). A version
keeps the id and a copy of the summary of the last non-stale run of the draft it came from; its
deploy reason is the existing ``note`` column.

Revision ID: 0039
Revises: 0038
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatif_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=50), nullable=False),
        sa.Column("draft_revision", sa.Integer(), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("draft_hash", sa.String(length=64), nullable=False),
        sa.Column("range_from", sa.String(length=10), nullable=False),
        sa.Column("range_to", sa.String(length=10), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("active_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["base_version_id"], ["process_versions.id"],
                                name=op.f("fk_whatif_runs_base_version_id_process_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatif_runs")),
        sa.UniqueConstraint("active_key", name=op.f("uq_whatif_runs_active_key")),
    )
    with op.batch_alter_table("whatif_runs") as batch:
        batch.create_index(batch.f("ix_whatif_runs_request_key"), ["request_key"], unique=False)
    with op.batch_alter_table("process_versions") as batch:
        batch.add_column(sa.Column("whatif_run_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("whatif_summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_versions") as batch:
        batch.drop_column("whatif_summary")
        batch.drop_column("whatif_run_id")
    with op.batch_alter_table("whatif_runs") as batch:
        batch.drop_index(batch.f("ix_whatif_runs_request_key"))
    op.drop_table("whatif_runs")
