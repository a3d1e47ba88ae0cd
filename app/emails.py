"""Email builders: pure functions from business objects to subject, HTML and text.

Sending is separate (a queued task, see services/emails.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template

from app.domain.money import Money, format_money
from app.look import Look, published_look
from app.models import Brand, Consumer, Order, Partner


@dataclass(frozen=True)
class Email:
    kind: str
    to: str
    subject: str
    html: str
    text: str


def _render(kind: str, **context) -> tuple[str, str]:
    return render_template(f"email/{kind}.html", **context), render_template(f"email/{kind}.txt", **context)


def _dressed(partner: Partner, look: Look | None) -> tuple[Partner, Look]:
    """The partner as its emails show it: the published look (absolute links), or the one given (a preview)."""
    look = look or published_look(partner, absolute=True)
    return look.partner, look


def build_welcome_email(
    *,
    partner: Partner,
    consumer: Consumer,
    temporary_password: str,
    login_url: str,
    expires_at: datetime,
    look: Look | None = None,
) -> Email:
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        consumer=consumer,
        temporary_password=temporary_password,
        login_url=login_url,
        expires_at=expires_at,
    )
    html, text = _render("welcome", **context)
    return Email("welcome", consumer.email, f"Your {partner.display_name} account is ready", html, text)


def build_password_reset_email(
    *, partner: Partner, consumer: Consumer, reset_url: str, valid_minutes: int, look: Look | None = None
) -> Email:
    partner, look = _dressed(partner, look)
    context = dict(partner=partner, look=look, consumer=consumer, reset_url=reset_url, valid_minutes=valid_minutes)
    html, text = _render("password_reset", **context)
    return Email("password_reset", consumer.email, f"Reset your {partner.display_name} password", html, text)


def build_gift_card_email(
    *,
    partner: Partner,
    order: Order,
    brand: Brand,
    card,
    gift_page_url: str | None = None,
    link_only: bool = False,
    look: Look | None = None,
) -> Email:
    """The card, to the recipient (who may be the consumer): its number and PIN and a link to its gift page
    (`gift_page_url`), or with `link_only` the link alone (the number, PIN and redemption link stay out)."""
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        order=order,
        brand=brand,
        card=None if link_only else card,
        gift_page_url=gift_page_url,
        card_value=Money(order.card_value, order.currency),
    )
    html, text = _render("gift_card", **context)
    sender = order.sender_name or partner.display_name
    subject = f"Your {brand.name} gift card" if order.to_self else f"{sender} sent you a {brand.name} gift card"
    return Email("gift_card", order.recipient_email, subject, html, text)


def build_order_confirmation_email(
    *, partner: Partner, consumer: Consumer, order: Order, brand: Brand, order_url: str | None = None, look: Look | None = None
) -> Email:
    """To the consumer who sent a card to someone else: it is on its way, the cash bonus it paid back, and the
    order's page (`order_url`), which shows when the gift was sent and opened."""
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        consumer=consumer,
        order=order,
        brand=brand,
        card_value=Money(order.card_value, order.currency),
        price=Money(order.price, order.currency),
        cash_back=Money(order.cash_back, order.currency),
        order_url=order_url,
    )
    html, text = _render("order_confirmation", **context)
    return Email(
        "order_confirmation", consumer.email, f"Your {brand.name} gift card was sent to {order.recipient_email}", html, text
    )


def build_order_failed_email(
    *, partner: Partner, consumer: Consumer, order: Order, brand: Brand, look: Look | None = None
) -> Email:
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner, look=look, consumer=consumer, order=order, brand=brand, price=Money(order.price, order.currency)
    )
    html, text = _render("order_failed", **context)
    return Email("order_failed", consumer.email, f"Your {brand.name} gift card order could not be completed", html, text)


