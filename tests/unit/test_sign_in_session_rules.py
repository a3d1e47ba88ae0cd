"""When a sign-in session is over (app.domain.sign_in_sessions): pure rules, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.sign_in_sessions import SessionLimits, seen_is_due, session_is_live

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LIMITS = SessionLimits.from_settings(idle_minutes=60, max_hours=12)


def live(*, seen_after: timedelta, now_after: timedelta, ended: bool = False) -> bool:
    return session_is_live(
        created_at=START, last_seen_at=START + seen_after, ended_at=START if ended else None, now=START + now_after, limits=LIMITS
    )


@pytest.mark.parametrize(
    "seen_after, now_after, expected",
    [
        (timedelta(0), timedelta(minutes=59, seconds=59), True),
        (timedelta(0), timedelta(minutes=60), False),  # idle for exactly the limit: over
        (timedelta(hours=11, minutes=30), timedelta(hours=11, minutes=59), True),
        (timedelta(hours=11, minutes=59), timedelta(hours=12), False),  # busy, but as old as the lifetime: over
    ],
)
def test_a_session_lives_until_idle_for_the_limit_or_as_old_as_the_lifetime(seen_after, now_after, expected):
    assert live(seen_after=seen_after, now_after=now_after) is expected


def test_a_signed_out_session_is_over_at_once():
    assert not live(seen_after=timedelta(0), now_after=timedelta(seconds=1), ended=True)


def test_the_last_seen_time_moves_at_most_once_a_minute():
    assert not seen_is_due(last_seen_at=START, now=START + timedelta(seconds=59))
    assert seen_is_due(last_seen_at=START, now=START + timedelta(minutes=1))
