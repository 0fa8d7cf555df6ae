"""supervision items keep the deadline they were opened for, the late step and which cause they are

Revision ID: 0024
Revises: 0023

``missed_deadline`` and ``step`` are fixed when the item opens (like ``department``), so 超期天数
counts from the lapsed deadline at every tier; ``cause_no`` tells apart a case's escalations for the
same reason against the same department (a later delay is a new item, number 2).
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supervision_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('missed_deadline', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('step', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('cause_no', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('supervision_items', schema=None) as batch_op:
        batch_op.drop_column('cause_no')
        batch_op.drop_column('step')
        batch_op.drop_column('missed_deadline')
