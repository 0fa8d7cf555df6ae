"""联动处置 and 批示督办: units by kind, co-handlers' parts, joint meetings, disposal records, leaders' instructions

Revision ID: 0027
Revises: 0026

``departments.kind`` makes a department row a unit (department, community or an outside
organisation) that can co-handle a case. ``co_handlers`` mirrors each co-handler's part of the
lifecycle's multi-instance subprocess (visibility and the per-unit timeliness KPI read it).
"""
from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='department'))
    op.create_table(
        'co_handlers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('unit', sa.String(length=50), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('fed_back_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('missing_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('missing_reason', sa.Text(), nullable=True),
        sa.Column('feedback', sa.Text(), nullable=True),
        sa.Column('people_deployed', sa.Integer(), nullable=True),
    )
    op.create_index('ix_co_handlers_case_unit', 'co_handlers', ['case_id', 'unit'], unique=True)
    op.create_index('ix_co_handlers_unit_dispatched', 'co_handlers', ['unit', 'dispatched_at'])
    op.create_table(
        'joint_meetings',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('units', sa.JSON(), nullable=False),
        sa.Column('decisions', sa.Text(), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.Column('recorded_by', sa.String(length=50), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_joint_meetings_case_id', 'joint_meetings', ['case_id'])
    op.create_table(
        'disposal_records',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('category', sa.String(length=50), nullable=True),
        sa.Column('people_deployed', sa.Integer(), nullable=False),
        sa.Column('quantities', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.String(length=50), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_disposal_records_case_id', 'disposal_records', ['case_id'])
    op.create_table(
        'leader_instructions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id', ondelete='CASCADE'), nullable=False),
        sa.Column('item_id', sa.Integer(), sa.ForeignKey('supervision_items.id', ondelete='SET NULL'), nullable=True),
        sa.Column('instructed_by', sa.String(length=50), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sign_off_note', sa.Text(), nullable=True),
    )
    op.create_index('ix_leader_instructions_case_id', 'leader_instructions', ['case_id'])
    op.create_index('ix_supervision_items_reason_closed', 'supervision_items', ['reason', 'closed_at'])


def downgrade() -> None:
    op.drop_index('ix_supervision_items_reason_closed', table_name='supervision_items')
    op.drop_index('ix_leader_instructions_case_id', table_name='leader_instructions')
    op.drop_table('leader_instructions')
    op.drop_index('ix_disposal_records_case_id', table_name='disposal_records')
    op.drop_table('disposal_records')
    op.drop_index('ix_joint_meetings_case_id', table_name='joint_meetings')
    op.drop_table('joint_meetings')
    op.drop_index('ix_co_handlers_unit_dispatched', table_name='co_handlers')
    op.drop_index('ix_co_handlers_case_unit', table_name='co_handlers')
    op.drop_table('co_handlers')
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_column('kind')
