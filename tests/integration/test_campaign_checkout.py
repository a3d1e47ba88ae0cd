"""Campaign balances at checkout and in the store: spent first, only on the brands a campaign allows, only while
it is active and inside its window; refunds back to exactly what was charged (and on to the budget when the
campaign has ended); the wallet's breakdown, the tiles' badges and the "what my campaign balances can buy"
filter. After each test the partner's money is all accounted for."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from sqlmodel import func, select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.errors import InsufficientFunds
from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, Campaign, Consumer, Entry, Order, Partner
from app.providers import ProviderError
from app.services import campaigns, catalog, ledger, orders, partners
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, page, statements_run

USD = lambda cents: Money(cents, "USD")  # noqa: E731
FUNDED = 1000_00  # what make_partner(funds="1000") deposits


# --- fixtures and checks --------------------------------------------------------------------


@pytest.fixture
def brands(session, make_brand):
    return SimpleNamespace(
        spa=make_brand("Calm Spa", category="Health & Beauty"),
        salon=make_brand("Glow Salon", category="Health & Beauty"),
        pizza=make_brand("Pizza Place", category="Food & Dining"),
    )


def offer_all(session, partner, brands) -> None:
    for brand in (brands.spa, brands.salon, brands.pizza):
        catalog.make_available(session, partner=partner, brand=brand)


@pytest.fixture
def shop(session, make_partner, make_consumer, brands):
    """A partner with $1,000 of funds offering three brands in two categories, and a consumer with $50 general."""
    partner = make_partner(funds="1000")
    offer_all(session, partner, brands)
    consumer = make_consumer(partner, funds="50", name="Robin Buyer")
    return SimpleNamespace(partner=partner, consumer=consumer, brands=brands)


def new_campaign(session, partner, *, name="Wellness", budget="100", per_consumer="20", **settings):
    return campaigns.create_campaign(
        session,
        partner=partner,
        name=name,
        currency="USD",
        budget=Money.parse(budget, "USD"),
        per_consumer_amount=Money.parse(per_consumer, "USD"),
        idempotency_key=f"create-{name}-{utcnow().timestamp()}".replace(" ", "-"),
        **settings,
    ).campaign


def join(session, campaign, consumer_id: int) -> int:
    """Adds the consumer; their campaign wallet's account id."""
    (result,) = campaigns.add_members(session, campaign=campaign, consumer_ids=[consumer_id])
    assert result.outcome == "allocated"
    return ledger.find_account(
        session, AccountKind.CAMPAIGN, "USD", partner_id=campaign.partner_id, consumer_id=consumer_id, campaign_id=campaign.id
    ).id


def buy(session, shop, brand, amount="25", *, key=None, consumer=None) -> Order:
    buyer = consumer or shop.consumer
    return orders.place_order(
        session,
        consumer=buyer,
        offer=catalog.offer(session, shop.partner, brand.slug),
        face_value=Money.parse(amount, "USD"),
        recipient=orders.recipient_for(buyer, send_to="me"),
        idempotency_key=key or orders.new_idempotency_key(),
    )


def charged(session, order: Order) -> dict[str, int]:
    """What the order's debit took, by balance: {"general": 500, "campaign:<id>": 2000, ...} (positive cents)."""
    session.rollback()
    order = session.get(Order, order.id, populate_existing=True)
    rows = session.exec(
        select(Account.kind, Account.campaign_id, Entry.amount)
        .join(Entry, Entry.account_id == Account.id)
        .where(Entry.transaction_id == order.debit_transaction_id, Entry.amount < 0)
    ).all()
    return {(f"campaign:{campaign_id}" if kind == "campaign" else kind): -amount for kind, campaign_id, amount in rows}


def balance_of(session, account_id: int) -> int:
    session.rollback()
    return session.exec(select(Account.balance).where(Account.id == account_id)).one()


def general_of(session, consumer) -> int:
    session.rollback()
    return ledger.find_account(
        session, AccountKind.GENERAL, "USD", partner_id=consumer.partner_id, consumer_id=consumer.id
    ).balance


def funds_of(session, partner) -> int:
    session.rollback()
    return partners.partner_funds(session, partner, "USD").amount


