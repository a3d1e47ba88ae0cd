"""Branding in a real browser: an admin changes the colour and the logo, watches the preview follow
without a reload while the live store stays as it was, publishes, and the store and the gift-card
email then wear the same colour. A screenshot of the published store is kept as a test artifact.
"""

from __future__ import annotations

import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer, TeamMember
from app.security import hash_password
from app.services import catalog, consumers, orders, partners, team
from tests.conftest import TEAM_PASSWORD, body_html

NEW_PRIMARY = "#b42318"
NEW_PRIMARY_RGB = "rgb(180, 35, 24)"
OLD_PRIMARY_RGB = "rgb(31, 111, 235)"  # #1f6feb, the partner's colour when created
CONSUMER_PASSWORD = "Maple-syrup-2024"


def artifacts_dir(rootpath: Path) -> Path:
    """Where screenshots go: $TEST_ARTIFACTS, else test-artifacts/ (git-ignored) at the project root."""
    directory = Path(os.environ.get("TEST_ARTIFACTS") or rootpath / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def logo_png() -> bytes:
    """A 400×100 logo: a red band on white, so it shows in the header whatever the colours."""
    image = Image.new("RGB", (400, 100), (255, 255, 255))
    image.paste((200, 20, 40), (0, 30, 400, 70))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def program(live_store):
    """A partner with one gift card, a consumer past first login, and an admin in the portal."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="lighthouse", name="Lighthouse Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        brand = Brand(
            slug="cedar-books",
            name="Cedar Books",
            category="Books",
            currencies="USD",
            denominations="1000,2500",
            has_pin=True,
            redemption_instructions="Show the code at the till.",
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner, brand=brand, bonus_type="value", bonus_percent=Decimal(10))
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(100_00, "USD")
        ).consumer
        admin, _ = team.invite(
            session, partner=partner, email="ada.admin@example.com", full_name="Ada Admin", role="admin", actor="test"
        )
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password(CONSUMER_PASSWORD)
            consumer.must_change_password, consumer.accepted_terms_version = False, 1
            admin = session.get(TeamMember, admin.id)
            admin.password_hash = hash_password(TEAM_PASSWORD)
            admin.must_change_password = False
            session.add_all([consumer, admin])
    live_store.mailbox.clear()
    return live_store


def header_background(page_or_frame) -> str:
    return page_or_frame.locator(".store-header").evaluate("element => getComputedStyle(element).backgroundColor")


def test_an_admin_previews_a_new_colour_and_logo_live_then_publishes_them_to_the_store_and_its_emails(
    program, browser, page: Page, request
):
    store = f"{program.url}/s/lighthouse"

    # A consumer has the live store open in their own browser.
    shopper = browser.new_context().new_page()
    shopper.goto(f"{store}/login")
    shopper.get_by_label("Email").fill("robin@example.com")
    shopper.get_by_label("Password", exact=True).fill(CONSUMER_PASSWORD)
    shopper.get_by_role("button", name="Sign in").click()
    expect(shopper).to_have_url(f"{store}/")
    assert header_background(shopper) == OLD_PRIMARY_RGB

    # The admin signs in to the portal and opens the branding editor.
    page.goto(f"{program.url}/portal/login")
    page.get_by_label("Email").fill("ada.admin@example.com")
    page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Branding").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Branding")
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhtmx-(swapping|settling)\b"))
    desktop = page.frame_locator("#preview-desktop")
    phone = page.frame_locator("#preview-phone")
    expect(desktop.locator(".store-header")).to_be_visible()
    assert header_background(desktop) == OLD_PRIMARY_RGB
    page.evaluate("window.__noReload = true")

    # Picking a colour saves the draft and reloads only the preview frames.
    page.get_by_label("Primary colour").fill(NEW_PRIMARY)
    expect(page.locator("#draft-status")).to_contain_text("not live yet")
    expect(desktop.locator(".store-header")).to_have_css("background-color", NEW_PRIMARY_RGB)
    expect(phone.locator(".store-header")).to_have_css("background-color", NEW_PRIMARY_RGB)
    # Typing a store name shows up as the admin types.
    page.get_by_label("Store name").fill("Lighthouse Rewards")
    expect(desktop.locator(".store-name")).to_have_text("Lighthouse Rewards")

    # A logo: checked and re-encoded on the server, then in the preview's header.
    page.locator("#logo").set_input_files(files=[{"name": "logo.png", "mimeType": "image/png", "buffer": logo_png()}])
    expect(page.locator(".draft-logo img")).to_be_visible()
    logo = desktop.locator("img.store-logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("image => image.complete && image.naturalWidth") == 400

    page.screenshot(path=str(artifacts_dir(request.config.rootpath) / "branding-editor.png"), full_page=True)

    # A fake image is refused in place, and the preview keeps the good logo.
    page.locator("#logo").set_input_files(
        files=[{"name": "evil.png", "mimeType": "image/png", "buffer": b"<script>alert(1)</script>"}]
    )
    expect(page.locator("#form-error")).to_contain_text("can't be logos")
    expect(desktop.locator("img.store-logo")).to_be_visible()

    # The phone frame is laid out at a phone's width.
    assert phone.locator("body").evaluate("body => document.documentElement.clientWidth") == 390
    # The emails in the preview wear the draft too.
    page.get_by_role("link", name="Email: gift card delivery").click()
    expect(desktop.locator("#email-header")).to_have_css("background-color", NEW_PRIMARY_RGB)
    assert page.evaluate("window.__noReload") is True

    # Meanwhile the live store is unchanged.
    shopper.reload()
    assert header_background(shopper) == OLD_PRIMARY_RGB
    expect(shopper.locator("img.store-logo")).to_have_count(0)
    expect(shopper.locator(".store-name")).to_have_text("Lighthouse Perks")

    # Publish.
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_text("is live in the store and its emails")).to_be_visible()

    shopper.reload()
    assert header_background(shopper) == NEW_PRIMARY_RGB
    expect(shopper.locator(".store-name")).to_have_text("Lighthouse Rewards")
    live_logo = shopper.locator("img.store-logo")
    expect(live_logo).to_be_visible()
    assert live_logo.evaluate("image => image.complete && image.naturalWidth") == 400
    button = shopper.locator(".catalog-search button")
    assert button.evaluate("element => getComputedStyle(element).backgroundColor") == NEW_PRIMARY_RGB
    shopper.screenshot(path=str(artifacts_dir(request.config.rootpath) / "branding-published-store.png"), full_page=True)

    # The consumer buys a card: the delivery email's header has the store's colour.
    with program.app.app_context():
        session = db_session()
        partner = partners.partner_by_slug(session, "lighthouse")
        consumer = session.get(Consumer, consumers.find_consumer(session, partner_id=partner.id, email="robin@example.com").id)
        offer = catalog.offer(session, partner, "cedar-books")
        orders.place_order(
            session,
            consumer=consumer,
            offer=offer,
            face_value=Money(25_00, "USD"),
            recipient=orders.recipient_for(consumer, send_to="me"),
            idempotency_key=orders.new_idempotency_key(),
        )
    delivery = program.mailbox.last_to("robin@example.com")
    assert "Cedar Books gift card" in delivery["Subject"]
    html = body_html(delivery)
    assert re.search(rf'<img src="{re.escape(program.url)}/s/lighthouse/logo/\d+\.png"', html)
    email_page = browser.new_context().new_page()
    email_page.set_content(html)
    email_header = email_page.locator("#email-header")
    assert email_header.evaluate("element => getComputedStyle(element).backgroundColor") == header_background(shopper)
    assert email_header.evaluate("element => getComputedStyle(element).color") == shopper.locator(".store-header").evaluate(
        "element => getComputedStyle(element).color"
    )
