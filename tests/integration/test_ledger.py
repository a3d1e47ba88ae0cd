"""The ledger's invariants: balanced entries, cached balances equal to entries, no negative wallet."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.db import db_session, write_transaction
from app.domain.errors import InsufficientFunds, UnbalancedTransaction
from app.domain.ledger import AccountKind, Posting, TransactionType, transfer
from app.models import Account, Entry, Transaction
from app.services import ledger


def wallet_of(session, consumer):
    return ledger.find_account(session, AccountKind.GENERAL, "USD", partner_id=consumer.partner_id, consumer_id=consumer.id)


def funds_of(session, partner):
    return ledger.find_account(session, AccountKind.PARTNER_FUNDS, "USD", partner_id=partner.id)


def test_every_transaction_sums_to_zero_and_balances_equal_their_entries(session, make_partner, make_consumer):
    partner = make_partner(funds="500")
    for _ in range(3):
        make_consumer(partner, funds="25.50")
    assert ledger.ledger_problems(session) == []
    for transaction in session.exec(select(Transaction)).all():
        entries = session.exec(select(Entry).where(Entry.transaction_id == transaction.id)).all()
        assert sum(e.amount for e in entries) == 0
    assert funds_of(session, partner).balance == 500_00 - 3 * 25_50


def test_the_ledger_check_notices_a_cached_balance_that_drifted(session, make_partner):
    partner = make_partner(funds="10")
    account = funds_of(session, partner)
    with write_transaction(session):
        session.execute(text("UPDATE account SET balance = balance + 1 WHERE id = :id"), {"id": account.id})
    assert ledger.ledger_problems(session) == [f"account {account.key} caches 1001, entries say 1000"]
    with write_transaction(session):
        session.execute(text("UPDATE account SET balance = balance - 1 WHERE id = :id"), {"id": account.id})


def test_a_wallet_never_goes_below_zero_and_a_refused_debit_changes_nothing(session, make_partner, make_consumer):
    partner = make_partner(funds="100")
    consumer = make_consumer(partner, funds="10")
    wallet, funds = wallet_of(session, consumer), funds_of(session, partner)
    transactions_before = len(session.exec(select(Transaction)).all())
    with pytest.raises(InsufficientFunds):
        with write_transaction(session):
            ledger.post_transaction(
                session,
                partner_id=partner.id,
                type=TransactionType.DEBIT,
                currency="USD",
                postings=transfer(wallet.id, funds.id, 10_01),
            )
    session.refresh(wallet)
    assert wallet.balance == 10_00
    assert len(session.exec(select(Transaction)).all()) == transactions_before
    assert ledger.ledger_problems(session) == []


def test_the_database_itself_refuses_a_negative_wallet(session, make_partner, make_consumer):
    consumer = make_consumer(make_partner(), funds="1")
    wallet = wallet_of(session, consumer)
    with pytest.raises(IntegrityError):
        with write_transaction(session):
            session.execute(text("UPDATE account SET balance = -1 WHERE id = :id"), {"id": wallet.id})


def test_unbalanced_or_cross_currency_or_cross_partner_postings_are_refused(session, make_partner, make_consumer):
    a, b = make_partner(funds="100"), make_partner(funds="100")
    wallet_a = wallet_of(session, make_consumer(a, funds="10"))
    with pytest.raises(UnbalancedTransaction):
        with write_transaction(session):
            ledger.post_transaction(
                session,
                partner_id=a.id,
                type=TransactionType.DEBIT,
                currency="USD",
                postings=[Posting(wallet_a.id, -5), Posting(funds_of(session, a).id, 4)],
            )
    with pytest.raises(UnbalancedTransaction):
        with write_transaction(session):
            ledger.post_transaction(
                session,
                partner_id=a.id,
                type=TransactionType.DEBIT,
                currency="USD",
                postings=transfer(wallet_a.id, funds_of(session, b).id, 5),
            )
    eur = ledger.open_account(session, AccountKind.PARTNER_FUNDS, "EUR", partner_id=a.id)
    with pytest.raises(UnbalancedTransaction):
        with write_transaction(session):
            ledger.post_transaction(
                session, partner_id=a.id, type=TransactionType.DEBIT, currency="USD", postings=transfer(wallet_a.id, eur.id, 5)
            )
    assert ledger.ledger_problems(session) == []


def test_concurrent_debits_never_overdraw_a_wallet(app, session, make_partner, make_consumer):
    """16 spenders race for a wallet that affords 3 of them: exactly 3 win, the balance stays >= 0."""
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100")
    wallet_id, funds_id, partner_id = wallet_of(session, consumer).id, funds_of(session, partner).id, partner.id
    session.rollback()

    def spend(_):
        with app.app_context():
            own = db_session()
            try:
                with write_transaction(own):
                    ledger.post_transaction(
                        own,
                        partner_id=partner_id,
                        type=TransactionType.DEBIT,
                        currency="USD",
                        postings=transfer(wallet_id, funds_id, 30_00),
                    )
                return True
            except InsufficientFunds:
                return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(spend, range(16)))
    assert results.count(True) == 3
    fresh = db_session()
    fresh.expire_all()
    assert fresh.get(Account, wallet_id).balance == 10_00
    assert ledger.ledger_problems(fresh) == []
