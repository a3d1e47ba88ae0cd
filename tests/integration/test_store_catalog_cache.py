"""The store keeps its rendered catalog per process (app/web/catalog_cache.py); it must never show a stale one.

Every test first fills the cache (the same page and search asked for before the change), then changes
the catalog the way a partner or the platform would, and expects the very next request to show it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from app.clock import utcnow
from app.db import write_transaction
from app.services import catalog
from tests.conftest import build_app
from tests.integration.conftest import StoreBrowser, page

HTMX = {"HX-Request": "true"}
SETTINGS = {
    "enabled": "yes",
    "discount_percent": "0",
    "fee": "0",
    "bonus_type": "none",
    "bonus_percent": "0",
    "promo_starts_at": "",
    "promo_ends_at": "",
}


def tile_names(response) -> list[str]:
    return re.findall(r'<span class="tile-name">([^<]+)</span>', page(response))


def badges(response) -> list[str]:
    return re.findall(r'<span class="badge">([^<]+)</span>', page(response))


def categories(response) -> list[str]:
    return re.findall(r'<option value="([^"]+)"', page(response).split('name="category"', 1)[1].split("</select>", 1)[0])


@pytest.fixture
def admin(store, make_team_member, portal_as):
    return portal_as(make_team_member(store.partner, "admin"))


@pytest.fixture
def offered(session, store, make_brand):
    """make a brand and offer it in the store, with settings."""

    def offer(name, **settings):
        brand = make_brand(name, denominations="5000")
        catalog.make_available(session, partner=store.partner, brand=brand, **settings)
        return brand

    return offer


@pytest.fixture
def second_process(app, database_url, smtp_server, tmp_path, store, signed_in):
    """The same store served by another web process: its own app (and so its own catalog cache) on the same
    database and secret key, with the signed-in consumer's session cookie."""
    controller, _ = smtp_server
    other = build_app(database_url, controller.port, tmp_path, SECRET_KEY=app.config["SECRET_KEY"])
    client = other.test_client()
    client.set_cookie("session", store.client.get_cookie("session").value)
    yield StoreBrowser(client, store.partner)
    other.extensions["db_engine"].dispose()


def test_a_brand_disabled_in_the_portal_leaves_the_next_catalog_page_and_search(store, signed_in, admin, offered):
    aurora, _birch = offered("Aurora Apparel"), offered("Birch Bakery")
    assert tile_names(store.get("/")) == ["Aurora Apparel", "Birch Bakery"]
    assert tile_names(store.get("/?q=aurora", headers=HTMX)) == ["Aurora Apparel"]

    assert admin.post(f"/brands/{aurora.id}/disable", headers=HTMX).status_code == 200

    assert tile_names(store.get("/")) == ["Birch Bakery"]
    assert tile_names(store.get("/?q=aurora", headers=HTMX)) == []


def test_a_bonus_changed_in_the_portal_shows_at_the_next_request_in_every_process(
    store, signed_in, admin, offered, second_process
):
    cedar = offered("Cedar Cinema", bonus_type="value", bonus_percent=Decimal(10))
    for browser in (store, second_process):
        assert badges(browser.get("/")) == ["+10% value"]
        assert badges(browser.get("/?q=cedar", headers=HTMX)) == ["+10% value"]

    assert admin.post(f"/brands/{cedar.id}", SETTINGS | {"bonus_type": "cash", "bonus_percent": "7.5"}).status_code == 303

    for browser in (store, second_process):
        assert badges(browser.get("/")) == ["7.5% back"]
        assert badges(browser.get("/?q=cedar", headers=HTMX)) == ["7.5% back"]


def test_a_brand_retired_from_the_global_catalog_leaves_the_tiles_and_its_category_at_once(session, store, signed_in, offered):
    offered("Dune Diner")
    retired = offered("Elm Electronics")
    with write_transaction(session):
        retired.category = "Electronics"
        session.add(retired)
    first = store.get("/")
    assert tile_names(first) == ["Dune Diner", "Elm Electronics"]
    assert categories(first) == ["Electronics", "Food & Dining"]

    with write_transaction(session):
        retired.is_active = False
        session.add(retired)

    after = store.get("/")
    assert tile_names(after) == ["Dune Diner"]
    assert categories(after) == ["Food & Dining"]


def test_a_brand_newly_offered_shows_at_the_next_request_and_another_stores_brands_never_do(
    session, store, signed_in, offered, make_partner, make_brand
):
    offered("Fern Florist")
    assert tile_names(store.get("/")) == ["Fern Florist"]

    catalog.make_available(session, partner=make_partner(), brand=make_brand("Gale Games"))
    catalog.make_available(session, partner=store.partner, brand=make_brand("Haze Hats"))

    assert tile_names(store.get("/")) == ["Fern Florist", "Haze Hats"]


def _wait_until(time_machine, moment) -> None:
    """The clock moved on to just past `moment` (time-machine's fixture, back to the real time after the test)."""
    time_machine.move_to(max(moment, utcnow()) + timedelta(milliseconds=50), tick=True)


def test_a_promo_window_ending_takes_the_badge_off_at_its_end(store, signed_in, offered, time_machine):
    ends = utcnow() + timedelta(seconds=2)
    offered("Iris Inn", bonus_type="value", bonus_percent=Decimal(20), promo_ends_at=ends)
    assert badges(store.get("/")) == ["+20% value"]
    assert badges(store.get("/?q=iris", headers=HTMX)) == ["+20% value"]

    _wait_until(time_machine, ends)

    assert badges(store.get("/")) == []
    assert badges(store.get("/?q=iris", headers=HTMX)) == []


def test_a_promo_window_opening_puts_the_badge_on_at_its_start(store, signed_in, offered, time_machine):
    starts = utcnow() + timedelta(seconds=2)
    offered(
        "Jade Juice",
        bonus_type="cash",
        bonus_percent=Decimal(5),
        promo_starts_at=starts,
        promo_ends_at=starts + timedelta(days=1),
    )
    assert badges(store.get("/")) == []

    _wait_until(time_machine, starts)

    assert badges(store.get("/")) == ["5% back"]
