"""Orders in the partner portal: finding them, reading one (card masked), retrying a failed one,
resending a card or sending it to a corrected address."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import current_app
from sqlmodel import func, select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.errors import DomainError
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import AuditEvent, Consumer, EmailMessage, Order, Partner, TeamMember, Transaction
from app.services import catalog, consumers, funds, order_support, orders
from tests.conftest import body_text
from tests.integration.conftest import page, redirect_path, reload

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shop(app, session, make_partner, make_consumer, make_brand, make_team_member):
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)

    class Shop:
        def buy(self, amount="25", *, who=None, on=None, to="friend@example.com", fail=False):
            provider = app.extensions["provider"]
            provider.failure_rate = 1.0 if fail else 0.0
            try:
                buyer = who or consumer
                recipient = (
                    orders.recipient_for(buyer, send_to="someone", email=to, name="Friend", message="Enjoy!")
                    if to
                    else orders.recipient_for(buyer, send_to="me")
                )
                offer = catalog.offer(session, session.get(Partner, buyer.partner_id), (on or brand).slug)
                order = orders.place_order(
                    session,
                    consumer=buyer,
                    offer=offer,
                    face_value=Money.parse(amount, "USD"),
                    recipient=recipient,
                    idempotency_key=orders.new_idempotency_key(),
                )
            finally:
                provider.failure_rate = 0.0
            return reload(session, Order, order.id)

    shop = Shop()
    shop.partner, shop.consumer, shop.brand = partner, consumer, brand
    shop.operator = make_team_member(partner, "operator")
    shop.viewer = make_team_member(partner, "viewer")
    shop.admin = make_team_member(partner, "admin")  # only an admin sends a card to another address
    return shop


def general_balance(session, consumer) -> int:
    session.rollback()
    session.expire_all()
    return consumers.wallets(session, consumer)[0].general.amount


def counts(session) -> tuple[int, int, int, int]:
    """Orders, transactions, emails and audit events: what a refused action must leave alone."""
    session.rollback()
    return tuple(
        session.exec(select(func.count()).select_from(model)).one() for model in (Order, Transaction, EmailMessage, AuditEvent)
    )


def audit_events(session, action):
    session.rollback()
    return session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def decrypt(token: str) -> str:
    return current_app.extensions["encryptor"].decrypt(token)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_filters_by_status_brand_consumer_email_and_dates(session, shop, make_consumer, make_brand, portal_as):
    other_brand = make_brand("Copper Kettle")
    catalog.make_available(session, partner=shop.partner, brand=other_brand)
    sam = make_consumer(shop.partner, funds="100", email="sam.other@example.com")
    done = shop.buy("25")
    failed = shop.buy("10", fail=True)
    kettle = shop.buy("10", who=sam, on=other_brand)
    with write_transaction(session):
        kettle.created_at = utcnow() - timedelta(days=10)
        session.add(kettle)
    old_day = (utcnow() - timedelta(days=10)).date().isoformat()
    browser = portal_as(shop.viewer)

    def listed(query: str = "", **kwargs) -> set[str]:
        return set(re.findall(r"ord_[0-9a-f]{16}", page(browser.get(f"/orders{query}", **kwargs))))

    assert listed() == {done.public_id, failed.public_id, kettle.public_id}
    assert listed("?status=failed") == {failed.public_id}
    assert listed(f"?brand={other_brand.id}") == {kettle.public_id}
    assert listed("?email=SAM.other") == {kettle.public_id}
    assert listed("?email=%25") == set()  # a wildcard is a character, not a pattern
    assert listed(f"?from={old_day}&to={old_day}") == {kettle.public_id}
    assert listed(f"?to={old_day}&status=completed") == {kettle.public_id}

    partial = browser.get("/orders?status=completed", headers=HTMX)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert page(partial).lstrip().startswith('<div id="order-rows"') and "<h1>" not in page(partial)
    assert "2 orders" in page(partial)
    full = page(browser.get("/orders?status=completed"))
    assert "<h1>Orders</h1>" in full and 'value="completed" selected' in full


@pytest.mark.parametrize(
    "query, message",
    [
        ("?from=31-12-2025", "dates look like 2026-03-31"),
        ("?from=2026-02-30", "dates look like"),
        ("?from=2026-03-02&to=2026-03-01", "start date is after the end date"),
        ("?status=lost", "Choose an order status"),
        ("?brand=abc", "Choose a brand"),
    ],
)
def test_a_bad_filter_is_explained_in_place_and_lists_nothing(shop, portal_as, query, message):
    order = shop.buy("25")
    browser = portal_as(shop.viewer)
    for headers in ({}, HTMX):
        response = browser.get(f"/orders{query}", headers=headers)
        assert response.status_code == 422 and message in page(response)
        assert order.public_id not in page(response)


def test_the_list_has_pages(session, shop, portal_as):
    with write_transaction(session):
        for n in range(55):
            session.add(
                Order(
                    public_id=f"ord_{n:016x}",
                    partner_id=shop.partner.id,
                    consumer_id=shop.consumer.id,
                    brand_id=shop.brand.id,
                    currency="USD",
                    face_value=1000,
                    price=1000,
                    card_value=1000,
                    recipient_email="robin@example.com",
                    idempotency_key=f"bulk-key-{n:04d}",
                    status="completed",
                )
            )
    browser = portal_as(shop.viewer)
    first = page(browser.get("/orders?status=completed"))
    assert "55 orders" in first and "1–50 of 55" in first
    assert f"ord_{54:016x}" in first and f"ord_{4:016x}" not in first  # newest first
    older = re.search(r'<a rel="next" href="/portal(/orders\?status=completed&before=\d+)">Older</a>', first)
    second = page(browser.get(older.group(1)))
    assert f"ord_{4:016x}" in second and f"ord_{0:016x}" in second and f"ord_{5:016x}" not in second
    assert "51–55 of 55" in second and 'rel="prev"' in second and 'rel="next"' not in second
    assert "51–55 of 55" in page(browser.get("/orders?page=2&status=completed"))  # a link from before the cursors


# --- one order ----------------------------------------------------------------------------------


def test_an_order_shows_its_ledger_transactions_and_emails_with_the_card_masked(session, shop, portal_as):
    catalog.make_available(session, partner=shop.partner, brand=shop.brand, bonus_type="cash", bonus_percent=10)
    order = shop.buy("50")
    number = decrypt(order.card_number_encrypted)
    response = portal_as(shop.viewer).get(f"/orders/{order.public_id}")
    text = page(response)
    assert response.status_code == 200
    assert f"•••• •••• •••• {number[-4:]}" in text
    assert number not in text and number.replace(" ", "") not in text and number[:9] not in text
    assert decrypt(order.redemption_url_encrypted) not in text and decrypt(order.card_pin_encrypted) not in text.replace(
        order.public_id, ""
    )
    # The debit, and the cash bonus paid back as a rebate.
    assert re.search(
        r"<td>debit</td>\s*<td><span class=\"pill status-completed\">completed</span></td>\s*<td class=\"num\">\$50\.00</td>",
        text,
    )
    assert re.search(r"<td>rebate</td>.*?\$5\.00", text, re.S)
    # The card to the recipient and the confirmation to the buyer, as rows: never their bodies.
    assert "<td>gift_card</td><td>friend@example.com</td>" in text
    assert "<td>order_confirmation</td><td>robin@example.com</td>" in text
    assert "Enjoy!" in text  # the message the buyer wrote is part of the order
    assert "Redeem your card" not in text


def test_a_failed_orders_page_shows_the_refund(shop, portal_as):
    order = shop.buy("25", fail=True)
    text = page(portal_as(shop.viewer).get(f"/orders/{order.public_id}"))
    assert "declined" in text and "not issued" in text
    assert re.search(r"<td>refund</td>.*?\$25\.00", text, re.S)
    assert "<td>order_failed</td><td>robin@example.com</td>" in text


def test_a_viewer_sees_no_buttons_and_is_refused_when_posting_anyway(session, shop, portal_as):
    failed, done = shop.buy("25", fail=True), shop.buy("25")
    browser = portal_as(shop.viewer)
    for order in (failed, done):
        text = page(browser.get(f"/orders/{order.public_id}"))
        assert "Retry the order" not in text and "Resend the card" not in text and 'name="email"' not in text
        assert text.count("<form") == 1  # signing out
    before = counts(session)
    assert browser.post(f"/orders/{failed.public_id}/retry").status_code == 403
    assert browser.post(f"/orders/{done.public_id}/resend").status_code == 403
    assert browser.post(f"/orders/{done.public_id}/recipient", {"email": "new@example.com"}).status_code == 403
    assert counts(session) == before
    assert reload(session, Order, done.id).recipient_email == "friend@example.com"


def test_another_partners_order_is_not_found_and_nothing_changes(
    session, shop, make_partner, make_consumer, make_team_member, portal_as
):
    theirs = make_partner()
    catalog.make_available(session, partner=theirs, brand=shop.brand)
    stranger = make_consumer(theirs, funds="100")
    failed = shop.buy("25", who=stranger, fail=True)
    done = shop.buy("25", who=stranger)
    browser = portal_as(shop.admin)
    before = counts(session)
    assert browser.get(f"/orders/{done.public_id}").status_code == 404
    assert browser.post(f"/orders/{failed.public_id}/retry").status_code == 404
    assert browser.post(f"/orders/{done.public_id}/resend").status_code == 404
    assert browser.post(f"/orders/{done.public_id}/recipient", {"email": "thief@example.com"}).status_code == 404
    assert counts(session) == before
    assert done.public_id not in page(browser.get("/orders"))
    assert reload(session, Order, failed.id).retried_by_id is None


# --- retrying a failed order --------------------------------------------------------------------


def test_an_operator_retries_a_failed_order_as_a_new_charged_order_once(session, shop, portal_as, mailbox):
    failed = shop.buy("25", fail=True)
    assert general_balance(session, shop.consumer) == 100_00  # refunded
    browser = portal_as(shop.operator)
    assert "Retry the order" in page(browser.get(f"/orders/{failed.public_id}"))

    response = browser.post(f"/orders/{failed.public_id}/retry")
    assert response.status_code == 303
    new = session.exec(select(Order).where(Order.id != failed.id)).one()
    assert redirect_path(response) == f"/portal/orders/{new.public_id}"
    assert (new.status, new.channel, new.idempotency_key) == ("completed", "portal", f"retry:{failed.public_id}")
    assert (new.brand_id, new.face_value, new.recipient_email, new.message) == (
        failed.brand_id,
        25_00,
        "friend@example.com",
        "Enjoy!",
    )
    assert reload(session, Order, failed.id).retried_by_id == new.id
    assert general_balance(session, shop.consumer) == 75_00
    debit = session.get(Transaction, new.debit_transaction_id)
    assert (debit.type, debit.status, debit.amount, debit.actor) == (
        "debit",
        "completed",
        25_00,
        f"team:{shop.operator.id} {shop.operator.email}",
    )
    assert decrypt(new.card_number_encrypted) in body_text(mailbox.last_to("friend@example.com"))
    [event] = audit_events(session, "order.retry")
    assert (event.subject_id, event.team_member_id) == (failed.public_id, shop.operator.id) and new.public_id in event.summary

    new_page = page(browser.get(f"/orders/{new.public_id}"))
    assert "retried as this new order" in new_page and "retries the failed order" in new_page
    assert "retried as" in page(browser.get(f"/orders/{failed.public_id}"))

    before = counts(session)
    again = browser.post(f"/orders/{failed.public_id}/retry")
    assert again.status_code == 422 and f"already retried: {new.public_id}" in page(again)
    assert counts(session) == before and general_balance(session, shop.consumer) == 75_00


def test_two_retries_at_once_place_one_new_order(app, session, shop):
    failed = shop.buy("25", fail=True)
    partner_id, order_id, operator_id = shop.partner.id, failed.id, shop.operator.id
    session.rollback()

    def retry(_):
        with app.app_context():
            own = db_session()
            try:
                return order_support.retry_order(
                    own, partner=own.get(Partner, partner_id), order=own.get(Order, order_id), by=own.get(TeamMember, operator_id)
                ).public_id
            except DomainError as problem:
                return problem.message

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(retry, range(4)))
    placed = [r for r in results if r.startswith("ord_")]
    assert len(placed) == 1 and all("already retried" in r for r in results if r not in placed)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Order)).one() == 2
    assert len(audit_events(session, "order.retry")) == 1
    assert general_balance(session, shop.consumer) == 75_00


def _refused(session, browser, order, message, *, explained_on_the_page=True):
    buyer = session.get(Consumer, order.consumer_id)
    before, balance = counts(session), general_balance(session, buyer)
    response = browser.post(f"/orders/{order.public_id}/retry")
    assert response.status_code == 422, page(response)
    assert message in page(response)
    assert counts(session) == before
    assert general_balance(session, buyer) == balance
    assert reload(session, Order, order.id).retried_by_id is None
    if explained_on_the_page:  # said before anyone clicks, too
        assert message in page(browser.get(f"/orders/{order.public_id}"))


def test_a_retry_is_refused_for_a_brand_that_doesnt_support_it(session, shop, make_brand, portal_as):
    strict = make_brand("No Second Chances", supports_retry=False)
    catalog.make_available(session, partner=shop.partner, brand=strict)
    _refused(session, portal_as(shop.operator), shop.buy("25", on=strict, fail=True), "can't be retried")


def test_a_retry_is_refused_for_an_order_that_did_not_fail(session, shop, portal_as):
    _refused(
        session,
        portal_as(shop.operator),
        shop.buy("25"),
        "Only a failed order can be retried; this one is completed",
        explained_on_the_page=False,
    )


def test_a_retry_is_refused_for_a_deactivated_consumer(session, shop, portal_as):
    failed = shop.buy("25", fail=True)
    consumers.set_active(session, consumer=shop.consumer, active=False)
    _refused(session, portal_as(shop.operator), failed, "The consumer is deactivated")


def test_a_retry_is_refused_when_the_brand_is_disabled(session, shop, portal_as):
    failed = shop.buy("25", fail=True)
    catalog.make_available(session, partner=shop.partner, brand=shop.brand, enabled=False)
    _refused(session, portal_as(shop.operator), failed, "Bluefin Sushi is disabled in your store")


def test_a_retry_is_refused_when_the_wallet_is_short_and_nothing_is_charged(session, shop, portal_as):
    failed = shop.buy("50", fail=True)
    funds.change_funds(
        session,
        partner=shop.partner,
        consumer_id=shop.consumer.id,
        type=TransactionType.DEBIT,
        amount=Money(60_00, "USD"),
        reason="Correction",
        idempotency_key="short-wallet-1",
    )
    browser = portal_as(shop.operator)
    before = counts(session)
    response = browser.post(f"/orders/{failed.public_id}/retry")
    assert response.status_code == 422
    assert "wallet doesn't cover the 50.00 USD this card costs: nothing was charged" in page(response)
    assert counts(session) == before and general_balance(session, shop.consumer) == 40_00


# --- sending the card again ---------------------------------------------------------------------


def test_an_operator_resends_the_card_to_the_recipient(session, shop, portal_as, mailbox):
    order = shop.buy("25")
    mailbox.clear()
    browser = portal_as(shop.operator)
    response = browser.post(f"/orders/{order.public_id}/resend")
    assert response.status_code == 303 and redirect_path(response) == f"/portal/orders/{order.public_id}"
    assert decrypt(order.card_number_encrypted) in body_text(mailbox.last_to("friend@example.com"))
    assert reload(session, Order, order.id).delivery_changes == 1
    [event] = audit_events(session, "order.resend_card")
    assert '"new_email": "friend@example.com"' in event.details and event.team_member_id == shop.operator.id
    assert "sent again to friend@example.com" in page(browser.get(f"/orders/{order.public_id}"))


def test_an_operator_corrects_the_recipients_email_and_the_card_goes_there(session, shop, portal_as, mailbox):
    order = shop.buy("25", to="frend@exmaple.com")
    mailbox.clear()
    browser = portal_as(shop.admin)
    response = browser.post(f"/orders/{order.public_id}/recipient", {"email": " Friend@Example.com "})
    assert response.status_code == 303
    changed = reload(session, Order, order.id)
    assert (changed.recipient_email, changed.delivery_changes, changed.to_self) == ("friend@example.com", 1, False)
    message = mailbox.last_to("friend@example.com")
    assert (
        decrypt(order.card_number_encrypted) in body_text(message) and "sent you a Bluefin Sushi gift card" in message["Subject"]
    )
    assert mailbox.to("frend@exmaple.com") == []
    [event] = audit_events(session, "order.change_recipient")
    assert '"old_email": "frend@exmaple.com"' in event.details and '"new_email": "friend@example.com"' in event.details


@pytest.mark.parametrize(
    "email, message",
    [
        ("not-an-email", "is not a valid email address"),
        ("", "Enter an email address"),
        ("friend@example.com", "The card already goes to friend@example.com"),
    ],
)
def test_a_bad_recipient_email_is_explained_in_place_and_changes_nothing(session, shop, portal_as, email, message):
    order = shop.buy("25")
    browser = portal_as(shop.admin)
    before = counts(session)
    response = browser.post(f"/orders/{order.public_id}/recipient", {"email": email})
    assert response.status_code == 422 and message in page(response)
    assert f'value="{email}"' in page(response)  # the form keeps what was typed
    assert counts(session) == before
    unchanged = reload(session, Order, order.id)
    assert (unchanged.recipient_email, unchanged.delivery_changes) == ("friend@example.com", 0)


def test_a_card_is_resent_or_redirected_at_most_three_times(session, shop, portal_as, mailbox):
    order = shop.buy("25")
    browser = portal_as(shop.admin)
    assert browser.post(f"/orders/{order.public_id}/resend").status_code == 303
    assert browser.post(f"/orders/{order.public_id}/recipient", {"email": "second@example.com"}).status_code == 303
    assert browser.post(f"/orders/{order.public_id}/resend").status_code == 303
    before = counts(session)
    for attempt in (
        browser.post(f"/orders/{order.public_id}/resend"),
        browser.post(f"/orders/{order.public_id}/recipient", {"email": "third@example.com"}),
    ):
        assert attempt.status_code == 422 and "already resent or redirected 3 times" in page(attempt)
    assert counts(session) == before
    assert reload(session, Order, order.id).recipient_email == "second@example.com"
    text = page(browser.get(f"/orders/{order.public_id}"))
    assert "Resend the card" not in text and "3 of 3 used" in text


def test_six_resends_at_once_send_three(app, session, shop):
    order = shop.buy("25")
    partner_id, order_id, operator_id = shop.partner.id, order.id, shop.operator.id
    session.rollback()

    def resend(_):
        with app.app_context():
            own = db_session()
            try:
                order_support.resend_card(
                    own, partner=own.get(Partner, partner_id), order=own.get(Order, order_id), by=own.get(TeamMember, operator_id)
                )
                return True
            except DomainError:
                return False

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(resend, range(6)))
    assert results.count(True) == 3
    assert reload(session, Order, order_id).delivery_changes == 3
    assert len(audit_events(session, "order.resend_card")) == 3
    assert session.exec(select(func.count()).select_from(EmailMessage).where(EmailMessage.kind == "gift_card")).one() == 1 + 3


def test_only_a_completed_orders_card_can_be_sent(session, shop, portal_as):
    failed = shop.buy("25", fail=True)
    browser = portal_as(shop.admin)
    before = counts(session)
    for response in (
        browser.post(f"/orders/{failed.public_id}/resend"),
        browser.post(f"/orders/{failed.public_id}/recipient", {"email": "x@example.com"}),
    ):
        assert response.status_code == 422 and "Only a completed order's card can be sent; this order is failed" in page(response)
    assert counts(session) == before


def test_an_operator_cancels_a_scheduled_gift_once_the_buyer_is_refunded_and_told(app, session, shop, portal_as, mailbox):
    order = orders.place_order(
        session,
        consumer=shop.consumer,
        offer=catalog.offer(session, shop.partner, shop.brand.slug),
        face_value=Money.parse("25", "USD"),
        recipient=orders.recipient_for(shop.consumer, send_to="someone", email="friend@example.com", name="Friend"),
        idempotency_key=orders.new_idempotency_key(),
        deliver_at=utcnow() + timedelta(days=2),
    )
    assert general_balance(session, shop.consumer) == 75_00
    viewer = portal_as(shop.viewer)
    assert "Cancel this gift" not in page(viewer.get(f"/orders/{order.public_id}"))
    assert viewer.post(f"/orders/{order.public_id}/cancel").status_code == 403
    operator = portal_as(shop.operator)
    detail = page(operator.get(f"/orders/{order.public_id}"))
    assert "Cancel this gift" in detail and "not sent yet" in detail
    done = operator.post(f"/orders/{order.public_id}/cancel")
    assert done.status_code == 303 and redirect_path(done) == f"/portal/orders/{order.public_id}"
    assert "Cancelled before it was sent" in page(operator.get(f"/orders/{order.public_id}"))
    assert reload(session, Order, order.id).status == "cancelled"
    assert general_balance(session, shop.consumer) == 100_00
    notice = mailbox.last_to("robin@example.com")
    assert notice["Subject"] == "Your scheduled Bluefin Sushi gift card was cancelled" and "back in your wallet" in body_text(
        notice
    )
    assert operator.post(f"/orders/{order.public_id}/cancel").status_code == 303  # again: nothing refunded or told twice
    assert general_balance(session, shop.consumer) == 100_00
    assert len(audit_events(session, "order.cancel")) == 1
    assert len([m for m in mailbox.to("robin@example.com") if "cancelled" in m["Subject"]]) == 1
    assert mailbox.to("friend@example.com") == []  # the gift was never sent


def test_a_delivered_gift_cannot_be_cancelled_from_the_portal(app, session, shop, portal_as):
    order = shop.buy("25")
    before = counts(session)
    refused = portal_as(shop.operator).post(f"/orders/{order.public_id}/cancel")
    assert refused.status_code == 422 and orders.ALREADY_DELIVERED in page(refused)
    assert counts(session) == before
