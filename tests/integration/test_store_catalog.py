"""The store's catalog and brand pages: tiles, active search, filters, pages, amounts and quotes."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.db import write_transaction
from app.domain.logos import brand_logo_svg
from app.models import Brand
from app.services import catalog
from tests.conftest import unique
from tests.integration.conftest import page

HTMX = {"HX-Request": "true"}


def text_of(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page(response)).split())


def tile_names(response) -> list[str]:
    return re.findall(r'<span class="tile-name">([^<]+)</span>', page(response))


@pytest.fixture
def add_brand(session, store):
    """A brand in the global catalog, offered in the store's partner with the given settings."""

    def add(
        name,
        *,
        category="Books",
        denominations="1000,2500,5000",
        min_amount=None,
        max_amount=None,
        currencies="USD",
        partner=None,
        is_active=True,
        has_pin=True,
        **settings,
    ):
        brand = Brand(
            slug=unique(re.sub(r"\W+", "-", name.lower())),
            name=name,
            category=category,
            description=f"{name}: a gift card for everyone.",
            logo_svg=brand_logo_svg(name, color="#0e7490"),
            redemption_instructions="1. Open the app.\n2. Show the code at the till.",
            terms="Not redeemable for cash.",
            currencies=currencies,
            denominations=denominations,
            min_amount=min_amount,
            max_amount=max_amount,
            has_pin=has_pin,
            is_active=is_active,
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner or store.partner, brand=brand, **settings)
        return brand

    return add


@pytest.fixture
def shelf(add_brand, make_partner):
    """A small catalog: two books brands, one restaurant, and brands this consumer must not see."""
    return {
        "aurora": add_brand("Aurora Books", bonus_type="value", bonus_percent=Decimal(10)),
        "cedar": add_brand("Cedar Books", bonus_type="value", bonus_percent=Decimal(15)),
        "bramble": add_brand("Bramble Bistro", category="Food & Dining", bonus_type="cash", bonus_percent=Decimal(5)),
        "hidden": add_brand("Hidden Hardware", category="Home & Garden", enabled=False),
        "retired": add_brand("Retired Records", category="Entertainment", is_active=False),
        "euro": add_brand("Euro Espresso", category="Food & Dining", currencies="EUR"),
        "elsewhere": add_brand("Elsewhere Electronics", category="Electronics", partner=make_partner()),
    }


def test_the_home_page_lists_only_enabled_brands_in_the_wallet_currency_with_their_bonus_badges(store, signed_in, shelf):
    response = store.get("/")
    assert response.status_code == 200
    text = page(response)
    assert tile_names(response) == ["Aurora Books", "Bramble Bistro", "Cedar Books"]
    assert "+10% value" in text and "+15% value" in text and "5% back" in text
    assert f'href="{store.url("/brands/" + shelf["aurora"].slug)}"' in text
    assert '<span class="tile-logo" aria-hidden="true"><svg' in text
    # What the home page showed before the catalog is still there.
    assert "Your wallet" in text and "$100.00" in text
    assert 'id="wallet"' in text
    assert "Your account is deactivated" not in text
    assert "HX-Request" in response.headers["Vary"]


def test_typing_a_search_returns_only_the_catalog_section_and_varies_on_hx_request(store, signed_in, shelf):
    response = store.get("/?q=BOOKS&category=&sort=name", headers=HTMX)
    assert response.status_code == 200
    text = page(response)
    # Not a live region (it is replaced on every keystroke): a short summary for #live-status instead.
    assert text.lstrip().startswith('<section id="catalog" class="catalog" data-announce="2 gift cards match “BOOKS”">')
    assert "aria-live" not in text
    assert text.rstrip().endswith("</section>")
    assert "<html" not in text and "Your wallet" not in text
    assert tile_names(response) == ["Aurora Books", "Cedar Books"]
    assert "2 gift cards matching “BOOKS”" in text_of(response)
    assert "HX-Request" in response.headers["Vary"]


def test_the_search_is_a_plain_get_form_that_works_without_javascript(store, signed_in, shelf):
    response = store.get("/?q=bistro")
    assert response.status_code == 200
    text = page(response)
    assert "<html" in text
    assert '<form class="catalog-search" method="get"' in text
    assert 'name="q" value="bistro"' in text
    assert 'hx-trigger="input changed delay:250ms, search"' in text and 'hx-push-url="true"' in text
    assert tile_names(response) == ["Bramble Bistro"]
    assert "HX-Request" in response.headers["Vary"]

    # A boosted navigation and a history restore after a cache miss need the whole page.
    for headers in ({**HTMX, "HX-Boosted": "true"}, {**HTMX, "HX-History-Restore-Request": "true"}):
        response = store.get("/?q=bistro", headers=headers)
        assert "<html" in page(response), headers
        assert tile_names(response) == ["Bramble Bistro"]


