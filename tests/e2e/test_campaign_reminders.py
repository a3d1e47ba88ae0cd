"""The expiry reminder (issue #17) in a real browser: a consumer holding a campaign balance that ends in two days
gets one email from the campaign sweep; its link, followed signed out, goes through sign-in to the store showing
only the brands that balance can buy, with the campaign chosen in the catalog's "Paid with" filter.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer
from app.security import hash_password
from app.services import campaigns, catalog, consumers, partners
from tests.conftest import body_text

CONSUMER_PASSWORD = "Maple-syrup-2024"


def _brand(session, name: str, category: str) -> Brand:
    brand = Brand(
        slug=name.lower().replace(" ", "-"),
        name=name,
        category=category,
        description=f"{name} gift card",
        currencies="USD",
        denominations="1000,2500,5000",
        has_pin=True,
        redemption_instructions="1. Visit the counter.\n2. Show the code.",
        redemption_url="https://redeem.example.com/x?code={code}",
    )
    with write_transaction(session):
        session.add(brand)
    return brand


@pytest.fixture
def program(live_store):
    """A partner with two brands of different categories, a consumer past first login with $10.00 general, and a
    "Dining" campaign for one category ending in two days, with $30.00 of it in the consumer's campaign balance."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        for name, category in (("Bluefin Sushi Bar", "Food & Dining"), ("Summit Outfitters", "Travel")):
            catalog.make_available(
                session, partner=partner, brand=_brand(session, name, category), bonus_type="none", bonus_percent=Decimal(0)
            )
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(10_00, "USD")
        ).consumer
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password(CONSUMER_PASSWORD)
            consumer.must_change_password = False
            consumer.accepted_terms_version = 1
            session.add(consumer)
        campaign = campaigns.create_campaign(
            session,
            partner=partner,
            name="Dining",
            currency="USD",
            budget=Money(100_00, "USD"),
            per_consumer_amount=Money(30_00, "USD"),
            categories=["Food & Dining"],
            ends_at=utcnow() + timedelta(days=2),
            idempotency_key="dining-reminder-0001",
        ).campaign
        campaigns.add_members(session, campaign=campaign, consumer_ids=[consumer.id])
    live_store.mailbox.clear()
    return live_store


def test_the_reminder_link_leads_through_sign_in_to_the_store_filtered_to_what_the_balance_can_buy(program, page: Page):
    with program.app.app_context():
        campaigns.sweep(db_session())
        campaigns.sweep(db_session())  # a second sweep sends nothing more
    (message,) = [m for m in program.mailbox.to("robin@example.com") if "expires soon" in m["Subject"]]
    assert message["Subject"] == "Your $30.00 Dining balance expires soon"
    link = re.search(r"http://127\.0\.0\.1:\d+/s/harbor/\?campaign=\d+", body_text(message)).group(0)
    assert link.startswith(program.url)

    page.goto(link)
    expect(page).to_have_url(re.compile(r"/s/harbor/login\?next="))
    page.get_by_label("Email").fill("robin@example.com")
    page.get_by_label("Password", exact=True).fill(CONSUMER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(link)
    tiles = page.locator("#catalog .tile")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_contain_text("Bluefin Sushi Bar")
    expect(page.locator("#catalog")).not_to_contain_text("Summit Outfitters")
    expect(page.get_by_label("Paid with")).to_have_value(link.rsplit("=", 1)[1])
    expect(page.locator("#wallet .balance")).to_have_text("$40.00")
