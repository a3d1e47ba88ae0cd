"""Replay protection: each valid request signature is accepted once.

Two backends behind one interface, both shared by every process of the app:
Redis (`SET key NX EX`) when REDIS_URL is set, else the database table
`api_signature_seen` (insert with ON CONFLICT DO NOTHING). A signature only has to be
remembered while its timestamp is still accepted (5 minutes either side); rows are kept
for 10 minutes and purged at most once a minute per process.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session

from app.models import ApiSignatureSeen

RETENTION = timedelta(minutes=10)
PURGE_EVERY_SECONDS = 60


class ReplayStore:
    def remember(self, session: Session, signature_hash: str, now: datetime) -> bool:
        """True the first time a signature is seen, False ever after (within RETENTION)."""
        raise NotImplementedError


class RedisReplayStore(ReplayStore):
    def __init__(self, client, *, prefix: str = "giftstore:api:sig:"):
        self.client = client
        self.prefix = prefix

    def remember(self, session: Session, signature_hash: str, now: datetime) -> bool:
        return bool(self.client.set(self.prefix + signature_hash, "1", nx=True, ex=int(RETENTION.total_seconds())))


class DatabaseReplayStore(ReplayStore):
    """Must be called inside the caller's write transaction (the row commits with it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last_purge = float("-inf")

    def remember(self, session: Session, signature_hash: str, now: datetime) -> bool:
        self._maybe_purge(session, now)
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the app runs on SQLite or PostgreSQL only
            raise NotImplementedError(f"no replay store for {dialect}")
        table = ApiSignatureSeen.__table__
        statement = (
            insert(table)
            .values(signature_hash=signature_hash, seen_at=now)
            .on_conflict_do_nothing(index_elements=[table.c.signature_hash])
            .returning(table.c.signature_hash)
        )
        # A row comes back only when this call inserted it; a concurrent insert of the same
        # signature waits for the other transaction and then inserts nothing.
        return session.execute(statement).first() is not None

    def _maybe_purge(self, session: Session, now: datetime) -> None:
        with self._lock:
            if time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
                return
            self._last_purge = time.monotonic()
        session.execute(delete(ApiSignatureSeen).where(ApiSignatureSeen.seen_at < now - RETENTION))


def make_replay_store(redis_url: str) -> ReplayStore:
    if redis_url:
        import redis

        return RedisReplayStore(redis.Redis.from_url(redis_url))
    return DatabaseReplayStore()