def test_the_category_filter_and_the_sort_narrow_and_order_the_results(store, signed_in, shelf):
    response = store.get("/?category=Books")
    assert tile_names(response) == ["Aurora Books", "Cedar Books"]
    assert '<option value="Books" selected>Books</option>' in page(response)

    response = store.get("/?sort=bonus", headers=HTMX)
    assert tile_names(response) == ["Cedar Books", "Aurora Books", "Bramble Bistro"]
    response = store.get("/?sort=category&category=", headers=HTMX)
    assert tile_names(response) == ["Aurora Books", "Cedar Books", "Bramble Bistro"]
    # Only categories with something to show are offered; an unknown sort falls back to the name.
    text = page(store.get("/?sort=nonsense"))
    assert "Home & Garden" not in text and '<option value="name" selected>Name</option>' in text


def test_the_catalog_shows_24_brands_a_page_and_the_page_links_keep_the_search(store, signed_in, add_brand):
    for number in range(30):
        add_brand(f"Gift {number:02d}", category="Books")
    add_brand("Unrelated Umbrellas", category="Fashion")

    first = store.get("/?q=gift&category=Books&sort=bonus")
    assert len(tile_names(first)) == 24
    text = text_of(first)
    assert "Page 1 of 2" in text and "30 gift cards matching “gift” in Books" in text
    next_page = "/?q=gift&category=Books&sort=bonus&page=2"
    assert f'href="{store.url(next_page)}"' in page(first)

    second = store.get(next_page, headers=HTMX)
    assert tile_names(second) == [f"Gift {number:02d}" for number in range(24, 30)]
    assert "Page 2 of 2" in text_of(second)
    assert f'href="{store.url("/")}?q=gift&category=Books&sort=bonus"' in page(second)  # page 1: no page=

    # A page past the end (an old link) shows the last page.
    assert "Page 2 of 2" in text_of(store.get("/?q=gift&page=99"))
    assert len(tile_names(store.get("/?page=-3"))) == 24


def test_a_search_that_matches_nothing_says_so_and_links_back_to_everything(store, signed_in, shelf):
    response = store.get("/?q=zeppelin", headers=HTMX)
    assert response.status_code == 200
    assert "No gift cards match “zeppelin”." in text_of(response)
    assert f'<a href="{store.url("/")}">Clear the search</a>' in page(response)
    assert tile_names(response) == []


def test_an_unknown_brand_and_a_brand_the_partner_disabled_are_not_found(store, signed_in, shelf):
    for slug in ("no-such-brand", shelf["hidden"].slug, shelf["retired"].slug, shelf["elsewhere"].slug):
        response = store.get(f"/brands/{slug}")
        assert response.status_code == 404, slug
        assert "This gift card is not available in this store." in page(response)
        response = store.get(f"/brands/{slug}/quote?amount=10", headers=HTMX)
        assert response.status_code == 404, slug
        assert page(response).lstrip().startswith('<div id="quote"')


def test_the_brand_page_shows_the_card_its_denominations_and_the_price_of_the_first(app, store, signed_in, add_brand):
    brand = add_brand("Aurora Books", discount_percent=Decimal(10), bonus_type="value", bonus_percent=Decimal(10))
    response = store.get(f"/brands/{brand.slug}")
    assert response.status_code == 200
    html, text = page(response), text_of(response)
    assert "<svg" in html and "<h1>Aurora Books</h1>" in html
    assert "Aurora Books: a gift card for everyone." in text
    assert "your card is worth 10% more than its amount" in text
    assert "Show the code at the till." in text and "Not redeemable for cash." in text
    assert "Comes with a PIN" in text
    assert re.findall(r'type="radio" name="amount" value="([^"]+)"', html) == ["10.00", "25.00", "50.00"]
    assert "$10.00" in text and "$25.00" in text and "$50.00" in text
    assert re.search(r'value="10.00"[^>]*\s+checked>', html)
    # Priced on first load, without JavaScript.
    assert "You pay $9.00 · the card is worth $11.00" in text
    assert "Price for a $10.00 card, 10% off." in text
    assert f'hx-get="{store.url(f"/brands/{brand.slug}/quote")}"' in html
    # The checkout button appears once the checkout endpoint exists.
    assert ("Continue to checkout" in text) == ("store.checkout" in app.view_functions)

    # Without JavaScript, the page prices the amount in its query string.
    response = store.get(f"/brands/{brand.slug}?amount=50")
    assert re.search(r'value="50.00"[^>]*\s+checked>', page(response))
    assert "You pay $45.00 · the card is worth $55.00" in text_of(response)


