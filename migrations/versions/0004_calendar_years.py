"""the calendar knows which years it covers: imported official schedules, provisional years, and the
deadlines computed on a provisional year (to flag them and recompute them on import)

Revision ID: 0004
Revises: 0003

Before this revision a single override in a year the library did not cover declared the whole
year plain Monday-Friday. Such years are not carried over as complete: an admin imports the
official schedule (or switches on a provisional calendar) for them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calendar_overrides', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=20), nullable=False, server_default='override'))
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('provisional_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('start', sa.String(length=40), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_provisional_deadlines_case_id_cases'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisional_deadlines')),
    sa.UniqueConstraint('case_id', 'start', 'days', name='uq_provisional_deadlines_computation')
    )
    with op.batch_alter_table('provisional_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provisional_deadlines_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_provisional_deadlines_year_due', ['year', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('provisional_deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_provisional_deadlines_year_due')
        batch_op.drop_index(batch_op.f('ix_provisional_deadlines_case_id'))
    op.drop_table('provisional_deadlines')
    op.drop_table('calendar_years')
    with op.batch_alter_table('calendar_overrides', schema=None) as batch_op:
        batch_op.drop_column('source')
