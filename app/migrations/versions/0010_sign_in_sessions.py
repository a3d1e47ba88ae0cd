"""sign in sessions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('consumer_id', sa.Integer(), nullable=True),
    sa.Column('team_member_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint('(consumer_id IS NULL) <> (team_member_id IS NULL)', name='sign_in_session_one_person'),
    sa.ForeignKeyConstraint(['consumer_id'], ['consumer.id'], ),
    sa.ForeignKeyConstraint(['team_member_id'], ['team_member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('sign_in_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_session_consumer_id'), ['consumer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_session_team_member_id'), ['team_member_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_session_team_member_id'))
        batch_op.drop_index(batch_op.f('ix_sign_in_session_consumer_id'))

    op.drop_table('sign_in_session')
