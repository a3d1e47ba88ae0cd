"""Campaigns: budgets funded from partner funds, allocations to members, pause/end, returns; money conserved."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert
from sqlmodel import func, select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.campaigns import CampaignChangeRefused, CampaignStatus, split_price
from app.domain.errors import InsufficientFunds, InvalidInput, NotFound, PartnerFundsTooLow
from app.domain.ledger import AccountKind, Posting, TransactionType
from app.domain.money import Money
from app.models import Account, AuditEvent, Campaign, CampaignMember, Consumer, Entry, Transaction
from app.services import campaigns, catalog, consumers, ledger, partners
from app.services.campaigns import MemberOutcome

USD = lambda cents: Money(cents, "USD")  # noqa: E731


# --- fixtures and checks --------------------------------------------------------------------


DEPOSITED = 1000_00  # all the store's partner was ever given


@pytest.fixture
def brands(session, make_brand):
    return SimpleNamespace(
        spa=make_brand("Calm Spa", category="Health & Beauty"), pizza=make_brand("Pizza Place", category="Food & Dining")
    )


@pytest.fixture
def store(session, make_partner, brands):
    """A partner with $1,000 of funds, offering two brands in two categories."""
    partner = make_partner(funds="1000")
    for brand in (brands.spa, brands.pizza):
        catalog.make_available(session, partner=partner, brand=brand)
    return partner


def people(session, partner, count: int, *, active: bool = True) -> list[int]:
    """`count` consumers of `partner` without wallets (quicker than signing each one up)."""
    emails = [f"member-{partner.id}-{n}-{utcnow().timestamp()}@example.com" for n in range(count)]
    with write_transaction(session):
        session.execute(
            insert(Consumer.__table__),
            [
                dict(
                    partner_id=partner.id,
                    email=email,
                    full_name=f"Member {n}",
                    password_hash="",
                    is_active=active,
                    must_change_password=True,
                    session_epoch=0,
                    created_at=utcnow(),
                )
                for n, email in enumerate(emails)
            ],
        )
    return list(session.exec(select(Consumer.id).where(Consumer.email.in_(emails)).order_by(Consumer.id)).all())


def new_campaign(session, partner, *, budget="100", per_consumer="20", key=None, **settings):
    return campaigns.create_campaign(
        session,
        partner=partner,
        name=settings.pop("name", "Wellness"),
        currency="USD",
        budget=Money.parse(budget, "USD"),
        per_consumer_amount=Money.parse(per_consumer, "USD"),
        idempotency_key=key or f"create-{utcnow().timestamp()}",
        **settings,
    ).campaign


def balance_of(session, account_id: int) -> int:
    session.rollback()
    return session.exec(select(Account.balance).where(Account.id == account_id)).one()


def partner_funds(session, partner) -> int:
    session.rollback()
    return partners.partner_funds(session, partner, "USD").amount


def assert_money_conserved(session, partner):
    """Partner funds + campaign budgets + campaign wallets + card purchases (+ general and bonus wallets) =
    what the partner was funded with; and each campaign's summary adds up."""
    session.rollback()
    by_kind = dict(
        session.exec(
            select(Account.kind, func.sum(Account.balance)).where(Account.partner_id == partner.id).group_by(Account.kind)
        ).all()
    )
    deposits = -by_kind.pop(AccountKind.PARTNER_DEPOSITS.value, 0)
    assert deposits == DEPOSITED
    assert sum(by_kind.values()) == DEPOSITED, by_kind
    assert ledger.ledger_problems(session) == []
    for summary in campaigns.list_campaigns(session, partner=partner):
        assert summary.budget == summary.returned + summary.remaining + summary.unused + summary.spent
        assert summary.allocated == summary.unused + summary.spent
        assert min(summary.remaining.amount, summary.unused.amount, summary.spent.amount) >= 0
        assert summary.remaining.amount == balance_of(session, summary.campaign.budget_account_id)


def spend(session, campaign, consumer_id, cents) -> Transaction:
    """What a checkout will do (wired later): the campaign wallet pays the partner's card purchases."""
    wallet = ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id, campaign_id=campaign.id
    )
    purchases = ledger.card_purchases_account(session, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id)
    with write_transaction(session):
        return ledger.post_transaction(
            session,
            partner_id=campaign.partner_id,
            consumer_id=consumer_id,
            type=TransactionType.DEBIT,
            currency="USD",
            postings=[Posting(wallet.id, -cents), Posting(purchases.id, cents)],
            memo="Calm Spa gift card",
        )


