"""hosted gift pages, delivery tracking

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 21:00:00.000000

Issue #18: the recipient's gift page. Each gift email's link is a `gift_page_link` row holding only the
SHA-256 of its random token. Orders gain `sent_at` (the gift email handed to SMTP) and `opened_at` (the gift
page first viewed); partners gain `gift_email_link_only` (the email carries the link without the card).
Only columns are added to the existing tables (plain ALTER TABLE, no table copy on SQLite).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gift_page_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('email_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['email_message_id'], ['emailmessage.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['gift_order.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('gift_page_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gift_page_link_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gift_page_link_email_message_id'), ['email_message_id'], unique=False)

    op.add_column('gift_order', sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('gift_order', sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('partner', sa.Column('gift_email_link_only', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('partner', 'gift_email_link_only')  # SQLite 3.35+: ALTER TABLE ... DROP COLUMN, no copy
    op.drop_column('gift_order', 'opened_at')
    op.drop_column('gift_order', 'sent_at')
    with op.batch_alter_table('gift_page_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gift_page_link_email_message_id'))
        batch_op.drop_index(batch_op.f('ix_gift_page_link_order_id'))

    op.drop_table('gift_page_link')
