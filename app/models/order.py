from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Order(SQLModel, table=True):
    """A gift card bought with wallet balance. Amounts are minor units of `currency`.

    The card's number and PIN are stored encrypted, and so is its redemption link (the provider fills
    the number and PIN into it). `debit_transaction_id` is the charge;
    a refund reverses exactly its entries.
    """

    __tablename__ = "gift_order"
    __table_args__ = (
        UniqueConstraint("consumer_id", "idempotency_key"),
        UniqueConstraint("partner_id", "external_ref"),
        # The lists read newest first by id (app/services/list_pages.py): a partner's orders, those in one status,
        # a consumer's (the store's history, the API's customerId filter). Also the foreign keys' indexes.
        Index("ix_gift_order_partner_id_id", "partner_id", "id"),
        Index("ix_gift_order_partner_id_status_id", "partner_id", "status", "id"),
        Index("ix_gift_order_consumer_id_id", "consumer_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=24, unique=True, index=True)
    partner_id: int = Field(foreign_key="partner.id")
    consumer_id: int = Field(foreign_key="consumer.id")
    brand_id: int = Field(foreign_key="brand.id", index=True)
    currency: str = Field(max_length=3)
    face_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    price: int = Field(sa_column=Column(BigInteger, nullable=False))
    card_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    cash_back: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    recipient_email: str = Field(max_length=254)
    recipient_name: str = Field(default="", max_length=200)
    sender_name: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=500)
    to_self: bool = True
    status: str = Field(default="pending", max_length=20, index=True)
    failure_reason: str = Field(default="", max_length=500)
    attempts: int = 0
    claimed_until: datetime | None = None  # a worker is fulfilling it until then
    provider_reference: str = Field(default="", max_length=120)
    card_number_encrypted: str = Field(default="", max_length=500)
    card_pin_encrypted: str = Field(default="", max_length=500)
    # No length limit: encrypted, a link filled in from a 300-character template can pass 500 characters.
    redemption_url_encrypted: str = Field(default="", sa_column_kwargs={"server_default": ""})
    debit_transaction_id: int | None = Field(default=None, foreign_key="ledger_transaction.id")
    idempotency_key: str = Field(max_length=80)
    # The partner's own reference for an order placed by API: unique per partner (idempotent).
    external_ref: str | None = Field(default=None, max_length=80)
    channel: str = Field(default="store", max_length=10, sa_column_kwargs={"server_default": "store"})  # store | api | portal
    # A failed order retried from the portal points at the new order that replaced it.
    retried_by_id: int | None = Field(default=None, foreign_key="gift_order.id")
    # Delivery email resends and recipient corrections from the portal (at most 3 per order).
    delivery_changes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    # Delivery progress: the gift email handed to SMTP (the first time), the gift page first opened (once).
    sent_at: datetime | None = None
    opened_at: datetime | None = None
    # Scheduled delivery: the card is issued and emailed at this moment (UTC); None: at once. The order is
    # `scheduled` until then and the sender may cancel it (`cancelled_at`), which refunds the charge.
    deliver_at: datetime | None = Field(default=None, index=True)
    cancelled_at: datetime | None = None
    # The sender corrected the recipient's address from the store (allowed once, before the gift page is opened).
    sender_corrected_at: datetime | None = None
