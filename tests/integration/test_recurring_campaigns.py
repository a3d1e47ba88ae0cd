"""Campaigns that run themselves (issue #17): recurring allowances at calendar period starts in the partner's time
zone (once per period, also when the sweep runs twice or at once; expire or roll over, capped; one allocation
after downtime), the budget-low alert (one email to the admins and one webhook per crossing), auto-pause, the
window's end, the expiry reminder (once, linking to the store filtered to what the balance can buy), and the
same settings through the API and the portal. After each test the partner's money is all accounted for."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import insert
from sqlmodel import func, select

from app import tasks
from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.campaign_periods import Every, Leftover, Recurrence
from app.domain.campaigns import CampaignStatus
from app.domain.ledger import AccountKind, Posting, TransactionType
from app.domain.money import Money
from app.models import (
    Account,
    AuditEvent,
    Campaign,
    CampaignMember,
    CampaignPeriod,
    Consumer,
    EmailMessage,
    Order,
    Partner,
    Transaction,
    WebhookDelivery,
)
from app.services import campaigns, catalog, consumers, ledger, orders, partner_settings, segments, webhooks
from tests.conftest import body_text, first_link, reload
from tests.integration.api_client import call, failed, ok
from tests.integration.conftest import page
from tests.integration.test_api_webhooks import Receiver

USD = lambda cents: Money(cents, "USD")  # noqa: E731
FUNDED = 1000_00  # what make_partner(funds="1000") deposits
WEDNESDAY = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)  # a week that starts on Monday 12 January 2026
NEXT_MONDAY = datetime(2026, 1, 19, tzinfo=UTC)
WEEKLY = Recurrence(Every.WEEK, Leftover.EXPIRE)


# --- fixtures and checks --------------------------------------------------------------------


@pytest.fixture
def brands(session, make_brand):
    return SimpleNamespace(spa=make_brand("Calm Spa", category="Health & Beauty"), pizza=make_brand("Pizza Place"))


@pytest.fixture
def shop(session, make_partner, brands):
    """A partner with $1,000 of funds offering a spa (Health & Beauty) and a pizza place (Food & Dining)."""
    partner = make_partner(funds="1000")
    for brand in (brands.spa, brands.pizza):
        catalog.make_available(session, partner=partner, brand=brand)
    return partner


@pytest.fixture
def clock(time_machine):
    """clock(moment): the app's time from `moment` on (it keeps ticking)."""

    def move(moment: datetime) -> datetime:
        time_machine.move_to(moment, tick=True)
        return moment

    return move


def people(session, partner, count: int) -> list[int]:
    """`count` consumers of `partner` without wallets (quicker than signing each one up)."""
    emails = [f"member-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
    with write_transaction(session):
        session.execute(
            insert(Consumer.__table__),
            [
                dict(
                    partner_id=partner.id,
                    email=email,
                    full_name=f"Member {n}",
                    password_hash="",
                    is_active=True,
                    must_change_password=True,
                    session_epoch=0,
                    created_at=utcnow(),
                )
                for n, email in enumerate(emails)
            ],
        )
    by_email = dict(session.exec(select(Consumer.email, Consumer.id).where(Consumer.email.in_(emails))).all())
    return [by_email[email] for email in emails]


def new_campaign(session, partner, *, budget="200", per_consumer="20", **settings) -> Campaign:
    return campaigns.create_campaign(
        session,
        partner=partner,
        name=settings.pop("name", "Lunch"),
        currency="USD",
        budget=Money.parse(budget, "USD"),
        per_consumer_amount=Money.parse(per_consumer, "USD"),
        idempotency_key=f"create-{uuid.uuid4().hex[:12]}",
        **settings,
    ).campaign


def join(session, campaign, *consumer_ids: int) -> None:
    results = campaigns.add_members(session, campaign=campaign, consumer_ids=list(consumer_ids))
    assert [r.outcome.value for r in results] == ["allocated"] * len(consumer_ids)


def wallet_of(session, campaign, consumer_id: int) -> int:
    session.rollback()
    return ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id, campaign_id=campaign.id
    ).balance


