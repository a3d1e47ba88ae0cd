"""Campaign reports (issue #17): the burn-down chart on a campaign's page and the sparklines of the list, read from
the ledger in a bounded number of queries; the member report CSV, streamed and safe in a spreadsheet. Every figure
reconciles: for each member allocated - spent - returned = balance, and over the campaign the allocations net of
returns + the budget left + what went back to partner funds = what was funded."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from sqlmodel import func, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.burn_down import Outlook, Point, plot
from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, Campaign, Entry, Transaction
from app.portal.campaign_reports import CHART_HEIGHT, CHART_WIDTH
from app.providers import ProviderError
from app.services import campaign_reports, campaigns, catalog, orders
from tests.integration.conftest import page, statements_run

USD = lambda cents: Money(cents, "USD")  # noqa: E731
TODAY = utcnow().date()
DAY = timedelta(days=1)
NASTY_NAME = '=HYPERLINK("http://evil.example","Click")'


class Down:
    """A provider that never answers: orders stay pending until failed by hand."""

    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


# --- the story every test reads ---------------------------------------------------------------------


def last_transaction_id(session) -> int:
    session.rollback()
    return session.exec(select(func.max(Transaction.id))).one() or 0


def happened_on(session, since_id: int, days_ago: int) -> None:
    """Move every transaction after `since_id` to noon UTC `days_ago` days back (the ledger's story, in days)."""
    moment = datetime.combine(TODAY - days_ago * DAY, time(12), tzinfo=UTC)
    with write_transaction(session):
        session.execute(update(Transaction).where(Transaction.id > since_id).values(created_at=moment))


def buy(session, partner, consumer, brand, amount: str):
    return orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, partner, brand.slug),
        face_value=Money.parse(amount, "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )


@pytest.fixture
def story(app, session, make_partner, make_brand, make_consumer, make_team_member):
    """A $200 campaign, $50 each for Robin, Sam and a consumer whose name is a formula, over four UTC days:

    3 days ago  created and funded $200, all three added ($150 allocated)
    2 days ago  Robin buys a $25 card
    1 day ago   Sam's $25 order fails (refunded into the campaign balance); the budget is raised by $30
    today       Robin, Sam and the third member buy $10 cards; the third member is removed ($40 back to the
                budget); the budget is lowered by $10 (back to partner funds)
    """
    partner = make_partner(funds="1000")
    brand = make_brand("Calm Spa Report", category="Health & Beauty")
    catalog.make_available(session, partner=partner, brand=brand, bonus_type="none", bonus_percent=Decimal(0))
    robin = make_consumer(partner, funds="0", email="robin@example.com", name="Robin Member")
    sam = make_consumer(partner, funds="0", email="sam@example.com", name="Sam Member")
    nasty = make_consumer(partner, funds="0", email="cara@example.com", name=NASTY_NAME)

    start = last_transaction_id(session)
    campaign = campaigns.create_campaign(
        session,
        partner=partner,
        name="Wellness",
        currency="USD",
        budget=USD(200_00),
        per_consumer_amount=USD(50_00),
        idempotency_key="report-story-create",
    ).campaign
    campaigns.add_members(session, campaign=campaign, consumer_ids=[robin.id, sam.id, nasty.id])
    with write_transaction(session):
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(created_at=datetime.combine(TODAY - 3 * DAY, time(11), tzinfo=UTC))
        )
    happened_on(session, start, 3)

    mark = last_transaction_id(session)
    buy(session, partner, robin, brand, "25")
    happened_on(session, mark, 2)

    mark = last_transaction_id(session)
    provider = app.extensions["provider"]
    app.extensions["provider"] = Down()
    failed = buy(session, partner, sam, brand, "25")
    app.extensions["provider"] = provider
    assert orders.fail(session, failed.id, reason="declined") is True
    campaigns.change_budget(session, campaign=campaign, amount=USD(30_00), idempotency_key="report-story-raise")
    happened_on(session, mark, 1)

    for consumer in (robin, sam, nasty):
        buy(session, partner, consumer, brand, "10")
    campaigns.remove_member(session, campaign=campaign, consumer_id=nasty.id)
    campaigns.change_budget(session, campaign=campaign, amount=USD(-10_00), idempotency_key="report-story-lower")
    session.rollback()
    return SimpleNamespace(
        partner=partner,
        campaign=session.get(Campaign, campaign.id, populate_existing=True),
        brand=brand,
        robin=robin,
        sam=sam,
        nasty=nasty,
        viewer=make_team_member(partner, "viewer"),
    )


