"""Checkout in a real browser (issue #18): "Change something" and Back keep every field, the email typo hint is
applied with one click, the message counter counts as the server does, recipient fields only for "Someone else"."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer
from app.security import hash_password
from app.services import catalog, consumers, partners

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 5 code points, one emoji
MESSAGE = f"Happy birthday, Jordan! {FAMILY}\nSee you Saturday"


@pytest.fixture
def checkout_url(live_store):
    """A store with one fixed-denomination brand and a consumer past first login, with $100.00."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        brand = Brand(
            slug="bluefin-sushi-bar",
            name="Bluefin Sushi Bar",
            category="Food & Dining",
            description="Sushi",
            currencies="USD",
            denominations="1000,2500,5000",
            has_pin=True,
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner, brand=brand, bonus_type="none", bonus_percent=Decimal(0))
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(100_00, "USD")
        ).consumer
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password("Maple-syrup-2024")
            consumer.must_change_password = False
            consumer.accepted_terms_version = 1
            session.add(consumer)
    return f"{live_store.url}/s/harbor"


def sign_in(page, store: str) -> None:
    page.goto(f"{store}/login")
    page.get_by_label("Email").fill("robin@example.com")
    page.get_by_label("Password", exact=True).fill("Maple-syrup-2024")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{store}/")


def fill_checkout(page) -> None:
    page.get_by_role("radio", name="$50.00").check()
    page.get_by_role("radio", name="Someone else").check()
    page.get_by_label("Recipient's email").fill("jordan@example.org")
    page.get_by_label("Recipient's name").fill("Jordan Friend")
    page.get_by_label("From", exact=True).fill("Robin & Sam")
    page.get_by_label("Message").fill(MESSAGE)


def expect_every_field(page) -> None:
    expect(page.get_by_role("radio", name="$50.00")).to_be_checked()
    expect(page.get_by_role("radio", name="Someone else")).to_be_checked()
    expect(page.get_by_label("Recipient's email")).to_have_value("jordan@example.org")
    expect(page.get_by_label("Recipient's name")).to_have_value("Jordan Friend")
    expect(page.get_by_label("From", exact=True)).to_have_value("Robin & Sam")
    expect(page.get_by_label("Message")).to_have_value(MESSAGE)


def test_change_something_and_back_keep_every_field(page, checkout_url):
    sign_in(page, checkout_url)
    page.goto(f"{checkout_url}/brands/bluefin-sushi-bar/checkout?amount=25.00")
    # The fixed denominations stay choices here, the one picked on the brand page checked.
    expect(page.get_by_role("radio", name="$25.00")).to_be_checked()
    expect(page.locator("input[name=amount][type=text]")).to_have_count(0)
    # Recipient fields only for "Someone else".
    expect(page.get_by_label("Recipient's email")).to_be_hidden()
    fill_checkout(page)
    expect(page.get_by_label("Recipient's email")).to_be_visible()
    # The counter counts code points, as the server does: the family emoji is 5.
    expect(page.locator("#message-count")).to_have_text(f"{len(MESSAGE)} of 300 characters")

    # Back from the review: what was typed (never sent back by the server) is all there.
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.locator(".summary")).to_contain_text("Jordan Friend (jordan@example.org)")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who is it for?")
    expect_every_field(page)
    expect(page.get_by_label("Recipient's email")).to_be_visible()

    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    page.get_by_role("button", name="Change something").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who is it for?")
    expect_every_field(page)

    # Over the store's threshold ($100 by default) nothing asks; the order goes through as reviewed.
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_text("I checked the address")).to_have_count(0)
    page.get_by_role("button", name="Confirm and pay $50.00").click()
    expect(page.locator("#order-status")).to_be_visible()


def test_the_typo_hint_is_applied_with_one_click(page, checkout_url):
    sign_in(page, checkout_url)
    page.goto(f"{checkout_url}/brands/bluefin-sushi-bar/checkout?amount=10.00")
    page.get_by_role("radio", name="Someone else").check()
    email = page.get_by_label("Recipient's email")
    email.fill("jordan@gmial.com")
    email.press("Tab")  # change: htmx asks for the hint
    hint = page.locator("#email-hint")
    expect(hint).to_contain_text("Did you mean jordan@gmail.com?")
    hint.get_by_role("button", name="Use jordan@gmail.com").click()
    expect(email).to_have_value("jordan@gmail.com")
    expect(email).to_be_focused()
    expect(hint).to_have_text("")
    expect(page.get_by_role("heading", level=1)).to_have_text("Who is it for?")  # applied in place, nothing sent

    # A typo kept anyway is hinted again on the review, where one click applies it too.
    email.fill("jordan@hotmial.com")
    page.get_by_role("button", name="Review").click()
    expect(page.locator(".summary")).to_contain_text("Did you mean jordan@hotmail.com?")
    page.get_by_role("button", name="Use jordan@hotmail.com").click()
    expect(page.locator(".summary")).to_contain_text("jordan@hotmail.com")
    expect(page.locator(".summary")).not_to_contain_text("Did you mean")
