"""Queued work. Each task runs in an app context with its own database session."""

from __future__ import annotations

from huey import crontab
from huey.exceptions import RetryTask

from app.db import db_session
from app.models import Partner
from app.queue import periodic_task, task
from app.services import bulk_upload, campaigns, consumer_auth, daily_totals, emails, housekeeping, orders, webhooks


@task(retries=4, retry_delay=30, retry_backoff=2, context=True)
def deliver_email(email_id: int, task=None) -> str:
    return emails.deliver_email(email_id, last_attempt=task is None or task.retries == 0)


@periodic_task(crontab(minute="*/5"))
def requeue_stuck_emails() -> int:
    return emails.requeue_stuck_emails()


@periodic_task(crontab(minute="17"))
def purge_expired_rows() -> tuple[int, int]:
    """Hourly: sign-in sessions long over, customer-creation answers past their idempotency window."""
    purged = housekeeping.purge_expired(db_session())
    return purged.sign_in_sessions, purged.customer_creations


@task(retries=2, retry_delay=10)
def send_password_reset(partner_id: int, email: str) -> None:
    """A forgot-password request: the link if the store has a consumer with this email, else nothing."""
    session = db_session()
    partner = session.get(Partner, partner_id)
    if partner is not None:
        consumer_auth.request_password_reset(session, partner=partner, email=email)


@task(retries=4, retry_delay=10, retry_backoff=2, context=True)
def fulfil_order(order_id: int, task=None) -> str:
    return orders.fulfil(db_session(), order_id, last_attempt=task is not None and task.retries == 0)


@periodic_task(crontab(minute="*"))
def sweep_stale_orders() -> int:
    return orders.sweep_stale_orders(db_session())


@periodic_task(crontab(minute="*"))
def sweep_campaigns() -> tuple[list[int], list[int]]:
    """Campaigns whose start has come become active; those whose end date passed end (unused balances go back)."""
    return campaigns.sweep(db_session())


@periodic_task(crontab(minute="*/5"))
def refresh_daily_totals() -> int:
    """The dashboard's rollup: yesterday once it settled, and any closed day one of whose open orders moved on."""
    return daily_totals.refresh_daily_totals(db_session())


@task(context=True)
def deliver_webhook(delivery_id: int, task=None) -> str:
    """One attempt; a failed one is scheduled again after the delay the service asks for
    (doubling), until WEBHOOK_MAX_ATTEMPTS: the service, not huey's retry count, decides."""
    outcome = webhooks.deliver(db_session(), delivery_id)
    if outcome.retry_in is not None:
        raise RetryTask(f"webhook delivery {delivery_id}: {outcome.status}", delay=outcome.retry_in)
    return outcome.status


@periodic_task(crontab(minute="*/5"))
def requeue_stuck_webhooks() -> int:
    return webhooks.requeue_stuck_deliveries(db_session())


@task(retries=2, retry_delay=10, context=True)
def check_bulk_upload(upload_id: int, task=None) -> str:
    """The dry run of a CSV bulk upload; on its last failed attempt the upload says it stopped."""
    try:
        return bulk_upload.check(db_session(), upload_id)
    except Exception as exc:
        if task is None or task.retries == 0:
            bulk_upload.fail_check(db_session(), upload_id, type(exc).__name__)
        raise


@task(retries=2, retry_delay=10, context=True)
def commit_bulk_upload(upload_id: int, member_id: int | None, task=None) -> str:
    """Commits a checked upload in batches; a retry continues where it stopped (committed rows are marked)."""
    try:
        return bulk_upload.commit(db_session(), upload_id, member_id)
    except Exception as exc:
        if task is None or task.retries == 0:
            bulk_upload.stop_commit(db_session(), upload_id, member_id, type(exc).__name__)
        raise


@task(retries=4, retry_delay=30, retry_backoff=2)
def welcome_bulk_consumers(consumer_ids: list[int]) -> int:
    """Temporary passwords (a keyed fast hash, not Argon2) and welcome emails for a batch of consumers created in
    bulk, in one transaction (each email then goes by its own deliver_email task)."""
    return bulk_upload.welcome(db_session(), consumer_ids)


@periodic_task(crontab(minute="*/5"))
def welcome_forgotten_consumers() -> int:
    """Consumers created in bulk whose welcome task was lost (the queue was unreachable when their batch committed)."""
    return bulk_upload.welcome_forgotten(db_session())
