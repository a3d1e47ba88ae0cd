"""Orders: checkout (one debit, idempotent), fulfilment (at most once), refunds (exactly once).
A partner's system places orders too (`place_partner_order`), idempotent on its own reference;
completing or failing an order queues its webhooks in the same transaction.

Which balances pay is the campaigns' rule (`app.domain.campaigns.split_price`): campaign balances that
allow the brand and are spendable now (active, inside their window; never a removed member's), higher
priority and ending soonest first, then the general balance, then bonus."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, bindparam, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, load_only
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import on_commit, remember, remembered, write_transaction
from app.domain.campaigns import Balance, split_price
from app.domain.errors import DomainError, InsufficientFunds, InvalidInput, NotFound
from app.domain.ledger import AccountKind, Posting, TransactionStatus, TransactionType, transfer
from app.domain.money import Money
from app.domain.orders import OrderStatus, may_become
from app.domain.pricing import Quote
from app.domain.text import message_refusal
from app.emails import build_order_confirmation_email, build_order_failed_email
from app.links import external_url
from app.models import Account, Brand, Consumer, Entry, Order, Partner, Transaction
from app.providers import ProviderError
from app.queue import enqueue, enqueue_or_leave_for_sweep
from app.services import campaigns, catalog, gift_pages, ledger, partners, segments, webhooks
from app.services.catalog import Offer
from app.services.consumers import clean_name, normalize_email
from app.services.emails import queue_email
from app.services.funds import WALLET_TOO_LOW
from app.services.rows import referenced, row_id

MESSAGE_MAX = 300
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
EXTERNAL_REF_REUSED = "This external reference was already used for a different order."
QUOTE_CHANGED = (
    "The price or value of this gift card changed since you reviewed your order, so nothing was charged. "
    "Check the new figures and confirm again."
)
REVIEWED_FIGURE = re.compile(r"^[0-9]{1,15}$")


class ConsumerDeactivated(DomainError):
    pass


class QuoteChanged(DomainError):
    """What checkout would charge now is not what the consumer reviewed: nothing is charged."""


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    sender_name: str
    message: str
    to_self: bool


@dataclass(frozen=True)
class ChargeLine:
    """One balance and what it pays: "General balance", or a campaign's ("Wellness balance")."""

    label: str
    amount: Money
    campaign_id: int | None = None

    @property
    def balance_name(self) -> str:
        """As the review says it: "from your general balance", "from your Wellness balance"."""
        return self.label if self.campaign_id is not None else self.label.lower()


@dataclass(frozen=True)
class CheckoutPreview:
    quote: Quote
    charges: list[ChargeLine]


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


def recipient_for(
    consumer: Consumer, *, send_to: str, email: str = "", name: str = "", sender_name: str = "", message: str = ""
) -> Recipient:
    """Validate who gets the card. `send_to` is 'me' or 'someone'."""
    message = (message or "").replace("\r\n", "\n").strip()
    problem = message_refusal(message, limit=MESSAGE_MAX)
    if problem:
        raise InvalidInput(problem, field="message")
    sender = clean_name(sender_name, field="sender_name") if (sender_name or "").strip() else consumer.full_name
    if send_to == "me":
        return Recipient(consumer.email, consumer.full_name, sender, message, True)
    if send_to != "someone":
        raise InvalidInput("Choose who gets the gift card.", field="send_to")
    recipient_email = normalize_email(email, field="recipient_email")
    recipient_name = clean_name(name, field="recipient_name") if (name or "").strip() else ""
    return Recipient(recipient_email, recipient_name, sender, message, recipient_email == consumer.email)


@dataclass(frozen=True)
class BrandRules:
    """What the spending order asks of a brand (`app.domain.campaigns.BrandLike`), read once."""

    slug: str
    category: str


