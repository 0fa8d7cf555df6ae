"""attachments.thumb_sha256 indexed: the nightly 附件清理 looks each stored blob up by it

The clean-up (app/attachments/cleanup.py) asks, 500 stored keys at a time, which are named by a row
as content (indexed since 0022) or as thumbnail. Without this index every batch read the whole
attachments table, so a night's run grew with the square of the files kept.

Revision ID: 0042
Revises: 0041
"""
from __future__ import annotations

from alembic import op

revision = '0042'
down_revision = '0041'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_thumb_sha256'), ['thumb_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_thumb_sha256'))
