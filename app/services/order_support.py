"""Order support in the partner portal: find the partner's orders, retry a failed one, send a card again.

A retry is a new order (a new charge, through `place_order`), never a second life for the failed
one: that one stays failed and refunded, and points at its replacement. Resending the card, or
sending it to a corrected address, is limited to MAX_DELIVERY_CHANGES per order, counted by a
conditional UPDATE so two clicks at once cannot exceed it. Each change is audited in its own
write transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, or_, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain import paging
from app.domain.errors import DomainError, InsufficientFunds, InvalidInput, NotFound
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.emails import build_order_cancelled_email, build_recipient_changed_email
from app.models import Brand, Consumer, EmailMessage, Order, Partner, PartnerBrand, TeamMember, Transaction
from app.providers import IssuedCard
from app.services import audit, catalog, gift_pages, list_pages, orders
from app.services.consumers import email_condition, normalize_email
from app.services.emails import queue_email
from app.services.orders import Recipient, order_for_consumer, place_order
from app.services.reports import DayRange, day_range, email_filter
from app.services.rows import referenced, row_id

MAX_DELIVERY_CHANGES = 3
ORDER_STATUSES = tuple(s.value for s in OrderStatus)
ORDER_EMAIL_KINDS = ("gift_card", "order_confirmation", "order_failed", "recipient_changed")


# --- finding orders ----------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilter:
    status: str = ""
    brand_id: int | None = None
    email: str = ""
    days: DayRange = DayRange()

    def args(self) -> dict:
        """The filter as query arguments, for links to other pages of the same list."""
        values = {"status": self.status, "brand": self.brand_id, "email": self.email, **self.days.args()}
        return {key: value for key, value in values.items() if value}

    def where(self, session: Session, partner: Partner) -> list:
        conditions = [Order.partner_id == partner.id, *self.days.where(Order.created_at)]
        if self.status:
            conditions.append(Order.status == self.status)
        if self.brand_id:
            conditions.append(Order.brand_id == self.brand_id)
        if self.email:
            conditions.append(email_condition(session, partner_id=row_id(partner), text=self.email))
        return conditions


def order_filter(args: Mapping[str, str]) -> OrderFilter:
    status, brand = args.get("status", "").strip(), args.get("brand", "").strip()
    if status and status not in ORDER_STATUSES:
        raise InvalidInput("Choose an order status from the list.", field="status")
    if brand and not (brand.isdigit() and len(brand) < 10):
        raise InvalidInput("Choose a brand from the list.", field="brand")
    return OrderFilter(
        status,
        int(brand) if brand else None,
        email_filter(args.get("email", "")),
        day_range(args.get("from", ""), args.get("to", "")),
    )


@dataclass(frozen=True)
class OrderRow:
    order: Order
    brand: str
    consumer_email: str

    @property
    def card_value(self) -> Money:
        return Money(self.order.card_value, self.order.currency)

    @property
    def price(self) -> Money:
        return Money(self.order.price, self.order.currency)


def order_page(
    session: Session, *, partner: Partner, filter: OrderFilter, position: paging.Position = paging.FIRST_PAGE, size: int = 50
) -> paging.CursorPage[OrderRow]:
    """A page of the partner's orders, newest first, from `position` (indexes: gift_order (partner_id, id) and
    (partner_id, status, id); an email filter finds its consumers first, a whole address by the unique index)."""
    where = filter.where(session, partner)
    counted = select(Order.id).where(*where)
    if filter.email:
        counted = counted.join(Consumer, col(Consumer.id) == Order.consumer_id)
    found = list_pages.newest_first(
        session,
        select(Order, Brand.name, Consumer.email)
        .join(Brand, col(Brand.id) == Order.brand_id)
        .join(Consumer, col(Consumer.id) == Order.consumer_id)
        .where(*where),
        key=col(Order.id),
        key_of=lambda row: row[0].id,
        counted=counted,
        position=position,
        size=size,
    )
    return replace(found, rows=[OrderRow(order, brand, email) for order, brand, email in found.rows])


def partner_brands(session: Session, partner: Partner) -> list[Brand]:
    """The brands the partner offers (or offered), for the list's brand filter."""
    return list(
        session.exec(
            select(Brand)
            .join(PartnerBrand, col(PartnerBrand.brand_id) == Brand.id)
            .where(col(PartnerBrand.partner_id) == partner.id)
            .order_by(col(Brand.name))
        ).all()
    )


