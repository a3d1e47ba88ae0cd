"""A partner's card purchases are spread over slot accounts (`ledger.CARD_PURCHASE_SLOTS`): a consumer's checkouts
credit their slot's account, so one partner's shoppers do not queue for one row on PostgreSQL. Rebates and refunds
move the account the order's debit credited, and every slot's cached balance stays equal to its entries."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from app.db import db_session
from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, Consumer, Entry, Order, Partner, Transaction
from app.services import campaigns, catalog, ledger, orders

USD = "USD"


@pytest.fixture
def store(session, make_partner, make_brand):
    """A partner selling a brand with a 10 % cash bonus (a rebate out of card purchases when an order completes)."""
    partner = make_partner(funds="1000")
    brand = make_brand(denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(10))
    return partner, brand


def buy(session, partner, brand, consumer, amount: str = "25") -> Order:
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, partner, brand.slug),
        face_value=Money.parse(amount, USD),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    session.rollback()
    return session.get(Order, order.id, populate_existing=True)


def credited_by_debit(session, order: Order) -> Account:
    """The card_purchases account the order's debit credited."""
    return session.exec(
        select(Account)
        .join(Entry, Entry.account_id == Account.id)
        .where(Entry.transaction_id == order.debit_transaction_id, Account.kind == AccountKind.CARD_PURCHASES.value)
    ).one()


def entries_total(session, account: Account) -> int:
    return session.exec(select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account.id)).one()


def moved(session, order: Order, type: str) -> dict[str, int]:
    """The order's `type` transaction as {account key: amount}."""
    rows = session.exec(
        select(Account.key, Entry.amount)
        .join(Entry, Entry.account_id == Account.id)
        .join(Transaction, Transaction.id == Entry.transaction_id)
        .where(Transaction.order_id == order.id, Transaction.type == type)
    ).all()
    return dict(rows)


def test_orders_of_consumers_in_different_slots_credit_different_card_purchases_accounts(session, store, make_consumer):
    partner, brand = store
    first, second = make_consumer(partner), make_consumer(partner)
    assert ledger.card_purchases_slot(first.id) != ledger.card_purchases_slot(second.id)  # consecutive ids

    first_order, second_order = buy(session, partner, brand, first), buy(session, partner, brand, second)
    first_account, second_account = credited_by_debit(session, first_order), credited_by_debit(session, second_order)

    assert first_account.id != second_account.id
    for consumer, account in ((first, first_account), (second, second_account)):
        slot = ledger.card_purchases_slot(consumer.id)
        assert account.key == ledger.account_key(AccountKind.CARD_PURCHASES, USD, partner_id=partner.id, slot=slot)
        assert account.key.endswith(f":card_purchases:slot{slot}:USD" if slot else ":card_purchases:USD")
        assert (account.partner_id, account.consumer_id) == (partner.id, None)
    # Both completed with their 2.50 rebate: the partner's card purchases across its slots.
    assert ledger.card_purchases_total(session, USD, partner_id=partner.id) == Money(2 * (25_00 - 2_50), USD)


def test_slot_0_keeps_the_card_purchases_key_from_before_the_split():
    key = ledger.account_key(AccountKind.CARD_PURCHASES, USD, partner_id=7, slot=0)
    assert key == "partner:7:card_purchases:USD"
    assert ledger.account_key(AccountKind.CARD_PURCHASES, USD, partner_id=7, slot=15) == "partner:7:card_purchases:slot15:USD"
    assert {ledger.card_purchases_slot(consumer_id) for consumer_id in range(100)} == set(range(ledger.CARD_PURCHASE_SLOTS))


def test_a_rebate_and_a_refund_leave_each_slot_equal_to_its_entries_and_never_negative(app, session, store, make_consumer):
    partner, brand = store
    completing, failing = make_consumer(partner), make_consumer(partner)
    completed = buy(session, partner, brand, completing)
    app.extensions["provider"].failure_rate = 1.0
    failed = buy(session, partner, brand, failing)
    assert (completed.status, failed.status) == ("completed", "failed")

    rebated_from, refunded_from = credited_by_debit(session, completed), credited_by_debit(session, failed)
    assert moved(session, completed, "rebate")[rebated_from.key] == -2_50  # out of the account its debit credited
    assert moved(session, failed, "refund")[refunded_from.key] == -25_00
    session.expire_all()
    for account, left in ((rebated_from, 25_00 - 2_50), (refunded_from, 0)):
        account = session.get(Account, account.id)
        assert account.balance == entries_total(session, account) == left
    assert ledger.card_purchases_total(session, USD, partner_id=partner.id) == Money(22_50, USD)
    assert ledger.ledger_problems(session) == []