def _split(quote: Quote, balances: list[Balance], brand: BrandRules) -> list[tuple[Balance, Money]]:
    """Which of the consumer's balances pay how much of the price, now (InsufficientFunds when they can't)."""
    if not balances:
        raise InvalidInput(f"You have no {quote.price.currency} wallet in this store.", field="amount")
    return split_price(quote.price, balances, utcnow(), brand)


def preview(session: Session, *, consumer: Consumer, offer: Offer, face_value: Money) -> CheckoutPreview:
    """What checkout will charge, from which balances (each campaign by name), and what the card is worth.
    Changes nothing. The bonus is the consumer's (their tags decide a bonus for a segment), whoever made `offer`."""
    quote = offer.for_tags(segments.consumer_tag_set(session, consumer)).quote(face_value)
    balances = campaigns.checkout_balances(session, consumer_id=row_id(consumer), currency=face_value.currency)
    parts = _split(quote, balances, BrandRules(offer.brand.slug, offer.brand.category or ""))
    return CheckoutPreview(
        quote,
        [
            ChargeLine(balance.label, amount, balance.campaign.campaign_id if balance.campaign is not None else None)
            for balance, amount in parts
        ],
    )


def order_by_external_ref(session: Session, *, partner_id: int, external_ref: str) -> Order | None:
    return session.exec(select(Order).where(Order.partner_id == partner_id, Order.external_ref == external_ref)).first()


def _existing(
    session: Session, *, consumer_id: int, partner_id: int, idempotency_key: str, external_ref: str | None
) -> Order | None:
    """The order this checkout already made: by the partner's reference when there is one."""
    if external_ref is not None:
        return order_by_external_ref(session, partner_id=partner_id, external_ref=external_ref)
    return session.exec(select(Order).where(Order.consumer_id == consumer_id, Order.idempotency_key == idempotency_key)).first()


def reviewed_quote(face_value: Money, *, price: str, card_value: str, cash_back: str) -> Quote | None:
    """The quote the review page showed, from the figures (minor units) its confirm form carries back.

    None when the form carries none (it came from no review page): checkout then charges the current
    quote. Figures that can't be read are refused like changed ones. They only decide whether to
    refuse: what is charged is always checkout's own quote.
    """
    figures = [(text or "").strip() for text in (price, card_value, cash_back)]
    if not any(figures):
        return None
    if not all(REVIEWED_FIGURE.match(text) for text in figures):
        raise QuoteChanged(QUOTE_CHANGED)
    price_, card_value_, cash_back_ = (Money(int(text), face_value.currency) for text in figures)
    return Quote(face_value=face_value, price=price_, card_value=card_value_, cash_back=cash_back_)


