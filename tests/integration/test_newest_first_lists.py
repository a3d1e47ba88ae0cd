"""The lists that grow without end, read newest first from a cursor (issue 21, flat lists): the portal's orders,
transactions and consumers follow their "Older" links (rel="next", `before=<id>`) and "Newer" links (rel="prev",
`after=<id>`) through every row once, also while new rows arrive; the API's GET /orders and /transactions follow
`nextCursor`. Counts stop at a cap ("1,000+", totalIsExact false); a cursor that isn't one is a first page in the
portal and a 400 naming it in the API, never a 500."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import render_template_string
from sqlalchemy import insert
from sqlmodel import select

from app.api import schemas
from app.clock import utcnow
from app.db import write_transaction
from app.domain.money import Money
from app.domain.paging import CursorPage, Position
from app.models import Order, Transaction
from app.services import catalog, consumers, list_pages, orders
from tests.integration.api_client import call, failed, ok
from tests.integration.conftest import page

HTMX = {"HX-Request": "true"}
NEXT = re.compile(r'<a rel="next" href="/portal([^"]+)"')
PREV = re.compile(r'<a rel="prev" href="/portal([^"]+)"')
ORDER_ID = re.compile(r"ord_[0-9a-f]{16}")


def add_orders(session, partner, consumer, brand, count: int, *, status: str = "completed", start: int = 0) -> None:
    """`count` orders straight into the table (the list only reads them), numbered from `start`."""
    with write_transaction(session):
        session.execute(
            insert(Order),
            [
                dict(
                    public_id=f"ord_{partner.id:06x}{n:010x}",
                    partner_id=partner.id,
                    consumer_id=consumer.id,
                    brand_id=brand.id,
                    currency="USD",
                    face_value=1000,
                    price=1000,
                    card_value=1000,
                    recipient_email=consumer.email,
                    idempotency_key=f"list-{n}",
                    status=status,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                for n in range(start, start + count)
            ],
        )


def add_adjustments(session, partner, count: int) -> None:
    """`count` ledger transactions straight into the table, without entries (the lists only read them)."""
    with write_transaction(session):
        session.execute(
            insert(Transaction),
            [
                dict(partner_id=partner.id, type="adjustment", status="completed", currency="USD", amount=n, memo="")
                for n in range(1, count + 1)
            ],
        )


def orders_on(html: str) -> list[str]:
    return list(dict.fromkeys(ORDER_ID.findall(html)))


@pytest.fixture
def shop(session, make_partner, make_consumer, make_brand, make_team_member):
    partner = make_partner(funds="1000")
    robin = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi")
    catalog.make_available(session, partner=partner, brand=brand)
    return partner, robin, brand, make_team_member(partner, "viewer")


def walk(browser, url: str, link: re.Pattern, *, between=None) -> tuple[list[str], list[str]]:
    """Follow `link` from `url` to the list's end: the orders of every page in turn, and the URLs visited."""
    seen, urls = [], []
    while url:
        urls.append(url)
        html = page(browser.get(url))
        seen += orders_on(html)
        if between:
            between()
        found = link.search(html)
        url = found.group(1) if found else None
    return seen, urls


def test_older_links_walk_every_order_once_newest_first_and_newer_links_walk_back(session, shop, portal_as):
    partner, robin, brand, viewer = shop
    add_orders(session, partner, robin, brand, 120)
    everyone = [order.public_id for order in session.exec(select(Order).order_by(Order.id.desc())).all()]
    browser = portal_as(viewer)

    seen, urls = walk(browser, "/orders", NEXT)
    assert seen == everyone and len(urls) == 3
    assert all("before=" in url for url in urls[1:])
    last = page(browser.get(urls[-1]))
    assert "101–120 of 120" in last and 'rel="next"' not in last

    back, back_urls = walk(browser, urls[-1], PREV)
    assert back[-50:] == everyone[:50]  # the way back ends on the first page, full
    assert "1–50 of 120" in page(browser.get(back_urls[-1])) and "after=" in back_urls[-1]
    assert 'rel="prev"' not in page(browser.get(back_urls[-1]))


def test_orders_placed_while_someone_pages_appear_neither_twice_nor_in_place_of_older_ones(session, shop, portal_as):
    partner, robin, brand, viewer = shop
    add_orders(session, partner, robin, brand, 110)
    before_the_walk = [order.public_id for order in session.exec(select(Order).order_by(Order.id.desc())).all()]
    arrivals = iter(range(1000, 1100, 20))

    def more_orders_arrive():
        add_orders(session, partner, robin, brand, 20, start=next(arrivals))

    seen, _ = walk(portal_as(viewer), "/orders", NEXT, between=more_orders_arrive)
    assert seen == before_the_walk  # an offset would have shown some orders again


