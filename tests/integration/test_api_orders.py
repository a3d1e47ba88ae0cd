"""Orders through the partner API: bought for a customer with their wallet balance, once per
externalRefId (also when identical requests race), refused with the field named and nothing
charged, read back with the card once completed, and never visible to another partner."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.api import URL_PREFIX
from app.api.responses import dumps
from app.db import write_transaction
from app.models import Order, PartnerBrand, Transaction
from app.services import catalog, orders
from app.services.consumers import set_active
from tests.conftest import body_text
from tests.integration.api_client import (
    call,
    counts,
    decoded,
    failed,
    ok,
    partner_available,
    seed_timestamp,
    sign,
    wallet,
)


@pytest.fixture
def shop(session, partner_with_key, make_consumer, make_brand):
    """A partner with API credentials, a customer holding 100.00 and a brand in 10/25/50."""
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)
    return partner, credentials, consumer, brand


def order_body(consumer, **fields) -> dict:
    body = {
        "customerId": consumer.id,
        "brand": "bluefin-sushi",
        "amount": Decimal("25.00"),
        "currency": "usd",
        "externalRefId": "PO-2026-000123",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def orders_of(session, partner) -> list[Order]:
    session.rollback()
    return list(session.exec(select(Order).where(Order.partner_id == partner.id)).all())


def debits_of(session, consumer) -> list[Transaction]:
    session.rollback()
    return list(
        session.exec(select(Transaction).where(Transaction.consumer_id == consumer.id, Transaction.type == "debit")).all()
    )


# --- placing an order ---------------------------------------------------------------------


def test_an_order_for_the_customer_themself_charges_their_wallet_and_shows_the_card(client, session, shop, mailbox):
    partner, credentials, consumer, _brand = shop

    response = call(client, credentials, "POST", "/orders", order_body(consumer))

    data = ok(response)
    assert '"amount": 25.00' in response.get_data(as_text=True)
    assert data["id"].startswith("ord_") and data["externalRefId"] == "PO-2026-000123"
    assert data["channel"] == "api" and data["customerId"] == consumer.id
    assert (data["brand"], data["brandName"]) == ("bluefin-sushi", "Bluefin Sushi")
    assert (data["currency"], data["amount"], data["price"], data["cardValue"]) == (
        "USD",
        Decimal("25.00"),
        Decimal("25.00"),
        Decimal("25.00"),
    )
    assert data["recipient"] == {"email": "robin@example.com", "name": "Robin Buyer", "isCustomer": True}
    assert data["senderName"] == "Robin Buyer"
    # The test queue fulfils at once: the answer already shows the completed order and its card.
    assert data["status"] == "completed" and data["completedAt"].endswith("Z")
    assert len(data["card"]["number"].replace(" ", "")) == 16 and len(data["card"]["pin"]) == 4
    assert data["card"]["number"] in body_text(mailbox.last_to("robin@example.com"))

    assert wallet(session, consumer.id) == 75_00
    [order] = orders_of(session, partner)
    assert (order.public_id, order.channel, order.external_ref) == (data["id"], "api", "PO-2026-000123")
    assert order.idempotency_key == orders.api_idempotency_key("PO-2026-000123")
    [debit] = debits_of(session, consumer)
    assert (debit.amount, debit.status, debit.actor) == (25_00, "completed", f"api:{credentials.api_key[:12]}")


def test_an_order_for_a_recipient_sends_them_the_card_with_the_senders_message(client, session, shop, mailbox):
    _partner, credentials, consumer, _brand = shop
    body = order_body(
        consumer,
        recipient={"email": "Sam@Example.com", "name": "Sam Friend"},
        senderName="Robin",
        message="Happy birthday!",
        amount=50,
    )

    data = ok(call(client, credentials, "POST", "/orders", body))

    assert data["recipient"] == {"email": "sam@example.com", "name": "Sam Friend", "isCustomer": False}
    assert (data["senderName"], data["message"], data["amount"]) == ("Robin", "Happy birthday!", Decimal("50.00"))
    card_email = mailbox.last_to("sam@example.com")
    assert "Robin" in card_email["Subject"] and "Happy birthday!" in body_text(card_email)
    assert data["card"]["number"] in body_text(card_email)
    assert wallet(session, consumer.id) == 50_00


def test_the_partners_price_and_value_bonus_apply(client, session, shop):
    partner, credentials, consumer, brand = shop
    catalog.make_available(
        session,
        partner=partner,
        brand=brand,
        discount_percent=Decimal("10"),
        fee=50,
        bonus_type="value",
        bonus_percent=Decimal("20"),
    )

    data = ok(call(client, credentials, "POST", "/orders", order_body(consumer, amount=50)))

    assert (data["amount"], data["price"], data["cardValue"]) == (Decimal("50.00"), Decimal("45.50"), Decimal("60.00"))
    assert wallet(session, consumer.id) == 54_50


# --- once per externalRefId ---------------------------------------------------------------


def test_the_same_external_ref_returns_the_same_order_and_charges_once(client, session, shop, mailbox):
    partner, credentials, consumer, _brand = shop
    first = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    mailbox.clear()

    again = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))

    assert again == first
    assert len(orders_of(session, partner)) == 1 and len(debits_of(session, consumer)) == 1
    assert wallet(session, consumer.id) == 75_00
    assert mailbox.messages == []  # no second card, no second email


def test_the_same_external_ref_is_still_the_same_order_after_the_customer_is_deactivated(client, session, shop):
    _partner, credentials, consumer, _brand = shop
    first = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    set_active(session, consumer=consumer, active=False)

    assert ok(call(client, credentials, "POST", "/orders", order_body(consumer)))["id"] == first["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 50},
        {"currency": "EUR"},
        {"brand": "other-brand"},
        {"recipient": {"email": "sam@example.com"}},
        {"message": "Something else"},
        {"senderName": "Someone else"},
        {"customerId": "other"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_same_external_ref_with_a_different_body_is_a_400_naming_it_and_changes_nothing(
    client, session, shop, make_consumer, change
):
    partner, credentials, consumer, _brand = shop
    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    if change.get("customerId") == "other":
        change = {"customerId": make_consumer(partner, funds="100").id}
    before = counts(session)

    message = failed(call(client, credentials, "POST", "/orders", order_body(consumer, **change)), 400, "VALIDATION_ERROR")

    assert message == "externalRefId was already used for a different order"
    assert counts(session) == before
    assert wallet(session, consumer.id) == 75_00


def test_external_refs_belong_to_one_partner(client, session, shop, partner_with_key, make_consumer, make_brand):
    _partner, credentials, consumer, brand = shop
    other_partner, other_credentials = partner_with_key()
    other_consumer = make_consumer(other_partner, funds="100")
    catalog.make_available(session, partner=other_partner, brand=brand)

    mine = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    theirs = ok(call(client, other_credentials, "POST", "/orders", order_body(other_consumer)))

    assert mine["id"] != theirs["id"] and theirs["externalRefId"] == mine["externalRefId"]
    assert wallet(session, consumer.id) == 75_00 and wallet(session, other_consumer.id) == 75_00


def test_concurrent_identical_orders_make_one_order_and_one_debit(app, session, shop):
    partner, credentials, consumer, _brand = shop
    text = dumps(order_body(consumer))
    now = datetime.now(UTC)
    start = threading.Barrier(8)
    session.rollback()

    def place(n: int):
        # Each request is signed with its own timestamp: a signature is accepted once.
        timestamp = seed_timestamp(now - timedelta(milliseconds=n))
        headers = {
            "x-api-key": credentials.api_key,
            "x-client-id": credentials.client_id,
            "x-timestamp": timestamp,
            "x-signature": sign("POST", credentials.client_id, text, credentials.hmac_secret, timestamp),
            "Content-Type": "application/json",
        }
        client = app.test_client()
        start.wait()
        return client.post(URL_PREFIX + "/orders", data=text.encode(), headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(place, range(8)))

    assert [r.status_code for r in responses] == [200] * 8, [r.get_data(as_text=True) for r in responses]
    assert len({decoded(r)["data"]["id"] for r in responses}) == 1
    assert len(orders_of(session, partner)) == 1
    assert len(debits_of(session, consumer)) == 1
    assert wallet(session, consumer.id) == 75_00


# --- refusals -----------------------------------------------------------------------------


def test_a_balance_too_low_is_the_402_and_charges_nothing(client, session, shop, mailbox):
    partner, credentials, consumer, _brand = shop
    ok(call(client, credentials, "POST", "/orders", order_body(consumer, amount=50, externalRefId="first")))
    ok(call(client, credentials, "POST", "/orders", order_body(consumer, amount=25, externalRefId="second")))
    before = counts(session)
    mailbox.clear()

    response = call(client, credentials, "POST", "/orders", order_body(consumer, amount=50, externalRefId="third"))

    assert response.status_code == 402
    assert decoded(response) == {
        "success": False,
        "error": {"error": "BUSINESS_RULE_ERROR", "message": "Insufficient wallet balance"},
    }
    assert counts(session) == before
    assert wallet(session, consumer.id) == 25_00 and mailbox.messages == []
    # The reference was not used up by the refusal.
    assert (
        ok(call(client, credentials, "POST", "/orders", order_body(consumer, amount=25, externalRefId="third")))["status"]
        == "completed"
    )


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"customerId": ...}, "customerId"),
        ({"customerId": "seven"}, "customerId"),
        ({"customerId": 0}, "customerId"),
        ({"brand": ...}, "brand"),
        ({"brand": ""}, "brand"),
        ({"amount": ...}, "amount"),
        ({"amount": "25.00"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -25}, "amount"),
        ({"amount": Decimal("25.001")}, "amount"),
        ({"amount": 30}, "amount"),  # not one of the brand's denominations
        ({"currency": ...}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"currency": "xyz"}, "currency"),
        ({"currency": "EUR"}, "currency"),  # real, but not the partner's
        ({"externalRefId": ...}, "externalRefId"),
        ({"externalRefId": ""}, "externalRefId"),
        ({"externalRefId": "has spaces"}, "externalRefId"),
        ({"externalRefId": "x" * 81}, "externalRefId"),
        ({"externalRefId": "nul\x00byte"}, "externalRefId"),
        ({"recipient": {"email": "not-an-email"}}, "recipient.email"),
        ({"recipient": {"name": "No Email"}}, "recipient.email"),
        ({"recipient": {"email": "sam@example.com", "name": "<b>Sam</b>"}}, "recipient.name"),
        ({"recipient": "sam@example.com"}, "recipient"),
        ({"senderName": "<script>"}, "senderName"),
        ({"message": "x" * 301}, "message"),
        ({"message": "bell\x07"}, "message"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_order_is_a_400_naming_the_field_and_charges_nothing(client, session, shop, mailbox, fields, field):
    _partner, credentials, consumer, _brand = shop
    before = counts(session)

    message = failed(call(client, credentials, "POST", "/orders", order_body(consumer, **fields)), 400, "VALIDATION_ERROR")

    assert message.startswith(field), message
    assert counts(session) == before
    assert wallet(session, consumer.id) == 100_00 and mailbox.messages == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"amount": NaN}', ""])
def test_a_body_that_is_not_a_json_object_is_a_400(client, session, shop, body):
    _partner, credentials, _consumer, _brand = shop
    before = counts(session)
    assert "JSON" in failed(call(client, credentials, "POST", "/orders", body), 400, "VALIDATION_ERROR")
    assert counts(session) == before


def test_a_deactivated_customer_cannot_order(client, session, shop):
    _partner, credentials, consumer, _brand = shop
    set_active(session, consumer=consumer, active=False)
    before = counts(session)

    message = failed(call(client, credentials, "POST", "/orders", order_body(consumer)), 400, "VALIDATION_ERROR")

    assert message == f"customerId: customer {consumer.id} is deactivated and cannot place orders."
    assert counts(session) == before and wallet(session, consumer.id) == 100_00


def test_a_brand_the_partner_disabled_or_never_had_is_a_400_naming_brand(client, session, shop, make_brand):
    partner, credentials, consumer, brand = shop
    make_brand("Not Offered")
    with write_transaction(session):
        settings = session.exec(select(PartnerBrand).where(PartnerBrand.partner_id == partner.id)).one()
        settings.enabled = False
        session.add(settings)
    before = counts(session)

    for slug in ("bluefin-sushi", "not-offered", "no-such-brand"):
        message = failed(call(client, credentials, "POST", "/orders", order_body(consumer, brand=slug)), 400, "VALIDATION_ERROR")
        assert message == f"brand '{slug}' is not available to this partner."
    assert counts(session) == before and wallet(session, consumer.id) == 100_00


def test_an_amount_outside_a_variable_brands_range_is_a_400_naming_amount(client, session, shop, make_brand):
    partner, credentials, consumer, _brand = shop
    catalog.make_available(
        session, partner=partner, brand=make_brand("Open Amount", denominations="", min_amount=500, max_amount=20000)
    )
    before = counts(session)

    for amount in (Decimal("4.99"), Decimal("200.01")):
        message = failed(
            call(client, credentials, "POST", "/orders", order_body(consumer, brand="open-amount", amount=amount)),
            400,
            "VALIDATION_ERROR",
        )
        assert message == "amount must be from 5.00 to 200.00 USD for Open Amount."
    assert counts(session) == before
    assert ok(call(client, credentials, "POST", "/orders", order_body(consumer, brand="open-amount", amount=Decimal("12.34"))))[
        "amount"
    ] == Decimal("12.34")


def test_a_currency_the_brand_is_not_sold_in_is_a_400_naming_currency(client, session, shop, make_consumer):
    partner, credentials, consumer, _brand = shop
    from app.domain.money import Money
    from app.services import partners

    partners.fund_partner(session, partner=partner, amount=Money(500_00, "EUR"))  # the partner now has EUR too
    before = counts(session)

    message = failed(call(client, credentials, "POST", "/orders", order_body(consumer, currency="eur")), 400, "VALIDATION_ERROR")

    assert message == "currency: Bluefin Sushi gift cards are not sold in EUR."
    assert counts(session) == before


def test_an_unknown_customer_is_404_naming_customer_id(client, session, shop):
    _partner, credentials, consumer, _brand = shop
    before = counts(session)
    message = failed(call(client, credentials, "POST", "/orders", order_body(consumer, customerId=999999)), 404, "NOT_FOUND")
    assert message == "customerId: customer 999999 does not exist."
    assert counts(session) == before


# --- reading orders -----------------------------------------------------------------------


def test_an_order_is_read_back_pending_without_a_card_then_completed_with_it(app, client, session, shop):
    _partner, credentials, consumer, _brand = shop
    queue = app.extensions["queue"]
    queue.immediate = False  # hold fulfilment in the queue, as a real worker would be busy

    placed = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    assert (placed["status"], placed["card"], placed["completedAt"]) == ("pending", None, None)
    assert ok(call(client, credentials, "GET", f"/orders/{placed['id']}")) == placed

    task = queue.dequeue()
    assert task.name == "fulfil_order"
    queue.execute(task)

    done = ok(call(client, credentials, "GET", f"/orders/{placed['id']}"))
    assert done["status"] == "completed" and done["card"]["number"] and done["card"]["pin"]
    assert done["card"]["redemptionUrl"] == "https://redeem.example.com/x?code=" + done["card"]["number"].replace(" ", "")
    assert set(done) == set(placed)


def test_a_failed_order_shows_its_reason_and_refund_and_no_card(app, client, session, shop):
    _partner, credentials, consumer, _brand = shop
    app.extensions["provider"].failure_rate = 1.0  # the simulated provider declines every card

    data = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))

    assert data["status"] == "failed" and data["card"] is None
    assert data["failureReason"] == "The brand's provider declined this card."
    assert wallet(session, consumer.id) == 100_00


def test_orders_are_listed_newest_first_and_filtered(client, session, shop, make_consumer):
    partner, credentials, consumer, _brand = shop
    other = make_consumer(partner, funds="100")
    first = ok(call(client, credentials, "POST", "/orders", order_body(consumer, externalRefId="ref-1", amount=10)))
    second = ok(call(client, credentials, "POST", "/orders", order_body(other, externalRefId="ref-2", amount=10)))
    third = ok(call(client, credentials, "POST", "/orders", order_body(consumer, externalRefId="ref-3", amount=10)))

    everything = ok(call(client, credentials, "GET", "/orders"))
    assert [o["id"] for o in everything["items"]] == [third["id"], second["id"], first["id"]]
    assert (everything["total"], everything["page"], everything["perPage"]) == (3, 1, 20)
    assert all(o["card"] is None for o in everything["items"])  # cards only one order at a time

    page2 = ok(call(client, credentials, "GET", "/orders?page=2&perPage=2"))
    assert [o["id"] for o in page2["items"]] == [first["id"]] and page2["total"] == 3
    mine = ok(call(client, credentials, "GET", f"/orders?customerId={consumer.id}"))
    assert [o["id"] for o in mine["items"]] == [third["id"], first["id"]]
    by_ref = ok(call(client, credentials, "GET", "/orders?externalRefId=ref-2"))
    assert [o["id"] for o in by_ref["items"]] == [second["id"]]
    assert ok(call(client, credentials, "GET", "/orders?status=failed"))["total"] == 0
    assert ok(call(client, credentials, "GET", "/orders?status=completed"))["total"] == 3
    today = datetime.now(UTC).date()
    assert ok(call(client, credentials, "GET", f"/orders?from={today}&to={today}"))["total"] == 3
    assert ok(call(client, credentials, "GET", f"/orders?from={today + timedelta(days=1)}"))["total"] == 0
    assert ok(call(client, credentials, "GET", f"/orders?to={today - timedelta(days=1)}"))["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=lost", "status"),
        ("customerId=x", "customerId"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-02&to=2026-02-01", "from"),
        ("perPage=0", "perPage"),
        ("externalRefId=a%20b", "externalRefId"),
    ],
)
def test_a_bad_order_query_is_a_400_naming_the_parameter(client, shop, query, field):
    _partner, credentials, _consumer, _brand = shop
    assert failed(call(client, credentials, "GET", f"/orders?{query}"), 400, "VALIDATION_ERROR").startswith(field)


def test_an_unknown_order_is_404(client, shop):
    _partner, credentials, _consumer, _brand = shop
    for public_id in ("ord_0000000000000000", "not-an-order-id", "ord_%00"):
        failed(call(client, credentials, "GET", f"/orders/{public_id}"), 404, "NOT_FOUND")


# --- tenant isolation ---------------------------------------------------------------------


def test_another_partners_orders_and_customers_are_404_and_untouched(client, session, shop, partner_with_key, make_consumer):
    partner, credentials, consumer, brand = shop
    mine = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    other_partner, other_credentials = partner_with_key()
    catalog.make_available(session, partner=other_partner, brand=brand)
    make_consumer(other_partner, funds="100")
    before = counts(session)

    failed(call(client, other_credentials, "GET", f"/orders/{mine['id']}"), 404, "NOT_FOUND")
    failed(call(client, other_credentials, "GET", f"/orders?customerId={consumer.id}"), 404, "NOT_FOUND")
    failed(call(client, other_credentials, "POST", "/orders", order_body(consumer, externalRefId="theirs")), 404, "NOT_FOUND")
    assert ok(call(client, other_credentials, "GET", "/orders"))["total"] == 0
    assert ok(call(client, other_credentials, "GET", "/orders?externalRefId=PO-2026-000123"))["total"] == 0

    assert counts(session) == before
    assert wallet(session, consumer.id) == 75_00
    assert partner_available(session, partner) == 900_00