def place_order(
    session: Session,
    *,
    consumer: Consumer,
    offer: Offer,
    face_value: Money,
    recipient: Recipient,
    idempotency_key: str,
    channel: str = "store",
    external_ref: str | None = None,
    actor: str | None = None,
    reviewed: Quote | None = None,
    deliver_at: datetime | None = None,
) -> Order:
    """Debit the wallet and create a pending order in one transaction, then queue its fulfilment.

    `deliver_at` (UTC, checked by `app.domain.orders.check_deliver_at`): the order is `scheduled`, charged now,
    and its fulfilment queued for that moment. A store order placed for now waits the partner's unsend window
    (`Partner.unsend_window_minutes`) the same way, so its sender can still take it back.

    The same idempotency key (double click, resubmit, retry) returns the first order: one order,
    one debit, also when the requests race. Insufficient balance, a deactivated consumer or a bad
    amount change nothing. `reviewed`, the quote the consumer confirmed (see `reviewed_quote`):
    when today's quote differs, QuoteChanged and nothing is charged; the charge is always today's quote.
    """
    # Keys with a ":" are made here for the API's and the portal's orders (api:…, retry:…): a store form can't take one.
    if not IDEMPOTENCY_KEY.match(idempotency_key or "") or (channel == "store" and ":" in idempotency_key):
        raise InvalidInput("This checkout form is incomplete. Reload the page and try again.", field="idempotency_key")
    consumer_id, partner_id = row_id(consumer), consumer.partner_id
    existing = _existing(
        session, consumer_id=consumer_id, partner_id=partner_id, idempotency_key=idempotency_key, external_ref=external_ref
    )
    if existing is not None:
        return existing
    if not consumer.is_active:
        raise ConsumerDeactivated("Your account is deactivated, so you can't place orders.")
    # The consumer's own bonus: a bonus for a segment only when they have its tag (store, API and portal orders alike).
    offer = offer.for_tags(segments.consumer_tag_set(session, consumer))
    quote = offer.quote(face_value)
    # Read before the transaction begins: starting it ends the view's read transaction, which expires every
    # loaded object, and these never change (reading them inside would reload the consumer and the brand).
    brand_id, brand_name = row_id(offer.brand), offer.brand.name
    brand = BrandRules(offer.brand.slug, offer.brand.category or "")
    if deliver_at is None and channel == "store":
        window = referenced(session, Partner, partner_id).unsend_window_minutes
        if window:
            deliver_at = utcnow() + timedelta(minutes=window)
    try:
        with write_transaction(session):
            # The campaigns' rows FOR SHARE, then the wallets FOR UPDATE in id order (two checkouts of one consumer
            # must not lock them crosswise): a pause or an end in flight is waited for and seen; one that comes
            # after waits for this checkout to commit.
            balances = campaigns.checkout_balances(session, consumer_id=consumer_id, currency=face_value.currency, lock=True)
            # Looked up again now that this checkout holds the wallet: a racing request with the same key (double
            # click, retry) that held it first has committed, and its order is this one's, found before the balance
            # it spent could refuse this request (on SQLite the write lock serialises the same way).
            duplicate = _existing(
                session,
                consumer_id=consumer_id,
                partner_id=partner_id,
                idempotency_key=idempotency_key,
                external_ref=external_ref,
            )
            if duplicate is not None:
                return duplicate
            if reviewed is not None and reviewed != quote:
                raise QuoteChanged(QUOTE_CHANGED)
            parts = _split(quote, balances, brand)
            # The consumer's slot of the partner's card_purchases accounts: shoppers of one partner lock different rows.
            purchases = ledger.card_purchases_account(
                session, face_value.currency, partner_id=partner_id, consumer_id=consumer_id
            )
            order = Order(
                public_id="ord_" + secrets.token_hex(8),
                partner_id=partner_id,
                consumer_id=consumer_id,
                brand_id=brand_id,
                currency=face_value.currency,
                face_value=quote.face_value.amount,
                price=quote.price.amount,
                card_value=quote.card_value.amount,
                cash_back=quote.cash_back.amount,
                recipient_email=recipient.email,
                recipient_name=recipient.name,
                sender_name=recipient.sender_name,
                message=recipient.message,
                to_self=recipient.to_self,
                idempotency_key=idempotency_key,
                channel=channel,
                external_ref=external_ref,
                status=(OrderStatus.SCHEDULED if deliver_at is not None else OrderStatus.PENDING).value,
                deliver_at=deliver_at,
            )
            session.add(order)
            session.flush()
            debit = ledger.record_transaction(
                session,
                partner_id=partner_id,
                consumer_id=consumer_id,
                order_id=order.id,
                type=TransactionType.DEBIT,
                status=TransactionStatus.PENDING,
                currency=face_value.currency,
                postings=[Posting(cast(int, balance.key), -amount.amount) for balance, amount in parts]  # keys: account ids
                + [Posting(row_id(purchases), quote.price.amount)],
                memo=f"{brand_name} gift card",
                actor=actor or f"consumer:{consumer_id}",
            )
            order.debit_transaction_id = debit.transaction.id
            session.flush()
            # Last, then the commit: moving the partner's card_purchases balance locks a row other orders of the
            # partner need (those of consumers in the same slot), so nothing else is written while this checkout holds it.
            ledger.move_balances(session, debit)
            order_id = order.id
            # Queue down: the checkout still succeeds; the sweep queues the pending order's fulfilment later.
            # A scheduled order's fulfilment waits in the queue's schedule until its time (the sweep catches it too).
            on_commit(session, lambda: enqueue_or_leave_for_sweep("fulfil_order", order_id, eta=deliver_at))
    except IntegrityError:
        # The same key (or reference) won a race in another request: that order is this checkout's order.
        session.rollback()
        existing = _existing(
            session, consumer_id=consumer_id, partner_id=partner_id, idempotency_key=idempotency_key, external_ref=external_ref
        )
        if existing is None:
            raise
        return existing
    return order


