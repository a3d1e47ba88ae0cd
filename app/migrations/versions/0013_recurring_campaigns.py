"""recurring campaigns, partner time zone, budget alerts, expiry reminders

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 21:00:00.000000

Issue #17: a partner's time zone and reminder days; a campaign's recurrence (week or month, leftover expires
or rolls over, optional cap), low-budget threshold, auto-pause and the record of its budget-low crossing; each
member's last paid period and expiry reminder; one `campaign_period` row per recurring campaign and period.
Only columns are added to existing tables (plain ALTER TABLE, also on SQLite: no table copy).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('partner', sa.Column('time_zone', sqlmodel.sql.sqltypes.AutoString(length=64), server_default='UTC', nullable=False))
    op.add_column('partner', sa.Column('reminder_days', sa.Integer(), server_default='3', nullable=False))

    op.add_column('campaign', sa.Column('recurrence_every', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
    op.add_column('campaign', sa.Column('leftover', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='expire', nullable=False))
    op.add_column('campaign', sa.Column('rollover_cap', sa.BigInteger(), nullable=True))
    op.add_column('campaign', sa.Column('low_budget_threshold', sa.BigInteger(), nullable=True))
    op.add_column('campaign', sa.Column('budget_low_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('campaign', sa.Column('pause_when_exhausted', sa.Boolean(), server_default='0', nullable=False))

    op.add_column('campaign_member', sa.Column('allocated_period', sa.Date(), nullable=True))
    op.add_column('campaign_member', sa.Column('expiry_reminded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    op.create_table('campaign_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('missed_periods', sa.Integer(), nullable=False),
    sa.Column('members_allocated', sa.Integer(), nullable=False),
    sa.Column('allocated', sa.BigInteger(), nullable=False),
    sa.Column('expired', sa.BigInteger(), nullable=False),
    sa.Column('rolled_over', sa.BigInteger(), nullable=False),
    sa.Column('members_unpaid', sa.Integer(), nullable=False),
    sa.Column('first_run_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_run_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'period')
    )
    with op.batch_alter_table('campaign_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_period_campaign_id'), ['campaign_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_period_campaign_id'))
    op.drop_table('campaign_period')
    # SQLite 3.35+: ALTER TABLE ... DROP COLUMN, no copy
    for column in ('expiry_reminded_at', 'allocated_period'):
        op.drop_column('campaign_member', column)
    for column in ('pause_when_exhausted', 'budget_low_since', 'low_budget_threshold', 'rollover_cap', 'leftover', 'recurrence_every'):
        op.drop_column('campaign', column)
    for column in ('reminder_days', 'time_zone'):
        op.drop_column('partner', column)
