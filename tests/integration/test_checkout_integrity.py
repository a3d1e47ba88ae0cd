"""Checkout keeps its word: the statement's CSV can't run formulas in a spreadsheet, confirm charges exactly
what the review page showed (or refuses and shows the new figures), and duplicates of one idempotent
request racing each other all get that one order, with one debit, never a refusal."""

from __future__ import annotations

import csv
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.api import URL_PREFIX
from app.api.responses import dumps
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import Order, Transaction
from app.services import catalog, funds
from tests.integration.api_client import (
    call,
    decoded,
    ok,
    seed_timestamp,
    sign,
    wallet,
)
from tests.integration.conftest import StoreBrowser, page, redirect_path

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"')
RACERS = 12


def plain(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


@pytest.fixture
def brand(session, store, make_brand):
    """A brand with no bonus, in 10.00, 25.00 and 75.00: the consumer's 100.00 affords one 75.00 card."""
    brand = make_brand("Harbour Books", denominations="1000,2500,7500")
    catalog.make_available(session, partner=store.partner, brand=brand)
    return brand


def review(store, brand, amount="25.00", **extra) -> tuple:
    """The review page for a card sent to the consumer, and its confirm form's fields as the browser would post them."""
    key = KEY.search(page(store.get(f"/brands/{brand.slug}/checkout?amount={amount}"))).group(1)
    response = store.post(
        f"/brands/{brand.slug}/checkout/review",
        {"amount": amount, "send_to": "me", "sender_name": "Casey", "message": "", "idempotency_key": key, **extra},
    )
    return response, confirm_form(response)


def confirm_form(response) -> dict:
    return {name: value for name, value in HIDDEN.findall(page(response)) if name != "csrf_token"}


def orders_and_debits(session) -> tuple[int, int]:
    session.rollback()
    return (
        len(session.exec(select(Order)).all()),
        len(session.exec(select(Transaction).where(Transaction.type == "debit")).all()),
    )


def change_brand_settings(portal_as, make_team_member, store, brand, **settings):
    """A portal admin saves new settings for the brand (what the store's next quote uses)."""
    form = {
        "enabled": "yes",
        "discount_percent": "0",
        "fee": "0",
        "bonus_type": "none",
        "bonus_percent": "0",
        "promo_starts_at": "",
        "promo_ends_at": "",
    } | settings
    admin = portal_as(make_team_member(store.partner, "admin"))
    admin.get(f"/brands/{brand.id}")
    assert admin.post(f"/brands/{brand.id}", form).status_code == 303


# --- the statement's CSV -----------------------------------------------------------------------------


def test_the_statement_csv_cannot_run_a_formula_in_a_spreadsheet_and_keeps_amounts_as_numbers(store, signed_in, brand, session):
    evil = '=HYPERLINK("http://evil.example","Claim your prize")'
    for n, reason in enumerate([evil, "@SUM(A1:A9)", "+1 555 0100", "plain = fine"]):
        funds.change_funds(
            session,
            partner=store.partner,
            consumer_id=signed_in.id,
            type=TransactionType.CREDIT,
            amount=Money(1, "USD"),
            reason=reason,
            idempotency_key=f"statement-memo-{n}",
        )
    _review, form = review(store, brand)
    assert store.post(f"/brands/{brand.slug}/orders", form).status_code == 303

    response = store.get("/statement.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    memos = [row["memo"] for row in rows]
    assert memos[1:5] == ["'" + evil, "'@SUM(A1:A9)", "'+1 555 0100", "plain = fine"]
    debit = next(row for row in rows if row["type"] == "debit")
    assert (debit["amount"], debit["balance_after"], debit["memo"]) == ("-25.00", "75.04", "Harbour Books gift card")
    text_cells = [value for row in rows for key, value in row.items() if key not in ("amount", "balance_after")]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in text_cells)


# --- confirm charges what the review showed ----------------------------------------------------------


@pytest.mark.parametrize(
    "settings, now_shown",
    [
        ({"discount_percent": "10"}, "Confirm and pay $22.50"),  # the price went down: still not what was confirmed
        ({"fee": "1.50"}, "Confirm and pay $26.50"),
        ({"bonus_type": "value", "bonus_percent": "20"}, "worth $30.00"),
        ({"bonus_type": "cash", "bonus_percent": "10"}, "$2.50 back to your wallet"),
    ],
)
def test_a_quote_changed_since_the_review_is_refused_with_the_new_review_and_nothing_is_charged(
    store, signed_in, brand, session, portal_as, make_team_member, settings, now_shown
):
    reviewed, form = review(store, brand)
    assert "Confirm and pay $25.00" in plain(reviewed) and form["reviewed_price"] == "2500"
    change_brand_settings(portal_as, make_team_member, store, brand, **settings)

    refused = store.post(f"/brands/{brand.slug}/orders", form)
    text = plain(refused)
    assert refused.status_code == 422
    assert "changed since you reviewed your order, so nothing was charged" in text
    assert "Review your order" in text and now_shown in text
    assert orders_and_debits(session) == (0, 0) and wallet(session, signed_in.id) == 100_00

    # The new review carries the new figures and the same key: confirming it charges what it shows.
    again = confirm_form(refused)
    assert again["idempotency_key"] == form["idempotency_key"] and again != form
    placed = store.post(f"/brands/{brand.slug}/orders", again)
    assert placed.status_code == 303
    session.rollback()
    order = session.exec(select(Order)).one()
    assert (order.price, order.card_value, order.cash_back) == tuple(
        int(again[f"reviewed_{name}"]) for name in ("price", "card_value", "cash_back")
    )
    # Once placed, the key is that order: the first (stale) form sent again is it too, neither refused nor charged.
    resent = store.post(f"/brands/{brand.slug}/orders", form)
    assert resent.status_code == 303 and redirect_path(resent) == redirect_path(placed)
    assert orders_and_debits(session) == (1, 1)


@pytest.mark.parametrize(
    "tampered",
    [
        {"reviewed_price": "1"},
        {"reviewed_price": "0"},
        {"reviewed_card_value": "99999"},
        {"reviewed_cash_back": "2500"},
        {"reviewed_price": "abc"},
        {"reviewed_price": "-2500"},
        {"reviewed_price": ""},
    ],
)
def test_tampered_reviewed_figures_never_change_the_price_they_are_refused(store, signed_in, brand, session, tampered):
    _reviewed, form = review(store, brand)
    refused = store.post(f"/brands/{brand.slug}/orders", form | tampered)
    assert refused.status_code == 422 and "Confirm and pay $25.00" in plain(refused)
    assert orders_and_debits(session) == (0, 0) and wallet(session, signed_in.id) == 100_00

    assert store.post(f"/brands/{brand.slug}/orders", confirm_form(refused)).status_code == 303
    session.rollback()
    assert session.exec(select(Order)).one().price == 25_00 and wallet(session, signed_in.id) == 75_00


def test_a_price_change_that_the_wallet_no_longer_affords_says_both_on_the_checkout_form(
    store, signed_in, brand, session, portal_as, make_team_member
):
    _review, form = review(store, brand, amount="75.00")
    change_brand_settings(portal_as, make_team_member, store, brand, fee="30.00")
    refused = store.post(f"/brands/{brand.slug}/orders", form)
    text = plain(refused)
    assert refused.status_code == 422 and "Who is it for?" in text
    assert "changed since you reviewed your order, so nothing was charged" in text and "balance is not enough" in text
    assert orders_and_debits(session) == (0, 0) and wallet(session, signed_in.id) == 100_00


# --- racing duplicates -------------------------------------------------------------------------------


def browser_like(app, store) -> StoreBrowser:
    """Another test client with the signed-in consumer's cookies: one more tab of the same browser."""
    twin = StoreBrowser(app.test_client(), store.partner)
    for name in ("session", "remember_token"):
        cookie = store.client.get_cookie(name)
        if cookie is not None:
            twin.client.set_cookie(name, cookie.value)
    twin.token = store.token
    return twin


def test_parallel_confirms_with_one_key_all_get_the_one_order_when_the_wallet_affords_one(app, store, signed_in, brand, session):
    _review, form = review(store, brand, amount="75.00")
    browsers = [browser_like(app, store) for _ in range(RACERS)]
    start = threading.Barrier(RACERS)
    session.rollback()

    def confirm(browser):
        start.wait()
        return browser.post(f"/brands/{brand.slug}/orders", form)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(confirm, browsers))

    assert [r.status_code for r in responses] == [303] * RACERS, [plain(r)[:300] for r in responses if r.status_code != 303]
    assert len({redirect_path(r) for r in responses}) == 1
    assert orders_and_debits(session) == (1, 1)
    assert wallet(session, signed_in.id) == 25_00


