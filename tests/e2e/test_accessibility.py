"""Accessibility in a real browser (issue #20): axe-core on every store and portal page at desktop and phone
widths, with and without a published brand; keyboard focus that follows each swap; the live region's short
summary; the brand page's amount checks; the search after Back; the phone's first screen; and the whole store
journey with JavaScript turned off.

Every e2e test also runs axe on each page it opens (tests/e2e/axe.py, the `axe` fixture in conftest.py).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import select

from app.db import db_session, write_transaction
from app.domain.logos import brand_logo_svg
from app.domain.money import Money
from app.models import Brand, Consumer, TeamMember
from app.security import hash_password
from app.services import branding, catalog, consumers, orders, partners, team
from tests.conftest import TEAM_PASSWORD, temporary_password_in
from tests.e2e.axe import DESKTOP, PHONE, AxeAudit
from tests.e2e.test_branding import artifacts_dir

CONSUMER_PASSWORD = "Maple-syrup-2024"
BRAND_COUNT = 30  # more than a catalog page (24): the pager shows, with a greyed-out "← Previous"


def _brand(session, name: str, category: str, *, ranged: bool = False) -> Brand:
    brand = Brand(
        slug=re.sub(r"\W+", "-", name.lower()),
        name=name,
        category=category,
        description=f"{name} gift card",
        logo_svg=brand_logo_svg(name, color="#0e7490"),  # as every real brand has: a tile is as tall as on a phone
        currencies="USD",
        denominations="" if ranged else "1000,2500,5000",
        min_amount=10_00 if ranged else None,
        max_amount=500_00 if ranged else None,
        has_pin=True,
        redemption_instructions="1. Visit the counter.\n2. Show the code.",
    )
    with write_transaction(session):
        session.add(brand)
    return brand


def _ready(session, model, member_or_consumer_id, password: str) -> None:
    with write_transaction(session):
        row = session.get(model, member_or_consumer_id)
        row.password_hash = hash_password(password)
        row.must_change_password = False
        if model is Consumer:
            row.accepted_terms_version = 1
        session.add(row)


@pytest.fixture
def program(live_store):
    """A partner with 30 gift cards (one of any amount from $10 to $500, the rest $10/$25/$50; some books),
    a consumer past first login with $100.00 and a completed order for themselves, a consumer still on their
    temporary password, and an admin in the portal."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(5000_00, "USD")
        )
        names = ["Summit Outfitters", "Aurora Books", "Cedar Books", "Bluefin Sushi Bar"]
        names += [f"Gift Brand {n:02d}" for n in range(BRAND_COUNT - len(names))]
        for index, name in enumerate(names):
            category = "Books" if "Books" in name else ("Travel" if index % 2 else "Food & Dining")
            brand = _brand(session, name, category, ranged=name == "Summit Outfitters")
            catalog.make_available(
                session,
                partner=partner,
                brand=brand,
                bonus_type="value" if index % 3 == 0 else "none",
                bonus_percent=Decimal(10 if index % 3 == 0 else 0),
            )
        shopper = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(100_00, "USD")
        ).consumer
        _ready(session, Consumer, shopper.id, CONSUMER_PASSWORD)
        consumers.create_consumer(
            session, partner=partner, email="nia@example.com", full_name="Nia Newcomer", initial_funds=Money(20_00, "USD")
        )
        admin, _ = team.invite(
            session, partner=partner, email="ada@example.com", full_name="Ada Admin", role="admin", actor="test"
        )
        _ready(session, TeamMember, admin.id, TEAM_PASSWORD)
        shopper = session.get(Consumer, shopper.id)
        offer = catalog.offer(session, partner, "aurora-books")
        order = orders.place_order(
            session,
            consumer=shopper,
            offer=offer,
            face_value=Money(10_00, "USD"),
            recipient=orders.recipient_for(shopper, send_to="me"),
            idempotency_key=orders.new_idempotency_key(),
        )
    newcomer_password = temporary_password_in(live_store.mailbox.last_to("nia@example.com"))
    live_store.mailbox.clear()
    return live_store, order.public_id, newcomer_password


