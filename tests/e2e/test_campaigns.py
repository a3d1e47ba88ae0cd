"""Campaigns (issue #16) in a real browser: a portal admin creates a campaign for one category and adds a
consumer by email; the consumer sees the campaign balance in the store's wallet, pays for a brand of that
category from it first, and pays for a brand of another category from the general balance only.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer, TeamMember
from app.security import hash_password
from app.services import catalog, consumers, partners, team
from tests.conftest import TEAM_PASSWORD

CONSUMER_PASSWORD = "Maple-syrup-2024"
CAMPAIGN = "Dining"


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
    """A partner with funds and two brands of different categories (no bonus), an admin past first sign-in,
    and a consumer past first login with $100.00 in the general balance."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        for name, category in (("Bluefin Sushi Bar", "Food & Dining"), ("Summit Outfitters", "Travel")):
            brand = _brand(session, name, category)
            catalog.make_available(session, partner=partner, brand=brand, bonus_type="none", bonus_percent=Decimal(0))
        member, _ = team.invite(
            session, partner=partner, email="ada.admin@example.com", full_name="Ada Admin", role="admin", actor="test"
        )
        with write_transaction(session):
            member = session.get(TeamMember, member.id)
            member.password_hash = hash_password(TEAM_PASSWORD)
            member.must_change_password = False
            session.add(member)
        consumer = consumers.create_consumer(
            session, partner=partner, email="robin@example.com", full_name="Robin Shopper", initial_funds=Money(100_00, "USD")
        ).consumer
        with write_transaction(session):
            consumer = session.get(Consumer, consumer.id)
            consumer.password_hash = hash_password(CONSUMER_PASSWORD)
            consumer.must_change_password = False
            consumer.accepted_terms_version = 1
            session.add(consumer)
    live_store.mailbox.clear()
    return live_store


def settled(page: Page) -> None:
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhtmx-(request|swapping|settling)\b"))