def refund(session, debit: Transaction) -> list[int]:
    """What a failed order's refund does: reverse the debit's entries; then return what an ended campaign can't use."""
    with write_transaction(session):
        entries = session.exec(select(Entry).where(Entry.transaction_id == debit.id)).all()
        ledger.post_transaction(
            session,
            partner_id=debit.partner_id,
            consumer_id=debit.consumer_id,
            type=TransactionType.REFUND,
            currency="USD",
            postings=[Posting(e.account_id, -e.amount) for e in entries],
            memo="Refund",
        )
        return [campaigns.return_ended_campaign_refund(session, account_id=e.account_id).amount for e in entries if e.amount < 0]


def audit_actions(session, partner) -> list[str]:
    session.rollback()
    return list(session.exec(select(AuditEvent.action).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all())


# --- creating and funding ------------------------------------------------------------------


def test_creating_a_campaign_moves_its_budget_from_partner_funds(session, store, make_team_member):
    admin = make_team_member(store, "admin")
    campaign = new_campaign(
        session,
        store,
        budget="300",
        per_consumer="25",
        categories=["health & beauty"],
        by=admin,
        ends_at=utcnow() + timedelta(days=30),
        priority=2,
    )
    assert campaign.status == "active" and campaign.category_list == ["Health & Beauty"]  # the catalog's spelling
    assert campaign.created_by_id == admin.id and campaign.created_by.startswith(f"team:{admin.id}")
    assert partner_funds(session, store) == 700_00
    budget = session.get(Account, campaign.budget_account_id)
    assert budget.kind == "campaign_budget" and budget.key == f"partner:{store.id}:campaign_budget:{campaign.id}:USD"
    summary = campaigns.campaign_summary(session, campaign)
    assert (summary.budget, summary.remaining, summary.allocated, summary.members) == (USD(300_00), USD(300_00), USD(0), 0)
    funding = session.exec(select(Transaction).where(Transaction.campaign_id == campaign.id)).one()
    assert (funding.type, funding.memo, funding.amount) == ("credit", "Campaign budget: Wellness", 300_00)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.create")).one()
    assert event.team_member_id == admin.id and event.subject_id == str(campaign.id)
    assert_money_conserved(session, store)


def test_a_campaign_partner_funds_cannot_pay_for_is_refused_and_nothing_moves(session, store):
    with pytest.raises(PartnerFundsTooLow):
        new_campaign(session, store, budget="1000.01")
    session.rollback()
    assert session.exec(select(Campaign)).all() == []
    assert partner_funds(session, store) == 1000_00
    assert_money_conserved(session, store)


def test_a_campaign_starting_later_is_scheduled_and_bad_settings_are_refused(session, store):
    later = new_campaign(session, store, starts_at=utcnow() + timedelta(days=1))
    assert later.status == "scheduled"
    for settings in (
        {"brand_slugs": ["no-such-brand"]},
        {"categories": ["Spaceships"]},
        {"per_consumer": "0"},
        {"ends_at": utcnow() - timedelta(minutes=1)},
        {"priority": -1},
        {"name": " "},
        {"key": "short"},
    ):
        with pytest.raises(InvalidInput):
            new_campaign(session, store, **settings)
    assert len(session.exec(select(Campaign)).all()) == 1
    assert_money_conserved(session, store)


def test_creating_twice_with_one_key_makes_one_campaign_and_moves_the_budget_once(session, store):
    first = new_campaign(session, store, budget="200", key="create-wellness-1")
    again = campaigns.create_campaign(
        session,
        partner=store,
        name="Wellness",
        currency="USD",
        budget=USD(200_00),
        per_consumer_amount=USD(20_00),
        idempotency_key="create-wellness-1",
    )
    assert again.replayed and again.campaign.id == first.id
    assert partner_funds(session, store) == 800_00
    with pytest.raises(InvalidInput, match="already used"):
        new_campaign(session, store, budget="300", key="create-wellness-1")
    assert_money_conserved(session, store)


# --- the budget ----------------------------------------------------------------------------


def test_the_budget_grows_from_partner_funds_and_shrinks_only_by_what_is_unallocated(session, store):
    campaign = new_campaign(session, store, budget="100", per_consumer="30")
    campaigns.add_members(session, campaign=campaign, consumer_ids=people(session, store, 2))  # 60 allocated, 40 left
    up = campaigns.change_budget(session, campaign=campaign, amount=USD(50_00), idempotency_key="budget-up-1")
    assert up.remaining == USD(90_00) and not up.replayed
    with pytest.raises(InsufficientFunds, match="unallocated"):
        campaigns.change_budget(session, campaign=campaign, amount=USD(-90_01), idempotency_key="budget-down-1")
    with pytest.raises(PartnerFundsTooLow):
        campaigns.change_budget(session, campaign=campaign, amount=USD(850_01), idempotency_key="budget-up-2")
    down = campaigns.change_budget(session, campaign=campaign, amount=USD(-90_00), idempotency_key="budget-down-2")
    assert down.remaining == USD(0)
    assert partner_funds(session, store) == 1000_00 - 60_00
    summary = campaigns.campaign_summary(session, campaign)
    assert (summary.budget, summary.returned, summary.allocated, summary.remaining) == (
        USD(150_00),
        USD(90_00),
        USD(60_00),
        USD(0),
    )
    history = campaigns.budget_history(session, campaign=campaign)
    assert [line.amount for line in history.rows] == [USD(-90_00), USD(50_00), USD(100_00)]
    assert campaigns.budget_history(session, campaign=campaign, include_allocations=True).total == 5
    assert_money_conserved(session, store)


def test_a_budget_change_repeated_with_its_key_moves_money_once(session, store):
    campaign = new_campaign(session, store, budget="100")
    first = campaigns.change_budget(session, campaign=campaign, amount=USD(-40_00), idempotency_key="return-some-1")
    again = campaigns.change_budget(session, campaign=campaign, amount=USD(-40_00), idempotency_key="return-some-1")
    assert again.replayed and again.transaction.id == first.transaction.id and again.remaining == USD(60_00)
    with pytest.raises(InvalidInput, match="already used"):
        campaigns.change_budget(session, campaign=campaign, amount=USD(40_00), idempotency_key="return-some-1")
    assert partner_funds(session, store) == 940_00
    assert_money_conserved(session, store)


def test_concurrent_budget_changes_with_one_key_move_money_once(app, session, store):
    campaign_id = new_campaign(session, store, budget="100").id
    session.rollback()

    def change(_):
        with app.app_context():
            own = db_session()
            return campaigns.change_budget(
                own, campaign=own.get(Campaign, campaign_id), amount=USD(10_00), idempotency_key="top-up-once"
            ).transaction.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert len(set(pool.map(change, range(8)))) == 1
    assert partner_funds(session, store) == 890_00
    assert_money_conserved(session, store)


# --- members -------------------------------------------------------------------------------


def test_adding_members_allocates_once_each_and_reports_every_consumer(
    session, store, make_partner, make_consumer, make_team_member
):
    operator = make_team_member(store, "operator")
    campaign = new_campaign(session, store, budget="50", per_consumer="20")
    first, second, third = people(session, store, 3)
    (inactive,) = people(session, store, 1, active=False)
    outsider = make_consumer(make_partner(funds="100"), funds="10")
    results = campaigns.add_members(
        session, campaign=campaign, by=operator, consumer_ids=[first, first, outsider.id, 999_999, inactive, second, third]
    )
    assert [(r.consumer_id, r.outcome) for r in results] == [
        (first, MemberOutcome.ALLOCATED),
        (outsider.id, MemberOutcome.NOT_FOUND),
        (999_999, MemberOutcome.NOT_FOUND),
        (inactive, MemberOutcome.INACTIVE),
        (second, MemberOutcome.ALLOCATED),
        (third, MemberOutcome.INSUFFICIENT_BUDGET),
    ]
    again = campaigns.add_members(session, campaign=campaign, consumer_ids=[first])
    assert again[0].outcome is MemberOutcome.ALREADY_MEMBER
    wallet = ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=store.id, consumer_id=first, campaign_id=campaign.id
    )
    assert wallet.key == f"consumer:{first}:campaign:{campaign.id}:USD" and balance_of(session, wallet.id) == 20_00
    assert session.exec(select(Account).where(Account.consumer_id == outsider.id, Account.kind == "campaign")).all() == []
    summary = campaigns.campaign_summary(session, campaign)
    assert (summary.allocated, summary.remaining, summary.members) == (USD(40_00), USD(10_00), 2)
    allowance = session.exec(
        select(Transaction).where(Transaction.consumer_id == first, Transaction.campaign_id == campaign.id)
    ).one()
    assert (allowance.type, allowance.memo) == ("credit", "Wellness allowance")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.add_members")).all()
    assert len(event) == 2 and event[0].team_member_id == operator.id
    page = campaigns.members_page(session, campaign=campaign, search="member 1")
    assert [row.balance for row in page.rows] == [USD(20_00)] and page.total == 1
    assert_money_conserved(session, store)