def publish_a_brand(live_store) -> None:
    """A published look unlike the defaults: teal header, violet focus ring, a tinted background."""
    with live_store.app.app_context():
        session = db_session()
        partner = partners.partner_by_slug(session, "harbor")
        admin = session.exec(select(TeamMember).where(TeamMember.partner_id == partner.id)).first()
        branding.update_draft(
            session,
            partner=partner,
            fields={
                "store_name": "Harbor Rewards",
                "primary_color": "#0f766e",
                "accent_color": "#7c3aed",
                "background_color": "#f0fdfa",
                "footer_text": "Harbor Rewards is a staff benefit.",
                "support_email": "help@harbor.example",
            },
            by=admin,
        )
        branding.publish(session, partner=partner, by=admin)


def sign_in_store(page: Page, store: str, email: str, password: str) -> None:
    page.goto(f"{store}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_portal(page: Page, url: str) -> None:
    page.goto(f"{url}/portal/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Portal")).to_be_visible()


def settled(page: Page) -> None:
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhtmx-(request|swapping|settling)\b"))


# --- axe on every page ---------------------------------------------------------------------------


@pytest.mark.parametrize("branded", [False, True], ids=["default-look", "published-brand"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop-1280x800", "phone-390x844"])
def test_axe_finds_no_serious_or_critical_violation_on_any_store_or_portal_page(
    program, browser: Browser, axe: AxeAudit, viewport, branded
):
    live_store, order_id, newcomer_password = program
    if branded:
        publish_a_brand(live_store)
    url, store = live_store.url, f"{live_store.url}/s/harbor"
    page = browser.new_context(viewport=viewport).new_page()
    checked: list[str] = []

    def check(where: str) -> None:
        settled(page)
        axe.check(page)
        checked.append(where)

    # The first-login steps, with the temporary password: choose a password (a weak one first), then the terms.
    sign_in_store(page, store, "nia@example.com", newcomer_password)
    expect(page).to_have_url(f"{store}/welcome/password")
    page.get_by_label("New password").fill("Password1!")
    expect(page.locator("#password-rules li.unmet")).to_have_count(1)
    check("choose your password")
    page.get_by_label("New password").fill("Copper-Lantern-2031")
    page.get_by_label("Type it again").fill("Copper-Lantern-2031")
    page.get_by_role("button", name="Save password").click()
    expect(page).to_have_url(f"{store}/terms")
    check("terms")
    page.context.clear_cookies()

    page.goto(f"{store}/login")
    check("sign in")
    page.goto(f"{store}/forgot")
    check("forgot password")
    sign_in_store(page, store, "robin@example.com", CONSUMER_PASSWORD)
    expect(page).to_have_url(f"{store}/")
    check("home")
    page.goto(f"{store}/?page=2")
    check("home, page 2")
    page.goto(f"{store}/?q=books")
    check("search")
    page.goto(f"{store}/?q=nothing-like-this")
    check("search, nothing found")
    page.goto(f"{store}/brands/aurora-books")
    check("brand, denominations")
    page.goto(f"{store}/brands/summit-outfitters?amount=600")
    check("brand, amount out of range")
    page.goto(f"{store}/brands/summit-outfitters?amount=150")
    check("brand, amount over the wallet")
    page.goto(f"{store}/brands/cedar-books/checkout?amount=25.00&currency=USD")
    check("checkout")
    page.get_by_role("button", name=re.compile("Review")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Review")
    check("review")
    page.goto(f"{store}/orders/{order_id}")
    page.get_by_role("button", name="Show card number and PIN").click()
    expect(page.locator("#card")).to_be_visible()
    check("order with its card")
    page.goto(f"{store}/orders")
    check("orders")
    page.goto(f"{store}/statement")
    check("statement")

    sign_in_portal(page, url)
    check("portal dashboard")
    nav = page.get_by_role("navigation", name="Portal").get_by_role("link")
    for href in [link.get_attribute("href") for link in nav.all()]:
        page.goto(f"{url}{href}")
        check(f"portal {href}")
        details = page.locator("main table tbody a[href^='/portal/']").first
        if details.count():
            page.goto(f"{url}{details.get_attribute('href')}")
            check(f"portal, a row of {href}")
    page.goto(f"{url}/portal/consumers/new")
    check("portal, add a consumer")
    page.get_by_role("button", name="Create consumer").click()
    expect(page.locator(".field-error").first).to_be_visible()
    check("portal, add a consumer with errors")

    assert len(checked) >= 25, checked
    assert len(set(axe.checked)) >= 20, axe.checked  # axe itself ran on them (and reported back)
    assert not axe.findings, axe.summary()


# --- focus, announcements, the amount, Back ------------------------------------------------------


def test_focus_follows_navigation_and_swaps_and_the_catalog_is_announced_briefly(program, page: Page):
    live_store, order_id, _ = program
    store = f"{live_store.url}/s/harbor"
    sign_in_store(page, store, "robin@example.com", CONSUMER_PASSWORD)
    expect(page).to_have_url(f"{store}/")
    settled(page)

    # After the sign-in (a boosted form) focus is on the page's heading, not lost on the body.
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    # On a page loaded afresh, the skip link is the keyboard's first stop and leads to the main content.
    page.reload()
    settled(page)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    # Typing a search: the grid is swapped, not read out; the live region says how many match.
    expect(page.locator("#catalog")).not_to_have_attribute("aria-live", re.compile(".*"))
    page.get_by_label("Search").fill("books")
    expect(page.locator("#live-status")).to_have_text("2 gift cards match “books”")
    expect(page.get_by_label("Search")).to_be_focused()  # typing goes on where it was

    # A boosted navigation: focus on the new page's heading, not the body.
    page.get_by_role("link", name=re.compile("Aurora Books")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aurora Books")
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    # Back: the results still show the search, and so does the search box.
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=books"))
    expect(page.locator(".tile-name")).to_have_count(2)
    expect(page.get_by_label("Search")).to_have_value("books")

    # The pager replaces itself: focus goes to the new page of results, not the body.
    page.goto(f"{store}/")
    settled(page)
    next_link = page.get_by_role("link", name="Next →")
    next_link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("body")).not_to_be_focused()
    assert page.evaluate("document.activeElement.closest('#catalog') !== null")

    # "Show card number and PIN" replaces the button it was: focus goes to the card.
    page.goto(f"{store}/orders/{order_id}")
    settled(page)
    page.get_by_role("button", name="Show card number and PIN").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#card")).to_be_visible()
    expect(page.locator("#card")).to_be_focused()


def test_the_amount_field_refuses_what_the_server_refuses_and_continue_waits_for_a_good_amount(program, page: Page):
    live_store, _, _ = program
    store = f"{live_store.url}/s/harbor"
    sign_in_store(page, store, "robin@example.com", CONSUMER_PASSWORD)
    expect(page).to_have_url(f"{store}/")
    page.goto(f"{store}/brands/summit-outfitters")
    settled(page)
    amount = page.get_by_label("Amount in USD")
    proceed = page.get_by_role("button", name="Continue to checkout")
    expect(proceed).to_be_enabled()

    for typed in ("1e2", "-20", "12.345"):
        amount.fill(typed)
        assert amount.evaluate("field => field.checkValidity()") is False, typed  # the browser refuses it too
        expect(proceed).to_be_disabled()
    amount.fill("-20")
    expect(page.locator("#quote")).to_have_text("Enter an amount from $10.00 to $500.00.")
    amount.fill("600")
    expect(page.locator("#quote")).to_have_text("Enter an amount from $10.00 to $500.00.")
    expect(proceed).to_be_disabled()

    # More than the wallet holds: a warning before the review, in the quote.
    amount.fill("150")
    expect(page.locator("#quote-short")).to_have_text(
        "That's more than your balance: you can spend $90.00 on this card. Choose a smaller amount."
    )
    amount.fill("50")
    expect(page.locator("#quote")).to_contain_text("You pay $50.00")
    expect(page.locator("#quote-short")).to_have_count(0)
    expect(proceed).to_be_enabled()


def test_on_a_phone_the_first_screen_after_sign_in_shows_gift_cards(program, browser: Browser, request):
    live_store, _, _ = program
    store = f"{live_store.url}/s/harbor"
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in_store(page, store, "robin@example.com", CONSUMER_PASSWORD)
    expect(page).to_have_url(f"{store}/")
    settled(page)
    first_tile = page.locator(".tile").first
    box = first_tile.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box  # a whole gift card, no scrolling
    expect(page.locator(".wallet-card .amount")).to_be_in_viewport()  # the wallet is still there, on one line
    page.screenshot(path=str(artifacts_dir(request.config.rootpath) / "phone-home.png"))


def test_the_hex_field_and_the_colour_picker_follow_each_other(program, page: Page):
    live_store, _, _ = program
    sign_in_portal(page, live_store.url)
    page.goto(f"{live_store.url}/portal/branding")
    settled(page)
    hex_field, picker = page.get_by_label("Accent colour"), page.locator("#accent_color-picker")
    hex_field.fill("#7C3AED")
    expect(picker).to_have_value("#7c3aed")
    picker.fill("#0f766e")
    expect(hex_field).to_have_value("#0f766e")
    expect(page.locator("#draft-status")).to_contain_text("not live yet")
    # A focus ring nobody can see: warned, and publishing asks for an acknowledgement first.
    hex_field.fill("#fdfdfd")
    expect(page.locator("#contrast")).to_contain_text("Focus ring in the accent colour on the background")
    publish = page.get_by_role("button", name=re.compile("Publish anyway"))
    publish.click()
    expect(page.get_by_label(re.compile("I understand that"))).to_be_visible()  # the browser asks for the tick first
    assert page.get_by_label(re.compile("I understand that")).evaluate("box => box.validity.valueMissing") is True
    page.get_by_label(re.compile("I understand that")).check()
    publish.click()
    expect(page.get_by_text("is live in the store and its emails")).to_be_visible()


# --- without JavaScript ---------------------------------------------------------------------------


def test_the_main_store_journey_works_with_javascript_turned_off(program, browser: Browser):
    live_store, _, _ = program
    store = f"{live_store.url}/s/harbor"
    page = browser.new_context(java_script_enabled=False).new_page()
    sign_in_store(page, store, "robin@example.com", CONSUMER_PASSWORD)
    expect(page).to_have_url(f"{store}/")
    expect(page.locator(".wallet-card .amount")).to_have_text("$90.00")

    # Search with the button; then page through.
    page.get_by_label("Search").fill("books")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q=books"))
    expect(page.locator(".tile-name")).to_have_text(["Aurora Books", "Cedar Books"])
    page.goto(f"{store}/")
    page.get_by_role("link", name="Next →").click()
    expect(page.locator(".page-of")).to_have_text("Page 2 of 2")

    # An amount of one's own: priced with "Show the price", then checkout.
    page.goto(f"{store}/brands/summit-outfitters")
    page.get_by_label("Amount in USD").fill("40")
    page.get_by_role("button", name="Show the price").click()
    expect(page.locator("#quote")).to_contain_text("You pay $40.00")
    page.get_by_role("button", name="Continue to checkout").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_role("button", name=re.compile("Review")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Review")
    page.get_by_role("button", name=re.compile("Confirm and pay")).click()

    # The order (done at once here), then the card on a page of its own.
    expect(page).to_have_url(re.compile(r"/orders/ord_"))
    expect(page.locator("#order-status")).to_contain_text("Completed")
    page.get_by_role("button", name="Show card number and PIN").click()
    expect(page.locator("#card")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Summit Outfitters")
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page.locator("main")).to_contain_text("Summit Outfitters")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{store}/login")
