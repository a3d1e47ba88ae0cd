"""app/db.py: one write transaction per use case, reads without a transaction on PostgreSQL, and
SQLite's writers queued on a lock every process shares."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from app.db import SqliteWriters, engine, write_transaction
from app.models import Partner

# Exits 0 when it could take the lock at once, 1 when someone holds it.
TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
"""


def another_process_can_lock(path: str) -> bool:
    return subprocess.run([sys.executable, "-c", TRY_LOCK, path], timeout=30).returncode == 0


def partner_names() -> set[str]:
    with engine().connect() as connection:
        return set(connection.execute(text("SELECT name FROM partner")).scalars())


def test_a_write_transaction_keeps_none_of_its_writes_when_it_fails(session, make_partner):
    partner = make_partner()
    with pytest.raises(RuntimeError):
        with write_transaction(session):
            session.add(
                Partner(slug="half-done", name="Half done", client_id="half-done-client", currencies="USD", store_name="Half")
            )
            session.flush()  # on the database already, inside the transaction
            partner.name = "Renamed"
            session.add(partner)
            session.flush()
            raise RuntimeError("the use case fails after writing")
    assert "Half done" not in partner_names() and "Renamed" not in partner_names()


def test_reads_outside_a_write_leave_no_transaction_open_on_postgresql(session, make_partner, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite begins no transaction for a read anyway")
    partner = make_partner()
    session.rollback()
    assert session.get(Partner, partner.id, populate_existing=True).slug == partner.slug
    status = session.connection().connection.dbapi_connection.info.transaction_status
    assert status.name == "IDLE"  # no BEGIN was sent: nothing to ROLLBACK when the request ends
    with write_transaction(session):
        partner.name = "Inside a transaction"
        session.add(partner)
        session.flush()
        assert session.connection().connection.dbapi_connection.info.transaction_status.name == "INTRANS"
    assert "Inside a transaction" in partner_names()


def test_sqlite_writers_hold_a_lock_other_processes_wait_for(app, session, make_partner, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    partner = make_partner()
    lock_file = database_url.removeprefix("sqlite:///") + ".write-lock"
    with write_transaction(session):
        partner.name = "Held"
        session.add(partner)
        session.flush()
        assert not another_process_can_lock(lock_file)
    assert another_process_can_lock(lock_file)


def test_sqlite_writers_queue_threads_and_let_one_thread_nest(tmp_path):
    writers = SqliteWriters(str(tmp_path / "shop.db"))
    order: list[str] = []
    first_holds = threading.Event()

    def second():
        first_holds.wait()
        with writers.hold():
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with writers.hold():
        with writers.hold():  # the same thread again: no deadlock
            first_holds.set()
            time.sleep(0.2)  # the second thread is waiting now
            order.append("first")
        assert not another_process_can_lock(writers.path)  # still held: the outer hold goes on
    thread.join(timeout=10)
    assert order == ["first", "second"]
    assert another_process_can_lock(writers.path)


def test_without_a_file_only_threads_queue():
    writers = SqliteWriters(None)
    with writers.hold(), writers.hold():
        pass
    assert writers.path is None


def test_a_forked_process_takes_its_own_lock(tmp_path):
    """A lock file opened before a fork is one open file for both processes, and would exclude neither."""
    writers = SqliteWriters(str(tmp_path / "shop.db"))
    with writers.hold():
        pass  # opened here, before the fork (gunicorn's workers are forked)
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            with writers.hold():
                os.write(ready_write, b"x")
                time.sleep(0.5)
        finally:
            os._exit(0)
    try:
        os.read(ready_read, 1)  # the child holds it now
        started = time.monotonic()
        with writers.hold():
            waited = time.monotonic() - started
    finally:
        os.waitpid(pid, 0)
    assert waited > 0.3


def test_balances_read_with_the_consumer_are_forgotten_at_the_next_write(session, make_partner, make_consumer):
    from app.domain.ledger import TransactionType
    from app.domain.money import Money
    from app.services import consumers, funds, partners

    partner = make_partner(funds="500")
    consumer = make_consumer(partner, funds="40")
    session.rollback()
    _partner, loaded = partners.partner_and_consumer(session, partner.slug, consumer.id)
    assert [w.total for w in consumers.wallets(session, loaded)] == [Money.parse("40", "USD")]  # from the same query
    funds.change_funds(
        session,
        partner=partner,
        consumer_id=consumer.id,
        type=TransactionType.CREDIT,
        amount=Money.parse("2.50", "USD"),
        reason="Thanks",
        idempotency_key="snapshot-test",
    )
    assert [w.total for w in consumers.wallets(session, loaded)] == [Money.parse("42.50", "USD")]
