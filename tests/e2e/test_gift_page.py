"""A gift, followed from both ends in real browsers (issue #18): the sender buys it, the recipient opens the gift
page from the captured email and a scanner reads its barcode and QR code off the screen, and the sender's order
page then says it was opened, in the sender's own time zone; on a phone the statement stacks into cards."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Consumer
from app.security import hash_password
from app.services import catalog, consumers, partners
from tests.conftest import body_text

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def sender(live_store):
    """Harbor Perks with Harvest Lane Grocers (10 % cash back) and Robin, past first login, with $100.00."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbor", name="Harbor Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        brand = Brand(
            slug="harvest-lane-grocers",
            name="Harvest Lane Grocers",
            category="Groceries",
            description="Groceries",
            currencies="USD",
            denominations="1000,2500,4000",
            has_pin=True,
            redemption_instructions="1. Show the barcode at the till.",
            terms="Never expires.",
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(10))
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


def read_codes(locator) -> list[tuple[str, str]]:
    """What a scanner reads off the element as the browser drew it."""
    image = Image.open(io.BytesIO(locator.screenshot())).convert("L")
    return [(result.format.name, result.text) for result in zxingcpp.read_barcodes(image)]


def test_the_recipient_opens_the_gift_page_from_the_email_and_the_sender_sees_it_opened(browser, live_store, sender):
    robin = browser.new_context(timezone_id="America/New_York", locale="en-US")
    page = robin.new_page()
    try:
        page.goto(f"{sender}/login")
        page.get_by_label("Email").fill("robin@example.com")
        page.get_by_label("Password", exact=True).fill("Maple-syrup-2024")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{sender}/")
        page.goto(f"{sender}/brands/harvest-lane-grocers/checkout?amount=40.00")
        page.get_by_role("radio", name="Someone else").check()
        page.get_by_label("Recipient's email").fill("jordan@example.com")
        page.get_by_label("Recipient's name").fill("Jordan Friend")
        page.get_by_label("Message").fill("Happy birthday!")
        page.get_by_role("button", name="Review").click()
        page.get_by_role("button", name="Confirm and pay $40.00").click()
        status = page.locator("#order-status")
        expect(status).to_contain_text("Completed", timeout=15000)
        order_url = page.url
        page.reload()
        expect(status).to_contain_text("Sent")
        expect(status).to_contain_text("Not opened yet")

        email = live_store.mailbox.last_to("jordan@example.com")
        number = re.search(r"Card number:\s+(\d{4} \d{4} \d{4} \d{4})", body_text(email)).group(1)
        link = re.search(rf"{re.escape(sender)}/gift/[\w-]+", body_text(email)).group(0)

        # The recipient: no account, on a phone.
        jordan = browser.new_context(viewport=PHONE)
        gift = jordan.new_page()
        try:
            gift.goto(link)
            expect(gift.get_by_role("heading", level=1)).to_have_text("Robin Shopper sent you a gift")
            expect(gift.locator("#card-number")).to_have_text(number)
            expect(gift.locator(".gift-message")).to_have_text("Happy birthday!")
            expect(gift.locator("#gift-value")).to_have_text("$40.00")
            digits = number.replace(" ", "")
            assert read_codes(gift.locator("svg.barcode")) == [("Code128", digits)]
            assert read_codes(gift.locator("svg.qrcode")) == [("QRCode", digits)]
        finally:
            jordan.close()

        # The sender sees it opened, on the order page and in the list, in New York time.
        page.goto(order_url)
        opened = page.locator("#order-status li", has_text="Opened")
        expect(opened).to_be_visible()
        moment = opened.locator("time")
        expect(moment).to_have_attribute("data-localized", "")
        assert not moment.inner_text().endswith("UTC") and moment.get_attribute("title").endswith("UTC")
        page.get_by_role("link", name="Orders", exact=True).click()
        expect(page.locator("#orders")).to_contain_text("Opened")

        # The statement from the header menu; on a phone its lines stack into cards with their amounts in view.
        page.set_viewport_size(PHONE)
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Statement").click()
        line = page.locator("#statement tbody tr", has_text="Gift card for Jordan Friend (Harvest Lane Grocers)")
        expect(line).to_contain_text("−$40.00")
        assert line.evaluate("row => getComputedStyle(row).display") == "block"
        assert line.locator("td[data-label=Amount]").bounding_box()["width"] <= PHONE["width"]
        expect(page.locator("#statement tbody tr", has_text="Cash back")).to_contain_text("+$4.00")
    finally:
        robin.close()
