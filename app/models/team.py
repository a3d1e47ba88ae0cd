from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class TeamMember(SQLModel, table=True):
    """A person on a partner's team, signing in to the portal at /portal/.

    Roles: admin (everything, incl. team and API keys), operator (consumers, funds, orders),
    viewer (read-only). Email is unique across all partners: the portal has one login page.
    """

    __tablename__ = "team_member"

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    full_name: str = Field(max_length=200)
    role: str = Field(max_length=20)  # admin | operator | viewer
    password_hash: str = Field(max_length=255)
    must_change_password: bool = True
    temporary_password_expires_at: datetime | None = None
    is_active: bool = True
    # Bumped whenever the password changes: every older portal session stops working.
    session_epoch: int = 0
    invited_by_id: int | None = Field(default=None, foreign_key="team_member.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"team:{self.id}:{self.session_epoch}"


class AuditEvent(SQLModel, table=True):
    """Who changed what and when: one row for every change a team member (or the API) makes."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    team_member_id: int | None = Field(default=None, foreign_key="team_member.id", index=True)
    actor: str = Field(max_length=120)  # "team:<id> <email>", "api:<key prefix>", "system"
    action: str = Field(max_length=60)  # e.g. consumer.deactivate, funds.credit, brand.update
    subject_type: str = Field(default="", max_length=40)
    subject_id: str = Field(default="", max_length=60)
    summary: str = Field(default="", max_length=500)
    details: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON
    created_at: datetime = Field(default_factory=utcnow, index=True)
