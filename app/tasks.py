"""Queued work. Each task runs in an app context with its own database session."""
from __future__ import annotations

from huey import crontab

from app.queue import periodic_task, task
from app.db import db_session
from app.services import emails, orders


@task(retries=4, retry_delay=30, retry_backoff=2, context=True)
def deliver_email(email_id: int, task=None) -> str:
    return emails.deliver_email(email_id, last_attempt=task is None or task.retries == 0)


@periodic_task(crontab(minute="*/5"))
def requeue_stuck_emails() -> int:
    return emails.requeue_stuck_emails()


@task(retries=4, retry_delay=10, retry_backoff=2, context=True)
def fulfil_order(order_id: int, task=None) -> str:
    return orders.fulfil(db_session(), order_id, last_attempt=task is not None and task.retries == 0)


@periodic_task(crontab(minute="*"))
def sweep_stale_orders() -> int:
    return orders.sweep_stale_orders(db_session())
