"""consumer tags, campaign eligibility by tag, bonus segments

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 21:00:00.000000

Segments (issue #17): tags on consumers (`consumer_tag`), a campaign for everyone with a tag
(`campaign.eligible_tag`, `campaign.eligible_created_after`, members who lost it marked
`campaign_member.ineligible_at`), a brand bonus for one tag (`partnerbrand.bonus_segment`), and the
bulk upload's `tags` column (`bulk_upload_row.tags`, `bulk_upload.to_tag`). Only columns are added to
existing tables (plain ALTER TABLE, no table copy on SQLite); new non-null columns have a server default.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_COLUMNS = [
    ('campaign', sa.Column('eligible_tag', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)),
    ('campaign', sa.Column('eligible_created_after', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)),
    ('campaign_member', sa.Column('ineligible_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)),
    ('partnerbrand', sa.Column('bonus_segment', sqlmodel.sql.sqltypes.AutoString(length=40), server_default='', nullable=False)),
    ('bulk_upload', sa.Column('to_tag', sa.Integer(), server_default='0', nullable=False)),
    ('bulk_upload_row', sa.Column('tags', sqlmodel.sql.sqltypes.AutoString(length=1000), server_default='', nullable=False)),
]


def upgrade() -> None:
    op.create_table('consumer_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('consumer_id', sa.Integer(), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['consumer_id'], ['consumer.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consumer_id', 'tag')
    )
    with op.batch_alter_table('consumer_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consumer_tag_consumer_id'), ['consumer_id'], unique=False)
        batch_op.create_index('ix_consumer_tag_partner_id_tag', ['partner_id', 'tag'], unique=False)

    for table, column in _COLUMNS:
        op.add_column(table, column)


def downgrade() -> None:
    for table, column in reversed(_COLUMNS):
        op.drop_column(table, column.name)  # SQLite 3.35+: ALTER TABLE ... DROP COLUMN, no copy

    with op.batch_alter_table('consumer_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_consumer_tag_partner_id_tag')
        batch_op.drop_index(batch_op.f('ix_consumer_tag_consumer_id'))

    op.drop_table('consumer_tag')
