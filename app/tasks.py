"""Queued work. Each task runs in an app context with its own database session."""
from __future__ import annotations

from huey import crontab

from app.queue import periodic_task, task
from app.services import emails


@task(retries=4, retry_delay=30, retry_backoff=2, context=True)
def deliver_email(email_id: int, task=None) -> str:
    return emails.deliver_email(email_id, last_attempt=task is None or task.retries == 0)


@periodic_task(crontab(minute="*/5"))
def requeue_stuck_emails() -> int:
    return emails.requeue_stuck_emails()
