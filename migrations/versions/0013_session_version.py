"""Users' session version: logout, a password change and deactivation revoke sessions on the server.

Revision ID: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_login_attempts_remote_addr_at", "login_attempts", ["remote_addr", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_remote_addr_at", table_name="login_attempts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