EXPECTED_POINTS = [  # (days ago, left to allocate, held by members, spent), in cents
    (3, 50_00, 150_00, 0),
    (2, 50_00, 125_00, 25_00),
    (1, 80_00, 125_00, 25_00),  # Sam's $25 came back; the budget was raised by $30
    (0, 110_00, 55_00, 55_00),  # $30 spent, $40 back from the removed member, $10 back to partner funds
]


def ledger_state_at_end_of(session, campaign, day) -> tuple[int, int]:
    """Straight from the entries: the budget account's and the members' wallets' balances at the end of `day`."""
    session.rollback()
    end = datetime.combine(day + DAY, time(), tzinfo=UTC)
    sums = dict(
        session.exec(
            select(Account.kind, func.sum(Entry.amount))
            .join(Entry, Entry.account_id == Account.id)
            .join(Transaction, Transaction.id == Entry.transaction_id)
            .where(Account.campaign_id == campaign.id, Transaction.created_at < end)
            .group_by(Account.kind)
        ).all()
    )
    return int(sums.get(AccountKind.CAMPAIGN_BUDGET.value) or 0), int(sums.get(AccountKind.CAMPAIGN.value) or 0)


# --- the burn-down ------------------------------------------------------------------------------------


def test_the_burn_down_has_a_point_a_day_matching_the_ledger(session, story):
    report = campaign_reports.burn_down(session, campaign=story.campaign)
    assert [(p.day, p.remaining, p.held, p.spent) for p in report.points] == [
        (TODAY - ago * DAY, remaining, held, spent) for ago, remaining, held, spent in EXPECTED_POINTS
    ]
    for point in report.points:
        assert ledger_state_at_end_of(session, story.campaign, point.day) == (point.remaining, point.held)
    summary = campaigns.campaign_summary(session, story.campaign)
    now = report.points[-1]
    assert (USD(now.remaining), USD(now.held), USD(now.spent)) == (summary.remaining, summary.unused, summary.spent)
    assert USD(now.total) == summary.budget - summary.returned

    # Four days since it began: $110 allocated net ($150 - $40 back), $55 spent; $110 left lasts four more days.
    projection = report.projection
    assert projection is not None and projection.outlook is Outlook.RUNS_OUT
    assert (projection.pace.days, projection.pace.allocated, projection.pace.spent) == (4, 110_00, 55_00)
    assert projection.runs_out_on == TODAY + 4 * DAY


def test_the_burn_down_reads_the_ledger_in_one_query_however_long_the_campaign(app, session, story):
    with write_transaction(session):  # a campaign begun three years ago: still one query, at most 90 points
        session.execute(
            update(Campaign)
            .where(Campaign.id == story.campaign.id)
            .values(created_at=datetime.combine(TODAY - 3 * 365 * DAY, time(), tzinfo=UTC))
        )
    session.rollback()
    campaign = session.get(Campaign, story.campaign.id, populate_existing=True)
    with statements_run(app) as seen:
        report = campaign_reports.burn_down(session, campaign=campaign)
    assert len(seen) == 1, seen
    assert 80 <= len(report.points) <= 90 and report.bucket_days == 13
    assert report.points[-1] == Point(TODAY, 110_00, 55_00, 55_00)


def test_the_campaign_page_draws_the_burn_down_with_its_figures_and_projection(session, story, portal_as):
    html = page(portal_as(story.viewer).get(f"/campaigns/{story.campaign.id}"))
    chart = re.search(r'<svg class="chart-svg burn-down-chart".*?</svg>', html, re.S).group(0)
    assert 'role="img"' in chart and 'aria-labelledby="burn-down-title burn-down-desc"' in chart
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", chart, re.S).group(1)
    assert "Budget left to allocate $110.00, held by members $55.00, spent $55.00" in desc
    assert "4 points, one a day" in desc

    expected = plot(
        campaign_reports.burn_down(session, campaign=story.campaign).points,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        runs_out_on=TODAY + 4 * DAY,
    )
    for series in ("remaining", "held", "spent", "projection"):
        assert f'<polyline points="{getattr(expected, series)}" class="burn-line burn-{series}"/>' in chart
    assert expected.last == TODAY + 4 * DAY  # the projection is drawn: four days ahead, with three of history

    projection = re.search(r'<p id="burn-down-projection"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", projection)).strip() == (
        "At the pace of the last 4 days ($110.00 allocated, $55.00 spent), the budget left to allocate runs out "
        f"around {(TODAY + 4 * DAY).isoformat()}."
    )
    table = re.search(r'<table class="table" id="burn-down-table">.*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr><th scope="row">([\d-]+)</th><td class="num">(.*?)</td><td class="num">(.*?)</td>', table)
    assert rows == [
        ((TODAY - ago * DAY).isoformat(), f"${remaining / 100:,.2f}", f"${held / 100:,.2f}")
        for ago, remaining, held, _spent in reversed(EXPECTED_POINTS)
    ]
    # A real download: not boosted into an htmx swap (the body is hx-boost="true").
    assert f'href="/portal/campaigns/{story.campaign.id}/report.csv" hx-boost="false" download>Download report (CSV)</a>' in html


