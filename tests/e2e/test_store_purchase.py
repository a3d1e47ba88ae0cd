"""Buying a gift card for a friend in a real browser: search, review, pay, watch it complete."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Consumer
from app.security import hash_password
from app.services import catalog, consumers, partners
from tests.conftest import body_text


@pytest.fixture
def live_store_settings():
    # A real in-process worker and a slow provider, so "pending" is on screen before "completed".
    return {"QUEUE_IMMEDIATE": False, "RUN_WORKER_IN_PROCESS": True, "PROVIDER_LATENCY_MS": 1500}


@pytest.fixture
def shopper(live_store, make_brand_in):
    """A partner with two brands and a consumer past first login, with $100.00."""
    app = live_store.app
    with app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        for name, bonus in (("Bluefin Sushi Bar", "cash"), ("Cobalt Coffee", "none")):
            brand = make_brand_in(session, name)
            catalog.make_available(
                session, partner=partner, brand=brand, bonus_type=bonus, bonus_percent=Decimal(10 if bonus != "none" else 0)
            )
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(100_00, "USD")
        ).consumer
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password("Maple-syrup-2024")
            consumer.must_change_password = False
            consumer.accepted_terms_version = 1
            session.add(consumer)
    live_store.mailbox.clear()
    return f"{live_store.url}/s/harbor"


@pytest.fixture
def make_brand_in():
    from app.models import Brand

    def make(session, name):
        brand = Brand(
            slug=name.lower().replace(" ", "-"),
            name=name,
            category="Food & Dining",
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

    return make


def test_a_consumer_buys_a_card_for_a_friend_and_watches_it_arrive(page, live_store, shopper):
    page.goto(f"{shopper}/login")
    page.get_by_label("Email").fill("robin@example.com")
    page.get_by_label("Password", exact=True).fill("Maple-syrup-2024")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{shopper}/")
    expect(page.locator("#wallet")).to_have_text("$100.00")

    # Active search narrows the tiles as the consumer types, and the URL follows.
    page.get_by_label("Search").press_sequentially("bluefin", delay=30)
    expect(page.locator("#catalog .tile")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=bluefin"))
    page.locator("#catalog .tile").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bluefin Sushi Bar")

    page.get_by_role("radio", name="$50.00").check()
    expect(page.locator("#quote")).to_contain_text("$50.00")
    page.get_by_role("button", name="Continue to checkout").click()

    page.get_by_role("radio", name="Someone else").check()
    page.get_by_label("Recipient's email").fill("friend@example.com")
    page.get_by_label("Recipient's name").fill("Sam")
    page.get_by_label("Message").fill("Happy birthday, Sam!")
    page.get_by_role("button", name="Review").click()
    expect(page.locator(".summary")).to_contain_text("$50.00 from your general balance")
    page.get_by_role("button", name="Confirm and pay $50.00").click()

    # The order page polls its status partial; no reload happens between pending and completed.
    status = page.locator("#order-status")
    expect(status).to_contain_text("Pending")
    expect(page.locator("#wallet")).to_have_text("$50.00")
    page.evaluate("window.__noReload = true")
    expect(status).to_contain_text("Completed", timeout=15000)
    expect(page.locator("#wallet")).to_have_text("$55.00")  # the 10 % cash bonus, refreshed in place
    assert page.evaluate("window.__noReload") is True

    email = live_store.mailbox.last_to("friend@example.com")
    text = body_text(email)
    assert "Robin Shopper sent you a Bluefin Sushi Bar gift card" == email["Subject"]
    assert re.search(r"Card number:\s+\d{4} \d{4} \d{4} \d{4}", text)
    assert re.search(r"PIN:\s+\d{4}", text)
    assert "Happy birthday, Sam!" in text
