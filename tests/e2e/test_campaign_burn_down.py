"""The campaign burn-down in a real browser (issue #17): the list shows a sparkline per campaign; the campaign page
draws the chart (an image with its figures for screen readers), says when the budget runs out at the current pace,
and its "Download report (CSV)" link downloads each member's money."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import Brand, Campaign, TeamMember, Transaction
from app.security import hash_password
from app.services import campaigns, catalog, consumers, orders, partners, team
from tests.conftest import TEAM_PASSWORD


@pytest.fixture
def campaign_with_spending(live_store):
    """A $100 campaign giving $30 to one consumer, who has bought a $10 card from it; another consumer not in it yet;
    an admin past first sign-in."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="lantern", name="Lantern Perks", currency="USD", funds=Money(1000_00, "USD")
        )
        brand = Brand(
            slug="lantern-books",
            name="Lantern Books",
            category="Books",
            description="Lantern Books gift card",
            currencies="USD",
            denominations="1000,2500",
            has_pin=True,
            redemption_instructions="Show the code.",
            redemption_url="https://redeem.example.com/x?code={code}",
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=partner, brand=brand, bonus_type="none", bonus_percent=Decimal(0))
        member, _ = team.invite(
            session, partner=partner, email="bo.admin@example.com", full_name="Bo Admin", role="admin", actor="test"
        )
        with write_transaction(session):
            member = session.get(TeamMember, member.id)
            member.password_hash = hash_password(TEAM_PASSWORD)
            member.must_change_password = False
            session.add(member)
        reader = consumers.create_consumer(
            session, partner=partner, email="reader@example.com", full_name="Rae Reader", initial_funds=Money(0, "USD")
        ).consumer
        consumers.create_consumer(
            session, partner=partner, email="sky@example.com", full_name="Sky Newcomer", initial_funds=Money(0, "USD")
        )
        campaign = campaigns.create_campaign(
            session,
            partner=partner,
            name="Reading Week",
            currency="USD",
            budget=Money(100_00, "USD"),
            per_consumer_amount=Money(30_00, "USD"),
            idempotency_key="e2e-burn-down",
        ).campaign
        campaigns.add_members(session, campaign=campaign, consumer_ids=[reader.id])
        # Created and given out two days ago (the ledger's story in days), the card bought today.
        two_days_ago = utcnow() - timedelta(days=2)
        with write_transaction(session):
            session.execute(update(Campaign).where(Campaign.id == campaign.id).values(created_at=two_days_ago))
            session.execute(update(Transaction).where(Transaction.campaign_id == campaign.id).values(created_at=two_days_ago))
        orders.place_order(
            session,
            consumer=reader,
            offer=catalog.offer(session, partner, brand.slug),
            face_value=Money(10_00, "USD"),
            recipient=orders.recipient_for(reader, send_to="me"),
            idempotency_key=orders.new_idempotency_key(),
        )
        campaign_id = campaign.id
    return live_store, campaign_id


def test_the_campaign_page_shows_the_burn_down_its_projection_and_the_report(campaign_with_spending, page: Page):
    live_store, campaign_id = campaign_with_spending
    url = live_store.url
    page.goto(f"{url}/portal/login")
    page.get_by_label("Email").fill("bo.admin@example.com")
    page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Campaigns").click()

    # The list: a sparkline for the campaign, an image that says the remaining budget.
    row = page.locator("#campaign-rows tbody tr", has_text="Reading Week")
    expect(row.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"Budget left to allocate over 3 days: \$70\.00 after the first day, \$70\.00 now")
    )
    row.get_by_role("link", name="Reading Week").click()
    expect(page).to_have_url(re.compile(rf"/portal/campaigns/{campaign_id}$"))

    # The chart: an image named by its title and described with today's figures.
    chart = page.locator("#campaign-burn-down")
    expect(chart.get_by_role("heading", name="Burn-down")).to_be_visible()
    image = chart.get_by_role("img", name=re.compile(r"Reading Week: budget left to allocate, held by members and spent"))
    expect(image).to_be_visible()
    expect(image.locator("desc")).to_contain_text("Budget left to allocate $70.00, held by members $20.00, spent $10.00")
    expect(image.locator("polyline.burn-remaining")).to_have_count(1)
    expect(image.locator("polyline.burn-projection")).to_have_count(1)

    # The projection: $30 allocated in three days, $70 left: it runs out in seven days at this pace.
    runs_out = (utcnow().date() + timedelta(days=7)).isoformat()
    expect(page.locator("#burn-down-projection")).to_have_text(
        f"At the pace of the last 3 days ($30.00 allocated, $10.00 spent), the budget left to allocate runs out around {runs_out}."
    )
    chart.get_by_text("The chart in numbers").click()
    days = chart.locator("#burn-down-table tbody tr")
    expect(days).to_have_count(3)
    expect(days.first).to_contain_text("$70.00")  # today: left to allocate
    expect(days.first).to_contain_text("$10.00")  # spent

    # Adding a member (htmx): the notice stays, and the chart is redrawn out of band with the new allocation.
    searches: list[str] = []
    page.on("request", lambda request: searches.append(request.url) if "?q=" in request.url else None)
    page.get_by_label("Consumer's email").fill("sky@example.com")
    page.wait_for_timeout(600)  # the member search goes 300 ms after typing in it: none for typing elsewhere
    assert searches == []  # (a search racing the add would swap the members back without the add's notice)
    page.get_by_role("button", name="Add", exact=True).click()
    members = page.locator("#campaign-members")
    expect(members.get_by_role("status")).to_have_text("sky@example.com is a member now, with $30.00 to spend.")
    expect(image.locator("desc")).to_contain_text("Budget left to allocate $40.00, held by members $50.00, spent $10.00")
    # Typing in the member search (and only there) filters the members.
    page.get_by_label("Name or email").fill("rae")
    expect(members.locator("#member-rows tbody tr")).to_have_count(1)
    expect(members.locator("#member-rows tbody tr")).to_contain_text("reader@example.com")
    assert searches and searches[-1].endswith("?q=rae")
    page.get_by_label("Name or email").fill("")
    expect(members.locator("#member-rows tbody tr")).to_have_count(2)

    # The report: each member, reconciled.
    with page.expect_download() as download:
        chart.get_by_role("link", name="Download report (CSV)").click()
    assert download.value.suggested_filename == f"lantern-campaign-{campaign_id}-members.csv"
    with open(download.value.path(), encoding="utf-8") as file:
        rows = list(csv.reader(io.StringIO(file.read(), newline="")))
    assert rows[0][:2] == ["name", "email"]
    assert rows[1][:3] == ["Rae Reader", "reader@example.com", "member"]
    assert rows[1][4:] == ["30.00", "10.00", "0.00", "1", "20.00", "USD"]
    assert rows[2][:3] == ["Sky Newcomer", "sky@example.com", "member"]
    assert rows[2][4:] == ["30.00", "0.00", "0.00", "0", "30.00", "USD"]
