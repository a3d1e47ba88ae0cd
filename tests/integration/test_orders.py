"""Checkout and fulfilment: one debit per checkout, cards issued once, refunds to exactly what was charged."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.errors import InsufficientFunds, InvalidInput
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money
from app.models import Consumer, EmailMessage, Entry, Order, Transaction
from app.providers import ProviderError
from app.services import catalog, consumers, ledger, orders
from tests.conftest import body_text


@pytest.fixture
def shop(session, make_partner, make_consumer, make_brand):
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)

    class Shop:
        def offer(self):
            return catalog.offer(session, partner, brand.slug)

        def buy(self, amount="25", key=None, send_to="someone", email="friend@example.com", who=None):
            buyer = who or consumer
            recipient = orders.recipient_for(buyer, send_to=send_to, email=email, name="Friend", message="Enjoy!")
            return orders.place_order(
                session,
                consumer=buyer,
                offer=self.offer(),
                face_value=Money.parse(amount, "USD"),
                recipient=recipient,
                idempotency_key=key or orders.new_idempotency_key(),
            )

    shop = Shop()
    shop.partner, shop.consumer, shop.brand = partner, consumer, brand
    return shop


def balances(session, consumer):
    session.expire_all()
    wallet = consumers.wallets(session, consumer)[0]
    return wallet.general.amount, wallet.bonus.amount


def add_bonus_balance(session, consumer, amount):
    funds = ledger.open_account(session, AccountKind.PARTNER_FUNDS, "USD", partner_id=consumer.partner_id)
    bonus = ledger.open_account(session, AccountKind.BONUS, "USD", partner_id=consumer.partner_id, consumer_id=consumer.id)
    with write_transaction(session):
        ledger.post_transaction(
            session,
            partner_id=consumer.partner_id,
            type=TransactionType.REBATE,
            currency="USD",
            postings=transfer(funds.id, bonus.id, amount),
        )


def test_a_checkout_debits_once_and_the_card_goes_to_the_recipient(session, shop, mailbox):
    order = shop.buy("25")
    session.refresh(order)
    assert order.status == "completed"
    assert balances(session, shop.consumer) == (75_00, 0)
    message = mailbox.last_to("friend@example.com")
    assert "Robin Buyer sent you a Bluefin Sushi gift card" == message["Subject"]
    number = app_decrypt(order.card_number_encrypted)
    assert number in body_text(message) and "Enjoy!" in body_text(message)
    assert number.replace(" ", "") not in order.card_number_encrypted
    assert "was sent to friend@example.com" in mailbox.last_to(shop.consumer.email)["Subject"]
    debit = session.get(Transaction, order.debit_transaction_id)
    assert (debit.type, debit.status, debit.amount) == ("debit", "completed", 25_00)
    assert ledger.ledger_problems(session) == []


def app_decrypt(token):
    from flask import current_app

    return current_app.extensions["encryptor"].decrypt(token)


def test_the_same_idempotency_key_yields_one_order_and_one_debit(session, shop):
    first = shop.buy("25", key="double-click-key-1")
    again = shop.buy("25", key="double-click-key-1")
    assert first.id == again.id
    assert len(session.exec(select(Order)).all()) == 1
    assert len(session.exec(select(Transaction).where(Transaction.type == "debit")).all()) == 1
    assert balances(session, shop.consumer) == (75_00, 0)


def test_a_store_checkout_cannot_take_the_key_of_a_partner_api_order(session, shop):
    """The API's order for a reference uses the key api:<hash>; a forged form with that key must not
    take it first (the API's order would then collide on the key and fail)."""
    with pytest.raises(InvalidInput):
        shop.buy("25", key=orders.api_idempotency_key("PO-1"))
    assert session.exec(select(Order)).all() == []
    assert balances(session, shop.consumer) == (100_00, 0)


def test_concurrent_identical_checkouts_make_one_order(app, session, shop):
    consumer_id, offer_slug, partner_id = shop.consumer.id, shop.brand.slug, shop.partner.id
    session.rollback()

    def checkout(_):
        with app.app_context():
            own = db_session()
            buyer = own.get(Consumer, consumer_id)
            from app.models import Partner

            offer = catalog.offer(own, own.get(Partner, partner_id), offer_slug)
            recipient = orders.recipient_for(buyer, send_to="me")
            return orders.place_order(
                own,
                consumer=buyer,
                offer=offer,
                face_value=Money(25_00, "USD"),
                recipient=recipient,
                idempotency_key="same-key-for-all",
            ).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(checkout, range(8)))
    assert len(ids) == 1
    session.rollback()
    assert len(session.exec(select(Transaction).where(Transaction.type == "debit")).all()) == 1
    assert ledger.ledger_problems(session) == []