def test_an_order_charged_before_the_split_gets_its_rebate_from_the_account_its_debit_credited(
    session, store, make_consumer, monkeypatch
):
    """An order still pending when the slots came in: its rebate must come out of the one account it paid into,
    not its consumer's slot now (which may hold less than the rebate)."""
    partner, brand = store
    make_consumer(partner)  # ids from 1: this one's successor is not in slot 0
    consumer = make_consumer(partner)
    assert ledger.card_purchases_slot(consumer.id) != 0
    with monkeypatch.context() as before:
        before.setattr(ledger, "CARD_PURCHASE_SLOTS", 1)  # the single account every checkout credited
        before.setattr(orders, "enqueue_or_leave_for_sweep", lambda *args, **kwargs: None)  # left pending for the sweep
        order = buy(session, partner, brand, consumer)
    assert order.status == "pending"
    single = credited_by_debit(session, order)
    assert single.key == f"partner:{partner.id}:card_purchases:USD"

    assert orders.fulfil(session, order.id) == "completed"
    assert moved(session, order, "rebate") == {single.key: -2_50, f"consumer:{consumer.id}:bonus:USD": 2_50}
    own_slot = ledger.find_account(
        session, AccountKind.CARD_PURCHASES, USD, partner_id=partner.id, slot=ledger.card_purchases_slot(consumer.id)
    )
    assert own_slot is None
    assert ledger.card_purchases_total(session, USD, partner_id=partner.id) == Money(22_50, USD)


def test_a_checkout_does_not_wait_for_another_shoppers_uncommitted_checkout_of_the_same_partner(
    app, session, database_url, store, make_consumer, monkeypatch
):
    """On PostgreSQL a checkout's row locks last until it commits. One shopper's checkout is held open after it moved
    its balances; another shopper of the same partner (another slot) checks out meanwhile, with a lock timeout that
    would fail it if it had to wait for any row the first one holds."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has one writer at a time")
    partner, brand = store
    holding, passing = make_consumer(partner), make_consumer(partner)
    assert ledger.card_purchases_slot(holding.id) != ledger.card_purchases_slot(passing.id)
    buy(session, partner, brand, holding)  # each slot's account exists: opening one is not what is tested
    buy(session, partner, brand, passing)
    partner_id, brand_slug = partner.id, brand.slug
    inside, go = threading.Event(), threading.Event()
    real_on_commit, real_balances = orders.on_commit, campaigns.checkout_balances

    def held_on_commit(*args, **kwargs):  # called after the balances moved, before the commit
        if threading.current_thread().name == "holding":
            inside.set()
            assert go.wait(20)
        return real_on_commit(*args, **kwargs)

    def impatient_balances(own, **kwargs):  # the checkout's first statement in its transaction
        if threading.current_thread().name == "passing":
            own.execute(text("SET LOCAL lock_timeout = '2s'"))
        return real_balances(own, **kwargs)

    monkeypatch.setattr(orders, "on_commit", held_on_commit)
    monkeypatch.setattr(campaigns, "checkout_balances", impatient_balances)
    results: dict[str, object] = {}

    def checkout(consumer_id: int) -> None:
        name = threading.current_thread().name
        with app.app_context():
            own = db_session()
            try:
                buyer = own.get(Consumer, consumer_id)
                offer = catalog.offer(own, own.get(Partner, partner_id), brand_slug)
                results[name] = orders.place_order(
                    own,
                    consumer=buyer,
                    offer=offer,
                    face_value=Money(25_00, USD),
                    recipient=orders.recipient_for(buyer, send_to="me"),
                    idempotency_key=orders.new_idempotency_key(),
                ).id
            except Exception as error:  # noqa: BLE001  (reported by the assertions below)
                results[name] = error

    first = threading.Thread(target=checkout, args=(holding.id,), name="holding")
    first.start()
    try:
        assert inside.wait(20)
        second = threading.Thread(target=checkout, args=(passing.id,), name="passing")
        second.start()
        second.join(15)
        assert not second.is_alive() and first.is_alive()
        assert isinstance(results["passing"], int), results["passing"]  # placed while the first is still open
    finally:
        go.set()
        first.join(20)
    assert isinstance(results["holding"], int), results["holding"]
    session.rollback()
    assert session.exec(select(Order.status)).all() == ["completed"] * 4
    assert ledger.card_purchases_total(session, USD, partner_id=partner_id) == Money(4 * 22_50, USD)