def api_idempotency_key(external_ref: str) -> str:
    """The checkout key of a partner's order: one reference, one key (so the key's unique index
    also stops a second order for the same reference)."""
    return "api:" + hashlib.sha256(external_ref.encode()).hexdigest()[:40]


def _amount_problem(brand: Brand, amount: Money) -> str | None:
    """Why a partner may not order this amount of the brand, in the API's words."""
    if brand.denomination_list:
        if amount.amount not in brand.denomination_list:
            choices = ", ".join(str(Money(d, amount.currency).to_decimal()) for d in brand.denomination_list)
            return f"amount must be one of {choices} {amount.currency} for {brand.name}."
        return None
    low, high = Money(brand.min_amount or 0, amount.currency), Money(brand.max_amount or 0, amount.currency)
    if not low.amount <= amount.amount <= high.amount:
        return f"amount must be from {low.to_decimal()} to {high.to_decimal()} {amount.currency} for {brand.name}."
    return None


def _same_request(
    session: Session,
    order: Order,
    *,
    consumer: Consumer,
    brand_slug: str,
    face_value: Money,
    recipient: Recipient,
    deliver_at: datetime | None = None,
) -> Order:
    """`order` if it is what this request asks for; a reference reused for something else is refused."""
    brand = referenced(session, Brand, order.brand_id)
    asked = (
        consumer.id,
        brand_slug,
        face_value.currency,
        face_value.amount,
        recipient.email,
        recipient.name,
        recipient.sender_name,
        recipient.message,
        recipient.to_self,
        deliver_at,
    )
    made = (
        order.consumer_id,
        brand.slug,
        order.currency,
        order.face_value,
        order.recipient_email,
        order.recipient_name,
        order.sender_name,
        order.message,
        order.to_self,
        order.deliver_at if order.channel == "api" else None,
    )
    if asked != made:
        raise InvalidInput(EXTERNAL_REF_REUSED, field="external_ref")
    return order


def place_partner_order(
    session: Session,
    *,
    partner: Partner,
    consumer: Consumer,
    brand_slug: str,
    face_value: Money,
    recipient: Recipient,
    external_ref: str,
    actor: str,
    deliver_at: datetime | None = None,
) -> Order:
    """An order a partner's system places for its customer, idempotent on the partner's reference.

    The same reference with the same request returns the first order, also when identical
    requests race; with a different request it is refused. Each refusal names the field at
    fault and charges nothing.
    """
    existing = order_by_external_ref(session, partner_id=row_id(partner), external_ref=external_ref)
    if existing is not None:
        return _same_request(
            session,
            existing,
            consumer=consumer,
            brand_slug=brand_slug,
            face_value=face_value,
            recipient=recipient,
            deliver_at=deliver_at,
        )
    if not consumer.is_active:
        raise InvalidInput(f"Consumer {consumer.id} is deactivated and cannot place orders.", field="consumer_id")
    currency = face_value.currency
    if currency not in partner.currency_list:
        raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")
    try:
        offer = catalog.offer(session, partner, brand_slug)
    except NotFound:
        raise InvalidInput(f"brand '{brand_slug}' is not available to this partner.", field="brand") from None
    if currency not in offer.brand.currency_list:
        raise InvalidInput(f"currency: {offer.brand.name} gift cards are not sold in {currency}.", field="currency")
    problem = _amount_problem(offer.brand, face_value)
    if problem:
        raise InvalidInput(problem, field="amount")
    if not campaigns.checkout_balances(session, consumer_id=row_id(consumer), currency=currency):
        raise InsufficientFunds(WALLET_TOO_LOW, field="amount")
    try:
        order = place_order(
            session,
            consumer=consumer,
            offer=offer,
            face_value=face_value,
            recipient=recipient,
            idempotency_key=api_idempotency_key(external_ref),
            channel="api",
            external_ref=external_ref,
            actor=actor,
            deliver_at=deliver_at,
        )
    except InsufficientFunds:
        raise InsufficientFunds(WALLET_TOO_LOW, field="amount") from None
    return _same_request(
        session,
        order,
        consumer=consumer,
        brand_slug=brand_slug,
        face_value=face_value,
        recipient=recipient,
        deliver_at=deliver_at,
    )


