"""The store and its emails as they would look with a draft: the real templates, for the branding editor's preview.

Nobody is signed in to the store here, so a sample consumer with a sample wallet stands in; the
catalog is the partner's own (or one sample gift card when it is empty). Nothing is saved.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from flask import current_app, g, render_template
from markupsafe import Markup
from sqlmodel import Session

from app.clock import utcnow
from app.domain.branding import contrast_warnings
from app.domain.logos import brand_logo_svg
from app.domain.money import Money
from app.emails import build_gift_card_email, build_welcome_email
from app.links import external_url
from app.look import Look
from app.models import Brand, Consumer, Order, PartnerBrand
from app.providers import IssuedCard
from app.services import catalog, orders
from app.services.catalog import Offer
from app.services.catalog_search import CATALOG_PAGE_SIZE, CatalogSearch, amount_choice
from app.services.consumers import Wallet

PAGES = {
    "home": "Store: home",
    "brand": "Store: a gift card",
    "checkout": "Store: checkout",
    "welcome": "Email: welcome",
    "delivery": "Email: gift card delivery",
}
EMAILS = {"welcome", "delivery"}


def sample_consumer(partner) -> Consumer:
    return Consumer(
        id=0,
        partner_id=partner.id,
        email="alex.sample@example.com",
        full_name="Alex Sample",
        password_hash="",
        must_change_password=False,
        accepted_terms_version=partner.terms_version,
        is_active=True,
    )


def sample_wallets(partner) -> list[Wallet]:
    currency = partner.currency_list[0] if partner.currency_list else "USD"
    return [Wallet(currency, Money(120_00, currency), Money(5_00, currency))]


def sample_offer(partner, currency: str) -> Offer:
    """A gift card to show when the partner's catalog is still empty."""
    name = "Sample Gift Card"
    brand = Brand(
        id=0,
        slug="sample-gift-card",
        name=name,
        category="Food & Dining",
        description="A gift card to show the look of your store.",
        color="#334155",
        logo_svg=brand_logo_svg(name, color="#334155"),
        currencies=currency,
        denominations="2500,5000,10000",
        redemption_instructions="1. Visit the shop.\n2. Show the card number at the till.",
        has_pin=True,
    )
    settings = PartnerBrand(partner_id=partner.id, brand_id=0, bonus_type="value", bonus_percent=Decimal(10))
    return Offer(brand, settings, utcnow())


@contextmanager
def _in_store(partner):
    """Store URLs (url_for('store.home')) need the partner in `g`, as inside the store itself."""
    had, previous = "partner" in g, g.get("partner")
    g.partner = partner
    try:
        yield
    finally:
        if had:
            g.partner = previous
        else:
            g.pop("partner", None)


def render_preview(session: Session, *, look: Look, page: str) -> str:
    """The whole HTML document of one store page or email, wearing `look` (its partner may be a detached copy)."""
    partner = look.partner
    consumer, wallets = sample_consumer(partner), sample_wallets(partner)
    currency = wallets[0].currency
    results = catalog.browse(session, partner, currency=currency, per_page=CATALOG_PAGE_SIZE)
    offer = results.offers[0] if results.offers else sample_offer(partner, currency)
    with _in_store(partner):
        if page == "welcome":
            return build_welcome_email(
                partner=partner,
                consumer=consumer,
                temporary_password="kfq7-m2xp-9tzr",
                login_url=external_url("store.login", slug=partner.slug),
                expires_at=utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"]),
                look=look,
            ).html
        if page == "delivery":
            return build_gift_card_email(
                partner=partner,
                order=_sample_order(partner, consumer, offer),
                brand=offer.brand,
                card=IssuedCard(
                    number="6012 3456 7890 1234",
                    pin="4321",
                    reference="preview",
                    redemption_url=(offer.brand.redemption_url or "").replace("{code}", "601234567890"),
                ),
                gift_page_url=external_url("store.gift_page", slug=partner.slug, token="preview"),
                link_only=partner.gift_email_link_only,
                look=look,
            ).html
        context = dict(
            partner=partner,
            look=look,
            consumer=consumer,
            setup_done=True,
            wallets=wallets,
            # The preview says so when the draft's colours fail the contrast checks (they would reach every consumer).
            preview_warnings=contrast_warnings(partner),
            get_flashed_messages=lambda *args, **kwargs: [],  # the portal's messages are not the store's
        )
        if page == "home":
            if not results.offers:
                results = catalog.CatalogPage([offer], 1, 1, CATALOG_PAGE_SIZE)
            search = CatalogSearch()
            tiles = Markup(render_template("store/_catalog.html", results=results, search=search, **context))
            return render_template(
                "store/home.html",
                catalog=tiles,
                search=search,
                sorts=catalog.SORTS,
                categories=catalog.categories(session, partner, currency=currency) or [offer.brand.category],
                **context,
            )
        if page == "brand":
            return render_template("store/brand.html", offer=offer, choice=amount_choice(offer, None, wallets), **context)
        if page == "checkout":
            fields = {
                "amount": "50",
                "send_to": "someone",
                "email": "sam@example.com",
                "name": "Sam",
                "sender_name": consumer.full_name,
                "message": "Happy birthday, Sam!",
                "idempotency_key": orders.new_idempotency_key(),
            }
            return render_template("store/checkout.html", offer=offer, fields=fields, error=None, field=None, **context)
    raise ValueError(f"no preview page {page!r}")


def _sample_order(partner, consumer: Consumer, offer: Offer) -> Order:
    currency = offer.brand.currency_list[0] if offer.brand.currency_list else "USD"
    return Order(
        public_id="GS-PREVIEW",
        partner_id=partner.id,
        consumer_id=0,
        brand_id=offer.brand.id or 0,
        currency=currency,
        face_value=50_00,
        price=50_00,
        card_value=55_00,
        recipient_email="sam@example.com",
        recipient_name="Sam",
        sender_name=consumer.full_name,
        message="Happy birthday, Sam!",
        to_self=False,
        idempotency_key="preview",
    )
