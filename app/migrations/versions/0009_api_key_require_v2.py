"""api key require v2

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apikey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_signature_v2', sa.Boolean(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('apikey', schema=None) as batch_op:
        batch_op.drop_column('require_signature_v2')