def assert_money_conserved(session, partner, funded: int = FUNDED):
    """Partner funds + campaign budgets + campaign wallets + card purchases (+ general and bonus wallets) = what
    the partner was funded with; every campaign's summary adds up; no balance below zero."""
    session.rollback()
    by_kind = dict(
        session.exec(
            select(Account.kind, func.sum(Account.balance)).where(Account.partner_id == partner.id).group_by(Account.kind)
        ).all()
    )
    assert -by_kind.pop(AccountKind.PARTNER_DEPOSITS.value, 0) == funded
    assert sum(by_kind.values()) == funded, by_kind
    assert ledger.ledger_problems(session) == []
    for summary in campaigns.list_campaigns(session, partner=partner):
        assert summary.budget == summary.returned + summary.remaining + summary.unused + summary.spent
        assert min(summary.remaining.amount, summary.unused.amount, summary.spent.amount) >= 0


class Down:
    """A provider that never answers: orders stay pending (until failed by hand)."""

    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


# --- which balances pay ---------------------------------------------------------------------


def test_a_campaign_balance_pays_first_only_for_a_brand_in_its_category(session, shop):
    wellness = new_campaign(session, shop.partner, categories=["Health & Beauty"])
    wallet = join(session, wellness, shop.consumer.id)

    spa = buy(session, shop, shop.brands.spa, "25")
    assert charged(session, spa) == {f"campaign:{wellness.id}": 20_00, "general": 5_00}
    assert balance_of(session, wallet) == 0

    pizza = buy(session, shop, shop.brands.pizza, "10")  # another category: never the campaign's money
    assert charged(session, pizza) == {"general": 10_00}
    assert general_of(session, shop.consumer) == 35_00
    assert_money_conserved(session, shop.partner)


def test_a_campaign_listing_brands_pays_for_those_brands_and_no_other(session, shop):
    pizza_only = new_campaign(session, shop.partner, name="Pizza Friday", brand_slugs=[shop.brands.pizza.slug])
    wallet = join(session, pizza_only, shop.consumer.id)

    assert charged(session, buy(session, shop, shop.brands.spa, "10")) == {"general": 10_00}
    assert charged(session, buy(session, shop, shop.brands.salon, "10")) == {"general": 10_00}
    assert balance_of(session, wallet) == 20_00
    assert charged(session, buy(session, shop, shop.brands.pizza, "10")) == {f"campaign:{pizza_only.id}": 10_00}
    assert balance_of(session, wallet) == 10_00
    assert_money_conserved(session, shop.partner)


def test_several_campaigns_pay_by_priority_then_the_one_ending_soonest_then_general(session, shop):
    now = utcnow()
    later = new_campaign(session, shop.partner, name="Later", per_consumer="10", ends_at=now + timedelta(days=30))
    sooner = new_campaign(session, shop.partner, name="Sooner", per_consumer="10", ends_at=now + timedelta(days=3))
    first = new_campaign(session, shop.partner, name="First", per_consumer="10", priority=5)
    other_brand = new_campaign(
        session, shop.partner, name="Pizza", per_consumer="10", priority=9, brand_slugs=[shop.brands.pizza.slug]
    )
    for campaign in (later, sooner, first, other_brand):
        join(session, campaign, shop.consumer.id)

    preview = orders.preview(
        session, consumer=shop.consumer, offer=catalog.offer(session, shop.partner, shop.brands.spa.slug), face_value=USD(50_00)
    )
    assert [(line.label, line.amount) for line in preview.charges] == [
        ("First balance", USD(10_00)),
        ("Sooner balance", USD(10_00)),
        ("Later balance", USD(10_00)),
        ("General balance", USD(20_00)),
    ]
    order = buy(session, shop, shop.brands.spa, "50")
    assert charged(session, order) == {
        f"campaign:{first.id}": 10_00,
        f"campaign:{sooner.id}": 10_00,
        f"campaign:{later.id}": 10_00,
        "general": 20_00,
    }
    assert_money_conserved(session, shop.partner)


