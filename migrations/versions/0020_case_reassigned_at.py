"""cases.reassigned_at: a 改派 gets its own time, so 派单时间 keeps the first dispatch (issue 15).

Revision ID: 0020
Revises: 0019
"""
from alembic import op
import sqlalchemy as sa

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('reassigned_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('reassigned_at')
