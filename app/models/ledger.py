from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Account(SQLModel, table=True):
    """A ledger account with a cached balance (kept equal to the sum of its entries).

    `key` names the account uniquely, e.g. `partner:3:partner_funds:USD` or
    `consumer:7:general:USD`, so each owner has one account per kind and currency (a partner's card_purchases
    has several, `app.services.ledger.CARD_PURCHASE_SLOTS`, so its checkouts don't all lock one row).
    """

    __table_args__ = (CheckConstraint("balance >= 0 OR kind = 'partner_deposits'", name="account_balance_not_negative"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    consumer_id: int | None = Field(default=None, foreign_key="consumer.id", index=True)
    kind: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    campaign_id: int | None = Field(default=None, index=True)  # a campaign wallet's or budget's campaign
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow)


class Transaction(SQLModel, table=True):
    """A movement of money: entries that sum to zero. Type and status are the seed's."""

    __tablename__ = "ledger_transaction"
    __table_args__ = (
        # The lists read newest first by id (app/services/list_pages.py): a partner's transactions, those of one
        # type, a consumer's (the API's customerId filter). Also the foreign keys' indexes.
        Index("ix_ledger_transaction_partner_id_id", "partner_id", "id"),
        Index("ix_ledger_transaction_partner_id_type_id", "partner_id", "type", "id"),
        Index("ix_ledger_transaction_consumer_id_id", "consumer_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    consumer_id: int | None = Field(default=None, foreign_key="consumer.id")
    order_id: int | None = Field(default=None, index=True)  # the order it concerns, if any
    campaign_id: int | None = Field(default=None, index=True)  # the campaign it concerns, if any
    type: str = Field(max_length=20)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # minor units moved
    memo: str = Field(default="", max_length=500)
    actor: str = Field(default="", max_length=120)  # who did it: cli, api:<key>, team:<id>
    idempotency_key: str | None = Field(default=None, max_length=120)
    # A funds credit or debit (app/services/funds.py): the general wallet's balance right after it, which a
    # repeat of its idempotency key answers again. None for every other transaction (and those made before 0014).
    wallet_balance_after: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Entry(SQLModel, table=True):
    """One leg of a transaction: signed minor units into (+) or out of (-) an account."""

    id: int | None = Field(default=None, primary_key=True)
    transaction_id: int = Field(foreign_key="ledger_transaction.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
