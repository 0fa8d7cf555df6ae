"""archived engine state of closed cases; open incidents counted by index

Revision ID: 0029
Revises: 0028

``bihuan archive --closed-before DATE`` moves the serialized workflow of closed cases into
``archived_states`` and leaves an empty state in ``workflow_instances`` (app/operations/archive.py).
/metrics counts unresolved incidents at every scrape (ix_incidents_resolved_at).
"""
from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'archived_states',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('process_version_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=100), nullable=False),
        sa.Column('state', sa.LargeBinary(), nullable=False),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_archived_states_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_archived_states')),
    )
    op.create_index(op.f('ix_archived_states_archived_at'), 'archived_states', ['archived_at'], unique=False)
    op.create_index('ix_incidents_resolved_at', 'incidents', ['resolved_at'], unique=False)


def downgrade() -> None:
    # Archived states go back where they came from before the table goes.
    op.execute("UPDATE workflow_instances SET state = (SELECT a.state FROM archived_states a "
               "WHERE a.case_id = workflow_instances.case_id) "
               "WHERE case_id IN (SELECT case_id FROM archived_states)")
    op.drop_index('ix_incidents_resolved_at', table_name='incidents')
    op.drop_index(op.f('ix_archived_states_archived_at'), table_name='archived_states')
    op.drop_table('archived_states')
