"""POST /customer idempotency keys

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 21:00:00.000000

Issue #19. `customer_creation` keeps the answer of each POST /customer sent with an idempotency key
(once per partner and key), so a retry gets that answer again. `ledger_transaction.wallet_balance_after`
keeps a funds credit's or debit's wallet balance right after it, so a repeat of its key answers the
first balance, not today's. Only a column is added to the existing table (no table copy on SQLite).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_creation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('request_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('consumer_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['consumer_id'], ['consumer.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id', 'idempotency_key')
    )
    with op.batch_alter_table('customer_creation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_creation_consumer_id'), ['consumer_id'], unique=False)

    # Plain ALTER TABLE (also on SQLite): a batch copy of ledger_transaction would drop a table entries point at.
    op.add_column('ledger_transaction', sa.Column('wallet_balance_after', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('ledger_transaction', 'wallet_balance_after')  # SQLite 3.35+: ALTER TABLE ... DROP COLUMN, no copy
    with op.batch_alter_table('customer_creation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_creation_consumer_id'))

    op.drop_table('customer_creation')
