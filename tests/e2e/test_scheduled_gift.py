"""Scheduling a gift and taking it back in a real browser (issue #18): the "Deliver on" field in the sender's time
zone, the order page's Scheduled status, Cancel, and the wallet's balance restored in place."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer, Order
from app.security import hash_password
from app.services import catalog, consumers, partners


@pytest.fixture
def sender(live_store):
    """A store with one brand and a consumer past first login, with $100.00."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="dunes", name="Dunes Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        brand = Brand(
            slug="cobalt-coffee",
            name="Cobalt Coffee",
            category="Food & Dining",
            description="Cobalt Coffee gift card",
            currencies="USD",
            denominations="1000,2500,5000",
            redemption_instructions="Show the code.",
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner, brand=brand)
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Sender", initial_funds=Money(100_00, "USD")
        ).consumer
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password("Maple-syrup-2024")
            consumer.must_change_password = False
            consumer.accepted_terms_version = 1
            session.add(consumer)
    live_store.mailbox.clear()
    return f"{live_store.url}/s/dunes"


def test_a_sender_schedules_a_gift_then_cancels_it_and_the_balance_comes_back_in_place(page, live_store, sender):
    page.goto(f"{sender}/login")
    page.get_by_label("Email").fill("robin@example.com")
    page.get_by_label("Password", exact=True).fill("Maple-syrup-2024")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#wallet")).to_have_text("$100.00")

    page.goto(f"{sender}/brands/cobalt-coffee/checkout?amount=25")
    page.get_by_role("radio", name="Someone else").check()
    page.get_by_label("Recipient's email").fill("friend@example.com")
    when = (datetime.now() + timedelta(days=3)).replace(hour=9, minute=30)  # the browser's clock: the test machine's
    page.get_by_label("Deliver on").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Review").click()
    expect(page.locator(".summary")).to_contain_text(when.strftime("%Y-%m-%d 09:30"))
    page.get_by_role("button", name="Confirm and pay $25.00").click()

    status = page.locator("#order-status")
    expect(status).to_contain_text("Scheduled")
    expect(page.locator("#wallet")).to_have_text("$75.00")  # charged at confirm
    assert live_store.mailbox.to("friend@example.com") == []
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Cancel this gift").click()
    expect(status).to_contain_text("Cancelled")
    expect(page.locator("#wallet")).to_have_text("$100.00")  # refreshed in place
    assert page.evaluate("window.__noReload") is True

    with live_store.app.app_context():
        order = db_session().exec(Order.__table__.select()).one()
        assert order.status == "cancelled"
