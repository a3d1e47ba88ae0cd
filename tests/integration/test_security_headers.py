"""Headers every response carries: no cache keeps a page or an API answer (they show card numbers, PINs and
personal data), only static files, brand.css and logos are cached; HTTPS is pinned (HSTS) in production."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet

from tests.conftest import build_app
from tests.integration import test_api_orders, test_store_checkout
from tests.integration.api_client import call, ok
from tests.integration.conftest import page
from tests.integration.test_api_orders import order_body
from tests.integration.test_branding import HTMX, image_bytes, stylesheet_url, upload
from tests.integration.test_store_checkout import checkout_form, in_store, order_fields

# Fixtures of those modules, used here too.
shop = test_api_orders.shop
brand = test_store_checkout.brand

HSTS = "max-age=31536000; includeSubDomains"


def not_stored(response) -> bool:
    return response.headers.get("Cache-Control") == "no-store"


def test_store_pages_and_the_revealed_card_are_never_stored(client, store, signed_in, brand):
    key = checkout_form(store, brand)
    placed = store.post(f"/brands/{brand.slug}/orders", order_fields(key, send_to="me"))
    location = in_store(store, placed)
    order_page = store.get(location)
    revealed = store.post(location + "/card", {})
    assert re.search(r"\d{4} \d{4} \d{4} \d{4}", page(revealed))
    responses = {
        "reveal": revealed,
        "order": order_page,
        "placed": placed,
        "home": store.get("/"),
        "history": store.get("/history"),
        "statement": store.get("/statement.csv"),
        "login": client.get(f"/s/{store.partner.slug}/login"),
        "missing": client.get("/no-such-page"),
        "health": client.get("/healthz"),
    }
    assert {name: response.headers.get("Cache-Control") for name, response in responses.items()} == {
        name: "no-store" for name in responses
    }


def test_partner_api_answers_with_cards_are_never_stored(client, shop):
    _partner, credentials, consumer, _brand = shop
    placed = call(client, credentials, "POST", "/orders", order_body(consumer))
    assert ok(placed)["card"]["pin"]
    read = call(client, credentials, "GET", f"/orders/{ok(placed)['id']}")
    assert ok(read)["card"]["number"]
    refused = call(client, credentials, "GET", "/orders/ord_nope")
    assert refused.status_code == 404
    assert not_stored(placed) and not_stored(read) and not_stored(refused)


def test_portal_pages_are_never_stored(store, make_team_member, portal_as):
    admin = portal_as(make_team_member(store.partner, "admin"))
    for path in ("/dashboard", "/consumers", "/orders", "/transactions", "/transactions.csv", "/team"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert not_stored(response), path


def test_static_files_brand_css_and_logos_keep_their_long_cache(client, store, signed_in, make_team_member, portal_as):
    static = client.get("/static/app.css")
    assert static.status_code == 200
    assert "max-age=3600" in static.headers["Cache-Control"] and "no-store" not in static.headers["Cache-Control"]

    admin = portal_as(make_team_member(store.partner, "admin"))
    assert upload(admin, image_bytes(), headers=HTMX).status_code == 200
    admin.post("/branding/publish")
    home = page(store.get("/"))
    stylesheet = client.get(stylesheet_url(home))
    assert stylesheet.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    logo = client.get(re.search(r'<img class="store-logo" src="([^"]+)"', home).group(1))
    assert logo.status_code == 200
    assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # The portal's draft look is revalidated, never stored nor shared.
    assert admin.client.get("/portal/branding/draft.css").headers["Cache-Control"] == "private, no-cache"


@pytest.fixture
def production_app(database_url, smtp_server, tmp_path):
    controller, _ = smtp_server
    app = build_app(
        database_url,
        controller.port,
        tmp_path,
        APP_ENV="production",
        BASE_URL="https://gifts.example.com",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        QUEUE_FILE=str(tmp_path / "queue.db"),
    )
    yield app
    app.extensions["db_engine"].dispose()


def test_production_tells_browsers_to_use_https_only_on_every_response(production_app, make_partner):
    client = production_app.test_client()
    partner = make_partner()
    for path in (
        "/healthz",
        f"/s/{partner.slug}/login",
        "/portal/login",
        "/no-such-page",
        "/static/app.css",
        "/api/partner/v1/balance",
    ):
        assert client.get(path, base_url="https://gifts.example.com").headers.get("Strict-Transport-Security") == HSTS, path


def test_development_and_tests_send_no_hsts(client, make_partner):
    # A browser that saw HSTS for 127.0.0.1 or localhost would refuse the plain-HTTP development server.
    partner = make_partner()
    for path in ("/healthz", f"/s/{partner.slug}/login"):
        assert "Strict-Transport-Security" not in client.get(path).headers
