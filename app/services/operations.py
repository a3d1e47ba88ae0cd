"""What an operator watches, read from the database when /metrics is scraped (app/operations.py).

Each figure is one cheap query: the pending orders through the status index, everything else only over the
last day through the created_at indexes (a failure older than that has long been alerted on), so a scrape
costs the same on a young database and on one with years of orders and emails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.domain.orders import OrderStatus
from app.domain.webhooks import DeliveryStatus
from app.models import EmailMessage, Order, WebhookDelivery

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class OperatingFigures:
    orders_pending: int
    oldest_pending_order_age_seconds: float  # 0 when none is pending
    orders_last_day: dict[str, int] = field(default_factory=dict)  # by status, of the orders created in the last 24 h
    emails_last_day: dict[str, int] = field(default_factory=dict)  # by status: queued, sending, sent, failed
    webhook_deliveries_failing: int = 0  # pending after at least one failed attempt (being retried)
    webhook_deliveries_last_day: dict[str, int] = field(default_factory=dict)  # by status: pending, delivered, failed


def check_database(session: Session) -> None:
    """Raises when the database does not answer."""
    session.execute(text("SELECT 1")).scalar_one()


def _by_status(session: Session, model, since: datetime) -> dict[str, int]:
    rows = session.exec(
        select(model.status, func.count()).where(col(model.created_at) >= since).group_by(col(model.status))
    ).all()
    return {status: count for status, count in rows}


def operating_figures(session: Session) -> OperatingFigures:
    now = utcnow()
    since = now - RECENT
    pending, oldest = session.exec(
        select(func.count(), func.min(Order.created_at)).where(Order.status == OrderStatus.PENDING.value)
    ).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    failing = session.exec(
        select(func.count()).where(
            col(WebhookDelivery.created_at) >= since,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            col(WebhookDelivery.attempts) > 0,
        )
    ).one()
    return OperatingFigures(
        orders_pending=pending,
        oldest_pending_order_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0,
        orders_last_day=_by_status(session, Order, since),
        emails_last_day=_by_status(session, EmailMessage, since),
        webhook_deliveries_failing=failing,
        webhook_deliveries_last_day=_by_status(session, WebhookDelivery, since),
    )
