from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Consumer(SQLModel, table=True):
    """A partner's person, shopping in the partner's store. Email is unique per partner."""

    __table_args__ = (UniqueConstraint("partner_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    email: str = Field(max_length=254)
    full_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    must_change_password: bool = True
    temporary_password_expires_at: datetime | None = None
    accepted_terms_version: int | None = None
    accepted_terms_at: datetime | None = None
    is_active: bool = True
    # Bumped whenever the password changes: every older login session stops working.
    session_epoch: int = 0
    created_at: datetime = Field(default_factory=utcnow)

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"consumer:{self.id}:{self.session_epoch}"


class PasswordReset(SQLModel, table=True):
    """A single-use password reset link; only the token's hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    consumer_id: int = Field(foreign_key="consumer.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
