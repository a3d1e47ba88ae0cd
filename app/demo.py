"""Demo data for `make run`: a branded partner with funds and a consumer at first login."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlmodel import select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.demo_brands import DEMO_BRANDS
from app.domain.money import Money
from app.links import external_url
from app.models import Brand, Campaign, CampaignMember, Partner, PartnerBrand
from app.pages import format_money
from app.security import hash_password, new_temporary_password
from app.services import campaigns, catalog, consumers, partners, team

DEMO_SLUG = "acme"
DEMO_EMAIL = "alex@example.com"
DEMO_ADMIN_EMAIL = "admin@acme.example"
DEMO_CAMPAIGN_KEY = "seed-demo-wellness"  # the demo campaign's idempotency key: created once


def seed_brands(session) -> list[Brand]:
    """The demo catalog's brands, created once."""
    existing = {brand.slug: brand for brand in session.exec(select(Brand)).all()}
    with write_transaction(session):
        for demo in DEMO_BRANDS:
            if demo.slug in existing:
                continue
            brand = Brand(
                slug=demo.slug,
                name=demo.name,
                category=demo.category,
                description=demo.description,
                color=demo.color,
                logo_svg=demo.logo_svg(),
                redemption_instructions=demo.redemption_instructions,
                terms=demo.terms,
                currencies=",".join(demo.currencies),
                denominations=",".join(str(d) for d in demo.denominations),
                min_amount=demo.min_amount,
                max_amount=demo.max_amount,
                has_pin=demo.has_pin,
                redemption_url=demo.redemption_url,
                supports_retry=demo.supports_retry,
            )
            session.add(brand)
            existing[demo.slug] = brand
    return [existing[demo.slug] for demo in DEMO_BRANDS]


def _demo_settings(index: int) -> dict:
    """A varied look for the demo store: some value bonuses, some cash back, a few discounts."""
    if index % 5 == 0:
        return {"bonus_type": "value", "bonus_percent": Decimal(10)}
    if index % 7 == 0:
        return {"bonus_type": "cash", "bonus_percent": Decimal(5)}
    if index % 9 == 0:
        return {"discount_percent": Decimal("2.5")}
    return {}


def seed() -> list[str]:
    """Create what is missing and return the lines to print."""
    session = db_session()
    brands = seed_brands(session)
    partner = session.exec(select(Partner).where(Partner.slug == DEMO_SLUG)).first()
    if partner is None:
        partner, _credentials = partners.create_partner(
            session,
            slug=DEMO_SLUG,
            name="Acme Rewards",
            currency="USD",
            funds=Money(10_000_00, "USD"),
            primary_color="#5b21b6",
            accent_color="#c2410c",  # 5.2:1 on the white background: it draws the focus ring
            actor="seed-demo",
        )
    offered = {pb.brand_id for pb in session.exec(select(PartnerBrand).where(PartnerBrand.partner_id == partner.id)).all()}
    for index, brand in enumerate(brands):
        if brand.id not in offered:
            catalog.make_available(session, partner=partner, brand=brand, **_demo_settings(index))
    consumer = consumers.find_consumer(session, partner_id=partner.id, email=DEMO_EMAIL)
    password_line = "  password: the one you chose (or use “Forgot password?”; emails are in the outbox)"
    if consumer is None:
        temporary = new_temporary_password()
        consumer = consumers.create_consumer(
            session,
            partner=partner,
            email=DEMO_EMAIL,
            full_name="Alex Demo",
            initial_funds=Money(250_00, "USD"),
            actor="seed-demo",
            temporary_password=temporary,
        ).consumer
        password_line = f"  temporary password: {temporary}   (first login asks for a new password and the terms)"
    elif consumer.must_change_password:
        # Still at first login: hand out a fresh temporary password we can print.
        temporary = new_temporary_password()
        with write_transaction(session):
            consumer.password_hash = hash_password(temporary)
            consumer.temporary_password_expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
            session.add(consumer)
        password_line = f"  temporary password: {temporary}   (first login asks for a new password and the terms)"
    admin_line = _demo_admin(session, partner)
    campaign_line = _demo_campaign(session, partner, consumer)
    funds = partners.partner_funds(session, partner, "USD")
    lines = [
        "",
        f"Demo store ({partner.name}): {external_url('store.login', slug=partner.slug)}",
        f"  consumer: {consumer.email}",
        password_line,
        f"  partner funds: {format_money(funds)}; {len(brands)} gift-card brands in the catalog",
        campaign_line,
        f"Partner portal: {external_url('portal.login')}",
        f"  admin: {DEMO_ADMIN_EMAIL}",
        admin_line,
    ]
    if current_app.extensions["settings"].outbox_enabled:
        lines.append(f"Emails sent by the app (development outbox): {external_url('dev.outbox')}")
    return lines


def _demo_admin(session, partner) -> str:
    """The demo partner's first portal admin; a fresh temporary password while they haven't chosen one."""
    member = team.find_member(session, DEMO_ADMIN_EMAIL)
    if member is None:
        _member, temporary = team.invite(
            session, partner=partner, email=DEMO_ADMIN_EMAIL, full_name="Avery Admin", role="admin", actor="seed-demo"
        )
    elif member.must_change_password:
        temporary = new_temporary_password()
        with write_transaction(session):
            member.password_hash = hash_password(temporary)
            member.temporary_password_expires_at = utcnow() + timedelta(days=current_app.config["TEMP_PASSWORD_DAYS"])
            session.add(member)
    else:
        return "  password: the one you chose"
    return f"  temporary password: {temporary}   (first sign-in asks for a new password)"


def _demo_campaign(session, partner, consumer) -> str:
    """One active campaign, "Wellness": $50 for each member to spend on Health & Beauty brands, from a $500 budget,
    with the demo consumer in it. Created once (a fixed idempotency key); the consumer is added once."""
    campaign = session.exec(
        select(Campaign).where(Campaign.partner_id == partner.id, Campaign.idempotency_key == DEMO_CAMPAIGN_KEY)
    ).first()
    if campaign is None:
        campaign = campaigns.create_campaign(
            session,
            partner=partner,
            name="Wellness",
            currency="USD",
            budget=Money(500_00, "USD"),
            per_consumer_amount=Money(50_00, "USD"),
            idempotency_key=DEMO_CAMPAIGN_KEY,
            categories=["Health & Beauty"],
            actor="seed-demo",
        ).campaign
    member = session.exec(
        select(CampaignMember).where(CampaignMember.campaign_id == campaign.id, CampaignMember.consumer_id == consumer.id)
    ).first()
    if member is None and campaign.status != "ended":
        campaigns.add_members(session, campaign=campaign, consumer_ids=[consumer.id], actor="seed-demo")
    summary = campaigns.campaign_summary(session, campaign)
    return (
        f"  campaign: {campaign.name} ({campaign.status}), {format_money(Money(campaign.per_consumer_amount, 'USD'))} "
        f"per member for {', '.join(campaign.category_list) or 'all'} brands; {summary.members} member(s), "
        f"{format_money(summary.remaining)} of the budget left"
    )