def partner_order(session: Session, *, partner: Partner, public_id: str) -> Order:
    """The partner's own order; another partner's is simply not found (never 'forbidden')."""
    order = session.exec(select(Order).where(Order.public_id == public_id[:24], Order.partner_id == partner.id)).first()
    if order is None:
        raise NotFound("There is no such order.")
    return order


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    brand: Brand
    consumer: Consumer
    transactions: list[Transaction]
    emails: list[EmailMessage]
    retried_by: Order | None  # the new order that replaced this failed one
    retry_of: Order | None  # the failed order this one replaced
    retry_problem: str | None  # why a retry isn't possible, or None
    delivery_changes_allowed: int = MAX_DELIVERY_CHANGES

    def money(self, amount: int) -> Money:
        return Money(amount, self.order.currency)

    @property
    def masked_card(self) -> str | None:
        """The card number as the portal shows it: only its last four digits."""
        if not self.order.card_number_encrypted:
            return None
        digits = "".join(c for c in current_app.extensions["encryptor"].decrypt(self.order.card_number_encrypted) if c.isdigit())
        return f"•••• •••• •••• {digits[-4:]}"

    @property
    def delivery_changes_left(self) -> int:
        return max(0, MAX_DELIVERY_CHANGES - self.order.delivery_changes)


def order_details(session: Session, *, partner: Partner, public_id: str) -> OrderDetails:
    order = partner_order(session, partner=partner, public_id=public_id)
    brand, consumer = referenced(session, Brand, order.brand_id), referenced(session, Consumer, order.consumer_id)
    transactions = session.exec(
        select(Transaction).where(col(Transaction.order_id) == order.id).order_by(col(Transaction.id))
    ).all()
    # Emails name their consumer, not their order: the order's kinds, to its people, since it was placed.
    emails = session.exec(
        select(EmailMessage)
        .where(
            EmailMessage.partner_id == partner.id,
            EmailMessage.consumer_id == order.consumer_id,
            col(EmailMessage.kind).in_(ORDER_EMAIL_KINDS),
            EmailMessage.created_at >= order.created_at,
            or_(col(EmailMessage.to) == order.recipient_email, col(EmailMessage.to) == consumer.email),
        )
        .order_by(col(EmailMessage.id))
        .limit(50)
    ).all()
    retried_by = session.get(Order, order.retried_by_id) if order.retried_by_id else None
    retry_of = session.exec(select(Order).where(Order.retried_by_id == order.id)).first()
    return OrderDetails(
        order,
        brand,
        consumer,
        list(transactions),
        list(emails),
        retried_by,
        retry_of,
        _retry_problem(session, partner, order, brand, consumer),
    )


# --- retrying a failed order --------------------------------------------------------------


def _retry_problem(session: Session, partner: Partner, order: Order, brand: Brand, consumer: Consumer) -> str | None:
    """Why this order can't be retried (in the words an operator needs), or None."""
    if order.status != OrderStatus.FAILED.value:
        return f"Only a failed order can be retried; this one is {order.status}."
    if order.retried_by_id:
        retried_by = referenced(session, Order, order.retried_by_id)
        return f"This order was already retried: {retried_by.public_id}."
    if not brand.supports_retry:
        return f"{brand.name} gift cards can't be retried: the brand's provider doesn't allow it."
    if not consumer.is_active:
        return "The consumer is deactivated, so no new order can be placed for them."
    try:
        offer = catalog.offer(session, partner, brand.slug)
    except NotFound:
        return f"{brand.name} is disabled in your store, so no new order can be placed for it."
    problem = offer.amount_problem(Money(order.face_value, order.currency))
    if problem:
        return f"{brand.name} no longer sells this amount: {problem}"
    return None


