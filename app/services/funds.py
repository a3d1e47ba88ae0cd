"""A partner moving money into or out of a consumer's general wallet, exactly once per key.

Credit: partner funds -> consumer's general wallet. Debit: the wallet -> partner funds. One
write transaction each. The caller's idempotency key is stored on the ledger transaction
(`<partner id>:<key>`, so tenants never share keys): a repeat returns the first transaction
and moves nothing. There is no unique index on that column, so a concurrent duplicate is
caught by taking the partner's write lock first and looking the key up again inside the
transaction (SQLite: the no-op UPDATE takes the database write lock; PostgreSQL: the row lock,
and READ COMMITTED lets the re-check see a duplicate committed while we waited).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from app.db import write_transaction
from app.domain.errors import InsufficientFunds, InvalidInput, NotFound, PartnerFundsTooLow
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money
from app.models import Consumer, Partner, Transaction
from app.services import ledger, partners
from app.services.consumers import PARTNER_FUNDS_TOO_LOW

WALLET_TOO_LOW = "Insufficient wallet balance"
KEY_REUSED = "idempotencyKey was already used for a different request"


@dataclass(frozen=True)
class FundsChanged:
    transaction: Transaction
    consumer: Consumer
    wallet_balance: Money
    replayed: bool  # True when the key had been used: nothing moved this time


def partner_consumer(session: Session, *, partner: Partner, consumer_id: int) -> Consumer:
    """The partner's own consumer; another partner's is simply not found (never 'forbidden')."""
    consumer = session.get(Consumer, consumer_id)
    if consumer is None or consumer.partner_id != partner.id:
        raise NotFound(f"Customer {consumer_id} does not exist.", field="id")
    return consumer


def stored_key(partner: Partner, idempotency_key: str) -> str:
    return f"{partner.id}:{idempotency_key}"


def _find(session: Session, partner: Partner, key: str) -> Transaction | None:
    return session.exec(
        select(Transaction).where(Transaction.partner_id == partner.id, Transaction.idempotency_key == key)
    ).first()


def _wallet_balance(session: Session, partner: Partner, consumer: Consumer, currency: str) -> Money:
    account = ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=partner.id, consumer_id=consumer.id)
    if account is not None:
        session.refresh(account, attribute_names=["balance"])
    return ledger.balance(account, currency)


def _replay(session, partner, consumer, transaction, *, type, amount) -> FundsChanged:
    if (
        transaction.consumer_id != consumer.id
        or transaction.type != type.value
        or transaction.currency != amount.currency
        or transaction.amount != amount.amount
    ):
        raise InvalidInput(KEY_REUSED, field="idempotencyKey")
    return FundsChanged(transaction, consumer, _wallet_balance(session, partner, consumer, amount.currency), True)


def change_funds(
    session: Session,
    *,
    partner: Partner,
    consumer_id: int,
    type: TransactionType,
    amount: Money,
    reason: str,
    idempotency_key: str,
    actor: str = "",
) -> FundsChanged:
    if type not in (TransactionType.CREDIT, TransactionType.DEBIT):
        raise ValueError(f"funds change cannot be a {type}")
    if amount.amount <= 0:
        raise InvalidInput("amount must be more than zero.", field="amount")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("reason is required.", field="reason")
    key = stored_key(partner, idempotency_key)

    consumer = partner_consumer(session, partner=partner, consumer_id=consumer_id)
    existing = _find(session, partner, key)
    if existing is not None:
        return _replay(session, partner, consumer, existing, type=type, amount=amount)
    if amount.currency not in partner.currency_list:
        raise InvalidInput(f"currency {amount.currency} is not enabled for this partner.", field="currency")

    with write_transaction(session):
        # Serialise fund changes of this partner, then look again: a duplicate may have committed meanwhile.
        partners.hold_partner(session, partner.id)
        existing = _find(session, partner, key)
        if existing is not None:
            return _replay(session, partner, consumer, existing, type=type, amount=amount)

        funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, amount.currency, partner_id=partner.id)
        if type is TransactionType.CREDIT:
            wallet = ledger.open_account(
                session, AccountKind.GENERAL, amount.currency, partner_id=partner.id, consumer_id=consumer.id
            )
            ledger.open_account(session, AccountKind.BONUS, amount.currency, partner_id=partner.id, consumer_id=consumer.id)
            postings = transfer(funds.id, wallet.id, amount.amount)
        else:
            wallet = ledger.find_account(
                session, AccountKind.GENERAL, amount.currency, partner_id=partner.id, consumer_id=consumer.id
            )
            if wallet is None:
                raise InsufficientFunds(WALLET_TOO_LOW, field="amount")
            postings = transfer(wallet.id, funds.id, amount.amount)
        try:
            transaction = ledger.post_transaction(
                session,
                partner_id=partner.id,
                consumer_id=consumer.id,
                type=type,
                currency=amount.currency,
                postings=postings,
                memo=reason,
                actor=actor,
                idempotency_key=key,
            )
        except InsufficientFunds as exc:
            if exc.field == AccountKind.PARTNER_FUNDS.value:
                raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="amount") from None
            raise InsufficientFunds(WALLET_TOO_LOW, field="amount") from None
        balance = Money(wallet.balance, amount.currency)
    return FundsChanged(transaction, consumer, balance, False)
