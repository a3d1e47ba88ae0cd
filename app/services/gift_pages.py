"""The recipient's gift page and the gift email that links to it, and the store's choice of what that email carries.

Every gift email carries a link to a page of the store (/s/<slug>/gift/<token>) that shows the gift: who
sent it and their message, the card's value, number and PIN, a barcode and a QR code, how to redeem it.
The token is random (256 bits) and only its hash is stored (`GiftPageLink`), so the database alone opens
no gift page; the card stays encrypted and is decrypted only to show the page. The first view marks the
order opened, once (a conditional UPDATE: two first views at once record one time); the email being handed
to SMTP marks it sent (app/services/emails.py). A store can send the link alone, without the card's
number and PIN in the email (`Partner.gift_email_link_only`): a forwarded or leaked email then shows no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.emails import build_gift_card_email
from app.links import external_url
from app.models import Brand, EmailMessage, GiftPageLink, Order, Partner, TeamMember
from app.providers import IssuedCard
from app.security import new_token, token_hash
from app.services import audit
from app.services.emails import queue_email
from app.services.rows import row_id

TOKEN_BYTES = 32  # 256 bits of randomness: 43 URL-safe characters
TOKEN_MAX_LENGTH = 64  # anything longer is no token of ours (refused before hashing)
NO_SUCH_GIFT = "We couldn't find this gift. Check that the link is the whole one from your email."
EMAIL_CONTENTS = {
    "code_and_link": False,  # the card's number and PIN, and the link (the default)
    "link_only": True,
}


def gift_page_url(partner: Partner, token: str) -> str:
    return external_url("store.gift_page", slug=partner.slug, token=token)


def send_gift_email(session: Session, *, partner: Partner, order: Order, brand: Brand, card: IssuedCard) -> EmailMessage:
    """Queue the gift email to the order's recipient with a new link to its gift page (in the caller's transaction).

    The email carries the card itself too unless the store sends the link only.
    """
    token = new_token(TOKEN_BYTES)
    email = build_gift_card_email(
        partner=partner,
        order=order,
        brand=brand,
        card=card,
        gift_page_url=gift_page_url(partner, token),
        link_only=partner.gift_email_link_only,
    )
    with write_transaction(session):
        message = queue_email(session, email, partner_id=partner.id, consumer_id=order.consumer_id)
        session.add(GiftPageLink(order_id=row_id(order), token_hash=token_hash(token), email_message_id=message.id))
        session.flush()
    return message


def revoke_links(session: Session, *, order_id: int) -> int:
    """The order's gift page links stop opening (the card now goes to another address). Returns how many."""
    with write_transaction(session):
        return cast(
            CursorResult,
            session.execute(
                update(GiftPageLink)
                .where(col(GiftPageLink.order_id) == order_id, col(GiftPageLink.revoked_at).is_(None))
                .values(revoked_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        ).rowcount


@dataclass(frozen=True)
class GiftPage:
    """What the recipient's page shows: the order and its brand, and the card, decrypted for this page only."""

    order: Order
    brand: Brand
    number: str
    pin: str | None
    redemption_url: str
    first_view: bool  # this view marked the order opened

    @property
    def card_value(self) -> Money:
        return Money(self.order.card_value, self.order.currency)


def open_gift_page(session: Session, *, partner: Partner, token: str) -> GiftPage:
    """The gift behind `token` in `partner`'s store (NotFound for any other token, another store's, or a revoked
    link), marking its order opened the first time."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound(NO_SUCH_GIFT)
    row = session.exec(
        select(Order, Brand)
        .join(GiftPageLink, col(GiftPageLink.order_id) == Order.id)
        .join(Brand, col(Brand.id) == Order.brand_id)
        .where(
            GiftPageLink.token_hash == token_hash(token),
            col(GiftPageLink.revoked_at).is_(None),
            Order.partner_id == row_id(partner),
        )
    ).first()
    if row is None or row[0].status != OrderStatus.COMPLETED.value:
        raise NotFound(NO_SUCH_GIFT)
    order, brand = row
    encryptor = current_app.extensions["encryptor"]
    number = encryptor.decrypt(order.card_number_encrypted)
    pin = encryptor.decrypt(order.card_pin_encrypted) if order.card_pin_encrypted else None
    redemption_url = encryptor.decrypt(order.redemption_url_encrypted) if order.redemption_url_encrypted else ""
    first_view = False
    if order.opened_at is None:
        first_view = mark_opened(session, order_id=row_id(order))
        session.refresh(order)
    return GiftPage(order, brand, number, pin, redemption_url, first_view)


def mark_opened(session: Session, *, order_id: int) -> bool:
    """Record the first view of the order's gift page: once, whoever comes second (True for the one that recorded it)."""
    with write_transaction(session):
        return bool(
            cast(
                CursorResult,
                session.execute(
                    update(Order)
                    .where(col(Order.id) == order_id, col(Order.opened_at).is_(None))
                    .values(opened_at=utcnow())
                    .execution_options(synchronize_session=False)
                ),
            ).rowcount
        )


def set_email_contents(session: Session, *, partner: Partner, contents: str, by: TeamMember) -> bool:
    """What the store's gift emails carry from now on: 'code_and_link' (the default) or 'link_only'.
    Audited; True when it changed."""
    if contents not in EMAIL_CONTENTS:
        raise InvalidInput("Choose what gift emails carry.", field="gift_email")
    link_only = EMAIL_CONTENTS[contents]
    with write_transaction(session):
        session.refresh(partner)
        before = partner.gift_email_link_only
        if before == link_only:
            return False
        partner.gift_email_link_only = link_only
        session.add(partner)
        audit.record(
            session,
            partner_id=row_id(partner),
            member=by,
            action="store.gift_email_contents",
            subject_type="partner",
            subject_id=row_id(partner),
            summary="Gift emails now carry "
            + ("only the link to the gift page" if link_only else "the card number and PIN with the link to the gift page"),
            details={"link_only": link_only, "was_link_only": before},
        )
    return True
