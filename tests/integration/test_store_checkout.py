"""Checkout in the browser's words: review, confirm once, watch the status, see the wallet change."""

import csv
import io
import re
from decimal import Decimal

import pytest
from sqlmodel import select

from app.models import Order, Transaction
from app.services import catalog, ledger
from tests.conftest import body_text
from tests.integration.conftest import page, redirect_path, statements_run

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def plain(response) -> str:
    """The page's text as a person reads it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


@pytest.fixture
def brand(session, store, make_brand):
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(10))
    return brand


def in_store(store, response) -> str:
    """The redirect's target as a path inside the store (what StoreBrowser.get takes)."""
    return redirect_path(response).removeprefix(f"/s/{store.partner.slug}")


def checkout_form(store, brand, amount="25.00"):
    response = store.get(f"/brands/{brand.slug}/checkout?amount={amount}")
    assert response.status_code == 200
    return KEY.search(page(response)).group(1)


def order_fields(key, **extra):
    fields = {
        "amount": "25.00",
        "send_to": "someone",
        "email": "friend@example.com",
        "name": "Sam",
        "sender_name": "Casey",
        "message": "Happy birthday!",
        "idempotency_key": key,
    }
    fields.update(extra)
    return fields


def test_the_review_shows_what_is_charged_from_which_balance_and_what_the_recipient_gets(store, signed_in, brand):
    key = checkout_form(store, brand)
    response = store.post(f"/brands/{brand.slug}/checkout/review", order_fields(key))
    text = plain(response)
    assert response.status_code == 200
    assert "worth $25.00" in text and "$25.00 from your general balance" in text
    assert "friend@example.com" in text and "Happy birthday!" in text
    assert "$2.50 back to your wallet" in text


def test_confirming_places_one_order_even_when_clicked_twice(store, signed_in, brand, session, mailbox):
    key = checkout_form(store, brand)
    first = store.post(f"/brands/{brand.slug}/orders", order_fields(key))
    second = store.post(f"/brands/{brand.slug}/orders", order_fields(key))
    assert first.status_code == second.status_code == 303
    assert redirect_path(first) == redirect_path(second)
    session.rollback()
    assert len(session.exec(select(Order)).all()) == 1
    assert len(session.exec(select(Transaction).where(Transaction.type == "debit")).all()) == 1
    order_page = store.get(in_store(store, first))
    text = plain(order_page)
    assert "Completed" in text and "friend@example.com" in text
    assert "$77.50" in text  # 100 - 25 + 2.50 cash bonus, in the header wallet
    assert "Happy birthday!" in body_text(mailbox.last_to("friend@example.com"))
    assert ledger.ledger_problems(session) == []


