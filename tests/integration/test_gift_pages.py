"""The recipient's gift page and the sender's tracker (issue #18): every gift email links to a branded page that
shows the card with a barcode and a QR code; its token opens only its own gift, is stored hashed, and wrong
tokens are rate-limited; the first view marks the order opened (once), the email handed to SMTP marks it sent;
a store can send the link alone; the consumer's order page, order list and the API show sent and opened."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlmodel import select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.money import Money
from app.models import AuditEvent, EmailMessage, GiftPageLink, Order, Partner
from app.security import token_hash
from app.services import catalog, emails, gift_pages, order_support, orders
from tests.conftest import body_html, body_text
from tests.integration.api_client import call, ok
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

GIFT_LINK = re.compile(r"http://store\.test/s/[\w-]+/gift/[\w-]+")
NUMBER = re.compile(r"\d{4} \d{4} \d{4} \d{4}")


@pytest.fixture
def app_config():
    return {"GIFT_PAGE_RATE_LIMIT": "5 per minute"}


@pytest.fixture
def grocer(session, store, make_brand):
    """Harvest Lane Grocers with a 10 % cash bonus, in the store under test."""
    brand = make_brand("Harvest Lane Grocers", denominations="1000,2500,4000,5000")
    with write_transaction(session):
        brand.terms = "Never expires. Not redeemable for cash."
        session.add(brand)
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(10))
    return brand


def buy(store, brand, *, amount="40.00", send_to="someone", email="jordan@example.com", name="Jordan Friend", message="Enjoy!"):
    """A checkout in the store, as the signed-in consumer: the order's path inside the store."""
    form = page(store.get(f"/brands/{brand.slug}/checkout?amount={amount}"))
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    fields = {"amount": amount, "send_to": send_to, "email": email, "name": name, "sender_name": "Casey", "message": message}
    placed = store.post(f"/brands/{brand.slug}/orders", {**fields, "idempotency_key": key})
    assert placed.status_code == 303, page(placed)
    return redirect_path(placed).removeprefix(f"/s/{store.partner.slug}")


def gift_link(message) -> str:
    match = GIFT_LINK.search(body_text(message))
    assert match, body_text(message)
    assert match.group(0) in body_html(message)
    return match.group(0).removeprefix("http://store.test")


def the_order(session, public_path: str) -> Order:
    session.rollback()
    return session.exec(select(Order).where(Order.public_id == public_path.rsplit("/", 1)[1])).one()


def stranger(app) -> StoreBrowser:
    """Someone with the link and nothing else: no store session."""
    return StoreBrowser(app.test_client(), None)


# --- the page ---------------------------------------------------------------------------------------


