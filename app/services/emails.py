"""Recording and delivering email. Every message is stored (bodies encrypted) and sent by a queued task."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from app import outbound_mail
from app.clock import utcnow
from app.db import db_session, on_commit, write_transaction
from app.emails import Email
from app.models import EmailMessage, GiftPageLink, Order
from app.queue import enqueue, enqueue_or_leave_for_sweep
from app.services.rows import table_of

log = logging.getLogger(__name__)


def queue_email(session: Session, email: Email, *, partner_id: int | None, consumer_id: int | None = None) -> EmailMessage:
    """Record the email in the caller's transaction; its delivery is queued once that commits."""
    encryptor = current_app.extensions["encryptor"]
    message = EmailMessage(
        partner_id=partner_id,
        consumer_id=consumer_id,
        kind=email.kind,
        to=email.to,
        subject=email.subject,
        html_encrypted=encryptor.encrypt(email.html),
        text_encrypted=encryptor.encrypt(email.text),
    )
    with write_transaction(session):
        session.add(message)
        session.flush()
    message_id = message.id
    on_commit(session, lambda: enqueue_or_leave_for_sweep("deliver_email", message_id))  # else requeue_stuck_emails
    return message


def queue_emails(session: Session, emails: Sequence[tuple[Email, int | None]], *, partner_id: int | None) -> list[int]:
    """Record many emails (each with its consumer's id) in one statement in the caller's transaction, as
    `queue_email` records one: a bulk upload's welcomes. Each is still delivered by its own task, queued once
    that commits. Their ids."""
    if not emails:
        return []
    encryptor = current_app.extensions["encryptor"]
    now = utcnow()
    rows = [
        dict(
            partner_id=partner_id,
            consumer_id=consumer_id,
            kind=email.kind,
            to=email.to,
            subject=email.subject,
            html_encrypted=encryptor.encrypt(email.html),
            text_encrypted=encryptor.encrypt(email.text),
            status="queued",
            delivered_via="",
            attempts=0,
            last_error="",
            created_at=now,
        )
        for email, consumer_id in emails
    ]
    with write_transaction(session):
        ids = list(session.execute(insert(table_of(EmailMessage)).returning(table_of(EmailMessage).c.id), rows).scalars())
        on_commit(session, lambda: _queue_deliveries(ids))
    return ids


def _queue_deliveries(email_ids: list[int]) -> None:
    for email_id in email_ids:
        enqueue_or_leave_for_sweep("deliver_email", email_id)  # else requeue_stuck_emails


def deliver_email(email_id: int, *, last_attempt: bool = True) -> str:
    """Send one recorded email over SMTP (or to the development outbox). Returns its status.

    Raises on a failed attempt that has retries left, so the queue retries it later.
    """
    session = db_session()
    with write_transaction(session):
        # Claiming moves it to "sending": a second worker holding the same id skips it. The claim reads what it sends.
        claimed = session.execute(
            update(EmailMessage)
            .where(col(EmailMessage.id) == email_id, col(EmailMessage.status) == "queued")
            .values(status="sending", attempts=EmailMessage.attempts + 1, last_attempt_at=utcnow())
            .returning(
                col(EmailMessage.kind),
                col(EmailMessage.to),
                col(EmailMessage.subject),
                col(EmailMessage.html_encrypted),
                col(EmailMessage.text_encrypted),
                col(EmailMessage.attempts),
            )
            .execution_options(synchronize_session=False)
        ).first()
    if claimed is None:
        return "skipped"
    encryptor = current_app.extensions["encryptor"]
    via = "smtp" if current_app.config["MAIL_SERVER"] else "outbox"
    try:
        if via == "smtp":
            outbound_mail.send(
                subject=claimed.subject,
                to=claimed.to,
                text=encryptor.decrypt(claimed.text_encrypted),
                html=encryptor.decrypt(claimed.html_encrypted),
            )
    except Exception as exc:  # any transport failure: record it, retry or give up
        log.warning("email %s attempt %s failed: %s", email_id, claimed.attempts, exc)
        with write_transaction(session):
            _set(
                session, email_id, last_error=f"{type(exc).__name__}: {exc}"[:500], status="failed" if last_attempt else "queued"
            )
        if last_attempt:
            return "failed"
        raise
    with write_transaction(session):
        sent_at = utcnow()
        _set(session, email_id, status="sent", delivered_via=via, sent_at=sent_at, last_error="")
        if claimed.kind == "gift_card":
            _mark_order_sent(session, email_id, sent_at)
    return "sent"


def _set(session: Session, email_id: int, **values) -> None:
    session.execute(
        update(EmailMessage).where(col(EmailMessage.id) == email_id).values(**values).execution_options(synchronize_session=False)
    )


def _mark_order_sent(session: Session, email_id: int, sent_at: datetime) -> None:
    """The order whose gift email this is was sent (handed to SMTP) now, unless an earlier one already was. An email
    to an address the order no longer goes to (its link revoked when the recipient was corrected) doesn't count."""
    order_id = (
        select(GiftPageLink.order_id)
        .where(GiftPageLink.email_message_id == email_id, col(GiftPageLink.revoked_at).is_(None))
        .scalar_subquery()
    )
    session.execute(
        update(Order)
        .where(col(Order.id) == order_id, col(Order.sent_at).is_(None))
        .values(sent_at=sent_at)
        .execution_options(synchronize_session=False)
    )


def requeue_stuck_emails(older_than: timedelta = timedelta(minutes=15)) -> int:
    """Queue again emails nobody has tried for a long time (a lost queue entry, a worker that died)."""
    session = db_session()
    cutoff = utcnow() - older_than
    stuck = (col(EmailMessage.status).in_(["queued", "sending"])) & (
        func.coalesce(EmailMessage.last_attempt_at, EmailMessage.created_at) < cutoff
    )
    with write_transaction(session):
        ids = session.exec(select(EmailMessage.id).where(stuck)).all()
        if ids:
            session.execute(
                update(EmailMessage)
                .where(col(EmailMessage.id).in_(ids))
                .values(status="queued", last_attempt_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    for email_id in ids:
        enqueue("deliver_email", email_id)
    return len(ids)


# --- reading them back (the development outbox) ---------------------------------------------------


@dataclass(frozen=True)
class SentEmail:
    """A recorded email with its bodies decrypted."""

    message: EmailMessage
    html: str
    text: str


def latest_emails(session: Session, *, limit: int = 100) -> list[EmailMessage]:
    """The latest recorded emails, newest first (their bodies stay encrypted)."""
    return list(session.exec(select(EmailMessage).order_by(col(EmailMessage.id).desc()).limit(limit)).all())


def sent_email(session: Session, email_id: int) -> SentEmail | None:
    """One recorded email, readable, or None."""
    message = session.get(EmailMessage, email_id)
    if message is None:
        return None
    encryptor = current_app.extensions["encryptor"]
    return SentEmail(message, html=encryptor.decrypt(message.html_encrypted), text=encryptor.decrypt(message.text_encrypted))
