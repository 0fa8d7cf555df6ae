"""volunteer points (志愿者积分): volunteers, teams, activities, sign-ups, the points ledger, rewards, redemptions

Revision ID: 0032
Revises: 0030

Volunteers are a kind of account of their own (not ``users``): phone (encrypted, with a blind index for
login) and password. The ledger is append-only; a redemption row carries its own BPMN instance state.
"""
from alembic import op
import sqlalchemy as sa


revision = '0032'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vol_federations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_federations')),
    sa.UniqueConstraint('name', name=op.f('uq_vol_federations_name'))
    )
    op.create_table('vol_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('points_price', sa.Float(), nullable=False),
    sa.Column('money_value', sa.Float(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_rewards'))
    )
    op.create_table('vol_teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('federation_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('community', sa.String(length=50), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['federation_id'], ['vol_federations.id'], name=op.f('fk_vol_teams_federation_id_vol_federations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_vol_teams_name'))
    )
    with op.batch_alter_table('vol_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vol_teams_community'), ['community'], unique=False)

    op.create_table('vol_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('community', sa.String(length=50), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('points_rule', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('qr_session', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=50), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['vol_teams.id'], name=op.f('fk_vol_activities_team_id_vol_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_activities'))
    )
    with op.batch_alter_table('vol_activities', schema=None) as batch_op:
        batch_op.create_index('ix_vol_activities_community_starts_at', ['community', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_activities_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_activities_team_id'), ['team_id'], unique=False)

    op.create_table('vol_organisers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('community', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_vol_organisers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_vol_organisers'))
    )
    op.create_table('volunteers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=False),
    sa.Column('phone_index', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('community', sa.String(length=50), nullable=False),
    sa.Column('skills', sa.String(length=500), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('recruited_by_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recruited_by_id'], ['volunteers.id'], name=op.f('fk_volunteers_recruited_by_id_volunteers')),
    sa.ForeignKeyConstraint(['team_id'], ['vol_teams.id'], name=op.f('fk_volunteers_team_id_vol_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers')),
    sa.UniqueConstraint('phone_index', name=op.f('uq_volunteers_phone_index'))
    )
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteers_community'), ['community'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_recruited_by_id'), ['recruited_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_registered_at'), ['registered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteers_team_id'), ['team_id'], unique=False)

    op.create_table('vol_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('community', sa.String(length=50), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('money_value', sa.Float(), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handed_over_by', sa.String(length=50), nullable=True),
    sa.Column('process_version_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('current_task', sa.String(length=50), nullable=True),
    sa.Column('current_task_id', sa.String(length=40), nullable=True),
    sa.Column('next_timer_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['process_version_id'], ['process_versions.id'], name=op.f('fk_vol_redemptions_process_version_id_process_versions')),
    sa.ForeignKeyConstraint(['reward_id'], ['vol_rewards.id'], name=op.f('fk_vol_redemptions_reward_id_vol_rewards')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_vol_redemptions_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_redemptions'))
    )
    with op.batch_alter_table('vol_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vol_redemptions_applied_at'), ['applied_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_redemptions_community'), ['community'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_redemptions_next_timer_at'), ['next_timer_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_redemptions_reward_id'), ['reward_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_redemptions_status'), ['status'], unique=False)
        batch_op.create_index('ix_vol_redemptions_volunteer_id_quarter', ['volunteer_id', 'quarter'], unique=False)

    op.create_table('vol_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('signed_up_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.String(length=50), nullable=True),
    sa.Column('hours', sa.Float(), nullable=True),
    sa.Column('rating', sa.String(length=20), nullable=True),
    sa.Column('rating_note', sa.String(length=500), nullable=False),
    sa.Column('rated_by', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['vol_activities.id'], name=op.f('fk_vol_signups_activity_id_vol_activities')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_vol_signups_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_signups')),
    sa.UniqueConstraint('activity_id', 'volunteer_id', name='uq_vol_signups_activity_volunteer')
    )
    with op.batch_alter_table('vol_signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vol_signups_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_signups_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('vol_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('earned_year', sa.Integer(), nullable=True),
    sa.Column('rule_version', sa.Integer(), nullable=True),
    sa.Column('confirmed_by', sa.String(length=50), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['vol_activities.id'], name=op.f('fk_vol_ledger_activity_id_vol_activities')),
    sa.ForeignKeyConstraint(['redemption_id'], ['vol_redemptions.id'], name=op.f('fk_vol_ledger_redemption_id_vol_redemptions')),
    sa.ForeignKeyConstraint(['reverses_id'], ['vol_ledger.id'], name=op.f('fk_vol_ledger_reverses_id_vol_ledger')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_vol_ledger_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vol_ledger')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_vol_ledger_reverses_id'))
    )
    with op.batch_alter_table('vol_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vol_ledger_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_ledger_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vol_ledger_redemption_id'), ['redemption_id'], unique=False)
        batch_op.create_index('ix_vol_ledger_volunteer_id_id', ['volunteer_id', 'id'], unique=False)
        batch_op.create_index('ix_vol_ledger_volunteer_id_points', ['volunteer_id', 'points'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vol_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_vol_ledger_volunteer_id_points')
        batch_op.drop_index('ix_vol_ledger_volunteer_id_id')
        batch_op.drop_index(batch_op.f('ix_vol_ledger_redemption_id'))
        batch_op.drop_index(batch_op.f('ix_vol_ledger_at'))
        batch_op.drop_index(batch_op.f('ix_vol_ledger_activity_id'))

    op.drop_table('vol_ledger')
    with op.batch_alter_table('vol_signups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vol_signups_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_vol_signups_activity_id'))

    op.drop_table('vol_signups')
    with op.batch_alter_table('vol_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_vol_redemptions_volunteer_id_quarter')
        batch_op.drop_index(batch_op.f('ix_vol_redemptions_status'))
        batch_op.drop_index(batch_op.f('ix_vol_redemptions_reward_id'))
        batch_op.drop_index(batch_op.f('ix_vol_redemptions_next_timer_at'))
        batch_op.drop_index(batch_op.f('ix_vol_redemptions_community'))
        batch_op.drop_index(batch_op.f('ix_vol_redemptions_applied_at'))

    op.drop_table('vol_redemptions')
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteers_team_id'))
        batch_op.drop_index(batch_op.f('ix_volunteers_registered_at'))
        batch_op.drop_index(batch_op.f('ix_volunteers_recruited_by_id'))
        batch_op.drop_index(batch_op.f('ix_volunteers_community'))

    op.drop_table('volunteers')
    op.drop_table('vol_organisers')
    with op.batch_alter_table('vol_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vol_activities_team_id'))
        batch_op.drop_index(batch_op.f('ix_vol_activities_starts_at'))
        batch_op.drop_index('ix_vol_activities_community_starts_at')

    op.drop_table('vol_activities')
    with op.batch_alter_table('vol_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vol_teams_community'))

    op.drop_table('vol_teams')
    op.drop_table('vol_rewards')
    op.drop_table('vol_federations')