def test_32_concurrent_checkouts_against_a_wallet_that_affords_5_make_exactly_5_orders(app, session, shop):
    consumer_id, partner_id, slug = shop.consumer.id, shop.partner.id, shop.brand.slug
    funds = ledger.find_account(session, AccountKind.PARTNER_FUNDS, "USD", partner_id=partner_id)
    general = ledger.find_account(session, AccountKind.GENERAL, "USD", partner_id=partner_id, consumer_id=consumer_id)
    with write_transaction(session):  # 100.00 + 25.00 = 125.00: exactly five 25.00 cards
        ledger.post_transaction(
            session,
            partner_id=partner_id,
            type=TransactionType.CREDIT,
            currency="USD",
            postings=transfer(funds.id, general.id, 25_00),
        )
    session.rollback()

    def checkout(n):
        from app.models import Partner

        with app.app_context():
            own = db_session()
            buyer = own.get(Consumer, consumer_id)
            offer = catalog.offer(own, own.get(Partner, partner_id), slug)
            try:
                orders.place_order(
                    own,
                    consumer=buyer,
                    offer=offer,
                    face_value=Money(25_00, "USD"),
                    recipient=orders.recipient_for(buyer, send_to="me"),
                    idempotency_key=f"race-{n:04d}-key",
                )
                return True
            except InsufficientFunds:
                return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(checkout, range(32)))
    assert results.count(True) == 5
    session.rollback()
    session.expire_all()
    assert len(session.exec(select(Order)).all()) == 5
    assert balances(session, session.get(Consumer, consumer_id)) == (0, 0)
    assert ledger.ledger_problems(session) == []


def test_a_checkout_moves_the_partners_shared_account_last(app, session, shop, make_consumer):
    """Every order of a partner moves one of its card_purchases accounts (the consumer's slot), which other orders of
    the partner share: updated after the wallet, and then nothing else before the commit, so its row lock is held as
    briefly as can be (and the order is fixed: no deadlocks)."""
    from sqlalchemy import event

    slots = [
        ledger.open_account(session, AccountKind.CARD_PURCHASES, "USD", partner_id=shop.partner.id, slot=slot)
        for slot in range(ledger.CARD_PURCHASE_SLOTS)
    ]
    purchases = {account.id for account in slots}
    newer = make_consumer(shop.partner, funds="50")  # a wallet opened after the partner's accounts (a higher id)
    sent: list[str] = []  # "wallet" / "partner" per balance UPDATE, "other" per other write, "COMMIT"

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        words = statement.lstrip().upper()
        if words.startswith("UPDATE ACCOUNT SET BALANCE"):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            sent.append("partner" if purchases & set(values) else "wallet")
        elif words.startswith(("INSERT", "UPDATE", "DELETE")):
            sent.append("other")

    def committed(_conn):
        sent.append("COMMIT")

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", committed)
    try:
        shop.buy("25", who=newer)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", committed)
    balance_moves = [step for step in sent if step in ("wallet", "partner")]
    assert balance_moves == ["wallet", "partner"]
    assert sent[sent.index("partner") + 1] == "COMMIT", sent


def test_the_charge_takes_general_balance_before_bonus(session, shop):
    add_bonus_balance(session, shop.consumer, 10_00)
    shop.buy("50")
    shop.buy("50")  # general 0 left after 100; the bonus pays nothing yet
    assert balances(session, shop.consumer) == (0, 10_00)
    shop.buy("10")
    assert balances(session, shop.consumer) == (0, 0)


def test_a_failed_order_is_refunded_to_exactly_the_accounts_it_was_charged_from_once(app, session, shop, mailbox):
    add_bonus_balance(session, shop.consumer, 10_00)
    app.extensions["provider"].failure_rate = 1.0
    order = shop.buy("50")
    order = shop.buy("50")
    order = shop.buy("10")  # 0 general left: this one is paid from the bonus
    session.refresh(order)
    assert order.status == "failed" and "declined" in order.failure_reason
    assert balances(session, shop.consumer) == (100_00, 10_00)
    refunds = session.exec(select(Transaction).where(Transaction.type == "refund")).all()
    assert len(refunds) == 3
    debit_entries = session.exec(select(Entry).where(Entry.transaction_id == order.debit_transaction_id)).all()
    refund = [r for r in refunds if r.order_id == order.id][0]
    refund_entries = session.exec(select(Entry).where(Entry.transaction_id == refund.id)).all()
    assert sorted((e.account_id, -e.amount) for e in debit_entries) == sorted((e.account_id, e.amount) for e in refund_entries)
    assert session.get(Transaction, order.debit_transaction_id).status == "failed"
    assert orders.fail(session, order.id, reason="again") is False  # refunded once only
    assert len(session.exec(select(Transaction).where(Transaction.type == "refund")).all()) == 3
    assert "could not be completed" in mailbox.last_to(shop.consumer.email)["Subject"]
    assert ledger.ledger_problems(session) == []


