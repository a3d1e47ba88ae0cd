"""The portal's dashboard: the partner's funds, and per period money into wallets, money spent and
how orders went, per day and per brand, drawn as SVG without script, with the numbers as tables."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.db import write_transaction
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import Order, Partner, Transaction
from app.providers import ProviderError
from app.services import catalog, daily_totals, funds, orders, partners
from tests.integration.conftest import page, redirect_path, reload


class _Down:
    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


def days_ago(n: int):
    return utcnow() - timedelta(days=n)


@pytest.fixture
def business(app, session, make_partner, make_consumer, make_brand, make_team_member):
    """Orders and wallet credits today, 10 days ago and 40 days ago, and another partner's that must not count."""
    partner = make_partner(funds="1000")
    robin = make_consumer(partner, funds="100", email="robin@example.com")  # +100 today
    sam = make_consumer(partner, funds="50", email="sam@example.com")  # +50 today
    bluefin, copper = make_brand("Bluefin Sushi"), make_brand("Copper Kettle")
    for brand in (bluefin, copper):
        catalog.make_available(session, partner=partner, brand=brand)

    def buy(who, brand, amount, *, ago=0, fail=False, stall=False):
        provider = app.extensions["provider"]
        if stall:
            app.extensions["provider"] = _Down()
        provider.failure_rate = 1.0 if fail else 0.0
        try:
            order = orders.place_order(
                session,
                consumer=who,
                offer=catalog.offer(session, session.get(Partner, who.partner_id), brand.slug),
                face_value=Money.parse(amount, "USD"),
                recipient=orders.recipient_for(who, send_to="me"),
                idempotency_key=orders.new_idempotency_key(),
            )
        finally:
            provider.failure_rate = 0.0
            app.extensions["provider"] = provider
        if ago:
            backdate(session, Order, order.id, ago)
        return reload(session, Order, order.id)

    buy(robin, bluefin, "25")
    buy(robin, bluefin, "10")
    buy(robin, bluefin, "25", fail=True)
    buy(sam, copper, "10", stall=True)
    buy(robin, copper, "10", ago=10)
    buy(robin, copper, "25", ago=40)
    credit = funds.change_funds(
        session,
        partner=partner,
        consumer_id=robin.id,
        type=TransactionType.CREDIT,
        amount=Money(20_00, "USD"),
        reason="Loyalty",
        idempotency_key="loyal-1",
    ).transaction
    backdate(session, Transaction, credit.id, 10)
    funds.change_funds(
        session,
        partner=partner,
        consumer_id=sam.id,
        type=TransactionType.DEBIT,
        amount=Money(5_00, "USD"),
        reason="Correction",
        idempotency_key="fix-1",
    )  # taken out: not "added"

    other = make_partner(funds="1000")
    catalog.make_available(session, partner=other, brand=bluefin)
    stranger = make_consumer(other, funds="300")
    buy(stranger, bluefin, "50")
    return partner, make_team_member(partner, "viewer")


def backdate(session, model, ident, days: int) -> None:
    with write_transaction(session):
        row = session.get(model, ident)
        row.created_at = days_ago(days)
        session.add(row)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def test_the_totals_per_day_and_per_brand_match_what_happened(session, business):
    partner, _viewer = business
    report = daily_totals.dashboard(session, partner=partner, currency="USD", period=30)
    assert (report.first, report.last, len(report.days)) == (days_ago(29).date(), utcnow().date(), 30)
    assert report.total("funds_added") == usd("170") and report.total("spend") == usd("45")
    assert (report.total("completed"), report.total("failed"), report.total("pending")) == (2 + 1, 1, 1)
    today, ten_days_ago = report.days[-1], report.days[-11]
    assert (today.funds_added, today.spend, today.completed, today.failed, today.pending) == (usd("150"), usd("35"), 2, 1, 1)
    assert (ten_days_ago.day, ten_days_ago.funds_added, ten_days_ago.spend, ten_days_ago.completed) == (
        days_ago(10).date(),
        usd("20"),
        usd("10"),
        1,
    )
    assert sum(day.orders for day in report.days) == 5
    assert [(b.name, b.orders, b.spend) for b in report.brands] == [
        ("Bluefin Sushi", 2, usd("35")),
        ("Copper Kettle", 1, usd("10")),
    ]

    week = daily_totals.dashboard(session, partner=partner, currency="USD", period=7)
    assert (week.total("funds_added"), week.total("spend"), week.total("completed")) == (usd("150"), usd("35"), 2)
    quarter = daily_totals.dashboard(session, partner=partner, currency="USD", period=90)
    assert (quarter.total("spend"), quarter.total("completed")) == (usd("70"), 4)
    assert [(b.name, b.orders, b.spend) for b in quarter.brands] == [
        ("Bluefin Sushi", 2, usd("35")),
        ("Copper Kettle", 2, usd("35")),
    ]


