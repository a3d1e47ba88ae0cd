"""Email is recorded, sent by a queued task with retries, and nothing is silently lost."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.clock import utcnow
from app.db import write_transaction
from app.emails import Email
from app.models import EmailMessage
from app.services import emails
from tests.conftest import free_port


@pytest.fixture
def app_config():
    # Nothing listens on this port: every SMTP attempt fails.
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()}


def record(session, to="r@example.com"):
    with write_transaction(session):
        message = emails.queue_email(session, Email("welcome", to, "Hi", "<p>Hi</p>", "Hi"), partner_id=None)
    return message


def test_a_failed_attempt_is_recorded_and_raised_so_the_queue_retries(session):
    message = record(session)  # the immediate queue ran the first attempt, which failed
    session.refresh(message)
    assert message.attempts == 1
    assert message.status == "queued"
    assert "ConnectionRefusedError" in message.last_error
    with pytest.raises(ConnectionRefusedError):
        emails.deliver_email(message.id, last_attempt=False)
    session.refresh(message)
    assert (message.attempts, message.status) == (2, "queued")


def test_the_last_failed_attempt_marks_the_email_failed(session):
    message = record(session)
    assert emails.deliver_email(message.id, last_attempt=True) == "failed"
    session.refresh(message)
    assert message.status == "failed"
    assert emails.deliver_email(message.id) == "skipped"


def test_a_sent_email_is_never_sent_twice(session, app, mailbox, smtp_server):
    controller, _ = smtp_server
    app.config["MAIL_PORT"] = controller.port
    app.extensions["mail"].port = controller.port
    message = record(session, to="once@example.com")
    emails.deliver_email(message.id)
    assert emails.deliver_email(message.id) == "skipped"
    assert len(mailbox.to("once@example.com")) == 1


def test_the_sweep_requeues_emails_nobody_tried_for_a_long_time(session):
    message = record(session)
    with write_transaction(session):
        message.status = "sending"  # a worker died mid-way
        message.last_attempt_at = utcnow() - timedelta(hours=1)
        session.add(message)
    assert emails.requeue_stuck_emails() == 1
    session.refresh(message)
    assert message.attempts == 2  # tried again by the (immediate) queue
    assert session.exec(select(EmailMessage)).all() == [message]
