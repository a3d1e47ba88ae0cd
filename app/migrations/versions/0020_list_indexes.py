"""lists flat at a million orders: indexes for reading newest first by id

The portal's and the API's lists of orders, ledger transactions and consumers are read from a cursor,
`WHERE partner_id = :p [AND status = :s] AND id < :before ORDER BY id DESC LIMIT n`, and counted up to a cap
(app/services/list_pages.py). These composite indexes answer that by reading n index entries, whatever the
table's size (EXPLAIN on 1,100,000 orders: the first and a deep page in 0.1-3 ms, where the single-column
indexes walked the primary key past every other partner's rows, or sorted a bitmap of a whole status). Each
(x, id) index replaces the single-column index on x, which it also serves (foreign keys, equality lookups).

On PostgreSQL, the consumer search (a part of a name or an email, any case) gets trigram indexes (pg_trgm,
which ships with PostgreSQL; the extension is created if missing). SQLite has no such index: it gets plain ones
by the same names (one schema on both), and its search reads the partner's consumers.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 03:00:00.000000
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# table -> (the single-column indexes replaced, the composite indexes that replace them and more)
REPLACED = {
    "gift_order": (
        {"ix_gift_order_partner_id": ["partner_id"], "ix_gift_order_consumer_id": ["consumer_id"]},
        {
            "ix_gift_order_partner_id_id": ["partner_id", "id"],
            "ix_gift_order_partner_id_status_id": ["partner_id", "status", "id"],
            "ix_gift_order_consumer_id_id": ["consumer_id", "id"],
        },
    ),
    "ledger_transaction": (
        {"ix_ledger_transaction_partner_id": ["partner_id"], "ix_ledger_transaction_consumer_id": ["consumer_id"]},
        {
            "ix_ledger_transaction_partner_id_id": ["partner_id", "id"],
            "ix_ledger_transaction_partner_id_type_id": ["partner_id", "type", "id"],
            "ix_ledger_transaction_consumer_id_id": ["consumer_id", "id"],
        },
    ),
    "consumer": ({"ix_consumer_partner_id": ["partner_id"]}, {"ix_consumer_partner_id_id": ["partner_id", "id"]}),
}
TRIGRAM_INDEXES = {"ix_consumer_full_name_trigrams": "full_name", "ix_consumer_email_trigrams": "email"}


def upgrade() -> None:
    for table, (old, new) in REPLACED.items():
        with op.batch_alter_table(table) as batch_op:
            for name, columns in new.items():
                batch_op.create_index(name, columns, unique=False)
            for name in old:
                batch_op.drop_index(name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():  # SQLite: plain indexes (see app/models/consumer.py)
        op.create_index(name, "consumer", [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    for name in TRIGRAM_INDEXES:
        op.drop_index(name, table_name="consumer")  # pg_trgm stays: other objects may use it
    for table, (old, new) in REPLACED.items():
        with op.batch_alter_table(table) as batch_op:
            for name, columns in old.items():
                batch_op.create_index(name, columns, unique=False)
            for name in new:
                batch_op.drop_index(name)
