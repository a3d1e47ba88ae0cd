"""A partner moving money into or out of a consumer's general wallet, exactly once per key.

Credit: partner funds -> consumer's general wallet. Debit: the wallet -> partner funds. One
write transaction each. The caller's idempotency key is stored on the ledger transaction
(`<partner id>:<key>`, so tenants never share keys): a repeat returns the first transaction, with
the wallet balance right after it (`wallet_balance_after`), and moves nothing. There is no unique
index on that column, so a concurrent duplicate is caught by taking the partner's write lock first
and looking the key up again inside the transaction (SQLite: the no-op UPDATE takes the database
write lock; PostgreSQL: the row lock, and READ COMMITTED lets the re-check see a duplicate committed
while we waited).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from app.db import write_transaction
from app.domain.errors import DomainError, InsufficientFunds, InvalidInput, NotFound, PartnerFundsTooLow, sentence
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money, format_money, normalize_currency
from app.models import Consumer, Partner, TeamMember, Transaction
from app.services import audit, ledger, partners
from app.services.consumers import PARTNER_FUNDS_TOO_LOW, wallets
from app.services.rows import row_id

WALLET_TOO_LOW = "Insufficient wallet balance"
KEY_REUSED = "This idempotency key was already used for a different request."


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
    account = ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=row_id(partner), consumer_id=consumer.id)
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
        raise InvalidInput(KEY_REUSED, field="idempotency_key")
    # The first answer's balance, kept on the transaction (only those made before migration 0014 lack it).
    if transaction.wallet_balance_after is not None:
        return FundsChanged(transaction, consumer, Money(transaction.wallet_balance_after, amount.currency), True)
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
        partners.hold_partner(session, row_id(partner))
        existing = _find(session, partner, key)
        if existing is not None:
            return _replay(session, partner, consumer, existing, type=type, amount=amount)

        funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, amount.currency, partner_id=row_id(partner))
        if type is TransactionType.CREDIT:
            wallet = ledger.open_account(
                session, AccountKind.GENERAL, amount.currency, partner_id=row_id(partner), consumer_id=consumer.id
            )
            ledger.open_account(session, AccountKind.BONUS, amount.currency, partner_id=row_id(partner), consumer_id=consumer.id)
            postings = transfer(row_id(funds), row_id(wallet), amount.amount)
        else:
            found = ledger.find_account(
                session, AccountKind.GENERAL, amount.currency, partner_id=row_id(partner), consumer_id=consumer.id
            )
            if found is None:
                raise InsufficientFunds(WALLET_TOO_LOW, field="amount")
            wallet = found
            postings = transfer(row_id(wallet), row_id(funds), amount.amount)
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
        transaction.wallet_balance_after = balance.amount
        session.add(transaction)
    return FundsChanged(transaction, consumer, balance, False)


# --- a team member's change, from the portal's form ------------------------------------------

DIRECTIONS = {"add": TransactionType.CREDIT, "remove": TransactionType.DEBIT}
_FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def add_or_remove_funds(
    session: Session,
    *,
    partner: Partner,
    consumer: Consumer,
    direction: str,
    amount: str,
    currency: str,
    reason: str,
    idempotency_key: str,
    by: TeamMember,
) -> FundsChanged:
    """A team member adds funds to a consumer's general wallet ("add") or removes some ("remove"), from the
    form as typed, once per form (its idempotency key), audited in the same transaction. Refusals say why
    in the team's words, with the balance that was too low."""
    try:
        return _add_or_remove_funds(
            session,
            partner=partner,
            consumer=consumer,
            direction=direction,
            amount=amount,
            currency=currency,
            reason=reason,
            idempotency_key=idempotency_key,
            by=by,
        )
    except PartnerFundsTooLow:
        available = partners.partner_funds(session, partner, currency.upper())
        raise PartnerFundsTooLow(
            f"Your partner funds are too low: {format_money(available)} available. Nothing was moved.", field="amount"
        ) from None
    except InsufficientFunds:
        code = currency.upper()
        held = next((wallet.general for wallet in wallets(session, consumer) if wallet.currency == code), Money.zero(code))
        raise InsufficientFunds(
            f"Insufficient wallet balance: the general wallet holds {format_money(held)}, so at most that "
            "can be removed. Nothing was moved.",
            field="amount",
        ) from None
    except NotFound:
        raise
    except DomainError as error:
        if error.message == KEY_REUSED:
            raise InvalidInput(
                "This form was already sent with other values. Reload the page to start again.", field="idempotency_key"
            ) from None
        raise type(error)(sentence(error.message), field=error.field) from None


def _add_or_remove_funds(
    session: Session, *, partner, consumer, direction, amount, currency, reason, idempotency_key, by
) -> FundsChanged:
    if direction not in DIRECTIONS:
        raise InvalidInput("Choose whether to add or remove funds.", field="direction")
    if not _FORM_KEY.fullmatch(idempotency_key):
        raise InvalidInput("This form has expired. Reload the page and try again.", field="idempotency_key")
    if not amount:
        raise InvalidInput("Enter an amount.", field="amount")
    money = Money.parse(amount, normalize_currency(currency), field="amount")
    type = DIRECTIONS[direction]
    with write_transaction(session):
        result = change_funds(
            session,
            partner=partner,
            consumer_id=consumer.id,
            type=type,
            amount=money,
            reason=reason,
            idempotency_key=idempotency_key,
            actor=audit.actor_label(by),
        )
        if not result.replayed:
            verb = "Added" if type is TransactionType.CREDIT else "Removed"
            audit.record(
                session,
                partner_id=partner.id,
                member=by,
                action=f"funds.{type.value}",
                subject_type="consumer",
                subject_id=consumer.id,
                summary=f"{verb} {money} ({consumer.email}): {result.transaction.memo}",
                details={"amount": money.amount, "currency": money.currency, "transaction_id": result.transaction.id},
            )
    return result
