"""Cases remember when their reporter's personal data was erased (retention), indexed with closed_at
so that the daily job finds the due cases without a scan.

Revision ID: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_cases_anonymised_at_closed_at", ["anonymised_at", "closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_anonymised_at_closed_at")
        batch.drop_column("anonymised_at")
