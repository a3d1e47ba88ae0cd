from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class SignInSession(SQLModel, table=True):
    """One sign-in of a consumer (store) or a team member (portal), from sign-in until it ends.

    The browser's cookie carries a random token; only its hash is kept here. The session ends at
    sign-out (`ended_at`), after SESSION_IDLE_MINUTES without a request (`last_seen_at`, written at
    most once a minute) or SESSION_MAX_HOURS after `created_at`, whichever comes first.
    """

    __tablename__ = "sign_in_session"
    __table_args__ = (CheckConstraint("(consumer_id IS NULL) <> (team_member_id IS NULL)", name="sign_in_session_one_person"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    consumer_id: int | None = Field(default=None, foreign_key="consumer.id", index=True)
    team_member_id: int | None = Field(default=None, foreign_key="team_member.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
