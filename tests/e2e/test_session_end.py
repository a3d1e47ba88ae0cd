"""Signing out ends the session on the server: a second browser holding a copy of the cookies is signed out too."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.db import db_session
from app.domain.money import Money
from app.services import consumer_auth, consumers, partners
from tests.conftest import unique

PASSWORD = "Maple-syrup-2024"


def ready_consumer(app, slug: str, email: str) -> None:
    """A store and a consumer who has already chosen a password and accepted the terms (through the services)."""
    with app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug=slug, name="Acme Rewards", currency="USD", funds=Money.parse("1000", "USD")
        )
        consumer = consumers.create_consumer(
            session, partner=partner, email=email, full_name="Robin Shopper", initial_funds=Money.parse("100", "USD")
        ).consumer
        consumer_auth.set_trusted_password(session, consumer=consumer, password=PASSWORD, confirmation=PASSWORD)
        terms = consumer_auth.terms_to_accept(session, consumer)
        consumer_auth.accept_terms(session, consumer=consumer, version=terms.version, accepted=True)


def test_after_signing_out_a_browser_holding_a_copy_of_the_cookies_is_sent_to_the_sign_in_page(live_store, page: Page, browser):
    slug, email = unique("e2e"), f"{unique('robin')}@example.com"
    store = f"{live_store.url}/s/{slug}"
    ready_consumer(live_store.app, slug, email)

    page.goto(f"{store}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{store}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hi Robin, treat yourself or someone else.")

    # Someone copies the cookies into another browser: while the session lasts, that works.
    copy = browser.new_context()
    try:
        copy.add_cookies(page.context.cookies())
        other = copy.new_page()
        other.goto(f"{store}/")
        expect(other.get_by_role("heading", level=1)).to_have_text("Hi Robin, treat yourself or someone else.")

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{store}/login")
        expect(page.get_by_text("You're signed out.")).to_be_visible()

        # The copy now counts for nothing: the server ended the session.
        other.goto(f"{store}/")
        expect(other).to_have_url(re.compile(rf"^{re.escape(store)}/login\b"))
        expect(other.get_by_role("heading", level=1)).to_have_text("Sign in to Acme Rewards")
    finally:
        copy.close()
