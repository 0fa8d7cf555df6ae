"""indexes for the ledgers (台账) and KPI ranges: no ledger page and no KPI scans all cases

Revision ID: 0005
Revises: 0004

Each KPI selects its cases by one timestamp range (dispatched, followed up, closed; registered
and deadline were indexed already); each ledger page walks one index in its sort order, for
a handler within their department, for a ledger within its type and difficulty.
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CASE_INDEXES = {
    "ix_cases_dispatched_at": ["dispatched_at"],
    "ix_cases_followed_up_at": ["followed_up_at"],
    "ix_cases_closed_at": ["closed_at"],
    "ix_cases_department_registered_at": ["department", "registered_at"],
    "ix_cases_department_deadline": ["department", "deadline"],
    "ix_cases_type_difficulty_registered_at": ["type", "difficulty", "registered_at"],
    "ix_cases_grid_registered_at": ["grid", "registered_at"],
}
ITEM_INDEXES = {
    "ix_supervision_items_opened_at": ["opened_at"],
    "ix_supervision_items_closed_at": ["closed_at"],
}


def upgrade() -> None:
    for name, columns in CASE_INDEXES.items():
        op.create_index(name, "cases", columns)
    for name, columns in ITEM_INDEXES.items():
        op.create_index(name, "supervision_items", columns)


def downgrade() -> None:
    for name in ITEM_INDEXES:
        op.drop_index(name, table_name="supervision_items")
    for name in CASE_INDEXES:
        op.drop_index(name, table_name="cases")
