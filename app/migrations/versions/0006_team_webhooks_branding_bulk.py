"""team portal webhooks branding bulk uploads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:25:36.364705
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('temporary_password_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['invited_by_id'], ['team_member.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('team_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_member_email'), ['email'], unique=True)
        batch_op.create_index(batch_op.f('ix_team_member_partner_id'), ['partner_id'], unique=False)

    op.create_table('webhook_endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('events', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('secret_encrypted', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoint_partner_id'), ['partner_id'], unique=False)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('team_member_id', sa.Integer(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('subject_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['team_member_id'], ['team_member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_team_member_id'), ['team_member_id'], unique=False)

    op.create_table('branding_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('store_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('primary_color', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('accent_color', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('background_color', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('support_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('footer_text', sa.Text(), nullable=False),
    sa.Column('logo_png', sa.LargeBinary(), nullable=True),
    sa.Column('logo_width', sa.Integer(), nullable=True),
    sa.Column('logo_height', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['team_member.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id', 'version')
    )
    with op.batch_alter_table('branding_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_branding_version_partner_id'), ['partner_id'], unique=False)

    op.create_table('bulk_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('team_member_id', sa.Integer(), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('processed_rows', sa.Integer(), nullable=False),
    sa.Column('to_create', sa.Integer(), nullable=False),
    sa.Column('to_deactivate', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('done_rows', sa.Integer(), nullable=False),
    sa.Column('failure', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('committed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['team_member_id'], ['team_member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bulk_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_upload_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulk_upload_public_id'), ['public_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_bulk_upload_sha256'), ['sha256'], unique=False)

    op.create_table('bulk_upload_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('raw', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('committed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['bulk_upload.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bulk_upload_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulk_upload_row_upload_id'), ['upload_id'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['gift_order.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_partner_id'), ['partner_id'], unique=False)

    op.create_table('webhook_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('attempted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempt_delivery_id'), ['delivery_id'], unique=False)

    with op.batch_alter_table('apikey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=80), server_default='', nullable=False))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_apikey_created_by_id', 'team_member', ['created_by_id'], ['id'])

    with op.batch_alter_table('gift_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='store', nullable=False))
        batch_op.add_column(sa.Column('retried_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delivery_changes', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_unique_constraint('uq_gift_order_partner_external_ref', ['partner_id', 'external_ref'])
        batch_op.create_foreign_key('fk_gift_order_retried_by_id', 'gift_order', ['retried_by_id'], ['id'])

    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.add_column(sa.Column('background_color', sqlmodel.sql.sqltypes.AutoString(length=7), server_default='#ffffff', nullable=False))
        batch_op.add_column(sa.Column('footer_text', sqlmodel.sql.sqltypes.AutoString(length=1000), server_default='', nullable=False))
        batch_op.add_column(sa.Column('branding_version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('has_logo', sa.Boolean(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('partner', schema=None) as batch_op:
        batch_op.drop_column('has_logo')
        batch_op.drop_column('branding_version_id')
        batch_op.drop_column('footer_text')
        batch_op.drop_column('background_color')

    with op.batch_alter_table('gift_order', schema=None) as batch_op:
        batch_op.drop_constraint('fk_gift_order_retried_by_id', type_='foreignkey')
        batch_op.drop_constraint('uq_gift_order_partner_external_ref', type_='unique')
        batch_op.drop_column('delivery_changes')
        batch_op.drop_column('retried_by_id')
        batch_op.drop_column('channel')
        batch_op.drop_column('external_ref')

    with op.batch_alter_table('apikey', schema=None) as batch_op:
        batch_op.drop_constraint('fk_apikey_created_by_id', type_='foreignkey')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('label')

    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_delivery_id'))

    op.drop_table('webhook_attempt')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_partner_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_order_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_endpoint_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_created_at'))

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('bulk_upload_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulk_upload_row_upload_id'))

    op.drop_table('bulk_upload_row')
    with op.batch_alter_table('bulk_upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulk_upload_sha256'))
        batch_op.drop_index(batch_op.f('ix_bulk_upload_public_id'))
        batch_op.drop_index(batch_op.f('ix_bulk_upload_partner_id'))

    op.drop_table('bulk_upload')
    with op.batch_alter_table('branding_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_branding_version_partner_id'))

    op.drop_table('branding_version')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_team_member_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_partner_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_created_at'))

    op.drop_table('audit_event')
    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoint_partner_id'))

    op.drop_table('webhook_endpoint')
    with op.batch_alter_table('team_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_member_partner_id'))
        batch_op.drop_index(batch_op.f('ix_team_member_email'))

    op.drop_table('team_member')