def test_a_variable_brand_offers_an_amount_field_with_its_range(store, signed_in, add_brand):
    brand = add_brand("Range Rovers", denominations="", min_amount=5_00, max_amount=100_00, has_pin=False)
    response = store.get(f"/brands/{brand.slug}")
    html, text = page(response), text_of(response)
    # Text with the server's pattern, not type=number: a number field lets '1e2' and '-20' through.
    field = re.search(r'<input id="amount" type="text"[^>]*>', html, re.S).group(0)
    for attribute in ('name="amount"', 'value="5.00"', 'inputmode="decimal"', r'pattern="[0-9]{1,9}(\.[0-9]{0,2})?"', "required"):
        assert attribute in field, attribute
    pattern = re.search(r'pattern="([^"]+)"', field).group(1)  # the browser's check: the same as a Python fullmatch here
    for typed, allowed in (("25", True), ("25.50", True), ("1e2", False), ("-20", False), ("25.505", False)):
        assert bool(re.fullmatch(pattern, typed)) == allowed, typed
    # Continue waits for a good quote (static/app.js keeps it in step as the amount changes).
    assert '<button type="submit" data-needs-quote>Continue to checkout</button>' in html
    out_of_range = page(store.get(f"/brands/{brand.slug}?amount=500"))
    assert '<button type="submit" data-needs-quote disabled>Continue to checkout</button>' in out_of_range
    assert 'aria-invalid="true"' in out_of_range
    assert "Any amount from $5.00 to $100.00." in text
    assert "You pay $5.00 for a $5.00 card" in text
    assert "PIN-less: the card number is all you need." in text


def test_the_quote_for_a_value_bonus_states_what_you_pay_and_what_the_card_is_worth(store, signed_in, add_brand):
    brand = add_brand("Aurora Books", discount_percent=Decimal(10), bonus_type="value", bonus_percent=Decimal(10))
    response = store.get(f"/brands/{brand.slug}/quote?amount=50.00", headers=HTMX)
    assert response.status_code == 200
    assert page(response).lstrip().startswith('<div id="quote" aria-live="polite" class="quote">')
    assert "<html" not in page(response)
    assert text_of(response).startswith("You pay $45.00 · the card is worth $55.00")


def test_the_quote_for_a_cash_bonus_states_what_comes_back_to_the_wallet(store, signed_in, add_brand):
    brand = add_brand(
        "Bramble Bistro", denominations="", min_amount=5_00, max_amount=100_00, bonus_type="cash", bonus_percent=Decimal(5)
    )
    response = store.get(f"/brands/{brand.slug}/quote?amount=50", headers=HTMX)
    assert response.status_code == 200
    assert text_of(response).startswith("You pay $50.00 · $2.50 comes back to your wallet")

    plain = add_brand("Plain Pantry", fee=1_00)
    response = store.get(f"/brands/{plain.slug}/quote?amount=25", headers=HTMX)
    assert "You pay $26.00 for a $25.00 card" in text_of(response)
    assert "Price for a $25.00 card, plus a $1.00 fee." in text_of(response)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        # One money format, the |money filter's, in every message.
        ("100.01", "Enter an amount from $5.00 to $100.00."),
        ("4.99", "Enter an amount from $5.00 to $100.00."),
        ("12.345", "Amount has more than 2 decimal places."),
        ("abc", "Enter the amount as a number, like 25 or 25.50."),
        # A negative amount is a number: the message gives the range.
        ("-5", "Enter an amount from $5.00 to $100.00."),
        ("-20.50", "Enter an amount from $5.00 to $100.00."),
        ("1e999999999", "Enter the amount as a number, like 25 or 25.50."),
        ("", "Enter an amount."),
    ],
)
def test_an_amount_out_of_range_or_malformed_gets_a_clear_message_in_place(store, signed_in, add_brand, amount, message):
    brand = add_brand("Range Rovers", denominations="", min_amount=5_00, max_amount=100_00)
    response = store.get(f"/brands/{brand.slug}/quote", query_string={"amount": amount}, headers=HTMX)
    assert response.status_code == 422
    assert 'class="quote quote-error"' in page(response)
    assert text_of(response) == message


def test_an_amount_that_is_not_one_of_the_denominations_is_refused_in_place(store, signed_in, add_brand):
    brand = add_brand("Aurora Books")
    response = store.get(f"/brands/{brand.slug}/quote?amount=30", headers=HTMX)
    assert response.status_code == 422
    assert text_of(response) == "Choose one of the amounts shown."
    # The same without JavaScript: the page keeps the amount and shows the message where the price would be.
    response = store.get(f"/brands/{brand.slug}?amount=30")
    assert response.status_code == 200
    assert "Choose one of the amounts shown." in text_of(response)
    assert " checked>" not in page(response)


def test_a_brand_sold_only_in_another_currency_is_priced_in_it_but_cannot_be_bought(store, signed_in, shelf):
    response = store.get(f"/brands/{shelf['euro'].slug}")
    assert response.status_code == 200
    text = text_of(response)
    assert "You pay €10.00 for a €10.00 card" in text
    assert "This gift card is sold in EUR, and your wallet has no EUR balance." in text
    assert "Continue to checkout" not in text
