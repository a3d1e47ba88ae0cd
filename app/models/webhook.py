from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class WebhookEndpoint(SQLModel, table=True):
    """An HTTPS URL a partner registered for order events; its signing secret is encrypted."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    url: str = Field(max_length=500)
    events: str = Field(default="order.completed,order.failed", max_length=200)  # comma-separated
    secret_encrypted: str
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint; retried by the queue until delivered or out of attempts."""

    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    event_id: str = Field(max_length=40, unique=True)
    event_type: str = Field(max_length=40)
    order_id: int | None = Field(default=None, foreign_key="gift_order.id", index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the exact JSON body sent
    status: str = Field(default="pending", max_length=20)  # app.domain.webhooks.DeliveryStatus: pending | delivered | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """Every HTTP attempt at a delivery: when, what came back, how long it took."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None
    error: str = Field(default="", max_length=500)
    duration_ms: int = 0