def build_order_cancelled_email(
    *, partner: Partner, consumer: Consumer, order: Order, brand: Brand, look: Look | None = None
) -> Email:
    """To the buyer of a scheduled gift the store's team cancelled: never sent, and the money is back."""
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        consumer=consumer,
        order=order,
        brand=brand,
        price=Money(order.price, order.currency),
        card_value=Money(order.card_value, order.currency),
    )
    html, text = _render("order_cancelled", **context)
    return Email("order_cancelled", consumer.email, f"Your scheduled {brand.name} gift card was cancelled", html, text)


def build_recipient_changed_email(
    *,
    partner: Partner,
    consumer: Consumer,
    order: Order,
    brand: Brand,
    old_email: str,
    new_email: str,
    changed_by_name: str,
    changed_by_email: str,
    changed_at: datetime,
    look: Look | None = None,
) -> Email:
    """To the consumer who bought the card: someone on the store's team sent it to another address, or (with no
    `changed_by_name`) they corrected it themselves from their account.

    Never the card itself: only who changed what, and when, so the buyer can object if they didn't ask for it
    (or someone else signed in as them).
    """
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        consumer=consumer,
        order=order,
        brand=brand,
        card_value=Money(order.card_value, order.currency),
        old_email=old_email,
        new_email=new_email,
        changed_by_name=changed_by_name,
        changed_by_email=changed_by_email,
        changed_at=changed_at,
    )
    html, text = _render("recipient_changed", **context)
    return Email("recipient_changed", consumer.email, f"Your {brand.name} gift card now goes to {new_email}", html, text)


def build_team_address_taken_email(
    *, partner: Partner, email: str, role: str, invited_by_name: str, login_url: str, look: Look | None = None
) -> Email:
    """To an address already on another partner's team, when `partner` tries to invite it.

    The inviting admin is answered as for any invitation (nothing tells them where the address is
    a member); the address's owner learns why no invitation came and what to do instead.
    """
    partner, look = _dressed(partner, look)
    context = dict(partner=partner, look=look, email=email, role=role, invited_by_name=invited_by_name, login_url=login_url)
    html, text = _render("team_address_taken", **context)
    return Email("team_address_taken", email, f"About your invitation to the {partner.name} partner portal", html, text)


def build_campaign_budget_low_email(
    *,
    partner: Partner,
    to: str,
    admin_name: str,
    campaign_name: str,
    remaining: Money,
    need: Money,
    threshold: Money | None,
    reason: str,
    members: int,
    recurring: bool,
    will_pause: bool,
    campaign_url: str,
) -> Email:
    """To each of the partner's admins, once when a campaign's budget becomes low (app/domain/campaign_periods.py,
    `budget_low_reason`: it can't pay the next allocations, or it fell below the admin's threshold)."""
    context = dict(
        partner=partner,
        admin_name=admin_name,
        campaign_name=campaign_name,
        remaining=remaining,
        need=need,
        threshold=threshold,
        reason=reason,
        members=members,
        recurring=recurring,
        will_pause=will_pause,
        campaign_url=campaign_url,
    )
    html, text = _render("campaign_budget_low", **context)
    return Email("campaign_budget_low", to, f"{campaign_name}: the campaign budget is running low", html, text)


def build_campaign_expiry_reminder_email(
    *,
    partner: Partner,
    consumer: Consumer,
    campaign_name: str,
    balance: Money,
    can_buy: str,
    expires_at: datetime,
    time_zone: str,
    store_url: str,
    look: Look | None = None,
) -> Email:
    """To a consumer who still holds a campaign balance a few days before it expires (the campaign's end), with a
    link to the store showing only what that balance can buy. `expires_at` is in the partner's `time_zone`."""
    partner, look = _dressed(partner, look)
    context = dict(
        partner=partner,
        look=look,
        consumer=consumer,
        campaign_name=campaign_name,
        balance=balance,
        can_buy=can_buy,
        expires_at=expires_at,
        time_zone=time_zone,
        store_url=store_url,
    )
    html, text = _render("campaign_expiry_reminder", **context)
    return Email(
        "campaign_expiry_reminder",
        consumer.email,
        f"Your {format_money(balance)} {campaign_name} balance expires soon",
        html,
        text,
    )
