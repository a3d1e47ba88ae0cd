from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class BrandingVersion(SQLModel, table=True):
    """A partner's look: the one draft being edited, the published one, and the earlier ones.

    status (app.domain.branding.VersionStatus): draft | published | archived. Publishing copies the version onto the Partner row
    (what the store and emails read) and archives the previous published one; any archived
    version can be restored into the draft. The logo is a re-encoded PNG.
    """

    __tablename__ = "branding_version"
    __table_args__ = (UniqueConstraint("partner_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    version: int
    status: str = Field(default="draft", max_length=20)
    store_name: str = Field(default="", max_length=120)
    primary_color: str = Field(default="#1f6feb", max_length=7)
    accent_color: str = Field(default="#d97706", max_length=7)  # 3:1 on white: it draws the focus ring
    background_color: str = Field(default="#ffffff", max_length=7)
    support_email: str = Field(default="", max_length=254)
    footer_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    logo_png: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    logo_width: int | None = None
    logo_height: int | None = None
    created_by_id: int | None = Field(default=None, foreign_key="team_member.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
