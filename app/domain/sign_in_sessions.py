"""When a sign-in session is over: the rule the store and the portal share (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# `last_seen_at` is written at most this often: a request within a minute of the last write writes nothing
# (the store is read-heavy). The idle limit is therefore measured to within this much.
SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle: timedelta  # no request for this long ends the session
    lifetime: timedelta  # this long after signing in the session ends, however busy

    @classmethod
    def from_settings(cls, *, idle_minutes: int, max_hours: int) -> SessionLimits:
        return cls(idle=timedelta(minutes=idle_minutes), lifetime=timedelta(hours=max_hours))


def session_is_live(
    *, created_at: datetime, last_seen_at: datetime, ended_at: datetime | None, now: datetime, limits: SessionLimits
) -> bool:
    """Not signed out, not idle past the limit, not older than the lifetime."""
    return ended_at is None and now - last_seen_at < limits.idle and now - created_at < limits.lifetime


def seen_is_due(*, last_seen_at: datetime, now: datetime) -> bool:
    """Whether this request should move `last_seen_at` forward."""
    return now - last_seen_at >= SEEN_EVERY