def test_the_page_shows_funds_totals_charts_and_tables(session, business, portal_as):
    partner, viewer = business
    browser = portal_as(viewer)
    home = browser.get("/")
    assert home.status_code == 303 and redirect_path(home) == "/portal/dashboard"

    response = browser.get("/dashboard")
    text = page(response)
    assert response.status_code == 200
    funds_left = partners.partner_funds(session, partner, "USD")
    assert f'Funds available (USD)</div><div class="value">${funds_left.to_decimal():,}' in text
    for name, value in [("funds-added", "$170.00"), ("spend", "$45.00"), ("completed", "3"), ("failed", "1"), ("pending", "1")]:
        assert f'id="total-{name}">{value}</div>' in text

    today = utcnow().date().isoformat()
    # The tallest bar of the money chart is today's funds; every bar says what it is.
    assert re.search(rf'height="160\.0" class="chart-funds"><title>{today}, added: \$150\.00</title>', text)
    assert re.search(rf'class="chart-spend"><title>{today}, spent: \$35\.00</title>', text)
    assert re.search(rf'class="chart-completed"><title>{today}: 2 completed</title>', text)
    assert text.count('class="chart-completed"') == 2 and text.count('class="chart-failed"') == 1
    assert 'role="img" aria-labelledby="orders-title orders-desc"' in text and '<desc id="brands-desc">' in text
    # The numbers as tables, for screen readers and copying.
    assert re.search(
        rf'<th scope="row">{today}</th><td class="num">\$150\.00</td><td class="num">\$35\.00</td><td class="num">2</td><td class="num">1</td><td class="num">1</td>',
        text,
    )
    assert '<th scope="row">Bluefin Sushi</th><td class="num">2</td><td class="num">$35.00</td>' in text
    # A strict Content-Security-Policy: no inline script or style.
    assert 'style="' not in text and "<style" not in text
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", text))


def test_the_period_is_chosen_and_a_bad_one_is_explained(business, portal_as):
    _partner, viewer = business
    browser = portal_as(viewer)
    quarter = page(browser.get("/dashboard?days=90"))
    assert 'id="total-spend">$70.00</div>' in quarter and '<option value="90" selected>' in quarter
    week = page(browser.get("/dashboard?days=7"))
    assert 'id="total-spend">$35.00</div>' in week and 'id="total-funds-added">$150.00</div>' in week

    for query, message in [
        ("?days=12", "Choose a period of 7, 30 or 90 days"),
        ("?days=abc", "Choose a period"),
        ("?currency=EUR", "EUR is not one of your currencies"),
    ]:
        response = browser.get(f"/dashboard{query}")
        assert response.status_code == 422 and message in page(response)
        assert 'id="total-spend">$45.00</div>' in page(response)  # the default view, clearly labelled


def test_each_currency_has_its_own_dashboard(session, make_partner, make_consumer, make_team_member, portal_as):
    partner = make_partner(funds="1000")
    partners.fund_partner(session, partner=partner, amount=Money.parse("500", "EUR"))
    make_consumer(partner, funds="40", email="euro@example.com", currency="EUR")
    make_consumer(partner, funds="15", email="dollar@example.com")
    browser = portal_as(make_team_member(partner, "viewer"))
    text = page(browser.get("/dashboard?currency=eur"))
    assert 'id="total-funds-added">€40.00</div>' in text and "Funds available (EUR)" in text and "Funds available (USD)" in text
    assert 'id="total-funds-added">$15.00</div>' in page(browser.get("/dashboard"))


def test_an_empty_dashboard_draws_no_bars(make_partner, make_team_member, portal_as):
    partner = make_partner(funds="10")
    response = portal_as(make_team_member(partner, "viewer")).get("/dashboard")
    text = page(response)
    assert response.status_code == 200 and "<rect" not in text and "No completed orders in this period." in text
    assert 'id="total-spend">$0.00</div>' in text