def test_32_concurrent_allocations_against_a_budget_for_5_allocate_exactly_5(app, session, store):
    campaign_id = new_campaign(session, store, budget="100", per_consumer="20").id
    ids = people(session, store, 32)
    session.rollback()

    def add(consumer_id):
        with app.app_context():
            own = db_session()
            return campaigns.add_members(own, campaign=own.get(Campaign, campaign_id), consumer_ids=[consumer_id])[0].outcome

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(add, ids))
    assert outcomes.count(MemberOutcome.ALLOCATED) == 5
    assert outcomes.count(MemberOutcome.INSUFFICIENT_BUDGET) == 27
    summary = campaigns.campaign_summary(session, session.get(Campaign, campaign_id))
    assert (summary.members, summary.allocated, summary.remaining) == (5, USD(100_00), USD(0))
    assert_money_conserved(session, store)


def test_32_concurrent_adds_of_one_consumer_allocate_once(app, session, store):
    campaign_id = new_campaign(session, store, budget="100", per_consumer="20").id
    (consumer_id,) = people(session, store, 1)
    session.rollback()

    def add(_):
        with app.app_context():
            own = db_session()
            return campaigns.add_members(own, campaign=own.get(Campaign, campaign_id), consumer_ids=[consumer_id])[0].outcome

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(add, range(32)))
    assert outcomes.count(MemberOutcome.ALLOCATED) == 1 and outcomes.count(MemberOutcome.ALREADY_MEMBER) == 31
    session.rollback()
    assert session.exec(select(func.count(CampaignMember.id))).one() == 1
    assert campaigns.campaign_summary(session, session.get(Campaign, campaign_id)).remaining == USD(80_00)
    assert_money_conserved(session, store)