def retry_key(order: Order) -> str:
    """One retry per failed order: a double click places the same new order, not two."""
    return f"retry:{order.public_id}"


def retry_order(session: Session, *, partner: Partner, order: Order, by: TeamMember) -> Order:
    """Place a new order like the failed one (same card, same recipient, today's price), charged to the wallet again."""
    with write_transaction(session):
        # Lock the failed order (PostgreSQL: its row; SQLite: the database), then look again: a second
        # click waits here and then finds the order already retried.
        session.execute(
            update(Order)
            .where(col(Order.id) == order.id)
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.refresh(order)
        brand, consumer = referenced(session, Brand, order.brand_id), referenced(session, Consumer, order.consumer_id)
        session.refresh(consumer)
        problem = _retry_problem(session, partner, order, brand, consumer)
        if problem:
            raise DomainError(problem)
        offer = catalog.offer(session, partner, brand.slug)
        face_value = Money(order.face_value, order.currency)
        recipient = Recipient(order.recipient_email, order.recipient_name, order.sender_name, order.message, order.to_self)
        try:
            new = place_order(
                session,
                consumer=consumer,
                offer=offer,
                face_value=face_value,
                recipient=recipient,
                idempotency_key=retry_key(order),
                channel="portal",
                actor=audit.actor_label(by),
            )
        except InsufficientFunds:
            price = offer.quote(face_value).price
            raise InsufficientFunds(
                f"The consumer's wallet doesn't cover the {price} this card costs: nothing was charged."
            ) from None
        if new.channel != "portal" or new.brand_id != order.brand_id:
            # The key was taken by a store checkout that forged it: don't link someone else's order.
            raise DomainError("This order can't be retried from the portal.")
        session.execute(
            update(Order)
            .where(col(Order.id) == order.id)
            .values(retried_by_id=new.id)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="order.retry",
            subject_type="order",
            subject_id=order.public_id,
            summary=f"Retried {order.public_id} as {new.public_id} ({brand.name}, {Money(new.price, new.currency)})",
            details={"failed_order": order.public_id, "new_order": new.public_id, "price": new.price, "currency": new.currency},
        )
    return new


# --- sending the card again ---------------------------------------------------------------


def _card(order: Order) -> IssuedCard:
    """The issued card as the order keeps it (encrypted), to put in an email again."""
    encryptor = current_app.extensions["encryptor"]
    return IssuedCard(
        number=encryptor.decrypt(order.card_number_encrypted),
        pin=encryptor.decrypt(order.card_pin_encrypted) if order.card_pin_encrypted else None,
        reference=order.provider_reference,
        redemption_url=encryptor.decrypt(order.redemption_url_encrypted) if order.redemption_url_encrypted else "",
    )


def _use_a_delivery_change(session: Session, order: Order, *, only_if: tuple = (), **changes) -> None:
    """Count one more resend or correction, with `changes` to the order; refuse past the limit. `only_if`: more
    conditions the order must still meet (checked in the same conditional UPDATE)."""
    if order.status != OrderStatus.COMPLETED.value:
        raise DomainError(f"Only a completed order's card can be sent; this order is {order.status}.")
    counted = cast(
        CursorResult,
        session.execute(
            update(Order)
            .where(
                col(Order.id) == order.id,
                col(Order.status) == OrderStatus.COMPLETED.value,
                col(Order.delivery_changes) < MAX_DELIVERY_CHANGES,
                *only_if,
            )
            .values(delivery_changes=Order.delivery_changes + 1, updated_at=utcnow(), **changes)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not counted:
        raise DomainError(
            f"This card was already resent or redirected {MAX_DELIVERY_CHANGES} times, the most allowed for one order."
        )
    session.refresh(order)


def _send_card(session: Session, partner: Partner, order: Order) -> None:
    brand = referenced(session, Brand, order.brand_id)
    gift_pages.send_gift_email(session, partner=partner, order=order, brand=brand, card=_card(order))


def resend_card(session: Session, *, partner: Partner, order: Order, by: TeamMember) -> Order:
    """Email the card again to the recipient (it went to spam, or was deleted)."""
    with write_transaction(session):
        session.refresh(order)
        _use_a_delivery_change(session, order)
        _send_card(session, partner, order)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="order.resend_card",
            subject_type="order",
            subject_id=order.public_id,
            summary=f"Card of {order.public_id} sent again to {order.recipient_email}",
            details={
                "old_email": order.recipient_email,
                "new_email": order.recipient_email,
                "delivery_changes": order.delivery_changes,
            },
        )
    return order


def change_recipient(session: Session, *, partner: Partner, order: Order, email: str, by: TeamMember) -> Order:
    """Correct the recipient's email address and send the card there (admins only: it moves a card).

    The buyer is told (old and new address, who, when), so a card can't be redirected silently. A card
    the buyer bought for themselves stays theirs: `to_self` is kept, so they can still show it in the store.
    """
    new_email = normalize_email(email, field="email")
    with write_transaction(session):
        session.refresh(order)
        old_email = order.recipient_email
        if new_email == old_email:
            raise InvalidInput(f"The card already goes to {old_email}. To send it there again, use Resend.", field="email")
        consumer = referenced(session, Consumer, order.consumer_id)
        # The links sent to the old address stop opening the gift, and the tracker follows the new address.
        gift_pages.revoke_links(session, order_id=row_id(order))
        _use_a_delivery_change(
            session,
            order,
            recipient_email=new_email,
            to_self=order.to_self or new_email == consumer.email,
            sent_at=None,
            opened_at=None,
        )
        _send_card(session, partner, order)
        notice = build_recipient_changed_email(
            partner=partner,
            consumer=consumer,
            order=order,
            brand=referenced(session, Brand, order.brand_id),
            old_email=old_email,
            new_email=new_email,
            changed_by_name=by.full_name,
            changed_by_email=by.email,
            changed_at=order.updated_at,
        )
        queue_email(session, notice, partner_id=partner.id, consumer_id=consumer.id)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="order.change_recipient",
            subject_type="order",
            subject_id=order.public_id,
            summary=f"Recipient of {order.public_id}: {old_email} → {new_email}; card sent again",
            details={"old_email": old_email, "new_email": new_email, "delivery_changes": order.delivery_changes},
        )
    return order


def cancel_scheduled(session: Session, *, partner: Partner, order: Order, by: TeamMember) -> Order:
    """The team unsends a scheduled gift (the consumer asked, or it was a mistake): `orders.cancel` refunds exactly
    what was charged; the buyer is told by email, and the audit log says who did it (once, however many click)."""

    def tell(cancelled: Order) -> None:
        consumer = referenced(session, Consumer, cancelled.consumer_id)
        brand = referenced(session, Brand, cancelled.brand_id)
        notice = build_order_cancelled_email(partner=partner, consumer=consumer, order=cancelled, brand=brand)
        queue_email(session, notice, partner_id=row_id(partner), consumer_id=row_id(consumer))
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="order.cancel",
            subject_type="order",
            subject_id=cancelled.public_id,
            summary=f"Scheduled gift {cancelled.public_id} to {cancelled.recipient_email} cancelled and refunded",
            details={"deliver_at": cancelled.deliver_at, "price": cancelled.price},
        )

    return orders.cancel(session, row_id(order), actor=audit.actor_label(by), and_then=tell)