def review_order(page: Page, store: str, brand_slug: str, brand_name: str, amount: str) -> None:
    """From the brand page to the review: an amount, for me."""
    page.goto(f"{store}/brands/{brand_slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text(brand_name)
    page.get_by_role("radio", name=amount).check()
    expect(page.locator("#quote")).to_contain_text(amount)
    page.get_by_role("button", name="Continue to checkout").click()
    expect(page.get_by_role("heading", name="Who is it for?")).to_be_visible()
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()


def open_wallet(page: Page):
    """The header's wallet breakdown (a <details>), opened; its list of balances."""
    wallet = page.locator("#wallet")
    summary = wallet.locator("summary")
    expect(summary).to_be_visible()
    if wallet.locator("details").get_attribute("open") is None:
        summary.click()
    balances = wallet.locator("dl.balances")
    expect(balances).to_be_visible()
    return balances


def campaign_balance(balances, name: str):
    """The <dd> holding the amount of the campaign balance named `name`."""
    return balances.locator("dt.campaign-balance", has_text=f"{name} balance").locator("xpath=following-sibling::dd[1]")


def test_an_admin_gives_a_consumer_a_category_campaign_and_the_store_spends_it_only_on_that_category(
    program, browser: Browser, page: Page
):
    url = program.url
    store = f"{url}/s/harbor"

    # The admin creates a campaign for one category, with $30.00 for each member.
    page.goto(f"{url}/portal/login")
    page.get_by_label("Email").fill("ada.admin@example.com")
    page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="New campaign")).to_be_visible()
    settled(page)
    new = page.locator("#new-campaign")
    new.get_by_label(re.compile(r"^Name")).fill(CAMPAIGN)
    new.get_by_label(re.compile(r"^Budget")).fill("100.00")
    new.get_by_label("Amount per consumer").fill("30.00")
    new.get_by_label("Categories").select_option("Food & Dining")
    new.get_by_role("button", name="Create the campaign").click()

    # htmx sends it, then the browser loads the new campaign's page.
    expect(page).to_have_url(re.compile(r"/portal/campaigns/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(CAMPAIGN)
    expect(page.get_by_text(f"{CAMPAIGN} was created with a budget of $100.00")).to_be_visible()
    expect(page.locator("#campaign-budget-total")).to_have_text("$100.00")
    expect(page.locator("#portal-funds")).to_contain_text("$800.00")  # 1000 - 100 initial funds - 100 budget
    settled(page)

    # The admin adds the consumer by email: $30.00 of the budget is theirs.
    page.get_by_label("Consumer's email").fill("robin@example.com")
    page.get_by_role("button", name="Add", exact=True).click()
    members = page.locator("#campaign-members")
    expect(members.get_by_role("status")).to_have_text("robin@example.com is a member now, with $30.00 to spend.")
    expect(members.locator("#member-rows tbody tr", has_text="robin@example.com")).to_contain_text("$30.00")
    expect(page.locator("#campaign-allocated")).to_have_text("$30.00")  # the summary, swapped out of band

    # The consumer signs in to the store and sees the campaign balance, what it can buy, in the wallet.
    shopper = browser.new_context().new_page()
    shopper.goto(f"{store}/login")
    shopper.get_by_label("Email").fill("robin@example.com")
    shopper.get_by_label("Password", exact=True).fill(CONSUMER_PASSWORD)
    shopper.get_by_role("button", name="Sign in").click()
    expect(shopper).to_have_url(f"{store}/")
    expect(shopper.locator("#wallet .balance")).to_have_text("$130.00")
    balances = open_wallet(shopper)
    expect(balances.locator("dt.campaign-balance")).to_have_count(1)
    dining = balances.locator("dt.campaign-balance")
    expect(dining).to_contain_text(f"{CAMPAIGN} balance")
    expect(dining.locator(".balance-scope")).to_contain_text("Food & Dining brands")
    expect(campaign_balance(balances, CAMPAIGN)).to_have_text("$30.00")
    expect(balances.locator("dt", has_text="General").locator("xpath=following-sibling::dd[1]")).to_have_text("$100.00")

    # A brand of the campaign's category: the review pays from the campaign balance first.
    review_order(shopper, store, "bluefin-sushi-bar", "Bluefin Sushi Bar", "$25.00")
    charges = shopper.locator(".summary .charges li")
    expect(charges).to_have_text([f"$25.00 from your {CAMPAIGN} balance"])
    shopper.get_by_role("button", name="Confirm and pay $25.00").click()
    expect(shopper.locator("#order-status")).to_contain_text("Completed", timeout=15000)
    expect(shopper.locator("#wallet .balance")).to_have_text("$105.00")
    balances = open_wallet(shopper)
    expect(campaign_balance(balances, CAMPAIGN)).to_have_text("$5.00")
    expect(balances.locator("dt", has_text="General").locator("xpath=following-sibling::dd[1]")).to_have_text("$100.00")

    # A brand of another category: no campaign line, the general balance pays it all.
    review_order(shopper, store, "summit-outfitters", "Summit Outfitters", "$10.00")
    charges = shopper.locator(".summary .charges li")
    expect(charges).to_have_text(["$10.00 from your general balance"])
    expect(shopper.locator(".summary")).not_to_contain_text(f"{CAMPAIGN} balance")
    shopper.get_by_role("button", name="Confirm and pay $10.00").click()
    expect(shopper.locator("#order-status")).to_contain_text("Completed", timeout=15000)
    expect(shopper.locator("#wallet .balance")).to_have_text("$95.00")
    balances = open_wallet(shopper)
    expect(campaign_balance(balances, CAMPAIGN)).to_have_text("$5.00")
    expect(balances.locator("dt", has_text="General").locator("xpath=following-sibling::dd[1]")).to_have_text("$90.00")

    # Back in the portal, the member's balance left and the campaign's spending show the purchase.
    page.reload()
    expect(page.locator("#member-rows tbody tr", has_text="robin@example.com")).to_contain_text("$5.00")
    expect(page.locator("#campaign-spent")).to_have_text("$25.00")