def test_removing_a_member_returns_their_unused_balance_to_the_budget(session, store, make_team_member):
    operator = make_team_member(store, "operator")
    campaign = new_campaign(session, store, budget="100", per_consumer="30")
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    spend(session, campaign, member, 12_50)
    removed = campaigns.remove_member(session, campaign=campaign, consumer_id=member, by=operator)
    assert removed.returned == USD(17_50) and removed.member.removed_at is not None
    summary = campaigns.campaign_summary(session, campaign)
    assert (summary.remaining, summary.spent, summary.unused, summary.members) == (USD(87_50), USD(12_50), USD(0), 0)
    assert campaigns.checkout_balances(session, consumer_id=member, currency="USD") == []  # a removed member's wallet never pays
    with pytest.raises(NotFound):
        campaigns.remove_member(session, campaign=campaign, consumer_id=member)
    # Added again: a fresh allocation.
    assert campaigns.add_members(session, campaign=campaign, consumer_ids=[member])[0].outcome is MemberOutcome.ALLOCATED
    assert campaigns.campaign_summary(session, campaign).unused == USD(30_00)
    assert "campaign.remove_member" in audit_actions(session, store)
    assert_money_conserved(session, store)


# --- pause, resume, end --------------------------------------------------------------------


def test_pause_and_resume_switch_spending_off_and_on(brands, session, store, make_team_member):
    admin = make_team_member(store, "admin")
    campaign = new_campaign(session, store, budget="100", per_consumer="20")
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    paused = campaigns.pause(session, campaign=campaign, by=admin)
    assert paused.status == "paused"
    balances = campaigns.checkout_balances(session, consumer_id=member, currency="USD")
    with pytest.raises(InsufficientFunds):
        split_price(USD(10_00), balances, utcnow(), brands.spa)
    with pytest.raises(CampaignChangeRefused):
        campaigns.pause(session, campaign=campaign)
    assert campaigns.resume(session, campaign=campaign, by=admin).status == "active"
    balances = campaigns.checkout_balances(session, consumer_id=member, currency="USD")
    [(paid_by, part)] = split_price(USD(10_00), balances, utcnow(), brands.spa)
    assert paid_by.label == "Wellness balance" and part == USD(10_00)
    assert audit_actions(session, store)[-2:] == ["campaign.pause", "campaign.resume"]