# Built once: the order status partial is polled while an order is pending.
_ORDER_AND_BRAND = (
    select(Order, Brand)
    .join(Brand, col(Brand.id) == Order.brand_id)
    .where(Order.public_id == bindparam("public_id"), Order.consumer_id == bindparam("consumer_id"))
)
# The status partial names the brand and nothing more of it, and never shows the card.
# (The attributes are InstrumentedAttributes at runtime; SQLModel types them as their values.)
_BRIEF = (
    load_only(Brand.id, Brand.name, Brand.slug),  # type: ignore[arg-type]
    defer(Order.card_number_encrypted),  # type: ignore[arg-type]
    defer(Order.card_pin_encrypted),  # type: ignore[arg-type]
    defer(Order.redemption_url_encrypted),  # type: ignore[arg-type]
    defer(Order.message),  # type: ignore[arg-type]
)
_ORDER_AND_BRAND_NAME = _ORDER_AND_BRAND.options(*_BRIEF)
# The status partial's whole request in one query: the store's partner and signed-in consumer (with balances)
# and that consumer's order, if it is theirs, with its brand's name.
_PARTNER_CONSUMER_AND_ORDER = (
    partners.PARTNER_AND_CONSUMER.add_columns(Order, Brand)
    .outerjoin(Order, (col(Order.public_id) == bindparam("public_id")) & (col(Order.consumer_id) == Consumer.id))
    .outerjoin(Brand, col(Brand.id) == Order.brand_id)
    .options(*_BRIEF)
)


def partner_consumer_and_order(
    session: Session, slug: str, consumer_id: int, public_id: str, sign_in_token: str | None = None
) -> tuple[Partner, Consumer | None]:
    """`partners.partner_and_consumer`, and in the same query that consumer's order `public_id` with its brand
    (brief, as for the status partial): remembered for `order_and_brand_for_consumer(brief=True)`."""
    params = {"slug": slug, "consumer_id": consumer_id, "public_id": public_id}
    partner, consumer, order, brand = partners.partner_and_consumer_row(
        session, _PARTNER_CONSUMER_AND_ORDER, params, sign_in_token=sign_in_token
    )
    if consumer is not None and order is not None:
        remember(session, ("brief order", consumer.id, public_id), (order, brand))
    return partner, consumer


def order_for_consumer(session: Session, *, consumer: Consumer, public_id: str) -> Order:
    return order_and_brand_for_consumer(session, consumer=consumer, public_id=public_id)[0]


def order_and_brand_for_consumer(
    session: Session, *, consumer: Consumer, public_id: str, brief: bool = False
) -> tuple[Order, Brand]:
    """The consumer's order and its brand, in one query. `brief`: only the brand's name, and not the card
    (what else is asked for is read then)."""
    row = remembered(session, ("brief order", consumer.id, public_id)) if brief else None
    if row is None:
        statement = _ORDER_AND_BRAND_NAME if brief else _ORDER_AND_BRAND
        row = session.exec(statement, params={"public_id": public_id, "consumer_id": consumer.id}).first()
    if row is None:
        raise NotFound("We couldn't find that order.")
    return row[0], row[1]


