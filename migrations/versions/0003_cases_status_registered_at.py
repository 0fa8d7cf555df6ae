"""cases: index (status, registered_at) for the case search's status filter, newest first

Revision ID: 0003
Revises: 0002

Without it a search by status (alone or with a department) reads every case of that status
through ix_cases_status and sorts them (16 000 rows for 办理中 at 100 000 cases, ~35 ms on
SQLite); with it the query walks the index backwards and stops after one page (< 1 ms).
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_status_registered_at', ['status', 'registered_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_registered_at')
