"""Time in one place: timezone-aware UTC datetimes (SQLModel stores and returns them in UTC)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