def test_an_ended_campaign_has_no_projection_and_a_new_one_with_nothing_allocated_has_none_yet(session, story, portal_as):
    campaigns.end(session, campaign=story.campaign)
    browser = portal_as(story.viewer)
    html = page(browser.get(f"/campaigns/{story.campaign.id}"))
    assert "The campaign has ended: nothing more is allocated from its budget." in html
    session.rollback()
    ended = campaign_reports.burn_down(session, campaign=session.get(Campaign, story.campaign.id, populate_existing=True))
    assert ended.projection is None and ended.points[-1] == Point(TODAY, 165_00, 0, 55_00)  # members' $55 came back

    fresh = campaigns.create_campaign(
        session,
        partner=story.partner,
        name="Quiet",
        currency="USD",
        budget=USD(100_00),
        per_consumer_amount=USD(10_00),
        idempotency_key="report-quiet",
    ).campaign
    html = page(browser.get(f"/campaigns/{fresh.id}"))
    assert "No projection yet: nothing was allocated from the budget in the last day." in html
    assert '<polyline points="0,0.0 720,0.0" class="burn-line burn-remaining"/>' in html  # one day: a level line


def test_adding_a_member_with_htmx_redraws_the_burn_down_out_of_band(session, story, make_team_member, portal_as):
    browser = portal_as(make_team_member(story.partner, "operator"))
    browser.get(f"/campaigns/{story.campaign.id}")
    response = browser.post(
        f"/campaigns/{story.campaign.id}/members", {"email": "robin@example.com"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert (
        '<section id="campaign-burn-down" class="chart-section burn-down" aria-labelledby="burn-down-heading" hx-swap-oob="true">'
        in page(response)
    )


def test_a_recurring_campaign_projects_from_its_period_allocations(session, story, portal_as):
    with write_transaction(session):
        session.execute(
            update(Campaign).where(Campaign.id == story.campaign.id).values(recurrence_every="month", leftover="rollover")
        )
    session.rollback()
    report = campaign_reports.burn_down(session, campaign=session.get(Campaign, story.campaign.id, populate_existing=True))
    # Two members left x $50 = $100 a month (all of it: leftovers roll over): $110 pays next month's, not the one after.
    next_month = (TODAY.replace(day=1) + timedelta(days=32)).replace(day=1)
    after_that = (next_month + timedelta(days=32)).replace(day=1)
    assert report.projection.recurrence.per_period == 100_00 and report.projection.recurrence.next_start == next_month
    assert report.projection.outlook is Outlook.RUNS_OUT and report.projection.runs_out_on == after_that
    html = page(portal_as(story.viewer).get(f"/campaigns/{story.campaign.id}"))
    projection = re.search(r'<p id="burn-down-projection"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", projection)).strip() == (
        "At about $100.00 a month leaving the budget for members' allowances, "
        f"the budget left to allocate runs out around {after_that.isoformat()}."
    )


# --- the list's sparklines ------------------------------------------------------------------------------


def sparkline_svgs(html: str) -> list[str]:
    return re.findall(r'<svg class="sparkline".*?</svg>', html, re.S)


def test_the_list_draws_a_sparkline_per_campaign_in_the_same_number_of_queries_for_one_or_many(app, session, story, portal_as):
    browser = portal_as(story.viewer)
    browser.get("/campaigns")
    with statements_run(app) as one:
        html = page(browser.get("/campaigns"))
    [svg] = sparkline_svgs(html)
    assert 'role="img"' in svg and "over 4 days: $50.00 after the first day, $110.00 now" in svg
    line = "0.0,13.1 33.3,13.1 66.7,6.5 100.0,0.0"  # $50, $50, $80, $110 in a 100 x 24 box
    assert f'<polygon points="{line} 100,24 0,24"/><polyline points="{line}"/>' in svg

    for n in range(4):
        campaigns.create_campaign(
            session,
            partner=story.partner,
            name=f"More {n}",
            currency="USD",
            budget=USD(10_00),
            per_consumer_amount=USD(5_00),
            idempotency_key=f"report-more-{n}",
        )
    with statements_run(app) as five:
        html = page(browser.get("/campaigns"))
    assert len(sparkline_svgs(html)) == 5
    assert len(five) == len(one), (len(one), len(five))


# --- the member report ----------------------------------------------------------------------------------


def streamed(browser, path: str):
    response = browser.client.get("/portal" + path)
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    return response, list(csv.reader(io.StringIO(b"".join(response.iter_encoded()).decode(), newline="")))


def test_the_member_report_lists_each_members_money_and_reconciles(session, story, portal_as):
    response, rows = streamed(portal_as(story.viewer), f"/campaigns/{story.campaign.id}/report.csv")
    assert f'filename="{story.partner.slug}-campaign-{story.campaign.id}-members.csv"' in response.headers["Content-Disposition"]
    assert rows[0] == ["name", "email", "status", "joined", "allocated", "spent", "returned", "orders", "balance", "currency"]
    members = {row[1]: row for row in rows[1:]}
    assert [row[1] for row in rows[1:]] == ["robin@example.com", "sam@example.com", "cara@example.com"]  # as they joined
    cells = lambda email: members[email][2:3] + members[email][4:]  # noqa: E731
    assert cells("robin@example.com") == ["member", "50.00", "35.00", "0.00", "2", "15.00", "USD"]
    assert cells("sam@example.com") == ["member", "50.00", "10.00", "0.00", "1", "40.00", "USD"]  # the failed order: not counted
    assert cells("cara@example.com") == ["removed", "50.00", "10.00", "40.00", "1", "0.00", "USD"]
    assert members["cara@example.com"][0] == "'" + NASTY_NAME  # a spreadsheet shows it, never runs it
    assert members["robin@example.com"][0] == "Robin Member"

    cents = lambda text: Money.parse(text, "USD").amount  # noqa: E731
    for row in rows[1:]:
        allocated, spent, returned, balance = (cents(row[i]) for i in (4, 5, 6, 8))
        assert allocated - spent - returned == balance
    summary = campaigns.campaign_summary(session, story.campaign)
    net_allocated = sum(cents(row[4]) - cents(row[6]) for row in rows[1:])
    assert net_allocated + summary.remaining.amount + summary.returned.amount == summary.budget.amount == 230_00
    assert sum(cents(row[5]) for row in rows[1:]) == summary.spent.amount
    assert sum(cents(row[8]) for row in rows[1:]) == summary.unused.amount
    assert (summary.remaining, summary.returned) == (USD(110_00), USD(10_00))


def test_the_member_report_reads_members_a_chunk_at_a_time(session, story):
    every = list(campaign_reports.member_figures(session, campaign=story.campaign))
    assert list(campaign_reports.member_figures(session, campaign=story.campaign, chunk=2)) == every
    assert [m.email for m in every] == ["robin@example.com", "sam@example.com", "cara@example.com"]


def test_the_member_report_is_for_the_partners_own_campaigns_and_every_role(
    session, story, make_partner, make_team_member, portal_as
):
    for role in ("operator", "admin"):
        streamed(portal_as(make_team_member(story.partner, role)), f"/campaigns/{story.campaign.id}/report.csv")
    stranger = portal_as(make_team_member(make_partner(), "admin"))
    assert stranger.client.get(f"/portal/campaigns/{story.campaign.id}/report.csv").status_code == 404


def test_the_member_report_of_a_campaign_without_members_is_its_header(session, story, portal_as):
    empty = campaigns.create_campaign(
        session,
        partner=story.partner,
        name="Empty",
        currency="USD",
        budget=USD(0),
        per_consumer_amount=USD(5_00),
        idempotency_key="report-empty",
    ).campaign
    _response, rows = streamed(portal_as(story.viewer), f"/campaigns/{empty.id}/report.csv")
    assert rows == [campaign_reports.MEMBER_CSV_COLUMNS]
