"""Faults the chaos harness (tests/reliability) found or checks, each pinned here in one process: the queue down at
checkout, Redis down under the rate limits, a provider that never answers, the database dropping its connections."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import col, select

from app import create_app
from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import EmailMessage, Order, Transaction
from app.queue import init_queue
from app.services import catalog, ledger, orders, partners
from tests.conftest import CHEAPEST_ARGON2, IsolatedClient, free_port, reload
from tests.integration.conftest import redirect_path

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def unreachable_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def use_queue(app, monkeypatch, **settings) -> None:
    """Bind the app's tasks to another queue (e.g. a Redis nobody answers at), as init_queue does at start."""
    monkeypatch.setitem(app.extensions, "settings", app.extensions["settings"].model_copy(update=settings))
    init_queue(app)


@pytest.fixture
def brand(session, store, make_brand):
    brand = make_brand(denominations="1000,2500,5000")
    catalog.make_available(session, partner=store.partner, brand=brand)
    return brand


def test_a_checkout_while_the_queue_is_down_succeeds_and_the_sweep_fulfils_it_later(
    app, session, store, signed_in, brand, mailbox, monkeypatch
):
    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=False, REDIS_URL=unreachable_redis())
    form = store.get(f"/brands/{brand.slug}/checkout?amount=25.00")
    key = KEY.search(form.get_data(as_text=True)).group(1)
    answer = store.post(f"/brands/{brand.slug}/orders", {"amount": "25.00", "send_to": "me", "idempotency_key": key})
    assert answer.status_code == 303 and "/orders/" in redirect_path(answer)  # the order page, not an error
    order = session.exec(select(Order)).one()
    assert order.status == "pending" and order.attempts == 0  # committed and charged; its task never reached the queue
    debit = session.get(Transaction, order.debit_transaction_id)
    assert (debit.type, debit.status) == ("debit", "pending")

    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=True, REDIS_URL="")  # the queue is back
    with write_transaction(session):
        session.get(Order, order.id).created_at = utcnow() - timedelta(minutes=3)
    assert orders.sweep_stale_orders(session) == 1
    order = reload(session, Order, order.id)
    assert (order.status, order.attempts) == ("completed", 1)
    assert len(mailbox.to(signed_in.email)) >= 1
    assert ledger.ledger_problems(session) == []


def test_an_email_recorded_while_the_queue_is_down_stays_queued_for_the_stuck_email_sweep(
    app, session, store, make_consumer, monkeypatch, mailbox
):
    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=False, REDIS_URL=unreachable_redis())
    consumer = make_consumer(store.partner)  # no error: the welcome email is recorded, its delivery left for later
    email = session.exec(select(EmailMessage).where(EmailMessage.to == consumer.email)).one()
    assert (email.status, email.attempts) == ("queued", 0)


def app_with_rate_limits_in(redis_url: str, database_url: str, smtp_port: int):
    """An app of its own whose rate limits count in `redis_url` (the shared fixture's app resets the limits in
    their storage when it is built, which a test of a storage that is down can't have), with a store."""
    config = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "QUEUE_IMMEDIATE": True,
        "RUN_WORKER_IN_PROCESS": False,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": redis_url,
        **CHEAPEST_ARGON2,
    }
    limited = create_app(config)
    limited.test_client_class = IsolatedClient
    with limited.app_context():
        partner, _credentials = partners.create_partner(
            db_session(), slug="limited-" + secrets.token_hex(3), name="Limited", currency="USD", funds=Money(0, "USD")
        )
    return limited, partner.slug


def wrong_sign_ins(client, slug: str, count: int) -> list[int]:
    return [
        client.post(f"/s/{slug}/login", data={"email": "x@example.com", "password": "wrong"}).status_code for _ in range(count)
    ]


def test_with_redis_down_the_rate_limits_count_in_memory_instead_of_failing_requests(app, database_url, smtp_server):
    limited, slug = app_with_rate_limits_in(unreachable_redis(), database_url, smtp_server[0].port)
    answers = wrong_sign_ins(limited.test_client(), slug, 12)
    limited.extensions["db_engine"].dispose()
    assert 500 not in answers
    assert answers[-1] == 429  # LOGIN_RATE_LIMIT (10 a minute) still holds, counted in this process


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (nothing on disk), which it may kill or stop: url, kill(), pid."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)

    def kill():
        server.kill()
        server.wait(timeout=10)

    yield SimpleNamespace(url=f"redis://127.0.0.1:{port}/0", kill=kill, pid=server.pid)
    if server.poll() is None:
        kill()


