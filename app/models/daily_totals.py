"""The dashboard's rollup: each closed UTC day's figures of a partner, so a dashboard reads at most 90 small rows
instead of grouping the partner's whole order history on every view (app/services/daily_totals.py fills and reads it).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from app.domain.orders import OrderStatus
from app.models.order import Order


class DailyTotals(SQLModel, table=True):
    """One partner's figures for one closed UTC day in one currency. Every currency of the partner gets a row, zeros
    included: a missing row means the day is not rolled up yet.

    Money into wallets counts by the day of its credit; orders by the day they were placed, with the status they had
    when the day was rolled up. `scheduled` and `pending` keep how many of them were still open then: once one of
    them moves on, the open orders of that day no longer match these two, and the day is rolled up again.
    """

    __tablename__ = "daily_totals"

    partner_id: int = Field(foreign_key="partner.id", primary_key=True)
    day: date = Field(primary_key=True)
    currency: str = Field(max_length=3, primary_key=True)
    funds_added: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    spend: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # prices of completed orders
    completed: int = 0
    failed: int = 0
    pending: int = 0
    scheduled: int = 0


class DailyBrandTotals(SQLModel, table=True):
    """The completed orders of one closed UTC day per brand (only brands that had one): the dashboard's top brands."""

    __tablename__ = "daily_brand_totals"

    partner_id: int = Field(foreign_key="partner.id", primary_key=True)
    day: date = Field(primary_key=True)
    currency: str = Field(max_length=3, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    completed: int = 0
    spend: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


# The orders still open (scheduled or pending) per partner and day: what the rollup's staleness check reads on
# every dashboard view. Partial, so it holds only orders that can still change, whatever the order history's size.
OPEN_ORDER_STATUSES = tuple(status.value for status in OrderStatus if not status.is_final)
_open = Order.__table__.c.status.in_(OPEN_ORDER_STATUSES)  # type: ignore[attr-defined]
Index(
    "ix_gift_order_open_by_partner",
    Order.__table__.c.partner_id,  # type: ignore[attr-defined]
    Order.__table__.c.created_at,  # type: ignore[attr-defined]
    postgresql_where=_open,
    sqlite_where=_open,
)
