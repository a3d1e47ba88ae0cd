"""api signature seen: partner API replay protection

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_signature_seen',
    sa.Column('signature_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('signature_hash')
    )
    with op.batch_alter_table('api_signature_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_signature_seen_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_signature_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_signature_seen_seen_at'))

    op.drop_table('api_signature_seen')