def test_a_cash_bonus_is_paid_into_the_bonus_balance_when_the_order_completes(session, shop):
    catalog.make_available(session, partner=shop.partner, brand=shop.brand, bonus_type="cash", bonus_percent=Decimal(10))
    order = shop.buy("50")
    session.refresh(order)
    assert (order.status, order.cash_back) == ("completed", 5_00)
    assert balances(session, shop.consumer) == (50_00, 5_00)
    rebate = session.exec(select(Transaction).where(Transaction.type == "rebate", Transaction.order_id == order.id)).one()
    assert rebate.amount == 5_00
    assert ledger.ledger_problems(session) == []


def test_a_value_bonus_makes_the_card_worth_more(session, shop, mailbox):
    catalog.make_available(session, partner=shop.partner, brand=shop.brand, bonus_type="value", bonus_percent=Decimal(10))
    order = shop.buy("50", send_to="me")
    assert (order.price, order.card_value) == (50_00, 55_00)
    assert "$55.00" in body_text(mailbox.last_to(shop.consumer.email))


def test_fulfilling_an_order_twice_issues_one_card(session, shop, mailbox):
    order = shop.buy("25")
    assert orders.fulfil(session, order.id) == "skipped"
    assert len(mailbox.to("friend@example.com")) == 1


def test_a_worker_that_died_mid_way_is_replaced_and_the_card_is_the_same(app, session, shop, mailbox):
    provider = app.extensions["provider"]
    app.extensions["provider"] = _Down()
    order = shop.buy("25")  # the first attempt fails transiently; the order stays pending
    session.refresh(order)
    assert (order.status, order.attempts) == ("pending", 1)
    app.extensions["provider"] = provider
    with write_transaction(session):
        order.created_at = utcnow() - timedelta(minutes=10)
        session.add(order)
    assert orders.sweep_stale_orders(session) == 1
    session.refresh(order)
    assert order.status == "completed"
    card = provider.issue(reference=order.public_id, brand_slug="x", has_pin=True, redemption_url=None, value=Money(25_00, "USD"))
    assert app_decrypt(order.card_number_encrypted) == card.number
    assert orders.sweep_stale_orders(session) == 0


def test_an_order_that_keeps_failing_is_failed_and_refunded_by_the_sweep(app, session, shop):
    app.extensions["provider"] = _Down()
    order = shop.buy("25")
    with write_transaction(session):
        order.created_at = utcnow() - timedelta(minutes=10)
        order.attempts = 5
        session.add(order)
    orders.sweep_stale_orders(session)
    session.refresh(order)
    assert order.status == "failed"
    assert balances(session, shop.consumer) == (100_00, 0)


class _Down:
    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


@pytest.mark.parametrize(
    "amount, problem",
    [("30", "Choose one of the amounts"), ("500", "Choose one of the amounts"), ("0", "Choose one of the amounts")],
)
def test_a_bad_amount_is_refused_and_nothing_is_charged(session, shop, amount, problem):
    with pytest.raises(InvalidInput, match=problem):
        shop.buy(amount)
    assert balances(session, shop.consumer) == (100_00, 0)
    assert session.exec(select(Order)).all() == []


def test_insufficient_balance_a_deactivated_consumer_or_a_bad_recipient_change_nothing(session, shop):
    shop.buy("50")
    shop.buy("50")
    with pytest.raises(InsufficientFunds):
        shop.buy("10")
    with pytest.raises(InvalidInput):
        shop.buy("10", email="not-an-email")
    consumers.set_active(session, consumer=shop.consumer, active=False)
    with pytest.raises(orders.ConsumerDeactivated):
        shop.buy("10")
    assert len(session.exec(select(Order)).all()) == 2
    assert ledger.ledger_problems(session) == []


def test_a_brand_not_sold_in_the_wallet_currency_is_refused(session, shop, make_brand):
    euro = make_brand("Euro Only", currencies="EUR")
    catalog.make_available(session, partner=shop.partner, brand=euro)
    offer = catalog.offer(session, shop.partner, euro.slug)
    with pytest.raises(InvalidInput, match="not sold in USD"):
        orders.place_order(
            session,
            consumer=shop.consumer,
            offer=offer,
            face_value=Money(10_00, "USD"),
            recipient=orders.recipient_for(shop.consumer, send_to="me"),
            idempotency_key=orders.new_idempotency_key(),
        )


def test_the_owner_can_reveal_a_card_bought_for_themselves_only(session, shop):
    mine = shop.buy("25", send_to="me")
    gift = shop.buy("25")
    number, pin = orders.reveal_card(session, consumer=shop.consumer, public_id=mine.public_id)
    assert number == app_decrypt(session.get(Order, mine.id).card_number_encrypted) and len(pin) == 4
    from app.domain.errors import NotFound

    with pytest.raises(NotFound):
        orders.reveal_card(session, consumer=shop.consumer, public_id=gift.public_id)
    assert session.exec(select(EmailMessage).where(EmailMessage.kind == "gift_card")).all()