def remaining(session, campaign) -> int:
    session.rollback()
    return session.exec(select(Account.balance).where(Account.id == campaign.budget_account_id)).one()


def spend(session, campaign, consumer_id: int, cents: int) -> None:
    """What a checkout does with a campaign balance: the wallet pays the partner's card purchases."""
    wallet = ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id, campaign_id=campaign.id
    )
    purchases = ledger.card_purchases_account(session, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id)
    with write_transaction(session):
        ledger.post_transaction(
            session,
            partner_id=campaign.partner_id,
            consumer_id=consumer_id,
            type=TransactionType.DEBIT,
            currency="USD",
            postings=[Posting(wallet.id, -cents), Posting(purchases.id, cents)],
            memo="Calm Spa gift card",
        )


def allocations(session, campaign) -> int:
    """How many allowances (budget -> a member's wallet) the campaign has paid."""
    session.rollback()
    return session.exec(
        select(func.count(Transaction.id)).where(
            Transaction.campaign_id == campaign.id,
            Transaction.type == TransactionType.CREDIT.value,
            Transaction.consumer_id.is_not(None),
        )
    ).one()


def period_rows(session, campaign) -> list[CampaignPeriod]:
    session.rollback()
    return list(session.exec(select(CampaignPeriod).where(CampaignPeriod.campaign_id == campaign.id)).all())


