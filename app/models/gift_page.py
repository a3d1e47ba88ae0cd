from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.clock import utcnow


class GiftPageLink(SQLModel, table=True):
    """The link in one gift email to the recipient's gift page (/s/<slug>/gift/<token>).

    The token is random (256 bits) and only its SHA-256 is stored, like every other token: the database
    alone opens no gift page. Each gift email gets its own link (a resend another one); correcting the
    recipient's address revokes the links sent to the old one. `email_message_id` is the email that
    carries it: when that email is handed to SMTP the order is marked sent.
    """

    __tablename__ = "gift_page_link"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="gift_order.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    email_message_id: int | None = Field(default=None, foreign_key="emailmessage.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
