"""scheduled delivery, cancelled gifts, checkout settings

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 22:15:00.000000

Issue #18: orders gain `deliver_at` (scheduled delivery, UTC), `cancelled_at` (unsent by the sender) and
`sender_corrected_at` (the sender's one address correction); partners gain `unsend_window_minutes`.
Only columns are added (plain ALTER TABLE, no table copy on SQLite).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('gift_order', sa.Column('deliver_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('gift_order', sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('gift_order', sa.Column('sender_corrected_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_gift_order_deliver_at'), 'gift_order', ['deliver_at'], unique=False)
    op.add_column('partner', sa.Column('unsend_window_minutes', sa.Integer(), server_default='0', nullable=False))
    # --- other columns of issue #18 (checkout settings) go below this line ---
    # Checkout: gifts over this price (minor units) ask the sender to confirm the recipient's address.
    op.add_column('partner', sa.Column('confirm_recipient_over', sa.Integer(), server_default='10000', nullable=False))


def downgrade() -> None:
    # --- other columns of issue #18 (checkout settings) are dropped below this line ---
    op.drop_column('partner', 'confirm_recipient_over')
    op.drop_column('partner', 'unsend_window_minutes')
    op.drop_index(op.f('ix_gift_order_deliver_at'), table_name='gift_order')
    op.drop_column('gift_order', 'sender_corrected_at')
    op.drop_column('gift_order', 'cancelled_at')
    op.drop_column('gift_order', 'deliver_at')