def test_paused_ended_not_started_and_removed_members_balances_are_never_used(session, shop, make_consumer):
    paused = new_campaign(session, shop.partner, name="Paused")
    ended = new_campaign(session, shop.partner, name="Ended", ends_at=utcnow() + timedelta(days=1))
    scheduled = new_campaign(session, shop.partner, name="Later", starts_at=utcnow() + timedelta(days=2))
    removed = new_campaign(session, shop.partner, name="Removed")
    wallets = {c.name: join(session, c, shop.consumer.id) for c in (paused, ended, scheduled, removed)}
    campaigns.pause(session, campaign=paused)
    campaigns.remove_member(session, campaign=removed, consumer_id=shop.consumer.id)
    # Past its end date but not swept yet: still "active", outside its window.
    with write_transaction(session):
        session.execute(update(Campaign).where(Campaign.id == ended.id).values(ends_at=utcnow() - timedelta(seconds=1)))
    assert scheduled.status == "scheduled"

    offer = catalog.offer(session, shop.partner, shop.brands.spa.slug)
    preview = orders.preview(session, consumer=shop.consumer, offer=offer, face_value=USD(25_00))
    assert [line.label for line in preview.charges] == ["General balance"]
    assert charged(session, buy(session, shop, shop.brands.spa, "25")) == {"general": 25_00}
    assert {name: balance_of(session, account) for name, account in wallets.items()} == {
        "Paused": 20_00,
        "Ended": 20_00,
        "Later": 20_00,
        "Removed": 0,
    }
    # Only campaign money left (all of it unusable): refused, nothing charged.
    with pytest.raises(InsufficientFunds):
        buy(session, shop, shop.brands.spa, "50")
    assert general_of(session, shop.consumer) == 25_00

    # Resumed: spendable again, first.
    campaigns.resume(session, campaign=paused)
    assert charged(session, buy(session, shop, shop.brands.spa, "25")) == {f"campaign:{paused.id}": 20_00, "general": 5_00}
    assert_money_conserved(session, shop.partner)


def test_32_concurrent_checkouts_spending_one_campaign_balance_never_overdraw_it(
    app, session, make_partner, make_consumer, brands
):
    partner = make_partner(funds="1000")
    offer_all(session, partner, brands)
    consumer = make_consumer(partner, funds="0")
    wellness = new_campaign(session, partner, budget="100", per_consumer="50", categories=["Health & Beauty"])
    wallet = join(session, wellness, consumer.id)  # $50: exactly five $10 cards
    consumer_id, partner_id, slug = consumer.id, partner.id, brands.spa.slug
    session.rollback()

    def checkout(n):
        with app.app_context():
            own = db_session()
            buyer = own.get(Consumer, consumer_id)
            offer = catalog.offer(own, own.get(Partner, partner_id), slug)
            try:
                orders.place_order(
                    own,
                    consumer=buyer,
                    offer=offer,
                    face_value=USD(10_00),
                    recipient=orders.recipient_for(buyer, send_to="me"),
                    idempotency_key=f"campaign-race-{n:04d}",
                )
                return True
            except InsufficientFunds:
                return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(checkout, range(32)))
    assert results.count(True) == 5
    assert balance_of(session, wallet) == 0
    session.rollback()
    assert session.exec(select(func.count(Order.id))).one() == 5
    assert campaigns.campaign_summary(session, session.get(Campaign, wellness.id)).spent == USD(50_00)
    assert_money_conserved(session, partner)


