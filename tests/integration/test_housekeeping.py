"""The hourly purge: sign-in sessions long over and customer-creation answers past their idempotency window go;
everything younger stays, a live sign-in included, and a backlog larger than a batch goes in several."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.clock import utcnow
from app.db import write_transaction
from app.models import CustomerCreation, SignInSession
from app.services import housekeeping
from app.tasks import purge_expired_rows


def add_sign_ins(session, consumer, ages: list[timedelta]) -> None:
    with write_transaction(session):
        for n, age in enumerate(ages):
            started = utcnow() - age
            session.add(
                SignInSession(
                    token_hash=f"{consumer.id:08d}{n:056d}", consumer_id=consumer.id, created_at=started, last_seen_at=started
                )
            )


def add_creations(session, consumer, ages: list[timedelta]) -> None:
    with write_transaction(session):
        for n, age in enumerate(ages):
            session.add(
                CustomerCreation(
                    partner_id=consumer.partner_id,
                    idempotency_key=f"key-{n}",
                    request_sha256="0" * 64,
                    consumer_id=consumer.id,
                    answer='{"success": true}',
                    created_at=utcnow() - age,
                )
            )


def test_purge_deletes_only_rows_past_their_time_in_batches(session, store, signed_in):
    consumer = signed_in.model
    before = set(session.exec(select(SignInSession.id)).all())  # the store browser's own live sign-in
    assert before
    over = timedelta(days=housekeeping.KEEP_SIGN_INS_DAYS, hours=13)  # lifetime (12 h by default) + the keeping time + 1 h
    add_sign_ins(session, consumer, [over, over * 2, over * 3, timedelta(days=2), timedelta(minutes=5)])
    past_window = timedelta(days=housekeeping.IDEMPOTENCY_DAYS, hours=1)
    add_creations(session, consumer, [past_window, past_window * 2, timedelta(days=29), timedelta(0)])

    purged = housekeeping.purge_expired(session, batch=2)  # 3 old sessions: two batches

    assert (purged.sign_in_sessions, purged.customer_creations) == (3, 2)
    left = session.exec(select(SignInSession.created_at).where(SignInSession.consumer_id == consumer.id)).all()
    assert sorted(utcnow() - started.replace(tzinfo=utcnow().tzinfo) for started in left)[-1] < timedelta(days=3)
    assert before <= set(session.exec(select(SignInSession.id)).all())
    assert sorted(session.exec(select(CustomerCreation.idempotency_key)).all()) == ["key-2", "key-3"]
    assert store.get("/").status_code == 200  # the live sign-in still works


def test_the_hourly_task_runs_the_purge(session, store, make_consumer):
    consumer = make_consumer(store.partner)
    add_sign_ins(session, consumer, [timedelta(days=60)])
    add_creations(session, consumer, [timedelta(days=60)])
    assert purge_expired_rows() == (1, 1)
    assert purge_expired_rows() == (0, 0)
