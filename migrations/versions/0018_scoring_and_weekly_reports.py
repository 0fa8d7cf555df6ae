"""department scoring (closed months, frozen with the rules version), stored weekly reports, and
the runs of periodic jobs (UNIQUE job, period: each period runs once across schedulers); audit rows
indexed by time, which scoring reads a month of

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=50), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('runner', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'period', name=op.f('uq_job_runs_job'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('number', sa.String(length=50), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generated_by', sa.String(length=50), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=True),
    sa.Column('rules_hash', sa.String(length=64), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('docx', sa.LargeBinary(), nullable=False),
    sa.Column('xlsx', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('kind', 'period', name=op.f('uq_reports_kind'))
    )
    op.create_table('score_months',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.String(length=50), nullable=False),
    sa.Column('rules_version', sa.Integer(), nullable=True),
    sa.Column('rules_hash', sa.String(length=64), nullable=False),
    sa.Column('ranking', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_months')),
    sa.UniqueConstraint('month', name=op.f('uq_score_months_month'))
    )


def downgrade() -> None:
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('score_months')
    op.drop_table('reports')
    op.drop_table('job_runs')