@pytest.fixture
def api_shop(session, partner_with_key, make_consumer, make_brand):
    """A partner with API credentials and a customer whose 50.00 affords exactly one 50.00 card."""
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="50", email="robin@example.com", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)
    return partner, credentials, consumer


def test_parallel_api_orders_with_one_external_ref_all_answer_the_one_order(app, client, session, api_shop):
    _partner, credentials, consumer = api_shop
    body = {
        "customerId": consumer.id,
        "brand": "bluefin-sushi",
        "amount": Decimal("50.00"),
        "currency": "usd",
        "externalRefId": "PO-RACE-1",
    }
    text = dumps(body)
    now = datetime.now(UTC)
    start = threading.Barrier(RACERS)
    session.rollback()

    def place(n: int):
        timestamp = seed_timestamp(now - timedelta(milliseconds=n))  # a signature is accepted once
        headers = {
            "x-api-key": credentials.api_key,
            "x-client-id": credentials.client_id,
            "x-timestamp": timestamp,
            "x-signature": sign("POST", credentials.client_id, text, credentials.hmac_secret, timestamp),
            "Content-Type": "application/json",
        }
        racer = app.test_client()
        start.wait()
        return racer.post(URL_PREFIX + "/orders", data=text.encode(), headers=headers)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        responses = list(pool.map(place, range(RACERS)))

    assert [r.status_code for r in responses] == [200] * RACERS, [
        r.get_data(as_text=True) for r in responses if r.status_code != 200
    ]
    sequential = ok(call(client, credentials, "POST", "/orders", body))  # a repeat after the race: the same order
    moving = ("status", "completedAt", "card", "delivery")  # fulfilment (and its email) may finish between two answers
    for response in responses:
        data = decoded(response)["data"]
        assert {k: v for k, v in data.items() if k not in moving} == {k: v for k, v in sequential.items() if k not in moving}
    assert orders_and_debits(session) == (1, 1)
    assert wallet(session, consumer.id) == 0