def test_the_status_partial_polls_while_pending_and_stops_when_final(app, store, signed_in, brand, session):
    key = checkout_form(store, brand)
    location = in_store(store, store.post(f"/brands/{brand.slug}/orders", order_fields(key)))
    order = session.exec(select(Order)).one()
    from app.db import write_transaction

    with write_transaction(session):
        order.status = "pending"
        session.add(order)
    status_url = store.url(location + "/status")
    with statements_run(app) as seen:  # polled every second by every waiting buyer: one query answers it
        pending = store.client.get(status_url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in page(pending) and "HX-Trigger" not in pending.headers
    assert len(seen) == 1, [" ".join(statement.split())[-120:] for statement in seen]
    with write_transaction(session):
        order.status = "completed"
        session.add(order)
    done = store.get(location + "/status", headers={"HX-Request": "true"})
    assert "every 1s" not in page(done)
    assert done.headers["HX-Trigger"] == "wallet-changed"
    wallet = store.get("/wallet", headers={"HX-Request": "true"})
    assert 'id="wallet"' in page(wallet) and 'aria-live="polite"' in page(wallet)
    assert len(wallet.get_data()) <= 1024


@pytest.mark.parametrize(
    "change, message",
    [
        ({"amount": "30.00"}, "Choose one of the amounts shown."),
        ({"amount": "abc"}, "amount must be a number"),
        ({"email": "nobody"}, "is not a valid email address"),
        ({"message": "x" * 301}, "at most 300 characters"),
        ({"amount": "500.00", "idempotency_key": None}, "Choose one of the amounts shown."),
    ],
)
def test_bad_input_is_shown_in_place_and_nothing_is_charged(store, signed_in, brand, session, change, message):
    key = checkout_form(store, brand)
    fields = order_fields(key, **change)
    if fields["idempotency_key"] is None:
        fields["idempotency_key"] = key
    response = store.post(f"/brands/{brand.slug}/orders", fields)
    assert response.status_code == 422
    assert message in page(response)
    session.rollback()
    assert session.exec(select(Order)).all() == []


def test_an_unaffordable_card_says_so_and_charges_nothing(store, signed_in, brand, session, make_brand):
    big = make_brand("Big Ticket", denominations="", min_amount=100, max_amount=100000)
    catalog.make_available(session, partner=store.partner, brand=big)
    key = checkout_form(store, big, amount="150.00")
    response = store.post(f"/brands/{big.slug}/orders", order_fields(key, amount="150.00"))
    assert response.status_code == 422
    assert "Your balance is not enough" in page(response)
    session.rollback()
    assert session.exec(select(Order)).all() == []


def test_a_deactivated_consumer_cannot_order(store, signed_in, brand, session):
    from app.models import Consumer
    from app.services import consumers

    consumers.set_active(session, consumer=session.get(Consumer, signed_in.id), active=False)
    key = checkout_form(store, brand)
    response = store.post(f"/brands/{brand.slug}/orders", order_fields(key))
    assert response.status_code == 422 and "deactivated" in page(response)


def test_another_consumers_order_is_not_found(app, store, signed_in, brand, session, make_consumer):
    from app.db import write_transaction
    from app.security import hash_password
    from tests.integration.conftest import StoreBrowser

    key = checkout_form(store, brand)
    location = in_store(store, store.post(f"/brands/{brand.slug}/orders", order_fields(key, send_to="me")))
    assert store.get(location).status_code == 200
    other = make_consumer(store.partner)  # same store, another consumer
    with write_transaction(session):
        other.password_hash, other.must_change_password, other.accepted_terms_version = hash_password("Other-pass-123"), False, 1
        session.add(other)
    neighbour = StoreBrowser(app.test_client(), store.partner)
    assert neighbour.login(other.email, "Other-pass-123").status_code == 303
    assert neighbour.get(location).status_code == 404
    assert neighbour.get(location + "/status", headers={"HX-Request": "true"}).status_code == 404
    assert neighbour.post(location + "/card", {}).status_code == 404
    assert store.get("/orders/ord_doesnotexist").status_code == 404


def test_history_statement_and_csv_show_each_transaction_with_a_running_balance(store, signed_in, brand):
    key = checkout_form(store, brand)
    store.post(f"/brands/{brand.slug}/orders", order_fields(key, send_to="me"))
    assert "Bluefin Sushi" in page(store.get("/orders"))
    statement = page(store.get("/statement"))
    # What each line was, in plain words, with the ledger's own memo beside it.
    assert "Gift card for you (Bluefin Sushi)" in statement and "Cash back" in statement and "Added by " in statement
    assert "Bluefin Sushi gift card" in statement and "Cash bonus" in statement
    rows = list(csv.DictReader(io.StringIO(store.get("/statement.csv").get_data(as_text=True))))
    assert [(r["type"], r["amount"], r["balance_after"]) for r in rows] == [
        ("credit", "100.00", "100.00"),
        ("debit", "-25.00", "75.00"),
        ("rebate", "2.50", "77.50"),
    ]


def test_the_owner_reveals_the_card_of_an_order_for_themselves(store, signed_in, brand):
    key = checkout_form(store, brand)
    location = in_store(store, store.post(f"/brands/{brand.slug}/orders", order_fields(key, send_to="me")))
    revealed = page(store.post(location + "/card", {}))
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", revealed)


def test_a_page_showing_a_card_is_never_compressed_while_other_pages_are(store, signed_in, brand):
    """BREACH: a compressed response's size can leak a secret it holds next to text an attacker chooses."""
    key = checkout_form(store, brand)
    location = in_store(store, store.post(f"/brands/{brand.slug}/orders", order_fields(key, send_to="me")))
    order_page = store.client.get(store.url(location), headers={"Accept-Encoding": "br, gzip"})  # (not read as text)
    assert order_page.headers.get("Content-Encoding") in ("br", "gzip")
    for partial in (True, False):
        headers = {"Accept-Encoding": "br, gzip"} | ({"HX-Request": "true"} if partial else {})
        revealed = store.post(location + "/card", {}, headers=headers)
        assert revealed.status_code == 200 and "Content-Encoding" not in revealed.headers
        assert re.search(r"\d{4} \d{4} \d{4} \d{4}", page(revealed))
