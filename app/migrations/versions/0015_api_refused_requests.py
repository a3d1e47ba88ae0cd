"""refused API requests kept for the signing diagnosis

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 21:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only the last 50 per key are kept (app/services/api_refusals.py): never a body, signature or secret.
    op.create_table('api_refused_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('refused_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('source_ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('diagnosis', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('signature_version', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('timestamp', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('skew_seconds', sa.Integer(), nullable=True),
    sa.Column('body_length', sa.Integer(), nullable=False),
    sa.Column('body_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['apikey.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_refused_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_refused_request_api_key_id'), ['api_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_refused_request_partner_id'), ['partner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_refused_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_refused_request_partner_id'))
        batch_op.drop_index(batch_op.f('ix_api_refused_request_api_key_id'))

    op.drop_table('api_refused_request')
