"""Reporter name and phone encrypted at rest: wider text columns for the ciphertext, the plaintext
phone index replaced by a keyed blind index. Rows already there are encrypted by
`bihuan keys rotate` (which `bihuan db upgrade` runs), because a migration has no keys.

Revision ID: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_reporter_phone")
        batch.alter_column("reporter_name", existing_type=sa.String(100), type_=sa.Text(), existing_nullable=True)
        batch.alter_column("reporter_phone", existing_type=sa.String(30), type_=sa.Text(), existing_nullable=True)
        batch.add_column(sa.Column("reporter_phone_index", sa.String(64), nullable=True))
        batch.create_index("ix_cases_reporter_phone_index", ["reporter_phone_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_reporter_phone_index")
        batch.drop_column("reporter_phone_index")
        batch.alter_column("reporter_phone", existing_type=sa.Text(), type_=sa.String(30), existing_nullable=True)
        batch.alter_column("reporter_name", existing_type=sa.Text(), type_=sa.String(100), existing_nullable=True)
        batch.create_index("ix_cases_reporter_phone", ["reporter_phone"], unique=False)
