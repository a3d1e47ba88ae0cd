"""encrypt redemption links

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000

An order's redemption link has the card's number and PIN filled in, so it is stored encrypted like
them (DESIGN.md 4.11): `gift_order.redemption_url` becomes `redemption_url_encrypted`, each existing
link encrypted with the app's ENCRYPTION_KEYS (the first key). The downgrade decrypts them back.

The old column is dropped with SQLite's own ALTER TABLE ... DROP COLUMN (3.35+), not a batch copy of
the table: with foreign keys on, dropping a table that ledger transactions and webhook deliveries
point at would fail on a database that has orders.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

CHUNK = 1000
orders = sa.table(
    'gift_order',
    sa.column('id', sa.Integer()),
    sa.column('redemption_url', sa.String()),
    sa.column('redemption_url_encrypted', sa.String()),
)


def _encryptor():
    """The app's Settings: those of the app running the migration (`flask init-db`), else the environment's."""
    from flask import current_app, has_app_context

    from app.config import Settings
    from app.security import Encryptor

    settings = current_app.extensions["settings"] if has_app_context() else Settings()
    return Encryptor(settings.encryption_keys)


def _copy(source: str, target: str, change) -> None:
    """Set `target` to change(`source`) on every order with a link, a chunk of rows at a time."""
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(orders.c.id, orders.c[source])
            .where(orders.c.id > after, orders.c[source] != '')
            .order_by(orders.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(orders).where(orders.c.id == sa.bindparam('order_id')).values({target: sa.bindparam('value')}),
            [{'order_id': order_id, 'value': change(value)} for order_id, value in rows],
        )
        after = rows[-1][0]


def upgrade() -> None:
    op.add_column('gift_order', sa.Column('redemption_url_encrypted', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
    _copy('redemption_url', 'redemption_url_encrypted', _encryptor().encrypt)
    op.drop_column('gift_order', 'redemption_url')


def downgrade() -> None:
    op.add_column('gift_order', sa.Column('redemption_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default=''))
    _copy('redemption_url_encrypted', 'redemption_url', _encryptor().decrypt)
    if op.get_bind().dialect.name != 'sqlite':  # as 0003 made it (SQLite would have to copy the table)
        op.alter_column('gift_order', 'redemption_url', server_default=None)
    op.drop_column('gift_order', 'redemption_url_encrypted')
