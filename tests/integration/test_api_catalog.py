"""The catalog through the partner API: the brands this partner enabled, with its own price
adjustment and bonus, filtered and paginated; nothing of another partner's settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.db import write_transaction
from app.domain.money import Money
from app.services import catalog, partners
from tests.integration.api_client import call, failed, ok


@pytest.fixture
def store(session, partner_with_key, make_brand):
    """A partner offering a fixed-amount brand with a cash bonus, a variable one with a discount and
    fee, and a third in another category; one more brand it disabled and one it never had."""
    partner, credentials = partner_with_key()
    sushi = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    books = make_brand("Paper Trail Books", category="Books", denominations="", min_amount=500, max_amount=20000)
    tacos = make_brand("Taco Cart", denominations="2000")
    catalog.make_available(session, partner=partner, brand=sushi, bonus_type="cash", bonus_percent=Decimal("5"))
    catalog.make_available(session, partner=partner, brand=books, discount_percent=Decimal("2.5"), fee=99)
    catalog.make_available(session, partner=partner, brand=tacos)
    catalog.make_available(session, partner=partner, brand=make_brand("Switched Off"), enabled=False)
    make_brand("Never Offered")
    return partner, credentials


def test_the_catalog_lists_the_partners_enabled_brands_with_price_and_bonus(client, store):
    _partner, credentials = store

    response = call(client, credentials, "GET", "/catalog")

    data = ok(response)
    assert (data["total"], data["page"], data["perPage"]) == (3, 1, 20)
    assert [b["slug"] for b in data["items"]] == ["bluefin-sushi", "paper-trail-books", "taco-cart"]
    sushi, books, _tacos = data["items"]
    assert sushi == {
        "slug": "bluefin-sushi",
        "name": "Bluefin Sushi",
        "category": "Food & Dining",
        "description": "Bluefin Sushi gift card",
        "currencies": ["USD"],
        "denominationType": "fixed",
        "amounts": [
            {
                "currency": "USD",
                "denominations": [Decimal("10.00"), Decimal("25.00"), Decimal("50.00")],
                "minAmount": None,
                "maxAmount": None,
                "fee": Decimal("0.00"),
            }
        ],
        "discountPercent": Decimal("0.00"),
        "bonus": {
            "type": "cash",
            "percent": Decimal("5.00"),
            "promoStartsAt": None,
            "promoEndsAt": None,
            "activeNow": True,
            "segment": None,
        },
        "hasPin": True,
    }
    assert books["denominationType"] == "variable" and books["bonus"] is None
    assert books["amounts"] == [
        {
            "currency": "USD",
            "denominations": None,
            "minAmount": Decimal("5.00"),
            "maxAmount": Decimal("200.00"),
            "fee": Decimal("0.99"),
        }
    ]
    assert books["discountPercent"] == Decimal("2.50")
    text = response.get_data(as_text=True)
    assert '"denominations": [10.00, 25.00, 50.00]' in text and '"discountPercent": 2.50' in text


def test_a_bonus_outside_its_promo_window_is_listed_as_not_active_now(client, session, store):
    partner, credentials = store
    sushi = catalog.offer(session, partner, "bluefin-sushi").brand
    starts = datetime.now(UTC) + timedelta(days=2)
    catalog.make_available(
        session,
        partner=partner,
        brand=sushi,
        bonus_type="value",
        bonus_percent=Decimal("10"),
        promo_starts_at=starts,
        promo_ends_at=starts + timedelta(days=7),
    )

    [item] = ok(call(client, credentials, "GET", "/catalog?perPage=1"))["items"]

    assert item["bonus"]["type"] == "value" and item["bonus"]["activeNow"] is False
    assert datetime.fromisoformat(item["bonus"]["promoStartsAt"].replace("Z", "+00:00")) == starts
    assert item["bonus"]["promoEndsAt"].endswith("Z")


def test_the_catalog_is_filtered_by_category_and_currency_and_paginated(client, session, store, make_brand):
    partner, credentials = store
    partners.fund_partner(session, partner=partner, amount=Money(100_00, "EUR"))
    catalog.make_available(session, partner=partner, brand=make_brand("Euro Rail", currencies="EUR,USD", category="Travel"))

    books = ok(call(client, credentials, "GET", "/catalog?category=Books"))
    assert [b["slug"] for b in books["items"]] == ["paper-trail-books"] and books["total"] == 1
    euro = ok(call(client, credentials, "GET", "/catalog?currency=eur"))
    assert [b["slug"] for b in euro["items"]] == ["euro-rail"]
    assert euro["items"][0]["currencies"] == ["EUR", "USD"] and [a["currency"] for a in euro["items"][0]["amounts"]] == ["EUR"]
    usd = ok(call(client, credentials, "GET", "/catalog?currency=USD"))
    assert usd["total"] == 4 and [a["currency"] for a in usd["items"][1]["amounts"]] == ["USD"]
    page2 = ok(call(client, credentials, "GET", "/catalog?page=2&perPage=3"))
    assert [b["slug"] for b in page2["items"]] == ["taco-cart"] and page2["total"] == 4
    assert ok(call(client, credentials, "GET", "/catalog?page=9&perPage=3")) == {"items": [], "page": 9, "perPage": 3, "total": 4}
    assert ok(call(client, credentials, "GET", "/catalog?category=Nothing"))["total"] == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("currency=dollars", "currency"),
        ("currency=xyz", "currency"),
        ("currency=EUR", "currency"),
        ("page=0", "page"),
        ("perPage=101", "perPage"),
        ("category=" + "x" * 61, "category"),
    ],
)
def test_a_bad_catalog_query_is_a_400_naming_the_parameter(client, store, query, field):
    _partner, credentials = store
    assert failed(call(client, credentials, "GET", f"/catalog?{query}"), 400, "VALIDATION_ERROR").startswith(field)


def test_each_partner_sees_its_own_brands_and_prices(client, session, store, partner_with_key):
    partner, credentials = store
    other, other_credentials = partner_with_key()
    sushi = catalog.offer(session, partner, "bluefin-sushi").brand
    catalog.make_available(session, partner=other, brand=sushi, discount_percent=Decimal("15"))

    theirs = ok(call(client, other_credentials, "GET", "/catalog"))

    assert [(b["slug"], b["discountPercent"], b["bonus"]) for b in theirs["items"]] == [("bluefin-sushi", Decimal("15.00"), None)]
    mine = ok(call(client, credentials, "GET", "/catalog"))["items"][0]
    assert mine["discountPercent"] == Decimal("0.00") and mine["bonus"]["type"] == "cash"


def test_a_brand_taken_out_of_the_catalog_disappears_from_it(client, session, store):
    partner, credentials = store
    sushi = catalog.offer(session, partner, "bluefin-sushi").brand
    with write_transaction(session):
        sushi.is_active = False
        session.add(sushi)

    assert [b["slug"] for b in ok(call(client, credentials, "GET", "/catalog"))["items"]] == ["paper-trail-books", "taco-cart"]