def test_a_pause_waits_for_a_checkout_in_flight_and_checkouts_after_it_leave_the_balance_alone(app, session, shop, monkeypatch):
    wellness = new_campaign(session, shop.partner)
    wallet = join(session, wellness, shop.consumer.id)
    consumer_id, partner_id, slug, campaign_id = shop.consumer.id, shop.partner.id, shop.brands.spa.slug, wellness.id
    session.rollback()
    inside, go = threading.Event(), threading.Event()
    real_split = orders._split

    def held_split(*args, **kwargs):  # the checkout holds its locks here until the test lets it go on
        if threading.current_thread().name == "first-checkout":
            inside.set()
            assert go.wait(10)
        return real_split(*args, **kwargs)

    monkeypatch.setattr(orders, "_split", held_split)

    def checkout():
        with app.app_context():
            own = db_session()
            buyer = own.get(Consumer, consumer_id)
            offer = catalog.offer(own, own.get(Partner, partner_id), slug)
            return orders.place_order(
                own,
                consumer=buyer,
                offer=offer,
                face_value=USD(10_00),
                recipient=orders.recipient_for(buyer, send_to="me"),
                idempotency_key=orders.new_idempotency_key(),
            )

    def pause():
        with app.app_context():
            own = db_session()
            return campaigns.pause(own, campaign=own.get(Campaign, campaign_id)).status

    results = {}
    first = threading.Thread(target=lambda: results.setdefault("order", checkout()), name="first-checkout")
    first.start()
    assert inside.wait(10)
    pausing = threading.Thread(target=lambda: results.setdefault("pause", pause()))
    pausing.start()
    pausing.join(0.5)
    assert pausing.is_alive()  # the pause waits for the checkout that read the campaign as active
    go.set()
    first.join(10)
    pausing.join(10)
    assert results["pause"] == "paused"
    assert charged(session, results["order"]) == {f"campaign:{campaign_id}": 10_00}  # committed before the pause

    after = buy(session, shop, shop.brands.spa, "10")  # after the pause: the campaign's money stays where it is
    assert charged(session, after) == {"general": 10_00}
    assert balance_of(session, wallet) == 10_00
    assert_money_conserved(session, shop.partner)


def test_pauses_racing_many_checkouts_never_overdraw_and_leave_the_books_whole(app, session, make_partner, make_consumer, brands):
    partner = make_partner(funds="1000")
    offer_all(session, partner, brands)
    consumer = make_consumer(partner, funds="200")
    wellness = new_campaign(session, partner, budget="100", per_consumer="60")
    wallet = join(session, wellness, consumer.id)
    consumer_id, partner_id, slug, campaign_id = consumer.id, partner.id, brands.spa.slug, wellness.id
    session.rollback()
    start = threading.Barrier(13)

    def checkout(n):
        with app.app_context():
            own = db_session()
            buyer = own.get(Consumer, consumer_id)
            offer = catalog.offer(own, own.get(Partner, partner_id), slug)
            own.rollback()  # no connection held while waiting for the others (the pool has 15)
            start.wait()
            return orders.place_order(
                own,
                consumer=buyer,
                offer=offer,
                face_value=USD(10_00),
                recipient=orders.recipient_for(buyer, send_to="me"),
                idempotency_key=f"pause-race-{n:04d}",
            ).id

    def pause(_):
        with app.app_context():
            own = db_session()
            campaign = own.get(Campaign, campaign_id)
            own.rollback()
            start.wait()
            return campaigns.pause(own, campaign=campaign).status

    with ThreadPoolExecutor(max_workers=13) as pool:
        futures = [pool.submit(checkout, n) for n in range(12)] + [pool.submit(pause, None)]
        order_ids = [f.result() for f in futures[:12]]
        assert futures[12].result() == "paused"
    session.rollback()
    spent_from_campaign = sum(charged(session, session.get(Order, i)).get(f"campaign:{campaign_id}", 0) for i in order_ids)
    assert spent_from_campaign + balance_of(session, wallet) == 60_00
    assert sum(sum(charged(session, session.get(Order, i)).values()) for i in order_ids) == 120_00
    # Once paused, nothing more comes out of it.
    assert charged(
        session,
        buy(
            session,
            SimpleNamespace(partner=partner, consumer=session.get(Consumer, consumer_id), brands=brands),
            brands.spa,
            "10",
        ),
    ) == {"general": 10_00}
    assert_money_conserved(session, partner)


# --- refunds --------------------------------------------------------------------------------


