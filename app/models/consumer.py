from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Consumer(SQLModel, table=True):
    """A partner's person, shopping in the partner's store. Email is unique per partner."""

    __table_args__ = (
        UniqueConstraint("partner_id", "email"),
        # The portal's list, newest first by id (app/services/list_pages.py); also the foreign key's index.
        Index("ix_consumer_partner_id_id", "partner_id", "id"),
        # Its search finds a part of a name or an email in any case (ILIKE '%...%'): on PostgreSQL, trigram
        # indexes answer that without reading each of a partner's 100,000 consumers. SQLite makes them plain
        # indexes its search can't use (its LIKE '%...%' reads the partner's rows): kept so that the schema is
        # one on both (Alembic's comparison ignores Index.ddl_if, sqlalchemy/alembic#1491).
        *(
            Index(f"ix_consumer_{column}_trigrams", column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
            for column in ("full_name", "email")
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
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


# The trigram operator class the search's indexes use (pg_trgm ships with PostgreSQL; a database owner may create it).
event.listen(
    Consumer.__table__,  # type: ignore[attr-defined]  # set by SQLAlchemy's declarative mapping
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


class PasswordReset(SQLModel, table=True):
    """A single-use password reset link; only the token's hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    consumer_id: int = Field(foreign_key="consumer.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
