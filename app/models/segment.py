from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class ConsumerTag(SQLModel, table=True):
    """One tag on one consumer (app/domain/segments.py: lower case, 1-40 letters, digits, - or _).

    `partner_id` is the consumer's, kept here so "everyone of this partner with tag T" is one index lookup."""

    __tablename__ = "consumer_tag"
    __table_args__ = (
        UniqueConstraint("consumer_id", "tag"),
        Index("ix_consumer_tag_partner_id_tag", "partner_id", "tag"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id")
    consumer_id: int = Field(foreign_key="consumer.id", index=True)
    tag: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
