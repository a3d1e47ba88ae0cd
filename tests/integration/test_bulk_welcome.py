"""Welcome emails of a bulk upload, a batch at a time (issue 21): each consumer created once gets one temporary
password and one welcome email, whatever is retried, run twice at once, or lost on the way to the queue."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, func, select

import app.queue as queue
from app.clock import utcnow
from app.db import db_session
from app.domain.money import Money
from app.models import BulkUpload, Consumer, EmailMessage
from app.services import bulk_upload as bulk
from app.services import consumers
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, redirect_path, statements_run


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="1000")


def create(session, partner, count: int, tag: str = "new") -> list[int]:
    wallets = [consumers.BulkWallet(f"{tag}-{i}@example.com", f"Person {i}", Money(1_00, "USD")) for i in range(count)]
    return consumers.create_consumers_in_bulk(session, partner=partner, wallets=wallets).new_consumer_ids


def emails_by_consumer(session) -> dict[int, int]:
    session.rollback()
    return dict(session.exec(select(EmailMessage.consumer_id, func.count()).group_by(EmailMessage.consumer_id)).all())


def test_a_batch_is_welcomed_in_one_transaction_each_consumer_once_with_a_password_that_signs_in(
    app, session, partner, mailbox, paused_queue
):
    few, many = create(session, partner, 3, "few"), create(session, partner, 40, "many")
    with statements_run(app) as few_statements:
        assert bulk.welcome(session, few) == 3
    with statements_run(app) as many_statements:
        assert bulk.welcome(session, many) == 40
    assert len(many_statements) == len(few_statements) <= 8  # the batch's statements, none per consumer
    assert paused_queue.run() == 43  # one delivery task per email

    assert emails_by_consumer(session) == {consumer_id: 1 for consumer_id in few + many}
    recorded = session.exec(select(EmailMessage.consumer_id, EmailMessage.to, EmailMessage.status)).all()
    addresses = dict(session.exec(select(Consumer.id, Consumer.email)).all())
    assert all(to == addresses[consumer_id] and status == "sent" for consumer_id, to, status in recorded)
    for i in range(40):
        assert len(mailbox.to(f"many-{i}@example.com")) == 1
    password = temporary_password_in(mailbox.last_to("many-7@example.com"))
    assert StoreBrowser(app.test_client(), partner).login("many-7@example.com", password).status_code == 303


def test_a_retried_batch_sends_nothing_more_and_one_that_failed_half_way_sent_nothing(
    app, session, partner, mailbox, monkeypatch
):
    ids = create(session, partner, 12)
    build = consumers.build_welcome_email
    built = []

    def fails_at_the_tenth(**kwargs):
        built.append(kwargs["consumer"].email)
        if len(built) == 10:
            raise RuntimeError("the worker stopped here")
        return build(**kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(consumers, "build_welcome_email", fails_at_the_tenth)
        with pytest.raises(RuntimeError):
            bulk.welcome(session, ids)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Consumer).where(Consumer.password_hash != "")).one() == 0
    assert emails_by_consumer(session) == {} and mailbox.messages == []

    assert bulk.welcome(session, ids) == 12  # the queue's retry
    assert bulk.welcome(session, ids) == 0  # and another
    assert emails_by_consumer(session) == {consumer_id: 1 for consumer_id in ids}
    assert len(mailbox.messages) == 12


def test_two_workers_welcoming_the_same_batch_at_once_send_each_welcome_once(app, session, partner, mailbox):
    ids = create(session, partner, 30)
    counts: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        with app.app_context():
            start.wait()
            counts.append(bulk.welcome(db_session(), ids))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 30
    assert emails_by_consumer(session) == {consumer_id: 1 for consumer_id in ids}
    assert len(mailbox.messages) == 30


def test_consumers_whose_welcome_task_was_lost_are_welcomed_by_the_sweep_once(app, session, partner, mailbox):
    lost = create(session, partner, 7, "lost")  # committed; their welcome task never reached the queue
    fresh = create(session, partner, 2, "fresh")  # just committed: their task is still on its way
    chose_own = create(session, partner, 1, "own")
    session.execute(update(Consumer).where(col(Consumer.id).in_(chose_own)).values(password_hash="$argon2id$chosen"))
    session.execute(
        update(Consumer).where(col(Consumer.id).in_(lost + chose_own)).values(created_at=utcnow() - timedelta(hours=1))
    )
    session.commit()

    assert bulk.welcome_forgotten(session) == 7
    assert bulk.welcome_forgotten(session) == 0
    assert emails_by_consumer(session) == {consumer_id: 1 for consumer_id in lost}
    assert bulk.welcome(session, fresh) == 2  # their own task, when it comes, still welcomes them
    assert len(mailbox.messages) == 9


def test_a_commit_whose_welcome_task_cannot_be_queued_still_commits_and_the_sweep_welcomes_them(
    app, session, partner, operator, mailbox, monkeypatch
):
    enqueue = queue.enqueue

    def queue_down_for_welcomes(name, *args, **kwargs):
        if name == "welcome_bulk_consumers":
            raise ConnectionError("Redis is unreachable")
        return enqueue(name, *args, **kwargs)

    monkeypatch.setattr(queue, "enqueue", queue_down_for_welcomes)
    operator.get("/bulk-uploads")
    rows = (
        "action,email,full_name,currency,initial_funds\ncreate,a@example.com,Ann A,USD,1.00\ncreate,b@example.com,Bo B,USD,1.00\n"
    )
    uploaded = operator.post("/bulk-uploads", {"file": (io.BytesIO(rows.encode()), "two.csv")})
    assert uploaded.status_code == 303
    assert operator.post(redirect_path(uploaded).removeprefix("/portal") + "/commit").status_code == 303
    session.rollback()
    assert session.exec(select(func.count()).select_from(Consumer).where(Consumer.password_hash == "")).one() == 2
    assert session.exec(select(BulkUpload.status)).one() == "committed"
    assert mailbox.messages == []

    session.execute(update(Consumer).values(created_at=utcnow() - timedelta(hours=1)))
    session.commit()
    assert bulk.welcome_forgotten(session) == 2
    assert len(mailbox.to("a@example.com")) == 1 and len(mailbox.to("b@example.com")) == 1


@pytest.fixture
def operator(partner, make_team_member, portal_as):
    return portal_as(make_team_member(partner, "operator"))


@pytest.fixture
def paused_queue(app):
    """The queue keeps tasks until `run()` works through them, as a separate worker would."""
    huey = app.extensions["queue"]
    huey.immediate = False

    class Queue:
        @staticmethod
        def run() -> int:
            done = 0
            while (task := huey.dequeue()) is not None:
                huey.execute(task)
                done += 1
            return done

    yield Queue
    huey.immediate = True