def fulfil(session: Session, order_id: int, *, last_attempt: bool = False) -> str:
    """Ask the provider for the card and complete the order, at most once.

    A claim (`claimed_until`) keeps a second worker off the order while one works on it; the
    provider is idempotent on the order's public id, and completing is a conditional update, so
    even a worker that dies mid-way and is replaced issues one card and completes once.
    """
    now = utcnow()
    settings = current_app.extensions["settings"]
    with write_transaction(session):
        # A scheduled order whose time came becomes pending here, unless its sender cancelled it first: both are
        # conditional updates of the same row, so exactly one of them wins.
        session.execute(
            update(Order)
            .where(col(Order.id) == order_id, col(Order.status) == OrderStatus.SCHEDULED.value, col(Order.deliver_at) <= now)
            .values(status=OrderStatus.PENDING.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        claimed = cast(
            CursorResult,
            session.execute(
                update(Order)
                .where(col(Order.id) == order_id, col(Order.status) == OrderStatus.PENDING.value)
                .where(or_(col(Order.claimed_until).is_(None), col(Order.claimed_until) < now))
                .values(claimed_until=now + timedelta(seconds=settings.ORDER_CLAIM_SECONDS), attempts=Order.attempts + 1)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
    if not claimed:
        return "skipped"
    order = referenced(session, Order, order_id, populate_existing=True)  # claimed just now
    brand = referenced(session, Brand, order.brand_id)
    provider = current_app.extensions["provider"]
    try:
        card = provider.issue(
            reference=order.public_id,
            brand_slug=brand.slug,
            has_pin=brand.has_pin,
            redemption_url=brand.redemption_url,
            value=Money(order.card_value, order.currency),
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        )
    except ProviderError as error:
        if error.permanent or last_attempt or order.attempts >= settings.ORDER_MAX_ATTEMPTS:
            fail(session, order_id, reason=error.message)
            return "failed"
        with write_transaction(session):
            session.execute(
                update(Order)
                .where(col(Order.id) == order_id)
                .values(claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        raise
    return "completed" if _complete(session, order_id, card) else "skipped"


def _complete(session: Session, order_id: int, card) -> bool:
    encryptor = current_app.extensions["encryptor"]
    now = utcnow()
    with write_transaction(session):
        done = cast(
            CursorResult,
            session.execute(
                update(Order)
                .where(col(Order.id) == order_id, col(Order.status).in_(may_become(OrderStatus.COMPLETED)))
                .values(
                    status=OrderStatus.COMPLETED.value,
                    card_number_encrypted=encryptor.encrypt(card.number),
                    card_pin_encrypted=encryptor.encrypt(card.pin) if card.pin else "",
                    redemption_url_encrypted=encryptor.encrypt(card.redemption_url) if card.redemption_url else "",
                    provider_reference=card.reference,
                    claimed_until=None,
                    completed_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not done:
            return False
        order = referenced(session, Order, order_id, populate_existing=True)
        _set_status(session, order.debit_transaction_id, TransactionStatus.COMPLETED)
        partner, consumer, brand = _parties(session, order)
        gift_pages.send_gift_email(session, partner=partner, order=order, brand=brand, card=card)
        if not order.to_self:
            order_url = external_url("store.order", slug=partner.slug, public_id=order.public_id)
            queue_email(
                session,
                build_order_confirmation_email(partner=partner, consumer=consumer, order=order, brand=brand, order_url=order_url),
                partner_id=partner.id,
                consumer_id=consumer.id,
            )
        webhooks.queue_order_event(session, order=order, brand=brand, event_type="order.completed")
        if order.cash_back:
            # Last before the commit, as at checkout: it moves a card_purchases account other orders of the partner
            # need. The one the order's debit credited, which holds at least the order's price.
            purchases_id = session.exec(
                select(Entry.account_id)
                .join(Account, col(Account.id) == Entry.account_id)
                .where(Entry.transaction_id == order.debit_transaction_id, Account.kind == AccountKind.CARD_PURCHASES.value)
            ).one()
            bonus = ledger.open_account(
                session, AccountKind.BONUS, order.currency, partner_id=order.partner_id, consumer_id=order.consumer_id
            )
            ledger.post_transaction(
                session,
                partner_id=order.partner_id,
                consumer_id=order.consumer_id,
                order_id=order.id,
                type=TransactionType.REBATE,
                currency=order.currency,
                postings=transfer(purchases_id, row_id(bonus), order.cash_back),
                memo="Cash bonus",
                actor="system",
            )
    return True


def fail(session: Session, order_id: int, *, reason: str) -> bool:
    """Fail a pending order and refund exactly the balances its debit took, once."""
    now = utcnow()
    with write_transaction(session):
        failed = cast(
            CursorResult,
            session.execute(
                update(Order)
                .where(col(Order.id) == order_id, col(Order.status).in_(may_become(OrderStatus.FAILED)))
                .values(status=OrderStatus.FAILED.value, failure_reason=reason[:500], claimed_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not failed:
            return False
        order = referenced(session, Order, order_id, populate_existing=True)
        _refund(session, order, memo=f"Refund: {reason}", actor="system")
        partner, consumer, brand = _parties(session, order)
        queue_email(
            session,
            build_order_failed_email(partner=partner, consumer=consumer, order=order, brand=brand),
            partner_id=partner.id,
            consumer_id=consumer.id,
        )
        webhooks.queue_order_event(session, order=order, brand=brand, event_type="order.failed")
    return True


def _refund(session: Session, order: Order, *, memo: str, actor: str) -> None:
    """Give back exactly what the order's debit took, to the accounts it took it from (inside the caller's
    transaction, once the order's status moved to failed or cancelled by a conditional update)."""
    _set_status(session, order.debit_transaction_id, TransactionStatus.FAILED)
    entries = session.exec(select(Entry).where(Entry.transaction_id == order.debit_transaction_id)).all()
    ledger.post_transaction(
        session,
        partner_id=order.partner_id,
        consumer_id=order.consumer_id,
        order_id=order.id,
        type=TransactionType.REFUND,
        currency=order.currency,
        postings=[Posting(entry.account_id, -entry.amount) for entry in entries],
        memo=memo[:500],
        actor=actor,
    )
    # Exactly the accounts charged got their money back; what went back into a campaign balance that can no
    # longer be spent (the campaign ended, or the consumer left it) goes on to the campaign's budget, and to
    # the partner's funds when the campaign returns its budget at its end.
    for entry in entries:
        charged = referenced(session, Account, entry.account_id)
        if entry.amount < 0 and charged.kind == AccountKind.CAMPAIGN.value:
            campaigns.return_ended_campaign_refund(session, account_id=row_id(charged), order_id=order.id)


ALREADY_DELIVERED = "This gift was already delivered (or is being delivered now), so it can no longer be cancelled."


class AlreadyDelivered(DomainError):
    """A cancel that came too late: the gift left (or is leaving) its scheduled state."""


def cancel(session: Session, order_id: int, *, actor: str, and_then: Callable[[Order], None] | None = None) -> Order:
    """Unsend a gift that is not delivered yet (`scheduled`): the order becomes `cancelled` and exactly the balances
    its debit took get their money back, once. An order already cancelled is returned as it is (idempotent); one
    that is pending, completed or failed is refused (AlreadyDelivered). Races with its delivery job end with one
    winner: both move the order out of `scheduled` by a conditional update, and fulfilment claims only pending
    orders. `and_then(order)` runs in the same transaction, only when this call is the one that cancelled it."""
    now = utcnow()
    with write_transaction(session):
        cancelled = cast(
            CursorResult,
            session.execute(
                update(Order)
                .where(col(Order.id) == order_id, col(Order.status).in_(may_become(OrderStatus.CANCELLED)))
                .values(status=OrderStatus.CANCELLED.value, cancelled_at=now, claimed_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        order = referenced(session, Order, order_id, populate_existing=True)
        if not cancelled:
            if order.status == OrderStatus.CANCELLED.value:
                return order
            raise AlreadyDelivered(ALREADY_DELIVERED)
        _refund(session, order, memo="Refund: gift cancelled by its sender", actor=actor)
        brand = referenced(session, Brand, order.brand_id)
        webhooks.queue_order_event(session, order=order, brand=brand, event_type="order.cancelled")
        if and_then is not None:
            and_then(order)
    return order


def cancel_for_consumer(session: Session, *, consumer: Consumer, public_id: str) -> Order:
    """The sender's unsend from the store's order page (their own order only)."""
    order = order_for_consumer(session, consumer=consumer, public_id=public_id)
    return cancel(session, row_id(order), actor=f"consumer:{consumer.id}")


def _parties(session: Session, order: Order) -> tuple[Partner, Consumer, Brand]:
    """Who the order's emails are about: the store, the buyer and the brand."""
    return (
        referenced(session, Partner, order.partner_id),
        referenced(session, Consumer, order.consumer_id),
        referenced(session, Brand, order.brand_id),
    )


def _set_status(session: Session, transaction_id: int | None, status: TransactionStatus) -> None:
    if transaction_id is not None:
        session.execute(
            update(Transaction)
            .where(col(Transaction.id) == transaction_id)
            .values(status=status.value)
            .execution_options(synchronize_session=False)
        )


def sweep_stale_orders(session: Session, *, pending_for: timedelta | None = None) -> int:
    """Re-queue orders nobody is working on (pending for ORDER_SWEEP_AFTER_SECONDS, or scheduled for that long past
    their delivery time; no live claim); fail (and refund) those that used up their attempts."""
    now = utcnow()
    settings = current_app.extensions["settings"]
    if pending_for is None:
        pending_for = timedelta(seconds=settings.ORDER_SWEEP_AFTER_SECONDS)
    # A scheduled order counts from its delivery time: the queue's own schedule runs it then, and if that task was
    # lost (a worker's memory, a queue emptied on restart) the sweep queues it once the same grace has passed.
    since = func.coalesce(col(Order.deliver_at), col(Order.created_at))
    stale = session.exec(
        select(Order.id, Order.attempts).where(
            col(Order.status).in_((OrderStatus.PENDING.value, OrderStatus.SCHEDULED.value)),
            since < now - pending_for,
            or_(col(Order.claimed_until).is_(None), col(Order.claimed_until) < now),
        )
    ).all()
    session.rollback()
    for order_id, attempts in cast(Sequence[tuple[int, int]], stale):  # ids of rows: never None
        if attempts >= settings.ORDER_MAX_ATTEMPTS:
            fail(session, order_id, reason="The provider did not answer in time.")
        else:
            enqueue("fulfil_order", order_id)
    return len(stale)


def reveal_card(session: Session, *, consumer: Consumer, public_id: str) -> tuple[str, str | None]:
    """The card's number and PIN, for the consumer who bought it for themselves."""
    order = order_for_consumer(session, consumer=consumer, public_id=public_id)
    if not order.to_self or order.status != OrderStatus.COMPLETED.value:
        raise NotFound("There is no card to show for this order.")
    encryptor = current_app.extensions["encryptor"]
    return encryptor.decrypt(order.card_number_encrypted), (
        encryptor.decrypt(order.card_pin_encrypted) if order.card_pin_encrypted else None
    )