def test_ending_returns_every_unused_balance_to_the_budget_and_is_final(session, store, make_team_member):
    admin = make_team_member(store, "admin")
    campaign = new_campaign(session, store, budget="100", per_consumer="20")
    first, second = people(session, store, 2)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[first, second])
    spend(session, campaign, first, 15_00)
    ended = campaigns.end(session, campaign=campaign, by=admin)
    assert ended.campaign.status == "ended" and ended.campaign.ended_at is not None
    assert (ended.returned_to_budget, ended.returned_to_partner) == (USD(25_00), USD(0))
    summary = campaigns.campaign_summary(session, ended.campaign)
    assert (summary.remaining, summary.unused, summary.spent, summary.members) == (USD(85_00), USD(0), USD(15_00), 2)
    for refused in (
        lambda: campaigns.end(session, campaign=campaign),
        lambda: campaigns.resume(session, campaign=campaign),
        lambda: campaigns.add_members(session, campaign=campaign, consumer_ids=[first]),
        lambda: campaigns.update_campaign(session, campaign=campaign, name="Again"),
        lambda: campaigns.change_budget(session, campaign=campaign, amount=USD(1_00), idempotency_key="after-the-end"),
    ):
        with pytest.raises(CampaignChangeRefused):
            refused()
    assert campaigns.consumer_campaign_balances(session, consumer=session.get(Consumer, first)) == []
    # What is left can still go back to partner funds, by hand.
    assert campaigns.return_unused(session, campaign=campaign, by=admin) == USD(85_00)
    assert partner_funds(session, store) == 1000_00 - 15_00
    assert audit_actions(session, store)[-2:] == ["campaign.end", "campaign.return_unused"]
    assert_money_conserved(session, store)


def test_a_campaign_that_returns_its_budget_at_the_end_gives_it_back_to_partner_funds(session, store):
    campaign = new_campaign(session, store, budget="100", per_consumer="20", return_unused_on_end=True)
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    spend(session, campaign, member, 5_00)
    ended = campaigns.end(session, campaign=campaign)
    assert (ended.returned_to_budget, ended.returned_to_partner) == (USD(15_00), USD(95_00))
    assert partner_funds(session, store) == 995_00
    summary = campaigns.campaign_summary(session, ended.campaign)
    assert (summary.budget, summary.returned, summary.spent, summary.remaining) == (USD(100_00), USD(95_00), USD(5_00), USD(0))
    assert_money_conserved(session, store)


def test_a_refund_into_an_ended_campaign_goes_back_to_the_budget_and_then_the_partner(session, store):
    kept = new_campaign(session, store, name="Kept", budget="100", per_consumer="20")
    returned = new_campaign(session, store, name="Returned", budget="100", per_consumer="20", return_unused_on_end=True)
    (member,) = people(session, store, 1)
    for campaign in (kept, returned):
        campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    debits = [spend(session, campaign, member, 8_00) for campaign in (kept, returned)]
    for campaign in (kept, returned):
        campaigns.end(session, campaign=campaign)
    funds_after_end = partner_funds(session, store)
    assert [refund(session, debit) for debit in debits] == [[8_00], [8_00]]
    kept_summary, returned_summary = (campaigns.campaign_summary(session, c) for c in (kept, returned))
    assert (kept_summary.remaining, kept_summary.spent, kept_summary.unused) == (USD(100_00), USD(0), USD(0))
    assert (returned_summary.remaining, returned_summary.spent, returned_summary.returned) == (USD(0), USD(0), USD(100_00))
    assert partner_funds(session, store) == funds_after_end + 8_00
    assert_money_conserved(session, store)


def test_a_refund_into_a_live_campaign_stays_in_the_members_wallet(session, store):
    campaign = new_campaign(session, store, budget="100", per_consumer="20")
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    assert refund(session, spend(session, campaign, member, 8_00)) == [0]
    assert campaigns.campaign_summary(session, campaign).unused == USD(20_00)
    assert_money_conserved(session, store)


