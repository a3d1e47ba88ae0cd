"""Rows that are only needed for a while, deleted once they are not: a periodic task runs `purge_expired`.

- `sign_in_session`: a session is over SESSION_MAX_HOURS after it started, whatever happened; its row then only
  answers "not signed in", which no row answers as well. Kept KEEP_SIGN_INS_DAYS past that, then deleted.
- `customer_creation`: a `POST /customer` idempotency key is remembered for IDEMPOTENCY_DAYS (the API's
  documented window); the stored first answer (a name and an email) is deleted after that.

Each run deletes in batches, so a backlog of millions of rows never holds one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel import Session, col

from app import clock
from app.db import write_transaction
from app.models import CustomerCreation, SignInSession
from app.services import sign_in_sessions

KEEP_SIGN_INS_DAYS = 30
IDEMPOTENCY_DAYS = 30
BATCH = 5_000


@dataclass(frozen=True)
class Purged:
    sign_in_sessions: int
    customer_creations: int


def purge_expired(session: Session, *, batch: int = BATCH) -> Purged:
    now = clock.utcnow()
    sessions_before = now - sign_in_sessions.limits().lifetime - timedelta(days=KEEP_SIGN_INS_DAYS)
    creations_before = now - timedelta(days=IDEMPOTENCY_DAYS)
    return Purged(
        sign_in_sessions=_delete_in_batches(session, SignInSession, col(SignInSession.created_at) < sessions_before, batch),
        customer_creations=_delete_in_batches(
            session, CustomerCreation, col(CustomerCreation.created_at) < creations_before, batch
        ),
    )


def _delete_in_batches(session: Session, model, condition, batch: int) -> int:
    deleted = 0
    while True:
        with write_transaction(session):
            ids = select(model.id).where(condition).limit(batch).scalar_subquery()
            count = session.execute(delete(model).where(col(model.id).in_(ids))).rowcount  # type: ignore[attr-defined]
        deleted += count
        if count < batch:
            return deleted
