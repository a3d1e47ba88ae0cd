"""One statement for the store and the portal (services/consumers.statement): each movement with the balance it
moved after it (the portal's "Balance after") and all the consumer's balances in its currency after it (the store's)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services import catalog, consumers
from tests.integration.conftest import page

KEY_FIELD = 'name="idempotency_key" value="'


@pytest.fixture
def cash_back_brand(session, store, make_brand):
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(10))
    return brand


def buy_for_myself(store, brand):
    form = page(store.get(f"/brands/{brand.slug}/checkout?amount=25.00"))
    key = form.split(KEY_FIELD, 1)[1].split('"', 1)[0]
    response = store.post(f"/brands/{brand.slug}/orders", {"amount": "25.00", "send_to": "me", "idempotency_key": key})
    assert response.status_code == 303


def test_each_line_carries_its_wallets_balance_and_the_currencys_total(session, store, signed_in, cash_back_brand):
    buy_for_myself(store, cash_back_brand)

    lines = consumers.statement(session, signed_in)
    assert [(line.transaction.type, line.wallet, str(line.amount.to_decimal())) for line in lines] == [
        ("credit", "general", "100.00"),
        ("debit", "general", "-25.00"),
        ("rebate", "bonus", "2.50"),
    ]
    # The bonus wallet's own balance after the rebate, and everything the consumer holds in USD after it.
    assert [str(line.balance_after.to_decimal()) for line in lines] == ["100.00", "75.00", "2.50"]
    assert [str(line.total_after.to_decimal()) for line in lines] == ["100.00", "75.00", "77.50"]
    # The store's statement page shows the total, newest first.
    body = page(store.get("/statement"))
    body = body[body.index("<table") :]
    assert body.index("$77.50") < body.index("$75.00") < body.index("$100.00")
