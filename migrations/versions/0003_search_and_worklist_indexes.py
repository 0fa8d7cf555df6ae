"""indexes for the case search and the worklist at 100 000 cases (figures from bench/worklist.py)

Revision ID: 0003
Revises: 0002

* cases (status, registered_at): a search by status (alone or with a department) lists newest
  first; without it the database reads every case of that status through ix_cases_status and
  sorts them (16 000 rows for 办理中: ~35 ms on SQLite); with it, it walks the index backwards
  and stops after one page (< 1 ms).
* ready_tasks (role, due_at): the worklist of a role without departments (指挥中心, 督办) in due
  order. PostgreSQL cannot read (role, department, due_at) in due_at order under
  "department IS NULL" (IS NULL is no equality for ordering), so it hash-joined and sorted every
  such task (~46 ms per page for the dispatcher); with this index it reads one page (~2 ms).
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_status_registered_at', ['status', 'registered_at'], unique=False)
    with op.batch_alter_table('ready_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_ready_tasks_role_due', ['role', 'due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ready_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_ready_tasks_role_due')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_status_registered_at')
