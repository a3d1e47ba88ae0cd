"""The partner's ledger through the API: every transaction of the partner, newest first, with
exact amounts, filtered by type, status, customer and day; nothing of another partner's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services import catalog
from tests.integration.api_client import call, counts, failed, ok


@pytest.fixture
def history(app, client, session, partner_with_key, make_consumer, make_brand):
    """Partner funding 1000.00, a customer credited 100.00 who buys a 25.00 card with a 10 % cash
    bonus, and a second order that fails and is refunded."""
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand, bonus_type="cash", bonus_percent=Decimal("10"))
    body = {"customerId": consumer.id, "brand": "bluefin-sushi", "amount": 25, "currency": "USD"}
    completed = ok(call(client, credentials, "POST", "/orders", {**body, "externalRefId": "ok-1"}))
    app.extensions["provider"].failure_rate = 1.0
    refunded = ok(call(client, credentials, "POST", "/orders", {**body, "amount": 10, "externalRefId": "fails-1"}))
    app.extensions["provider"].failure_rate = 0.0
    return partner, credentials, consumer, completed, refunded


def test_the_partners_transactions_are_listed_newest_first_with_exact_amounts(client, history):
    _partner, credentials, consumer, completed, refunded = history

    response = call(client, credentials, "GET", "/transactions")

    data = ok(response)
    rows = [(t["type"], t["status"], t["customerId"], t["orderId"], t["amount"]) for t in data["items"]]
    assert rows == [
        ("refund", "completed", consumer.id, refunded["id"], Decimal("10.00")),
        ("debit", "failed", consumer.id, refunded["id"], Decimal("10.00")),
        ("rebate", "completed", consumer.id, completed["id"], Decimal("2.50")),
        ("debit", "completed", consumer.id, completed["id"], Decimal("25.00")),
        ("credit", "completed", consumer.id, None, Decimal("100.00")),
        ("credit", "completed", None, None, Decimal("1000.00")),
    ]
    assert data["total"] == 6 and [t["id"] for t in data["items"]] == sorted((t["id"] for t in data["items"]), reverse=True)
    assert all(t["currency"] == "USD" and t["createdAt"].endswith("Z") for t in data["items"])
    assert data["items"][2]["memo"] == "Cash bonus"
    assert '"amount": 2.50' in response.get_data(as_text=True) and '"amount": 1000.00' in response.get_data(as_text=True)


def test_transactions_are_filtered_and_paginated(client, session, history, make_consumer):
    partner, credentials, consumer, _completed, _refunded = history
    make_consumer(partner, funds="5")

    debits = ok(call(client, credentials, "GET", "/transactions?type=debit"))
    assert [t["amount"] for t in debits["items"]] == [Decimal("10.00"), Decimal("25.00")]
    failed_ones = ok(call(client, credentials, "GET", "/transactions?status=failed"))
    assert [(t["type"], t["amount"]) for t in failed_ones["items"]] == [("debit", Decimal("10.00"))]
    theirs = ok(call(client, credentials, "GET", f"/transactions?customerId={consumer.id}&type=credit"))
    assert [t["amount"] for t in theirs["items"]] == [Decimal("100.00")]
    page = ok(call(client, credentials, "GET", "/transactions?page=2&perPage=3"))
    assert (page["total"], len(page["items"]), page["items"][-1]["amount"]) == (7, 3, Decimal("100.00"))
    today = datetime.now(UTC).date()
    assert ok(call(client, credentials, "GET", f"/transactions?from={today}&to={today}"))["total"] == 7
    assert ok(call(client, credentials, "GET", f"/transactions?from={today + timedelta(days=1)}"))["total"] == 0
    assert ok(call(client, credentials, "GET", f"/transactions?to={today - timedelta(days=1)}"))["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("type=gift", "type"),
        ("status=done", "status"),
        ("customerId=0", "customerId"),
        ("from=12/01/2026", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("page=-1", "page"),
        ("perPage=1000", "perPage"),
    ],
)
def test_a_bad_transaction_query_is_a_400_naming_the_parameter(client, history, query, field):
    _partner, credentials, *_ = history
    assert failed(call(client, credentials, "GET", f"/transactions?{query}"), 400, "VALIDATION_ERROR").startswith(field)


def test_another_partner_sees_none_of_these_transactions(client, session, history, partner_with_key):
    _partner, _credentials, consumer, _completed, _refunded = history
    _other, other_credentials = partner_with_key(funds="50")
    before = counts(session)

    theirs = ok(call(client, other_credentials, "GET", "/transactions"))
    assert [(t["type"], t["amount"], t["customerId"]) for t in theirs["items"]] == [("credit", Decimal("50.00"), None)]
    failed(call(client, other_credentials, "GET", f"/transactions?customerId={consumer.id}"), 404, "NOT_FOUND")
    assert counts(session) == before
