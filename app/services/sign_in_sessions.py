"""Sign-in sessions, the same for the store's consumers and the portal's team members.

Each sign-in adds a `SignInSession` row and hands back a random token for the browser's signed
cookie; the row keeps only the token's hash. A request counts as signed in only while that row is
live (`app.domain.sign_in_sessions.session_is_live`): signing out ends the row, so a copy of the
cookie taken before is worth nothing afterwards; so does idling past SESSION_IDLE_MINUTES or
outliving SESSION_MAX_HOURS. `consumer_auth` and `team` call these for their people.

Time is read through `clock.utcnow()` (the module, not the function), so tests can set it.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import update
from sqlmodel import Session, col, select

from app import clock
from app.db import remember, remembered, write_transaction
from app.domain.sign_in_sessions import SEEN_EVERY, SessionLimits, seen_is_due, session_is_live
from app.models import SignInSession
from app.security import new_token, token_hash
from app.services.rows import row_id


def hash_of(token: str | None) -> str:
    """The stored form of a cookie's token ("" for none: it matches no row)."""
    return token_hash(token) if token else ""


def limits() -> SessionLimits:
    settings = current_app.extensions["settings"]
    return SessionLimits.from_settings(idle_minutes=settings.SESSION_IDLE_MINUTES, max_hours=settings.SESSION_MAX_HOURS)


def start(
    session: Session, *, consumer_id: int | None = None, team_member_id: int | None = None, replacing: str | None = None
) -> str:
    """Inside the caller's write transaction: a new session for one person. Returns its token (for the cookie).

    `replacing`: the token this browser held until now (someone signing in again, maybe as someone else): it ends.
    """
    if replacing:
        end(session, replacing)
    token = new_token()
    now = clock.utcnow()
    session.add(
        SignInSession(
            token_hash=token_hash(token), consumer_id=consumer_id, team_member_id=team_member_id, created_at=now, last_seen_at=now
        )
    )
    return token


def end(session: Session, token: str | None) -> None:
    """Inside the caller's write transaction: the session with this token is over (sign-out)."""
    if not token:
        return
    session.execute(
        update(SignInSession)
        .where(col(SignInSession.token_hash) == token_hash(token), col(SignInSession.ended_at).is_(None))
        .values(ended_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )


def end_all(
    session: Session, *, consumer_id: int | None = None, team_member_id: int | None = None, keeping: str | None = None
) -> None:
    """Inside the caller's write transaction: every session of this person is over, but the one with token `keeping`."""
    if (consumer_id is None) == (team_member_id is None):
        raise ValueError("end_all needs exactly one of consumer_id and team_member_id")
    person = (
        col(SignInSession.consumer_id) == consumer_id
        if consumer_id is not None
        else col(SignInSession.team_member_id) == team_member_id
    )
    statement = update(SignInSession).where(person, col(SignInSession.ended_at).is_(None))
    if keeping:
        statement = statement.where(col(SignInSession.token_hash) != token_hash(keeping))
    session.execute(statement.values(ended_at=clock.utcnow()).execution_options(synchronize_session=False))


def remember_read(session: Session, sign_in_hash: str, record: SignInSession | None) -> None:
    """Keep a row read along with its person (the store's one query per request) for `find`."""
    if record is not None:
        remember(session, ("sign_in_session", sign_in_hash), record)


def find(session: Session, sign_in_hash: str) -> SignInSession | None:
    """The row with this token hash: the one read along with the person if any, else one query."""
    if not sign_in_hash:
        return None
    record = remembered(session, ("sign_in_session", sign_in_hash))
    if record is None:
        record = session.exec(select(SignInSession).where(SignInSession.token_hash == sign_in_hash)).first()
    return record


def is_live(session: Session, record: SignInSession | None) -> bool:
    """Whether `record` is a live session. If so, it was just used: its `last_seen_at` moves on (at most once a minute)."""
    if record is None:
        return False
    now = clock.utcnow()
    if not session_is_live(
        created_at=record.created_at, last_seen_at=record.last_seen_at, ended_at=record.ended_at, now=now, limits=limits()
    ):
        return False
    if seen_is_due(last_seen_at=record.last_seen_at, now=now):
        _seen(session, row_id(record), now)
    return True


def _seen(session: Session, record_id: int, now) -> None:
    # Conditional: of two requests arriving together, one writes. Rare (once a minute a session), so the
    # request's own reads being forgotten by the write transaction costs little.
    with write_transaction(session):
        session.execute(
            update(SignInSession)
            .where(
                col(SignInSession.id) == record_id,
                col(SignInSession.ended_at).is_(None),
                col(SignInSession.last_seen_at) <= now - SEEN_EVERY,
            )
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
