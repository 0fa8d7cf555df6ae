"""the KPI page's rollup (counts per day and breakdown, a histogram of handling days); cases by status and closing time

Revision ID: 0033
Revises: 0032

Filled here from the cases (one pass), kept in step by the projection afterwards and rebuilt by
``bihuan reports rebuild``.
"""
from alembic import op
import sqlalchemy as sa


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

RATES = ("on_time_reply_rate", "on_time_sign_rate", "closure_rate", "satisfaction_rate", "dissatisfaction_rate",
         "redo_rate", "return_rate")
COUNTERS = tuple(f"{n}_{p}" for n in RATES for p in ("num", "den")) + ("closed_count", "refused_count",
                                                                        "merged_count")


def upgrade() -> None:
    op.create_table('report_kpi_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS],
    sa.PrimaryKeyConstraint('dim', 'day', 'key', name=op.f('pk_report_kpi_daily'))
    )
    op.create_table('report_kpi_handling',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dim', 'day', 'key', 'days', name=op.f('pk_report_kpi_handling'))
    )
    op.create_index('ix_cases_status_closed_at', 'cases', ['status', 'closed_at'], unique=False)
    # Existing cases: one pass now, so the KPI page is right from the first request after upgrade.
    from sqlalchemy.orm import Session
    from app.reports.kpi_rollup import rebuild
    session = Session(bind=op.get_bind())
    rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_index('ix_cases_status_closed_at', table_name='cases')
    op.drop_table('report_kpi_handling')
    op.drop_table('report_kpi_daily')