# --- the sender's own resend and correction (the store's order page) ------------------------------

SENDER_CORRECTION_USED = "You already corrected the recipient's address once for this gift."
SENDER_CORRECTION_TOO_LATE = "The recipient already opened this gift, so its address can no longer be changed."


def sender_resend(session: Session, *, partner: Partner, consumer: Consumer, public_id: str) -> Order:
    """The sender emails their gift again to its recipient; counted with the portal's resends
    (MAX_DELIVERY_CHANGES per order)."""
    order = order_for_consumer(session, consumer=consumer, public_id=public_id)
    with write_transaction(session):
        session.refresh(order)
        _use_a_delivery_change(session, order)
        _send_card(session, partner, order)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=None,
            actor=f"consumer:{consumer.id}",
            action="order.sender_resend",
            subject_type="order",
            subject_id=order.public_id,
            summary=f"The sender sent {order.public_id} again to {order.recipient_email}",
            details={"delivery_changes": order.delivery_changes},
        )
    return order


def sender_correct_recipient(session: Session, *, partner: Partner, consumer: Consumer, public_id: str, email: str) -> Order:
    """The sender corrects the recipient's address: once per gift, before the gift page is opened. A scheduled gift
    just goes to the new address at its time; a delivered one is sent there now (counted with the portal's
    resends), and the links sent to the old address stop opening it."""
    new_email = normalize_email(email, field="email")
    order = order_for_consumer(session, consumer=consumer, public_id=public_id)
    with write_transaction(session):
        session.refresh(order)
        if order.to_self:
            raise DomainError("This gift card is yours: there is no recipient address to correct.")
        if order.sender_corrected_at is not None:
            raise DomainError(SENDER_CORRECTION_USED)
        if order.opened_at is not None:
            raise DomainError(SENDER_CORRECTION_TOO_LATE)
        if new_email == order.recipient_email:
            raise InvalidInput(f"The gift already goes to {new_email}.", field="email")
        now, old_email = utcnow(), order.recipient_email
        changes = {"recipient_email": new_email, "to_self": new_email == consumer.email, "sender_corrected_at": now}
        once = (col(Order.sender_corrected_at).is_(None), col(Order.opened_at).is_(None))
        if order.status == OrderStatus.SCHEDULED.value:
            changed = cast(
                CursorResult,
                session.execute(
                    update(Order)
                    .where(col(Order.id) == order.id, col(Order.status) == OrderStatus.SCHEDULED.value, *once)
                    .values(updated_at=now, **changes)
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
            if not changed:
                raise DomainError("This gift is being delivered right now: try again in a moment.")
            session.refresh(order)
        else:
            gift_pages.revoke_links(session, order_id=row_id(order))
            _use_a_delivery_change(session, order, only_if=once, sent_at=None, opened_at=None, **changes)
            _send_card(session, partner, order)
        _tell_the_sender(session, partner=partner, consumer=consumer, order=order, old_email=old_email, at=now)
    return order


def _tell_the_sender(session: Session, *, partner: Partner, consumer: Consumer, order: Order, old_email: str, at) -> None:
    """A correction made from the consumer's account: an email to them (if someone else signed in as them, they
    learn of it) and a row in the partner's audit log (support sees who changed what)."""
    notice = build_recipient_changed_email(
        partner=partner,
        consumer=consumer,
        order=order,
        brand=referenced(session, Brand, order.brand_id),
        old_email=old_email,
        new_email=order.recipient_email,
        changed_by_name="",
        changed_by_email="",
        changed_at=at,
    )
    queue_email(session, notice, partner_id=row_id(partner), consumer_id=row_id(consumer))
    audit.record(
        session,
        partner_id=row_id(partner),
        member=None,
        actor=f"consumer:{consumer.id}",
        action="order.sender_correct_recipient",
        subject_type="order",
        subject_id=order.public_id,
        summary=f"The sender corrected the recipient of {order.public_id}: {old_email} → {order.recipient_email}",
        details={"old_email": old_email, "new_email": order.recipient_email},
    )
