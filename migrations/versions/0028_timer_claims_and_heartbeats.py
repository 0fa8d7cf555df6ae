"""timer claims (lease: owner + expiry) on workflow instances, and one heartbeat row per scheduler

Revision ID: 0028
Revises: 0027

Any live scheduler may fire any due timer: a sweep claims a batch of due instances by writing its
owner and a lease expiry in one UPDATE, and a crashed scheduler's claims are taken over once the
lease has expired. ``scheduler_heartbeats`` is what /readyz and the admin page read.
"""
from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('claim_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_workflow_instances_claimed_by'), ['claimed_by'], unique=False)
    op.create_table(
        'scheduler_heartbeats',
        sa.Column('id', sa.String(length=120), nullable=False),
        sa.Column('host', sa.String(length=100), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_sweep_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_fired', sa.Integer(), nullable=False),
        sa.Column('last_duration_ms', sa.Float(), nullable=False),
        sa.Column('fired_total', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_heartbeats')),
    )
    op.create_index(op.f('ix_scheduler_heartbeats_last_sweep_at'), 'scheduler_heartbeats', ['last_sweep_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduler_heartbeats_last_sweep_at'), table_name='scheduler_heartbeats')
    op.drop_table('scheduler_heartbeats')
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workflow_instances_claimed_by'))
        batch_op.drop_column('claim_expires_at')
        batch_op.drop_column('claimed_by')