def test_the_gift_email_links_to_a_branded_page_with_the_card_a_barcode_and_a_qr_code(
    app, session, store, signed_in, grocer, mailbox
):
    path = buy(store, grocer)
    message = mailbox.last_to("jordan@example.com")
    number = NUMBER.search(body_text(message)).group(0)  # the store's default: the email carries the card too
    link = gift_link(message)

    response = stranger(app).client.get(link, headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers  # it shows the card: never compressed (BREACH)
    body = page(response)
    for shown in ("Casey sent you a gift", "Jordan Friend", "Enjoy!", "$40.00", number, "Harvest Lane Grocers"):
        assert shown in body, shown
    order = the_order(session, path)
    pin = app.extensions["encryptor"].decrypt(order.card_pin_encrypted)
    assert re.search(rf'id="card-pin">{pin}<', body)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="barcode"' in body and 'class="qrcode"' in body
    assert "1. Open the site." in body and "Never expires." in body  # the steps and the terms
    assert "https://redeem.example.com/x?code=" + number.replace(" ", "") in body  # the redemption link
    assert f'href="{store.partner.slug and "/s/" + store.partner.slug}/brand.css' in body  # the store's branding
    # Private: never cached, never indexed, no inline script or style for the CSP to refuse.
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", body) and " style=" not in body and "<style" not in body


def test_a_gift_page_token_opens_only_its_own_gift(app, session, store, signed_in, grocer, mailbox, make_partner):
    buy(store, grocer, email="jordan@example.com")
    buy(store, grocer, email="alex@example.com", name="Alex")
    jordans, alexs = gift_link(mailbox.last_to("jordan@example.com")), gift_link(mailbox.last_to("alex@example.com"))
    browser = stranger(app)
    jordan_number = NUMBER.search(body_text(mailbox.last_to("jordan@example.com"))).group(0)
    alex_number = NUMBER.search(body_text(mailbox.last_to("alex@example.com"))).group(0)
    assert jordan_number != alex_number
    jordan_page, alex_page = page(browser.client.get(jordans)), page(browser.client.get(alexs))
    assert jordan_number in jordan_page and alex_number not in jordan_page
    assert alex_number in alex_page and jordan_number not in alex_page

    token = jordans.rsplit("/", 1)[1]
    other_store = make_partner(slug="other-store")
    for wrong in (
        f"/s/{other_store.slug}/gift/{token}",  # another store's address: its own gifts only
        jordans[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        f"/s/{store.partner.slug}/gift/" + "x" * 200,  # no token of ours
    ):
        response = browser.client.get(wrong)
        assert response.status_code == 404, wrong
        assert jordan_number not in page(response) and "noindex" in response.headers["X-Robots-Tag"]
    # Stored hashed: the table holds the token's SHA-256, never the token.
    session.rollback()
    hashes = session.exec(select(GiftPageLink.token_hash)).all()
    assert token_hash(token) in hashes and token not in hashes
    assert len(token) >= 43  # 32 random bytes, URL-safe base64: 256 bits


def test_wrong_tokens_are_rate_limited_and_a_gift_that_opens_is_not_counted(app, store, signed_in, grocer, mailbox):
    buy(store, grocer)
    link = gift_link(mailbox.last_to("jordan@example.com"))
    browser = stranger(app)
    for _ in range(8):  # the limit is 5 a minute: opening a real gift again and again never reaches it
        assert browser.client.get(link).status_code == 200
    for n in range(5):
        assert browser.client.get(f"/s/{store.partner.slug}/gift/guess-{n}").status_code == 404
    refused = browser.client.get(f"/s/{store.partner.slug}/gift/guess-6")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert browser.client.get(link).status_code == 429  # a guesser from this address gets nothing more for a while
    # Another address is not held back (the test client's REMOTE_ADDR).
    assert browser.client.get(link, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200


# --- sent and opened --------------------------------------------------------------------------------


def test_the_first_view_marks_the_order_opened_once(app, session, store, signed_in, grocer, mailbox):
    path = buy(store, grocer)
    link = gift_link(mailbox.last_to("jordan@example.com"))
    assert the_order(session, path).opened_at is None
    assert "Not opened yet" in page(store.get(path))

    stranger(app).client.get(link)
    first = the_order(session, path).opened_at
    assert first is not None
    with time_machine.travel(utcnow() + timedelta(hours=3)):
        assert stranger(app).client.get(link).status_code == 200
    assert the_order(session, path).opened_at == first  # recorded once
    order_page = page(store.get(path))
    assert "Opened" in order_page and f'datetime="{first.strftime("%Y-%m-%dT%H:%M:%SZ")}"' in order_page
    history = page(store.get("/orders"))
    assert "Opened" in history and "Sent" in history


def test_two_first_views_at_once_record_one_time(app, session, store, signed_in, grocer, mailbox):
    path = buy(store, grocer)
    order_id = the_order(session, path).id
    # Straight at the conditional update, as two requests at once would run it: one records, the other finds it set.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _n: _mark_in_own_context(app, order_id), range(2)))
    assert sorted(results) == [False, True]
    assert gift_pages.mark_opened(session, order_id=order_id) is False


def _mark_in_own_context(app, order_id: int) -> bool:
    import contextvars

    from app.db import db_session

    def run():
        with app.app_context():
            return gift_pages.mark_opened(db_session(), order_id=order_id)

    return contextvars.Context().run(run)


def test_the_order_is_sent_when_its_gift_email_is_handed_to_smtp(app, session, store, signed_in, grocer, mailbox, monkeypatch):
    def refuse(**_message):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(emails.outbound_mail, "send", refuse)
    path = buy(store, grocer)
    order = the_order(session, path)
    gift_email = session.exec(select(EmailMessage).where(EmailMessage.kind == "gift_card")).one()
    assert gift_email.status != "sent" and order.sent_at is None  # waiting for a retry
    assert "Not sent yet" in page(store.get(path))

    monkeypatch.undo()
    # The buyer's own confirmation email is no gift email: it marks nothing.
    confirmation = session.exec(select(EmailMessage).where(EmailMessage.kind == "order_confirmation")).one()
    assert emails.deliver_email(confirmation.id) == "sent"
    assert the_order(session, path).sent_at is None
    assert emails.deliver_email(gift_email.id) == "sent"
    order, gift_email = the_order(session, path), reload(session, EmailMessage, gift_email.id)
    assert order.sent_at is not None and order.sent_at == gift_email.sent_at
    assert "Sent" in page(store.get(path)) and "Not sent yet" not in page(store.get(path))


def test_the_api_order_shows_delivery_sent_and_opened(app, client, session, partner_with_key, make_consumer, make_brand, mailbox):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100")
    brand = make_brand("Cobalt Coffee")
    catalog.make_available(session, partner=partner, brand=brand)
    body = {
        "customerId": consumer.id,
        "brand": brand.slug,
        "amount": 25,
        "currency": "USD",
        "externalRefId": "PO-GIFT-1",
        "recipient": {"email": "pat@example.com", "name": "Pat"},
    }
    created = ok(call(client, credentials, "POST", "/orders", body))
    fetched = ok(call(client, credentials, "GET", f"/orders/{created['id']}"))
    assert fetched["delivery"]["sentAt"].endswith("Z") and fetched["delivery"]["openedAt"] is None
    StoreBrowser(app.test_client(), None).client.get(gift_link(mailbox.last_to("pat@example.com")))
    fetched = ok(call(client, credentials, "GET", f"/orders/{created['id']}"))
    assert fetched["delivery"]["openedAt"].endswith("Z") and fetched["delivery"]["openedAt"] >= fetched["delivery"]["sentAt"]
    listed = ok(call(client, credentials, "GET", "/orders?externalRefId=PO-GIFT-1"))
    assert listed["items"][0]["delivery"] == fetched["delivery"]
    document = client.get("/api/partner/v1/openapi.json").get_json()
    delivery = document["components"]["schemas"]["OrderDelivery"]
    assert set(delivery["properties"]) == {"sentAt", "openedAt"}
    assert "delivery" in document["components"]["schemas"]["Order"]["required"]


# --- link only --------------------------------------------------------------------------------------


def test_a_store_that_sends_the_link_only_puts_no_code_in_the_email(
    app, session, store, signed_in, grocer, mailbox, make_team_member, portal_as
):
    operator = portal_as(make_team_member(store.partner, "operator"))
    operator.get("/branding")
    assert operator.post("/branding/gift-emails", {"gift_email": "link_only"}).status_code == 403
    admin = portal_as(make_team_member(store.partner, "admin"))
    form = page(admin.get("/branding"))
    assert 'value="code_and_link" checked' in form
    assert admin.post("/branding/gift-emails", {"gift_email": "nonsense"}).status_code == 422
    assert admin.post("/branding/gift-emails", {"gift_email": "link_only"}).status_code == 303
    assert 'value="link_only" checked' in page(admin.get("/branding"))
    session.rollback()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "store.gift_email_contents")).one()
    assert event.team_member_id is not None and "only the link" in event.summary

    path = buy(store, grocer)
    order = the_order(session, path)
    encryptor = app.extensions["encryptor"]
    number, pin = encryptor.decrypt(order.card_number_encrypted), encryptor.decrypt(order.card_pin_encrypted)
    message = mailbox.last_to("jordan@example.com")
    for body in (body_text(message), body_html(message)):
        digits = re.sub(r"\D", "", number)
        assert number not in body and digits not in re.sub(r"[\s-]", "", body)
        assert not re.search(rf"(?<![\w-]){pin}(?![\w-])", body)
        assert "redeem.example.com" not in body  # the redemption link has the number in it
    assert "Open your gift" in body_text(message)
    gift = page(stranger(app).client.get(gift_link(message)))
    assert number in gift and pin in gift  # the page still shows it

    # The email to the buyer about their own order is untouched by the setting: the cash bonus and the order's page.
    confirmation = body_text(mailbox.last_to(signed_in.email))
    assert "$4.00 cash bonus" in confirmation and f"http://store.test/s/{store.partner.slug}{path}" in confirmation

    # Back to the default: codes in the email again.
    assert admin.post("/branding/gift-emails", {"gift_email": "code_and_link"}).status_code == 303
    buy(store, grocer, email="alex@example.com", name="Alex")
    assert NUMBER.search(body_text(mailbox.last_to("alex@example.com")))


def test_a_corrected_recipient_gets_a_new_link_and_the_old_one_stops_opening(
    app, session, store, signed_in, grocer, mailbox, make_team_member
):
    path = buy(store, grocer)
    old_link = gift_link(mailbox.last_to("jordan@example.com"))
    assert stranger(app).client.get(old_link).status_code == 200
    assert the_order(session, path).opened_at is not None
    order_support.change_recipient(
        session,
        partner=session.get(Partner, store.partner.id),
        order=the_order(session, path),
        email="jordan.right@example.com",
        by=make_team_member(store.partner, "admin"),
    )
    new_link = gift_link(mailbox.last_to("jordan.right@example.com"))
    assert stranger(app).client.get(old_link).status_code == 404
    order = the_order(session, path)
    assert order.sent_at is not None and order.opened_at is None  # the tracker follows the new address
    assert stranger(app).client.get(new_link).status_code == 200
    # A resend to the same address is one more link; both open the gift.
    order_support.resend_card(
        session,
        partner=session.get(Partner, store.partner.id),
        order=the_order(session, path),
        by=make_team_member(store.partner, "operator"),
    )
    resent_link = gift_link(mailbox.last_to("jordan.right@example.com"))
    assert resent_link != new_link
    assert stranger(app).client.get(resent_link).status_code == 200 and stranger(app).client.get(new_link).status_code == 200


def test_a_pending_or_failed_order_has_no_gift_page(app, session, store, signed_in, grocer, mailbox):
    path = buy(store, grocer)
    link = gift_link(mailbox.last_to("jordan@example.com"))
    order = the_order(session, path)
    with write_transaction(session):
        order.status = "failed"
        session.add(order)
    assert stranger(app).client.get(link).status_code == 404


# --- the statement and orders in plain words ----------------------------------------------------------


def test_the_statement_reads_as_people_speak_and_the_csv_adds_those_words(store, signed_in, grocer, session):
    path = buy(store, grocer)
    public_id = path.rsplit("/", 1)[1]
    name = session.get(Partner, store.partner.id).display_name
    response = store.get("/statement")
    body = page(response)
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    assert "Gift card for Jordan Friend (Harvest Lane Grocers) General balance" in text
    assert "−$40.00" in text and "Cash back" in text and "+$4.00" in text
    assert f"Added by {name}" in text and "+$100.00" in text
    # Each order's line links to the order; times are <time> in UTC, which the browser shows in its own zone.
    assert f'href="/s/{store.partner.slug}/orders/{public_id}">Gift card for Jordan Friend (Harvest Lane Grocers)</a>' in body
    assert re.search(
        r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" class="local-time">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', body
    )
    assert "local_time.js" in body
    assert 'class="table stack-on-phone"' in body and 'data-label="Amount"' in body
    # The header menu leads to it from every page.
    assert f'href="/s/{store.partner.slug}/statement">Statement</a>' in page(store.get("/"))

    import csv
    import io

    rows = list(csv.reader(io.StringIO(store.get("/statement.csv").get_data(as_text=True))))
    assert rows[0] == ["date", "type", "status", "balance", "amount", "currency", "balance_after", "order", "memo", "description"]
    assert [(row[1], row[4], row[7], row[9]) for row in rows[1:]] == [
        ("credit", "100.00", "", f"Added by {name}"),
        ("debit", "-40.00", public_id, "Gift card for Jordan Friend (Harvest Lane Grocers)"),
        ("rebate", "4.00", public_id, "Cash back"),
    ]


def test_a_refund_and_a_gift_for_oneself_read_plainly_too(app, store, signed_in, grocer):
    app.extensions["provider"].failure_rate = 1.0
    try:
        buy(store, grocer, amount="10.00", send_to="me")
    finally:
        app.extensions["provider"].failure_rate = 0.0
    text = " ".join(re.sub(r"<[^>]+>", " ", page(store.get("/statement"))).split())
    assert "Refund: gift card for you (Harvest Lane Grocers)" in text and "+$10.00" in text
    assert "Gift card for you (Harvest Lane Grocers)" in text and "−$10.00" in text


# --- without JavaScript -----------------------------------------------------------------------------------


def test_without_javascript_the_pending_page_refreshes_itself_until_final(store, signed_in, grocer, session):
    path = buy(store, grocer, send_to="me")
    order = the_order(session, path)
    with write_transaction(session):
        order.status = "pending"
        session.add(order)
    pending = page(store.get(path))
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in pending
    assert f'<a href="/s/{store.partner.slug}{path}">Check again now</a>' in pending
    with write_transaction(session):
        order.status = "completed"
        session.add(order)
    done = page(store.get(path))
    assert 'http-equiv="refresh"' not in done and "Check again" not in done


def test_without_javascript_show_card_number_returns_the_whole_order_page(store, signed_in, grocer, session, app):
    path = buy(store, grocer, send_to="me")
    order = the_order(session, path)
    number = app.extensions["encryptor"].decrypt(order.card_number_encrypted)

    plain_form = store.post(path + "/card", {})
    body = page(plain_form)
    assert plain_form.status_code == 200 and "HX-Request" in plain_form.headers["Vary"]
    assert body.lstrip().lower().startswith("<!doctype html>") and "Harvest Lane Grocers gift card" in body
    assert number in body and "Show card number and PIN" not in body and "Your orders" in body

    htmx = store.post(path + "/card", {}, headers={"HX-Request": "true"})
    assert page(htmx).lstrip().startswith('<dl id="card"') and number in page(htmx)


def test_the_completion_email_to_a_sender_states_the_cash_bonus_and_links_to_the_order(store, signed_in, grocer, mailbox):
    path = buy(store, grocer)
    message = mailbox.last_to(signed_in.email)
    assert "$4.00 cash bonus" in body_text(message)
    order_url = f"http://store.test/s/{store.partner.slug}{path}"
    assert order_url in body_text(message) and f'href="{order_url}"' in body_html(message)


def test_the_portal_preview_of_the_gift_email_follows_the_setting(session, make_partner, make_team_member, portal_as):
    partner = make_partner()
    admin = portal_as(make_team_member(partner, "admin"))
    assert "6012 3456 7890 1234" in page(admin.get("/branding/preview/delivery"))
    admin.get("/branding")
    admin.post("/branding/gift-emails", {"gift_email": "link_only"})
    preview = page(admin.get("/branding/preview/delivery"))
    assert "6012 3456 7890 1234" not in preview and "Open your gift" in preview


def test_gift_page_link_service_revokes_only_the_orders_links(session, store, signed_in, grocer, mailbox):
    first, second = buy(store, grocer), buy(store, grocer, email="alex@example.com", name="Alex")
    assert gift_pages.revoke_links(session, order_id=the_order(session, first).id) == 1
    session.rollback()
    revoked = {link.order_id: link.revoked_at for link in session.exec(select(GiftPageLink)).all()}
    assert revoked[the_order(session, first).id] is not None and revoked[the_order(session, second).id] is None


def test_an_order_placed_by_the_services_gets_its_link_in_the_same_transaction(
    session, make_partner, make_consumer, make_brand, mailbox
):
    partner = make_partner()
    consumer = make_consumer(partner)
    brand = make_brand("Cobalt Coffee")
    catalog.make_available(session, partner=partner, brand=brand)
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, session.get(Partner, partner.id), brand.slug),
        face_value=Money(10_00, "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    session.rollback()
    link = session.exec(select(GiftPageLink).where(GiftPageLink.order_id == order.id)).one()
    email = session.get(EmailMessage, link.email_message_id)
    assert email.kind == "gift_card" and email.to == consumer.email