def test_a_filtered_list_keeps_its_filter_in_its_cursor_links(session, shop, portal_as):
    partner, robin, brand, viewer = shop
    add_orders(session, partner, robin, brand, 60, status="failed")
    add_orders(session, partner, robin, brand, 60, status="completed", start=60)
    failed_ones = [o.public_id for o in session.exec(select(Order).where(Order.status == "failed").order_by(Order.id.desc()))]
    browser = portal_as(viewer)

    seen, urls = walk(browser, "/orders?status=failed", NEXT)
    assert seen == failed_ones and re.fullmatch(r"/orders\?status=failed&before=\d+", urls[1].replace("&amp;", "&"))
    assert "51–60 of 60" in page(browser.get(urls[1]))


@pytest.mark.parametrize("cursor", ["before=abc", "before=0", "before=-5", "before=99999999999", "after=x", "before=", "page=zz"])
def test_a_cursor_that_is_not_one_opens_the_first_page(session, shop, portal_as, cursor):
    partner, robin, brand, viewer = shop
    add_orders(session, partner, robin, brand, 55)
    browser = portal_as(viewer)
    first = page(browser.get("/orders"))
    for path in ("/orders", "/transactions", "/consumers"):
        response = browser.get(f"{path}?{cursor}")
        assert response.status_code == 200, path
    assert orders_on(page(browser.get(f"/orders?{cursor}"))) == orders_on(first)


def test_a_cursor_older_than_every_row_shows_none_and_leads_back(session, shop, portal_as):
    partner, robin, brand, viewer = shop
    add_orders(session, partner, robin, brand, 60)
    oldest = session.exec(select(Order.id).order_by(Order.id)).first()
    html = page(portal_as(viewer).get(f"/orders?before={oldest}"))
    assert "No orders match" in html and 'rel="next"' not in html
    assert f'<a rel="prev" href="/portal/orders?after={oldest - 1}">' in html


def test_the_transactions_and_consumers_lists_walk_every_row_once(session, shop, make_consumer, portal_as):
    partner, robin, brand, viewer = shop
    for number in range(30):
        make_consumer(partner, funds="1", email=f"pat{number:02d}@example.com", name=f"Pat Number{number:02d}")
    add_adjustments(session, partner, 40)
    browser = portal_as(viewer)

    transaction_ids = [t.id for t in session.exec(select(Transaction).where(Transaction.partner_id == partner.id))]
    listed, url = [], "/transactions"
    while url:
        html = page(browser.get(url))
        listed += [int(n) for n in re.findall(r'data-transaction="(\d+)"', html)]
        found = NEXT.search(html)
        url = found.group(1) if found else None
    assert listed == sorted(transaction_ids, reverse=True) and len(listed) > 50

    names, url = [], "/consumers?q=pat"
    while url:
        html = page(browser.get(url, headers=HTMX))  # the list's own htmx swaps carry the same links
        assert html.lstrip().startswith('<div id="consumer-rows"')
        names += re.findall(r"Pat Number\d\d", html)
        found = re.search(r'<a rel="next" href="/portal([^"]+)" hx-get="/portal\1" hx-target="#consumer-rows"', html)
        url = found.group(1) if found else None
    assert names == [f"Pat Number{number:02d}" for number in reversed(range(30))]


def test_a_whole_address_finds_its_consumer_alone_and_a_part_finds_every_address_holding_it(
    session, shop, make_consumer, portal_as
):
    partner, robin, brand, viewer = shop
    make_consumer(partner, email="jo@example.com", name="Jo Exact")
    make_consumer(partner, email="banjo@example.com", name="Banjo Player")
    browser = portal_as(viewer)
    exact = page(browser.get("/consumers?q=JO@example.com"))
    assert "Jo Exact" in exact and "Banjo Player" not in exact
    part = page(browser.get("/consumers?q=jo@example"))
    assert "Jo Exact" in part and "Banjo Player" in part
    nobody = page(browser.get("/consumers?q=nobody@example.com"))  # no such address: a search for the text
    assert "No consumers match" in nobody


def test_counts_stop_at_the_cap_and_say_so(app, session, shop):
    partner, robin, brand, _viewer = shop
    add_orders(session, partner, robin, brand, 12)
    newest = [o.id for o in session.exec(select(Order).order_by(Order.id.desc()))]

    def page_at(position: Position) -> CursorPage:
        return list_pages.newest_first(
            session,
            select(Order).where(Order.partner_id == partner.id),
            key=Order.id,
            key_of=lambda order: order.id,
            counted=select(Order.id).where(Order.partner_id == partner.id),
            position=position,
            size=3,
            cap=5,
        )

    first = page_at(Position())
    assert (first.total, first.total_is_exact, first.first, first.older) == (5, False, 1, newest[2])
    near = page_at(Position(before=newest[2]))
    assert (near.first, near.last, near.newer, near.older) == (4, 6, newest[3], newest[5])
    far = page_at(Position(before=newest[8]))  # more than the cap newer than it: its place isn't counted
    assert (far.first, [o.id for o in far.rows], far.older) == (0, newest[9:12], None)
    assert page_at(Position(page=99)).number == 2  # an old page link stays within the counted rows

    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "_pager.html" import pager, how_many %}{{ how_many(results, "order", "orders") }}'
            '{{ pager(results, "portal.orders", args={"status": "failed"}) }}',
            results=CursorPage(["row"] * 50, 1000, 1, 50, total_is_exact=False, first=1, older=77),
        )
    assert "1,000+ orders" in html and "1–50 of 1,000+" in html
    assert '<a rel="next" href="/portal/orders?status=failed&amp;before=77">Older</a>' in html and 'rel="prev"' not in html


