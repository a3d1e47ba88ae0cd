from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class CustomerCreation(SQLModel, table=True):
    """A POST /customer sent with an idempotency key, and the answer it got: a repeat with the same key
    and the same request gets that answer again, byte for byte; another request with the key is refused.

    Only successes are kept (a refusal changed nothing, so the key can be sent again once it is fixed).
    The answer holds what it told the partner (the customer's id, name, email and wallet), nothing more.
    """

    __tablename__ = "customer_creation"
    __table_args__ = (UniqueConstraint("partner_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    idempotency_key: str = Field(max_length=80)
    request_sha256: str = Field(max_length=64)  # of the request's meaning (app/services/consumers.request_fingerprint)
    consumer_id: int = Field(foreign_key="consumer.id", index=True)
    answer: str = Field(sa_column=Column(Text, nullable=False))  # the response body, exactly as first sent
    created_at: datetime = Field(default_factory=utcnow)