@pytest.mark.parametrize("return_unused_on_end", [False, True])
def test_a_failed_orders_refund_into_an_ended_campaign_goes_back_to_the_budget_and_the_partner(
    app, session, shop, return_unused_on_end
):
    wellness = new_campaign(session, shop.partner, budget="100", per_consumer="20", return_unused_on_end=return_unused_on_end)
    wallet = join(session, wellness, shop.consumer.id)
    app.extensions["provider"] = Down()
    order = buy(session, shop, shop.brands.spa, "25")
    assert charged(session, order) == {f"campaign:{wellness.id}": 20_00, "general": 5_00}
    ended = campaigns.end(session, campaign=session.get(Campaign, wellness.id))
    assert ended.returned_to_budget == USD(0)  # it was all in the pending order
    funds_at_end = funds_of(session, shop.partner)
    assert funds_at_end == (1000_00 - 50_00 - 20_00 if return_unused_on_end else 1000_00 - 100_00 - 50_00)

    assert orders.fail(session, order.id, reason="declined") is True
    assert balance_of(session, wallet) == 0  # an ended campaign's balance can't be spent: it went on
    assert general_of(session, shop.consumer) == 50_00  # the general part came back where it was taken from
    summary = campaigns.campaign_summary(session, session.get(Campaign, wellness.id))
    assert summary.spent == USD(0)
    if return_unused_on_end:
        assert summary.remaining == USD(0) and funds_of(session, shop.partner) == funds_at_end + 20_00
    else:
        assert summary.remaining == USD(100_00) and funds_of(session, shop.partner) == funds_at_end
    assert orders.fail(session, order.id, reason="again") is False  # refunded once
    assert_money_conserved(session, shop.partner)


def test_a_failed_orders_refund_into_a_live_campaign_stays_in_the_campaign_balance(app, session, shop):
    wellness = new_campaign(session, shop.partner)
    wallet = join(session, wellness, shop.consumer.id)
    app.extensions["provider"] = Down()
    order = buy(session, shop, shop.brands.spa, "10")
    assert balance_of(session, wallet) == 10_00
    orders.fail(session, order.id, reason="declined")
    assert balance_of(session, wallet) == 20_00 and general_of(session, shop.consumer) == 50_00
    assert_money_conserved(session, shop.partner)


def test_a_partner_api_order_spends_the_campaign_balance_too(session, shop):
    wellness = new_campaign(session, shop.partner, categories=["Health & Beauty"])
    wallet = join(session, wellness, shop.consumer.id)
    recipient = orders.recipient_for(shop.consumer, send_to="me")
    order = orders.place_partner_order(
        session,
        partner=shop.partner,
        consumer=shop.consumer,
        brand_slug=shop.brands.salon.slug,
        face_value=USD(25_00),
        recipient=recipient,
        external_ref="PO-CAMPAIGN-1",
        actor="api:test",
    )
    assert charged(session, order) == {f"campaign:{wellness.id}": 20_00, "general": 5_00}
    assert balance_of(session, wallet) == 0
    with pytest.raises(InsufficientFunds):  # $45 left is general only: the rest is refused, nothing charged
        orders.place_partner_order(
            session,
            partner=shop.partner,
            consumer=shop.consumer,
            brand_slug=shop.brands.pizza.slug,
            face_value=USD(50_00),
            recipient=recipient,
            external_ref="PO-CAMPAIGN-2",
            actor="api:test",
        )
    assert_money_conserved(session, shop.partner)


def test_the_minutely_sweep_task_starts_and_ends_campaigns(session, shop):
    from app import tasks

    wellness = new_campaign(session, shop.partner, ends_at=utcnow() + timedelta(days=1))
    wallet = join(session, wellness, shop.consumer.id)
    with write_transaction(session):
        session.execute(update(Campaign).where(Campaign.id == wellness.id).values(ends_at=utcnow() - timedelta(seconds=1)))
    activated, ended = tasks.sweep_campaigns()
    assert (activated, ended) == ([], [wellness.id])
    assert balance_of(session, wallet) == 0
    assert_money_conserved(session, shop.partner)


# --- the store ------------------------------------------------------------------------------


@pytest.fixture
def member(session, store, signed_in, brands):
    """The signed-in consumer ($100 general) in a Health & Beauty campaign with $20, ending in a month."""
    offer_all(session, store.partner, brands)
    wellness = new_campaign(session, store.partner, categories=["Health & Beauty"], ends_at=utcnow() + timedelta(days=30))
    join(session, wellness, signed_in.id)
    return SimpleNamespace(campaign=wellness, consumer=signed_in)


