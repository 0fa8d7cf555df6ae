"""the organisation tree (街道 → 社区 → 网格 → 微网格 → 居民小组), grid polygons and counts, 1+1+N teams

Revision ID: 0025
Revises: 0024

Grid-level nodes keep their row in ``grids`` (the tree names them in ``org_units`` too; the demo
seed or an import places them). The map counts open and overdue cases per grid through
``ix_cases_status_grid_deadline`` (an index, no rebuild of ``cases``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.add_column(sa.Column('geometry', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('households', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('residents', sa.Integer(), nullable=True))
    op.create_table(
        'org_units',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('parent_code', sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_org_units_parent_code', 'org_units', ['parent_code'])
    op.create_table(
        'grid_team_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grid', sa.String(length=50), nullable=False),
        sa.Column('role', sa.String(length=30), nullable=False),
        sa.Column('username', sa.String(length=50), nullable=False),
        sa.Column('department', sa.String(length=50), nullable=True),
        sa.Column('field', sa.String(length=50), nullable=True),
        sa.ForeignKeyConstraint(['grid'], ['grids.code'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['username'], ['users.username'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['department'], ['departments.code']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('grid', 'role', 'username', 'field', name='uq_grid_team_members_member'),
    )
    op.create_index('ix_grid_team_members_username', 'grid_team_members', ['username'])
    op.create_index('ix_grid_team_members_grid_field', 'grid_team_members', ['grid', 'field'])
    op.create_index('ix_cases_status_grid_deadline', 'cases', ['status', 'grid', 'deadline'])


def downgrade() -> None:
    op.drop_index('ix_cases_status_grid_deadline', table_name='cases')
    op.drop_index('ix_grid_team_members_grid_field', table_name='grid_team_members')
    op.drop_index('ix_grid_team_members_username', table_name='grid_team_members')
    op.drop_table('grid_team_members')
    op.drop_index('ix_org_units_parent_code', table_name='org_units')
    op.drop_table('org_units')
    with op.batch_alter_table('grids', schema=None) as batch_op:
        batch_op.drop_column('residents')
        batch_op.drop_column('households')
        batch_op.drop_column('geometry')