def audit_actions(session, partner) -> list[str]:
    session.rollback()
    return list(session.exec(select(AuditEvent.action).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all())


def assert_money_conserved(session, partner):
    """Partner funds + budgets + campaign wallets + card purchases (+ general and bonus wallets) = what was funded."""
    session.rollback()
    by_kind = dict(
        session.exec(
            select(Account.kind, func.sum(Account.balance)).where(Account.partner_id == partner.id).group_by(Account.kind)
        ).all()
    )
    assert -by_kind.pop(AccountKind.PARTNER_DEPOSITS.value, 0) == sum(by_kind.values()) == FUNDED, by_kind
    for summary in campaigns.list_campaigns(session, partner=partner):
        assert summary.budget == summary.returned + summary.remaining + summary.unused + summary.spent


def set_time_zone(session, partner, name: str) -> None:
    partner_settings.update_settings(session, partner=partner, time_zone=name, reminder_days=3, by=None)


# --- the period job ----------------------------------------------------------------------------


def test_each_monday_every_member_gets_the_allowance_again_and_a_second_run_gives_nothing(session, shop, clock):
    clock(WEDNESDAY)
    campaign = new_campaign(session, shop, budget="200", per_consumer="20", recurrence=WEEKLY)
    first, second, third = people(session, shop, 3)
    join(session, campaign, first, second, third)
    spend(session, campaign, first, 5_00)
    assert remaining(session, campaign) == 140_00

    clock(NEXT_MONDAY - timedelta(seconds=1))  # Sunday 23:59:59: still last week
    campaigns.sweep(db_session())
    assert period_rows(session, campaign) == [] and allocations(session, campaign) == 3

    clock(NEXT_MONDAY + timedelta(seconds=1))
    campaigns.sweep(db_session())
    # What was left expired back to the budget (15 + 20 + 20), then each got 20 again.
    assert [wallet_of(session, campaign, c) for c in (first, second, third)] == [20_00, 20_00, 20_00]
    assert remaining(session, campaign) == 140_00 + 55_00 - 60_00
    (row,) = period_rows(session, campaign)
    assert (row.period, row.members_allocated, row.allocated, row.expired, row.rolled_over, row.members_unpaid) == (
        date(2026, 1, 19),
        3,
        60_00,
        55_00,
        0,
        0,
    )
    assert row.starts_at == NEXT_MONDAY and row.missed_periods == 0

    # Running it again (the sweep, or the period job itself) allocates nothing more.
    campaigns.sweep(db_session())
    assert campaigns.run_period(db_session(), campaign_id=campaign.id).members_allocated == 0
    assert allocations(session, campaign) == 6
    assert [wallet_of(session, campaign, c) for c in (first, second, third)] == [20_00, 20_00, 20_00]
    assert remaining(session, campaign) == 135_00
    assert len(period_rows(session, campaign)) == 1
    assert audit_actions(session, shop).count("campaign.period") == 1
    assert_money_conserved(session, shop)


def test_a_monthly_rollover_keeps_up_to_the_cap_and_the_month_starts_in_the_partners_time_zone(session, shop, clock):
    set_time_zone(session, shop, "America/New_York")
    clock(datetime(2026, 1, 20, 15, tzinfo=UTC))
    capped = Recurrence(Every.MONTH, Leftover.ROLLOVER, 25_00)
    campaign = new_campaign(session, shop, budget="300", per_consumer="30", recurrence=capped)
    keeps, spent_all, spent_some = people(session, shop, 3)
    join(session, campaign, keeps, spent_all, spent_some)
    spend(session, campaign, spent_all, 30_00)
    spend(session, campaign, spent_some, 12_00)
    assert remaining(session, campaign) == 210_00

    clock(datetime(2026, 2, 1, 4, 59, tzinfo=UTC))  # 31 January, 23:59 in New York: still January there
    campaigns.sweep(db_session())
    assert allocations(session, campaign) == 3

    clock(datetime(2026, 2, 1, 5, 0, 1, tzinfo=UTC))  # 1 February, 00:00:01 in New York
    campaigns.sweep(db_session())
    campaigns.sweep(db_session())
    # 30 left: 25 kept, 5 back; 0 left: nothing; 18 left: all kept. Then 30 each.
    assert [wallet_of(session, campaign, c) for c in (keeps, spent_all, spent_some)] == [55_00, 30_00, 48_00]
    assert remaining(session, campaign) == 210_00 + 5_00 - 90_00
    (row,) = period_rows(session, campaign)
    assert (row.period, row.starts_at, row.allocated, row.expired, row.rolled_over) == (
        date(2026, 2, 1),
        datetime(2026, 2, 1, 5, tzinfo=UTC),
        90_00,
        5_00,
        43_00,
    )
    assert_money_conserved(session, shop)


def test_after_downtime_the_current_period_is_allocated_once_and_the_missed_ones_are_only_counted(session, shop, clock):
    clock(datetime(2026, 3, 4, 12, tzinfo=UTC))  # a Wednesday
    campaign = new_campaign(session, shop, budget="500", per_consumer="20", recurrence=Recurrence(Every.WEEK, Leftover.ROLLOVER))
    first, second = people(session, shop, 2)
    join(session, campaign, first, second)

    clock(datetime(2026, 3, 30, 9, tzinfo=UTC))  # four Mondays later: 9, 16 and 23 March were missed
    campaigns.sweep(db_session())
    campaigns.sweep(db_session())
    assert [wallet_of(session, campaign, c) for c in (first, second)] == [40_00, 40_00]
    assert remaining(session, campaign) == 420_00
    (row,) = period_rows(session, campaign)
    assert (row.period, row.missed_periods, row.members_allocated) == (date(2026, 3, 30), 3, 2)

    clock(datetime(2026, 4, 6, 0, 0, 5, tzinfo=UTC))  # the next Monday: back to normal
    campaigns.sweep(db_session())
    assert [wallet_of(session, campaign, c) for c in (first, second)] == [60_00, 60_00]
    assert [r.missed_periods for r in period_rows(session, campaign)] == [3, 0]
    assert_money_conserved(session, shop)


def test_concurrent_period_runs_allocate_once(app, session, shop, clock):
    clock(WEDNESDAY)
    campaign = new_campaign(session, shop, budget="300", per_consumer="20", recurrence=WEEKLY)
    members = people(session, shop, 5)
    join(session, campaign, *members)
    clock(NEXT_MONDAY + timedelta(minutes=1))
    campaign_id = campaign.id

    def run(_):
        with app.app_context():
            result = campaigns.run_period(db_session(), campaign_id=campaign_id)
            return result.members_allocated if result is not None else 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        paid = list(pool.map(run, range(8)))
    assert sum(paid) == 5 and paid.count(5) == 1
    assert allocations(session, campaign) == 10
    assert [wallet_of(session, campaign, c) for c in members] == [20_00] * 5
    assert len(period_rows(session, campaign)) == 1
    assert_money_conserved(session, shop)


def test_members_who_lost_the_tag_were_deactivated_or_joined_this_period_get_no_new_allowance(session, shop, clock):
    clock(WEDNESDAY)
    tagged, loses_tag, deactivated = people(session, shop, 3)
    for consumer_id in (tagged, loses_tag, deactivated):
        segments.add_tags(session, consumer=session.get(Consumer, consumer_id), tags=["lunch"])
    rollover = Recurrence(Every.WEEK, Leftover.ROLLOVER)
    campaign = new_campaign(session, shop, budget="300", per_consumer="20", recurrence=rollover, eligible_tag="lunch")
    assert [wallet_of(session, campaign, c) for c in (tagged, loses_tag, deactivated)] == [20_00] * 3  # joined by the tag

    segments.remove_tag(session, consumer=session.get(Consumer, loses_tag), tag="lunch")
    consumers.set_active(session, consumer=session.get(Consumer, deactivated), active=False)
    clock(NEXT_MONDAY + timedelta(hours=2))
    (late,) = people(session, shop, 1)
    join(session, reload(session, Campaign, campaign.id), late)  # joins this week before the job runs: paid at joining
    campaigns.sweep(db_session())

    # What they were given stays theirs; only the one still eligible gets this week's.
    assert [wallet_of(session, campaign, c) for c in (tagged, loses_tag, deactivated, late)] == [40_00, 20_00, 20_00, 20_00]
    (row,) = period_rows(session, campaign)
    assert (row.members_allocated, row.members_unpaid, row.rolled_over) == (1, 0, 60_00)
    campaigns.sweep(db_session())
    assert allocations(session, campaign) == 5
    assert_money_conserved(session, shop)


def test_turning_a_repeat_on_counts_the_current_period_as_given(session, shop, clock):
    clock(WEDNESDAY - timedelta(days=21))
    campaign = new_campaign(session, shop, budget="200", per_consumer="20")
    (member,) = people(session, shop, 1)
    join(session, campaign, member)
    clock(WEDNESDAY)
    campaigns.update_campaign(session, campaign=reload(session, Campaign, campaign.id), recurrence=WEEKLY)
    campaigns.sweep(db_session())
    assert allocations(session, campaign) == 1  # not at once: the member had this week's when it was turned on
    clock(NEXT_MONDAY + timedelta(seconds=30))
    campaigns.sweep(db_session())
    assert allocations(session, campaign) == 2 and wallet_of(session, campaign, member) == 20_00
    assert_money_conserved(session, shop)


# --- alerts and auto-pause -----------------------------------------------------------------------


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


def test_admins_get_one_email_and_the_webhook_fires_once_per_crossing(session, shop, clock, make_team_member, mailbox, receiver):
    admin = make_team_member(shop, "admin", name="Ada Admin")
    operator = make_team_member(shop, "operator")
    webhooks.register_endpoint(session, partner=shop, url=receiver.url("/campaigns"), events=["campaign.budget_low"])
    clock(WEDNESDAY)
    campaign = new_campaign(
        session, shop, budget="100", per_consumer="20", recurrence=WEEKLY, low_budget_threshold=USD(50_00), name="Lunch"
    )
    members = people(session, shop, 4)

    def alerts_to(address: str) -> list:
        return [m for m in mailbox.to(address) if m["Subject"] == "Lunch: the campaign budget is running low"]

    def budget_low_events() -> int:
        session.rollback()
        return session.exec(
            select(func.count(WebhookDelivery.id)).where(
                WebhookDelivery.partner_id == shop.id, WebhookDelivery.event_type == "campaign.budget_low"
            )
        ).one()

    join(session, campaign, members[0], members[1])  # 60 left: enough for 2 x 20 next week, above 50
    assert alerts_to(admin.email) == [] and budget_low_events() == 0
    join(session, campaign, members[2])  # 40 left: next week needs 3 x 20
    assert len(alerts_to(admin.email)) == 1 and budget_low_events() == 1
    message = alerts_to(admin.email)[0]
    assert "$40.00 left" in body_text(message) and "3 members need $60.00" in body_text(message)
    assert f"/portal/campaigns/{campaign.id}" in body_text(message)
    join(session, campaign, members[3])  # 20 left: still low, the same crossing
    clock(NEXT_MONDAY + timedelta(seconds=10))
    campaigns.sweep(db_session())  # 80 expired back, 80 allocated: low all along
    assert remaining(session, campaign) == 20_00
    assert len(alerts_to(admin.email)) == 1 and budget_low_events() == 1
    assert reload(session, Campaign, campaign.id).budget_low_since is not None

    campaigns.change_budget(
        session, campaign=reload(session, Campaign, campaign.id), amount=USD(200_00), idempotency_key="top-up-0001"
    )
    assert reload(session, Campaign, campaign.id).budget_low_since is None  # enough again: re-armed
    campaigns.change_budget(
        session, campaign=reload(session, Campaign, campaign.id), amount=USD(-150_00), idempotency_key="drain-0001"
    )
    assert len(alerts_to(admin.email)) == 2 and budget_low_events() == 2  # 70 left: a second crossing
    assert "below the $50.00 threshold" not in body_text(alerts_to(admin.email)[1])  # it can't fund 4 x 20 first
    assert alerts_to(operator.email) == []  # admins only
    bodies = [json.loads(r["body"], parse_float=Decimal) for r in receiver.requests]
    assert [(b["type"], b["data"]["campaign"]["remaining"]) for b in bodies] == [
        ("campaign.budget_low", Decimal("40.00")),
        ("campaign.budget_low", Decimal("70.00")),
    ]
    assert_money_conserved(session, shop)


def test_the_threshold_alone_alerts_when_the_next_allocation_is_still_paid(session, shop, make_team_member, mailbox):
    admin = make_team_member(shop, "admin")
    campaign = new_campaign(session, shop, budget="100", per_consumer="10", low_budget_threshold=USD(75_00))
    (first, second, third) = people(session, shop, 3)
    join(session, campaign, first, second)  # 80 left
    assert [m for m in mailbox.to(admin.email) if "running low" in m["Subject"]] == []
    join(session, campaign, third)  # 70 left: below 75
    (message,) = [m for m in mailbox.to(admin.email) if "running low" in m["Subject"]]
    assert "below the $75.00 threshold" in body_text(message)
    assert_money_conserved(session, shop)


def test_auto_pause_stops_spending_when_an_allowance_cant_be_paid_and_resuming_pays_the_rest(
    session, shop, brands, clock, make_consumer
):
    clock(WEDNESDAY)
    robin = make_consumer(shop, funds="50", name="Robin Buyer")
    (sam,) = people(session, shop, 1)
    campaign = new_campaign(
        session,
        shop,
        budget="40",
        per_consumer="20",
        recurrence=WEEKLY,
        pause_when_exhausted=True,
        categories=["Health & Beauty"],
    )
    join(session, campaign, robin.id, sam)
    spend(session, campaign, robin.id, 15_00)

    clock(NEXT_MONDAY + timedelta(seconds=5))
    campaigns.sweep(db_session())
    # 5 + 20 expired back: 25 pays Robin's 20; Sam's can't be paid: the campaign paused itself.
    campaign = reload(session, Campaign, campaign.id)
    assert campaign.status == CampaignStatus.PAUSED.value
    assert (wallet_of(session, campaign, robin.id), wallet_of(session, campaign, sam), remaining(session, campaign)) == (
        20_00,
        0,
        5_00,
    )
    (row,) = period_rows(session, campaign)
    assert (row.members_allocated, row.members_unpaid) == (1, 1)
    assert audit_actions(session, shop)[-1] == "campaign.auto_pause"

    # Spending stops: Robin's spa card is paid from the general balance, the campaign balance stays.
    order = orders.place_order(
        session,
        consumer=reload(session, Consumer, robin.id),
        offer=catalog.offer(session, shop, brands.spa.slug),
        face_value=Money.parse("10", "USD"),
        recipient=orders.recipient_for(robin, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    session.rollback()
    debit = session.get(Transaction, session.get(Order, order.id).debit_transaction_id)
    assert debit.campaign_id is None and wallet_of(session, campaign, robin.id) == 20_00
    campaigns.sweep(db_session())  # paused: no retry
    assert wallet_of(session, campaign, sam) == 0

    campaigns.change_budget(session, campaign=campaign, amount=USD(20_00), idempotency_key="top-up-0001")
    campaigns.resume(session, campaign=reload(session, Campaign, campaign.id))
    campaigns.sweep(db_session())
    assert wallet_of(session, campaign, sam) == 20_00 and wallet_of(session, campaign, robin.id) == 20_00
    (row,) = period_rows(session, campaign)
    assert (row.members_allocated, row.members_unpaid) == (2, 0)
    assert_money_conserved(session, shop)


def test_adding_more_members_than_the_budget_pays_pauses_a_campaign_set_to_pause(session, shop):
    campaign = new_campaign(session, shop, budget="50", per_consumer="20", pause_when_exhausted=True)
    first, second, third = people(session, shop, 3)
    outcomes = [r.outcome.value for r in campaigns.add_members(session, campaign=campaign, consumer_ids=[first, second, third])]
    assert outcomes == ["allocated", "allocated", "insufficient_budget"]
    assert reload(session, Campaign, campaign.id).status == CampaignStatus.PAUSED.value
    assert audit_actions(session, shop)[-2:] == ["campaign.add_members", "campaign.auto_pause"]
    # Not set to pause: the same shortage leaves it active.
    other = new_campaign(session, shop, budget="20", per_consumer="20")
    campaigns.add_members(session, campaign=other, consumer_ids=[first, second])
    assert reload(session, Campaign, other.id).status == CampaignStatus.ACTIVE.value
    assert_money_conserved(session, shop)


def test_without_auto_pause_the_unpaid_are_paid_once_the_budget_allows(session, shop, clock):
    clock(WEDNESDAY)
    campaign = new_campaign(session, shop, budget="40", per_consumer="20", recurrence=Recurrence(Every.WEEK, Leftover.ROLLOVER))
    first, second = people(session, shop, 2)
    join(session, campaign, first, second)
    clock(NEXT_MONDAY + timedelta(seconds=5))
    campaigns.sweep(db_session())
    assert reload(session, Campaign, campaign.id).status == CampaignStatus.ACTIVE.value
    assert [wallet_of(session, campaign, c) for c in (first, second)] == [20_00, 20_00]
    (row,) = period_rows(session, campaign)
    assert (row.members_allocated, row.members_unpaid) == (0, 2)
    campaigns.change_budget(
        session, campaign=reload(session, Campaign, campaign.id), amount=USD(30_00), idempotency_key="top-up-0001"
    )
    campaigns.sweep(db_session())  # 30: one allowance
    campaigns.sweep(db_session())  # 10: too little for the other, nothing tried
    assert [wallet_of(session, campaign, c) for c in (first, second)] == [40_00, 20_00]
    campaigns.change_budget(
        session, campaign=reload(session, Campaign, campaign.id), amount=USD(10_00), idempotency_key="top-up-0002"
    )
    campaigns.sweep(db_session())
    assert [wallet_of(session, campaign, c) for c in (first, second)] == [40_00, 40_00]
    assert remaining(session, campaign) == 0
    (row,) = period_rows(session, campaign)
    assert (row.members_allocated, row.members_unpaid, row.allocated) == (2, 0, 40_00)
    assert_money_conserved(session, shop)


# --- the window's end ----------------------------------------------------------------------------


def test_a_recurring_campaign_ends_by_itself_at_its_end_and_allocates_nothing_after(session, shop, clock):
    clock(WEDNESDAY)
    campaign = new_campaign(
        session,
        shop,
        budget="200",
        per_consumer="20",
        recurrence=WEEKLY,
        ends_at=WEDNESDAY + timedelta(days=3),
        return_unused_on_end=True,
    )
    members = people(session, shop, 2)
    join(session, campaign, *members)
    clock(WEDNESDAY + timedelta(days=3, minutes=1))
    tasks.sweep_campaigns()
    campaign = reload(session, Campaign, campaign.id)
    assert campaign.status == CampaignStatus.ENDED.value
    assert [wallet_of(session, campaign, c) for c in members] == [0, 0] and remaining(session, campaign) == 0
    clock(NEXT_MONDAY + timedelta(minutes=1))
    tasks.sweep_campaigns()
    assert allocations(session, campaign) == 2 and period_rows(session, campaign) == []
    session.rollback()
    assert session.exec(select(func.count(AuditEvent.id)).where(AuditEvent.action == "campaign.end")).one() == 1
    assert_money_conserved(session, shop)


# --- reminders -----------------------------------------------------------------------------------


def test_a_member_gets_one_reminder_before_the_balance_expires_and_its_link_shows_what_it_can_buy(
    session, store, signed_in, make_brand, make_consumer, mailbox, client
):
    partner = store.partner
    spa, pizza = make_brand("Calm Spa", category="Health & Beauty"), make_brand("Pizza Place")
    for brand in (spa, pizza):
        catalog.make_available(session, partner=partner, brand=brand)
    now = utcnow()
    campaign = new_campaign(
        session, partner, budget="100", per_consumer="30", categories=["Health & Beauty"], ends_at=now + timedelta(days=5)
    )
    spent_it_all = make_consumer(partner, funds="0")
    join(session, campaign, signed_in.id, spent_it_all.id)
    spend(session, campaign, spent_it_all.id, 30_00)
    mailbox.clear()

    def reminders() -> list:
        return [m for m in mailbox.messages if m["Subject"].endswith("Lunch balance expires soon")]

    campaigns.sweep(db_session(), now=now + timedelta(days=1))  # 4 days before: not yet
    assert reminders() == []
    campaigns.sweep(db_session(), now=now + timedelta(days=2, hours=1))  # under 3 days before
    campaigns.sweep(db_session(), now=now + timedelta(days=2, hours=2))
    (message,) = reminders()
    assert message["To"] == signed_in.email and message["Subject"] == "Your $30.00 Lunch balance expires soon"
    assert "It can buy: Health & Beauty brands." in body_text(message)
    session.rollback()
    member = session.exec(select(CampaignMember).where(CampaignMember.consumer_id == signed_in.id)).one()
    assert member.expiry_reminded_at is not None
    assert session.exec(select(EmailMessage.kind).where(EmailMessage.consumer_id == spent_it_all.id)).all() == ["welcome"]

    link = first_link(message, r"http://store\.test/s/[^\s]+")
    assert link == f"http://store.test/s/{partner.slug}/?campaign={campaign.id}"
    catalog_page = page(store.client.get(link.removeprefix("http://store.test")))
    assert "Calm Spa" in catalog_page and "Pizza Place" not in catalog_page

    # Signed out, the link leads through sign-in back to the same filtered catalog.
    signed_out = client.application.test_client()
    response = signed_out.get(link.removeprefix("http://store.test"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/login?next=/s/{partner.slug}/?campaign%3D{campaign.id}")


def test_no_reminder_when_the_partner_turned_them_off(session, shop, make_consumer, mailbox):
    partner_settings.update_settings(session, partner=shop, time_zone="UTC", reminder_days=0, by=None)
    now = utcnow()
    campaign = new_campaign(session, shop, ends_at=now + timedelta(days=2))
    consumer = make_consumer(shop, funds="0")
    join(session, campaign, consumer.id)
    campaigns.sweep(db_session(), now=now + timedelta(days=1))
    assert [m for m in mailbox.to(consumer.email) if "expires soon" in m["Subject"]] == []


# --- the API -------------------------------------------------------------------------------------


def test_the_api_sets_and_returns_the_repeat_the_threshold_and_auto_pause(client, session, partner_with_key):
    partner, credentials = partner_with_key(funds="1000")
    body = {
        "name": "Weekly lunch",
        "currency": "usd",
        "budget": 500,
        "perCustomerAmount": Decimal("20.00"),
        "recurrence": {"every": "week", "leftover": "rollover", "rolloverCap": Decimal("30.00")},
        "lowBudgetThreshold": 100,
        "pauseWhenExhausted": True,
        "idempotencyKey": "weekly-lunch-0001",
    }
    created = ok(call(client, credentials, "POST", "/campaigns", body))
    assert created["recurrence"] == {"every": "week", "leftover": "rollover", "rolloverCap": Decimal("30.00")}
    assert (created["lowBudgetThreshold"], created["pauseWhenExhausted"], created["budgetLowSince"]) == (
        Decimal("100.00"),
        True,
        None,
    )
    path = f"/campaigns/{created['id']}"
    changed = ok(call(client, credentials, "PATCH", path, {"recurrence": {"every": "month"}, "lowBudgetThreshold": None}))
    assert changed["recurrence"] == {"every": "month", "leftover": "expire", "rolloverCap": None}
    assert changed["lowBudgetThreshold"] is None and changed["pauseWhenExhausted"] is True
    assert ok(call(client, credentials, "PATCH", path, {"recurrence": None}))["recurrence"] is None
    stored = reload(session, Campaign, created["id"])
    assert (stored.recurrence_every, stored.low_budget_threshold, stored.pause_when_exhausted) == (None, None, True)

    for bad, field in (
        ({"recurrence": {"every": "week", "rolloverCap": 5}}, "recurrence.rolloverCap"),
        ({"recurrence": {"every": "day"}}, "recurrence.every"),
        ({"lowBudgetThreshold": 0}, "lowBudgetThreshold"),
    ):
        message = failed(call(client, credentials, "PATCH", path, bad), 400, "VALIDATION_ERROR")
        assert message.startswith(field), message
    assert reload(session, Campaign, created["id"]).recurrence_every is None

    document = client.get("/api/partner/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert {"recurrence", "lowBudgetThreshold", "pauseWhenExhausted"} <= set(schemas["CampaignCreate"]["properties"])
    assert {"recurrence", "lowBudgetThreshold", "pauseWhenExhausted", "budgetLowSince"} <= set(schemas["Campaign"]["properties"])


# --- the portal ----------------------------------------------------------------------------------


def test_an_admin_sets_the_time_zone_and_a_recurring_campaign_in_the_portal(session, shop, make_team_member, portal_as):
    admin, viewer = make_team_member(shop, "admin"), make_team_member(shop, "viewer")
    browser = portal_as(admin)
    assert "Time zone" in page(browser.get("/settings"))
    bad = browser.post("/settings", {"time_zone": "Mars/Olympus", "reminder_days": "3"})
    assert bad.status_code == 422 and "not a time zone we know" in page(bad)
    assert browser.post("/settings", {"time_zone": "Europe/Berlin", "reminder_days": "5"}).status_code == 303
    partner = reload(session, Partner, shop.id)
    assert (partner.time_zone, partner.reminder_days) == ("Europe/Berlin", 5)
    assert "partner.settings" in audit_actions(session, shop)
    assert portal_as(viewer).post("/settings", {"time_zone": "UTC", "reminder_days": "3"}).status_code == 403

    form = browser.get("/campaigns")
    assert 'name="recurrence_every"' in page(form)
    response = browser.post(
        "/campaigns",
        {
            "name": "Monthly wellness",
            "currency": "USD",
            "budget": "300",
            "per_consumer_amount": "25",
            "priority": "0",
            "recurrence_every": "month",
            "leftover": "rollover",
            "rollover_cap": "40",
            "low_budget_threshold": "50",
            "pause_when_exhausted": "yes",
            "idempotency_key": "portal-monthly-0001",
        },
    )
    assert response.status_code == 303, page(response)
    session.rollback()
    campaign = session.exec(select(Campaign).where(Campaign.name == "Monthly wellness")).one()
    assert (campaign.recurrence_every, campaign.leftover, campaign.rollover_cap) == ("month", "rollover", 40_00)
    assert (campaign.low_budget_threshold, campaign.pause_when_exhausted) == (50_00, True)
    shown = page(browser.get(f"/campaigns/{campaign.id}"))
    assert "every month" in shown and "rolls over (up to $40.00)" in shown and "Europe/Berlin calendar" in shown
    assert "below $50.00" in shown

    refused = browser.post(
        f"/campaigns/{campaign.id}/edit",
        {
            "name": "Monthly wellness",
            "per_consumer_amount": "25",
            "priority": "0",
            "recurrence_every": "month",
            "leftover": "expire",
            "low_budget_threshold": "-1",
        },
    )
    assert refused.status_code == 422
    assert reload(session, Campaign, campaign.id).leftover == "rollover"