def test_the_review_names_each_campaign_and_what_it_pays(session, store, member, brands):
    response = store.post(
        f"/brands/{brands.spa.slug}/checkout/review",
        {"amount": "25.00", "send_to": "me", "sender_name": "Casey", "message": "", "idempotency_key": "review-key-0001"},
    )
    text = page(response)
    assert response.status_code == 200
    assert "$20.00 from your Wellness balance" in text and "$5.00 from your general balance" in text
    text = page(
        store.post(
            f"/brands/{brands.pizza.slug}/checkout/review",
            {"amount": "25.00", "send_to": "me", "sender_name": "Casey", "message": "", "idempotency_key": "review-key-0002"},
        )
    )
    assert "$25.00 from your general balance" in text and "Wellness" not in text.split("<main", 1)[1].split("</main>")[0]
    assert_money_conserved(session, store.partner)


def test_the_wallet_counts_spendable_campaign_balances_and_breaks_them_down(session, store, member):
    text = page(store.get("/wallet", headers={"HX-Request": "true"}))
    assert "$120.00" in text  # $100 general + $20 Wellness
    assert "Wellness balance" in text and "Health & Beauty brands" in text
    ends = member.campaign.ends_at
    assert f"until {ends.day} {ends.strftime('%b %Y')}" in text
    home = page(store.get("/"))
    assert "Wellness balance" in home and "$120.00" in home

    campaigns.pause(session, campaign=member.campaign)  # paused: listed, but not in what can be spent now
    text = page(store.get("/wallet", headers={"HX-Request": "true"}))
    assert "$100.00" in text and "paused for now" in text and "$120.00" not in text
    assert_money_conserved(session, store.partner)


def test_a_campaign_balance_costs_the_store_one_query_at_most(app, session, store, member):
    with statements_run(app) as seen:
        store.get("/wallet", headers={"HX-Request": "true"})
    with_campaign = len(seen)
    campaigns.remove_member(session, campaign=member.campaign, consumer_id=member.consumer.id)  # no campaign money left
    _ = store.partner.slug  # the test's own session reloads its copy of the partner here, not inside the request
    with statements_run(app) as seen:
        store.get("/wallet", headers={"HX-Request": "true"})
    assert with_campaign == len(seen) + 1 == 2
    assert_money_conserved(session, store.partner)


def test_tiles_and_the_brand_page_say_which_campaign_balance_applies_and_the_filter_shows_what_it_can_buy(
    app, session, store, member, brands, make_consumer, mailbox
):
    def tiles(text):
        return {
            chunk.split('tile-name">', 1)[1].split("<", 1)[0]: "Wellness balance applies" in chunk
            for chunk in text.split('class="tile"')[1:]
        }

    home = page(store.get("/"))
    assert tiles(home) == {"Calm Spa": True, "Glow Salon": True, "Pizza Place": False}
    assert 'name="campaign"' in home and "What my campaign balances can buy" in home

    for query in ("?campaign=any", f"?campaign={member.campaign.id}"):
        narrowed = page(store.get("/" + query))  # a plain GET: works without JavaScript
        assert tiles(narrowed) == {"Calm Spa": True, "Glow Salon": True}, query
        assert "2 gift cards your campaign balances can buy" in narrowed
    assert tiles(page(store.get("/?campaign=999999"))) == {}  # not one of theirs: nothing
    partial = page(store.get("/?campaign=any&q=spa", headers={"HX-Request": "true"}))
    assert tiles(partial) == {"Calm Spa": True}

    assert "Wellness balance applies" in page(store.get(f"/brands/{brands.spa.slug}"))
    assert "Wellness balance applies" not in page(store.get(f"/brands/{brands.pizza.slug}"))

    # The catalog is cached per store: another consumer of the store, in no campaign, sees no badge.
    other = make_consumer(store.partner, funds="10")
    browser = StoreBrowser(app.test_client(), store.partner)
    browser.login(other.email, temporary_password_in(mailbox.last_to(other.email)))
    browser.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"})
    browser.post("/terms", {"accept": "yes", "version": "1"})
    assert tiles(page(browser.get("/"))) == {"Calm Spa": False, "Glow Salon": False, "Pizza Place": False}
    assert 'name="campaign"' not in page(browser.get("/"))

    # Paused: the badge goes (a new cache entry), and the filter finds nothing.
    campaigns.pause(session, campaign=member.campaign)
    assert tiles(page(store.get("/"))) == {"Calm Spa": False, "Glow Salon": False, "Pizza Place": False}
    assert_money_conserved(session, store.partner)