def test_the_sweep_starts_campaigns_on_their_start_date_and_ends_them_on_their_end_date(session, store):
    now = utcnow()
    starting = new_campaign(session, store, name="Starting", starts_at=now + timedelta(hours=1), ends_at=now + timedelta(days=2))
    ending = new_campaign(
        session, store, name="Ending", per_consumer="10", ends_at=now + timedelta(days=1), return_unused_on_end=True
    )
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=ending, consumer_ids=[member])
    assert campaigns.sweep(session, now=now) == ([], [])
    assert campaigns.sweep(session, now=now + timedelta(hours=2)) == ([starting.id], [])
    assert campaigns.sweep(session, now=now + timedelta(days=1)) == ([], [ending.id])
    session.rollback()
    assert [session.get(Campaign, c.id, populate_existing=True).status for c in (starting, ending)] == ["active", "ended"]
    assert partner_funds(session, store) == 1000_00 - 100_00  # the ended one's 100 came back, member's 10 included
    assert campaigns.end_due(session, now=now + timedelta(days=3)) == [starting.id]
    assert audit_actions(session, store).count("campaign.end") == 2
    assert_money_conserved(session, store)


# --- rules, reading ------------------------------------------------------------------------


def test_updating_a_campaign_changes_its_rules_from_now_on_and_is_audited(brands, session, store, make_team_member):
    admin = make_team_member(store, "admin")
    campaign = new_campaign(session, store, budget="100", per_consumer="20")
    (member,) = people(session, store, 1)
    campaigns.add_members(session, campaign=campaign, consumer_ids=[member])
    until = utcnow() + timedelta(days=10)
    updated = campaigns.update_campaign(
        session,
        campaign=campaign,
        name="Wellness+",
        brand_slugs=[brands.spa.slug],
        priority=3,
        per_consumer_amount=USD(30_00),
        ends_at=until,
        by=admin,
    )
    assert (updated.name, updated.brand_slug_list, updated.priority, updated.per_consumer_amount) == (
        "Wellness+",
        [brands.spa.slug],
        3,
        30_00,
    )
    assert campaigns.campaign_summary(session, updated).unused == USD(20_00)  # the allocation made stays as it was
    [balance] = campaigns.consumer_campaign_balances(session, consumer=session.get(Consumer, member))
    assert (balance.name, balance.balance, balance.can_buy, balance.spendable_until, balance.spendable_now) == (
        "Wellness+",
        USD(20_00),
        "Calm Spa",
        until,
        True,
    )
    balances = campaigns.checkout_balances(session, consumer_id=member, currency="USD")
    assert split_price(USD(5_00), balances, utcnow(), brands.spa)[0][0].label == "Wellness+ balance"
    with pytest.raises(InsufficientFunds):  # the pizza place isn't on the list: the campaign money can't pay
        split_price(USD(5_00), balances, utcnow(), brands.pizza)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "campaign.update")).one()
    assert event.team_member_id == admin.id and "priority" in event.summary
    with pytest.raises(InvalidInput):
        campaigns.update_campaign(session, campaign=campaign, categories=["Spaceships"])
    assert_money_conserved(session, store)


def test_a_campaign_balance_sits_beside_the_consumers_general_and_bonus_balances(brands, session, store, make_consumer):
    consumer = make_consumer(store, funds="50")
    campaign = new_campaign(session, store, budget="100", per_consumer="20", categories=["Health & Beauty"])
    campaigns.add_members(session, campaign=campaign, consumer_ids=[consumer.id])
    balances = campaigns.checkout_balances(session, consumer_id=consumer.id, currency="USD", lock=True)
    assert sorted(b.kind for b in balances) == ["bonus", "campaign", "general"]
    parts = split_price(USD(30_00), balances, utcnow(), brands.spa)
    assert [(b.label, part) for b, part in parts] == [("Wellness balance", USD(20_00)), ("General balance", USD(10_00))]
    assert [(b.label, part) for b, part in split_price(USD(30_00), balances, utcnow(), brands.pizza)] == [
        ("General balance", USD(30_00))
    ]
    assert consumers.wallets(session, consumer)[0].general == USD(50_00)  # the general wallet is untouched by campaigns
    assert_money_conserved(session, store)


def test_another_partners_campaign_is_not_found(session, store, make_partner):
    campaign = new_campaign(session, store)
    other = make_partner(funds="10")
    with pytest.raises(NotFound):
        campaigns.partner_campaign(session, partner=other, campaign_id=campaign.id)
    assert campaigns.partner_campaign(session, partner=store, campaign_id=campaign.id).id == campaign.id
    assert campaigns.list_campaigns(session, partner=other) == []
    assert [s.campaign.id for s in campaigns.list_campaigns(session, partner=store, status="active")] == [campaign.id]
    assert campaigns.list_campaigns(session, partner=store, status=CampaignStatus.ENDED) == []
