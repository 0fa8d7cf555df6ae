"""the dashboard's daily rollup, the heatmap's dwell table, and an index for open cases by deadline

Revision ID: 0019
Revises: 0018

The rollups start empty and are filled by ``bihuan reports rebuild`` (which ``bihuan db upgrade``
leaves to the operator: it reads every case once).
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('department', sa.String(length=50), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in (
        'registered', 'closed', 'refused', 'merged', 'replied', 'due_reply', 'due_reply_on_time', 'due',
        'due_closed', 'followed_up', 'satisfied', 'unsatisfied')],
    sa.PrimaryKeyConstraint('day', 'department', 'channel', name=op.f('pk_report_daily'))
    )
    op.create_table('report_task_dwell',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('bpmn_id', sa.String(length=100), nullable=False),
    sa.Column('exits', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'bpmn_id', name=op.f('pk_report_task_dwell'))
    )
    op.create_index('ix_cases_status_deadline', 'cases', ['status', 'deadline'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_status_deadline', table_name='cases')
    op.drop_table('report_task_dwell')
    op.drop_table('report_daily')