def test_a_statement_shows_its_newest_lines_with_the_balances_of_the_whole(session, shop):
    partner, robin, brand, _viewer = shop
    offer = catalog.offer(session, partner, brand.slug)
    for _ in range(3):
        orders.place_order(
            session,
            consumer=robin,
            offer=offer,
            face_value=Money.parse("10", "USD"),
            recipient=orders.recipient_for(robin, send_to="me"),
            idempotency_key=orders.new_idempotency_key(),
        )
    everything = consumers.statement(session, robin)
    latest = consumers.latest_statement(session, robin, lines=2)
    assert latest.total == len(everything) == 4
    assert [(line.transaction.id, line.balance_after, line.total_after) for line in latest.lines] == [
        (line.transaction.id, line.balance_after, line.total_after) for line in reversed(everything[-2:])
    ]
    assert latest.lines[0].balance_after == Money(70_00, "USD")


# --- the API -------------------------------------------------------------------------------------------------


@pytest.fixture
def api_shop(partner_with_key, make_consumer, make_brand):
    partner, credentials = partner_with_key(funds="1000")
    return partner, credentials, make_consumer(partner, funds="100", email="robin@example.com"), make_brand("Bluefin Sushi")


def test_the_api_pages_orders_by_cursor_through_every_order_once_while_more_arrive(client, session, api_shop):
    partner, credentials, robin, brand = api_shop
    add_orders(session, partner, robin, brand, 45)
    everyone = [o.public_id for o in session.exec(select(Order).order_by(Order.id.desc()))]

    first = ok(call(client, credentials, "GET", "/orders?perPage=20"))
    assert (first["total"], first["totalIsExact"], first["page"], first["perPage"]) == (45, True, 1, 20)
    seen, data = [o["id"] for o in first["items"]], first
    add_orders(session, partner, robin, brand, 5, start=500)  # newer orders arrive between two pages
    while data["nextCursor"] is not None:
        assert data["nextCursor"].isdigit()
        data = ok(call(client, credentials, "GET", f"/orders?perPage=20&cursor={data['nextCursor']}"))
        seen += [o["id"] for o in data["items"]]
    assert seen == everyone and data["total"] == 50 and len(data["items"]) == 5
    by_offset = ok(call(client, credentials, "GET", "/orders?perPage=20&page=2"))  # pages by number still work
    assert by_offset["page"] == 2 and by_offset["nextCursor"] == str(
        session.exec(select(Order.id).where(Order.public_id == by_offset["items"][-1]["id"])).one()
    )


def test_the_api_pages_transactions_by_cursor_and_caps_its_total(client, session, api_shop, monkeypatch):
    partner, credentials, robin, _brand = api_shop
    add_adjustments(session, partner, 7)
    monkeypatch.setattr(schemas, "COUNT_CAP", 4)
    data = ok(call(client, credentials, "GET", "/transactions?type=adjustment&perPage=3"))
    assert (data["total"], data["totalIsExact"]) == (4, False)
    amounts = [t["amount"] for t in data["items"]]
    while data["nextCursor"]:
        data = ok(call(client, credentials, "GET", f"/transactions?type=adjustment&perPage=3&cursor={data['nextCursor']}"))
        amounts += [t["amount"] for t in data["items"]]
    assert amounts == [Decimal(n) / 100 for n in range(7, 0, -1)]


@pytest.mark.parametrize(
    "query, field",
    [
        ("cursor=abc", "cursor"),
        ("cursor=0", "cursor"),
        ("cursor=-3", "cursor"),
        ("cursor=99999999999", "cursor"),
        ("cursor=2147483648", "cursor"),
        ("cursor=12&page=2", "page"),
    ],
)
def test_a_bad_cursor_is_a_400_naming_it(client, api_shop, query, field):
    _partner, credentials, _robin, _brand = api_shop
    for path in ("/orders", "/transactions"):
        message = failed(call(client, credentials, "GET", f"{path}?{query}"), 400, "VALIDATION_ERROR")
        assert message.startswith(f"{field}:"), message


def test_a_cursor_past_the_oldest_row_is_an_empty_last_page(client, api_shop):
    _partner, credentials, _robin, _brand = api_shop
    data = ok(call(client, credentials, "GET", "/transactions?cursor=1"))
    assert (data["items"], data["nextCursor"], data["total"]) == ([], None, 2)  # the partner's and robin's funding