def test_a_request_counted_just_before_redis_went_away_is_answered_not_failed(app, database_url, smtp_server, own_redis):
    """Found by the chaos harness (scenario 3): the limit was checked in Redis, Redis died during the view, and
    writing the limit's headers afterwards failed the request (a 500 for a checkout whose order was placed)."""
    limited, slug = app_with_rate_limits_in(own_redis.url, database_url, smtp_server[0].port)
    client = limited.test_client()
    assert wrong_sign_ins(client, slug, 2) == [422, 422]  # a wrong password, counted in Redis
    limited.before_request_funcs[None].append(own_redis.kill)  # after the limiter's own check, before the view
    answers = wrong_sign_ins(client, slug, 3)
    limited.extensions["db_engine"].dispose()
    assert answers == [422, 422, 422]


@pytest.mark.parametrize("app_config", [{"PROVIDER_HANG_RATE": 1.0, "PROVIDER_TIMEOUT_SECONDS": 0.3, "ORDER_CLAIM_SECONDS": 5}])
def test_a_provider_that_never_answers_costs_each_attempt_its_timeout_then_the_order_fails_and_is_refunded_once(
    app, session, store, make_consumer, brand, app_config
):
    consumer = make_consumer(store.partner, funds="100")
    started = time.monotonic()
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, store.partner, brand.slug),
        face_value=Money(25_00, "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key="hanging-provider-1",
    )
    assert time.monotonic() - started < 3  # the first attempt waited out its 0.3 s and let go
    order = reload(session, Order, order.id)
    assert (order.status, order.attempts, order.claimed_until) == ("pending", 1, None)  # to be retried

    started = time.monotonic()
    assert orders.fulfil(session, order.id, last_attempt=True) == "failed"
    assert 0.3 <= time.monotonic() - started < 3
    assert orders.fulfil(session, order.id, last_attempt=True) == "skipped"  # failed once, refunded once
    order = reload(session, Order, order.id)
    assert order.status == "failed" and "did not answer within 0.3 s" in order.failure_reason
    refunds = session.exec(select(Transaction).where(Transaction.order_id == order.id, Transaction.type == "refund")).all()
    assert len(refunds) == 1
    assert ledger.ledger_problems(session) == []


def test_an_order_claim_must_outlast_the_providers_timeout():
    from app.config import Settings

    with pytest.raises(ValueError, match="ORDER_CLAIM_SECONDS"):
        Settings(APP_ENV="test", ORDER_CLAIM_SECONDS=30, PROVIDER_TIMEOUT_SECONDS=30)


def test_requests_after_the_database_dropped_every_connection_succeed(app, client, database_url, store):
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend: PostgreSQL only")
    assert client.get(f"/s/{store.partner.slug}/login").status_code == 200  # the pool now holds a connection
    outside = create_engine(database_url, poolclass=NullPool)  # not one of the app's connections
    with outside.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    outside.dispose()
    assert killed >= 1
    for _ in range(3):
        assert client.get(f"/s/{store.partner.slug}/login").status_code == 200


@pytest.mark.parametrize("app_config", [{"ORDER_SWEEP_AFTER_SECONDS": 30}])
def test_the_sweep_queues_again_an_unheld_order_pending_longer_than_order_sweep_after_seconds(
    app, session, store, signed_in, brand, monkeypatch, app_config
):
    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=False, REDIS_URL=unreachable_redis())  # its task is lost
    form = store.get(f"/brands/{brand.slug}/checkout?amount=25.00")
    key = KEY.search(form.get_data(as_text=True)).group(1)
    store.post(f"/brands/{brand.slug}/orders", {"amount": "25.00", "send_to": "me", "idempotency_key": key})
    order = session.exec(select(Order)).one()
    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=True, REDIS_URL="")
    with write_transaction(session):
        session.get(Order, order.id).created_at = utcnow() - timedelta(seconds=20)
    assert orders.sweep_stale_orders(session) == 0  # younger than 30 s: its task may still be on its way
    with write_transaction(session):
        session.get(Order, order.id).created_at = utcnow() - timedelta(seconds=40)
    assert orders.sweep_stale_orders(session) == 1
    assert reload(session, Order, order.id).status == "completed"


def test_forgot_password_while_the_queue_is_down_records_the_reset_email_for_the_sweep(
    app, session, store, make_consumer, monkeypatch
):
    consumer = make_consumer(store.partner)
    use_queue(app, monkeypatch, QUEUE_IMMEDIATE=False, REDIS_URL=unreachable_redis())
    answer = store.post("/forgot", {"email": consumer.email})
    assert answer.status_code in (200, 303)  # the usual answer, not a 500
    resets = session.exec(
        select(EmailMessage).where(EmailMessage.to == consumer.email, col(EmailMessage.subject).contains("eset"))
    ).all()
    assert [(email.status, email.attempts) for email in resets] == [("queued", 0)]  # the stuck-email sweep sends it
    unknown = store.post("/forgot", {"email": "nobody-" + secrets.token_hex(3) + "@example.com"})
    assert unknown.status_code == answer.status_code  # says nothing either way
