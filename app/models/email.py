from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.clock import utcnow


class EmailMessage(SQLModel, table=True):
    """Every email the system sends, so nothing is silently lost and anything can be resent.

    Bodies carry secrets (temporary passwords, reset links, gift cards): stored encrypted.
    """

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int | None = Field(default=None, foreign_key="partner.id", index=True)
    consumer_id: int | None = Field(default=None, foreign_key="consumer.id", index=True)
    kind: str = Field(max_length=40)
    to: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    html_encrypted: str
    text_encrypted: str
    status: str = Field(default="queued", max_length=20)  # queued | sending | sent | failed
    delivered_via: str = Field(default="", max_length=20)  # smtp | outbox
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    last_attempt_at: datetime | None = None
    sent_at: datetime | None = None
