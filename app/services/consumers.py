"""Consumers: creation with initial funds, wallets, activation."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlmodel import Session, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import DuplicateConsumer, InsufficientFunds, InvalidInput, PartnerFundsTooLow
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money
from app.emails import build_welcome_email
from app.links import external_url
from app.models import Account, Consumer, Partner
from app.security import hash_password, new_temporary_password
from app.services import ledger
from app.services.emails import queue_email

DUPLICATE_WALLET = "Some customers already have wallets in the requested currency"
PARTNER_FUNDS_TOO_LOW = "Unable to pre-charge all currency groups"


@dataclass(frozen=True)
class Wallet:
    """A consumer's balances in one currency."""

    currency: str
    general: Money
    bonus: Money

    @property
    def total(self) -> Money:
        return self.general + self.bonus


@dataclass(frozen=True)
class NewConsumer:
    consumer: Consumer
    wallet_account: Account
    created: bool  # False when an existing consumer got a wallet in a new currency


def normalize_email(value: str, *, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Enter an email address.", field=field)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"'{value.strip()[:80]}' is not a valid email address: {exc}", field=field) from None
    return result.normalized.lower()


def clean_name(value: str, *, field: str = "fullName") -> str:
    if not isinstance(value, str):
        raise InvalidInput("Enter a full name.", field=field)
    name = " ".join(value.split())
    if not name:
        raise InvalidInput("Enter a full name.", field=field)
    if len(name) > 200:
        raise InvalidInput("The full name can be at most 200 characters.", field=field)
    if any(unicodedata.category(c).startswith("C") for c in name) or "<" in name or ">" in name:
        raise InvalidInput("The full name contains characters that are not allowed.", field=field)
    return name


def find_consumer(session: Session, *, partner_id: int, email: str) -> Consumer | None:
    return session.exec(select(Consumer).where(Consumer.partner_id == partner_id, Consumer.email == email)).first()


def create_consumer(
    session: Session,
    *,
    partner: Partner,
    email: str,
    full_name: str,
    initial_funds: Money,
    actor: str = "",
    temporary_password: str | None = None,
) -> NewConsumer:
    """Create a consumer with a general and a bonus wallet, funded from the partner's funds.

    One transaction: if the partner's funds are too low nothing is created. The welcome
    email with a temporary password is queued once it commits. An existing consumer with
    no wallet in this currency gets one (funded the same way) instead of a second account.
    """
    email = normalize_email(email)
    full_name = clean_name(full_name)
    currency = initial_funds.currency
    if initial_funds.amount < 0:
        raise InvalidInput("initialFunds cannot be negative.", field="initialFunds")
    if currency not in partner.currency_list:
        raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")

    with write_transaction(session):
        consumer = find_consumer(session, partner_id=partner.id, email=email)
        created = consumer is None
        if not created:
            if ledger.find_account(session, AccountKind.GENERAL, currency, partner_id=partner.id, consumer_id=consumer.id):
                raise DuplicateConsumer(DUPLICATE_WALLET, field="email")
        else:
            temporary_password = temporary_password or new_temporary_password()
            expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
            consumer = Consumer(
                partner_id=partner.id,
                email=email,
                full_name=full_name,
                password_hash=hash_password(temporary_password),
                must_change_password=True,
                temporary_password_expires_at=expires_at,
            )
            session.add(consumer)
            session.flush()
        general = ledger.open_account(session, AccountKind.GENERAL, currency, partner_id=partner.id, consumer_id=consumer.id)
        ledger.open_account(session, AccountKind.BONUS, currency, partner_id=partner.id, consumer_id=consumer.id)
        if initial_funds.amount > 0:
            funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, currency, partner_id=partner.id)
            try:
                ledger.post_transaction(
                    session,
                    partner_id=partner.id,
                    consumer_id=consumer.id,
                    type=TransactionType.CREDIT,
                    currency=currency,
                    postings=transfer(funds.id, general.id, initial_funds.amount),
                    memo="Initial funds",
                    actor=actor,
                )
            except InsufficientFunds:
                raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="initialFunds") from None
        if created:
            email_message = build_welcome_email(
                partner=partner,
                consumer=consumer,
                temporary_password=temporary_password,
                login_url=external_url("store.login", slug=partner.slug),
                expires_at=expires_at,
            )
            queue_email(session, email_message, partner_id=partner.id, consumer_id=consumer.id)
    return NewConsumer(consumer=consumer, wallet_account=general, created=created)


def wallets(session: Session, consumer: Consumer) -> list[Wallet]:
    accounts = session.exec(select(Account).where(Account.consumer_id == consumer.id).order_by(Account.currency)).all()
    by_currency: dict[str, dict[str, int]] = {}
    for account in accounts:
        by_currency.setdefault(account.currency, {})[account.kind] = account.balance
    return [
        Wallet(
            currency=currency,
            general=Money(kinds.get(AccountKind.GENERAL.value, 0), currency),
            bonus=Money(kinds.get(AccountKind.BONUS.value, 0), currency),
        )
        for currency, kinds in by_currency.items()
    ]


def set_active(session: Session, *, consumer: Consumer, active: bool) -> Consumer:
    """Deactivated consumers can still log in and look, but cannot order."""
    with write_transaction(session):
        consumer.is_active = active
        session.add(consumer)
    return consumer
