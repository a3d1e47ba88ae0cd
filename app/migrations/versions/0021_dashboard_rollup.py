"""dashboard daily totals rollup

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 03:00:00.000000

Issue #21: the dashboard reads closed UTC days from `daily_totals` (a row per partner, day and currency) and
`daily_brand_totals` (completed orders per brand), filled by the queue and by the dashboard itself
(app/services/daily_totals.py); both start empty and fill on their own. `ix_gift_order_open_by_partner`, a partial
index of the orders still scheduled or pending, lets each view check whether a rolled-up day's open orders moved on.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('scheduled', 'pending')")


def upgrade() -> None:
    op.create_table(
        "daily_totals",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("funds_added", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("scheduled", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"]),
        sa.PrimaryKeyConstraint("partner_id", "day", "currency"),
    )
    op.create_table(
        "daily_brand_totals",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("spend", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brand.id"]),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"]),
        sa.PrimaryKeyConstraint("partner_id", "day", "currency", "brand_id"),
    )
    op.create_index(
        "ix_gift_order_open_by_partner",
        "gift_order",
        ["partner_id", "created_at"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_gift_order_open_by_partner", table_name="gift_order")
    op.drop_table("daily_brand_totals")
    op.drop_table("daily_totals")
