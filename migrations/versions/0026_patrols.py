"""patrols (网格巡查), the reports filed from them and the 督查组's spot checks

Revision ID: 0026
Revises: 0025

The reports stay in ``cases``; ``patrol_reports`` links a case to the patrol it was filed from (the
cases table is not rebuilt). A partial unique index keeps one open patrol per worker.
"""
from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patrols',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=50), nullable=False),
    sa.Column('grid', sa.String(length=50), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('residents_updated', sa.Integer(), nullable=False),
    sa.Column('residents_added', sa.Integer(), nullable=False),
    sa.Column('residents_removed', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrols'))
    )
    op.create_index('ix_patrols_grid_day', 'patrols', ['grid', 'day'], unique=False)
    op.create_index('ix_patrols_worker_day', 'patrols', ['worker', 'day'], unique=False)
    op.create_index('ix_patrols_day', 'patrols', ['day'], unique=False)
    op.create_index('uq_patrols_open_worker', 'patrols', ['worker'], unique=True,
                    sqlite_where=sa.text('finished_at IS NULL'), postgresql_where=sa.text('finished_at IS NULL'))
    op.create_table('patrol_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patrol_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_patrol_reports_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrols.id'], name=op.f('fk_patrol_reports_patrol_id_patrols'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_reports')),
    sa.UniqueConstraint('case_id', name=op.f('uq_patrol_reports_case_id'))
    )
    op.create_index(op.f('ix_patrol_reports_patrol_id'), 'patrol_reports', ['patrol_id'], unique=False)
    op.create_table('patrol_spot_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patrol_id', sa.Integer(), nullable=False),
    sa.Column('inspector', sa.String(length=50), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['patrol_id'], ['patrols.id'], name=op.f('fk_patrol_spot_checks_patrol_id_patrols'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_spot_checks')),
    sa.UniqueConstraint('patrol_id', name=op.f('uq_patrol_spot_checks_patrol_id'))
    )


def downgrade() -> None:
    op.drop_table('patrol_spot_checks')
    op.drop_index(op.f('ix_patrol_reports_patrol_id'), table_name='patrol_reports')
    op.drop_table('patrol_reports')
    op.drop_index('uq_patrols_open_worker', table_name='patrols')
    op.drop_index('ix_patrols_day', table_name='patrols')
    op.drop_index('ix_patrols_worker_day', table_name='patrols')
    op.drop_index('ix_patrols_grid_day', table_name='patrols')
    op.drop_table('patrols')
