from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow


class Campaign(SQLModel, table=True):
    """A partner's budget with rules (app/domain/campaigns.py): who gets how much, for which brands, when.

    The money is in the ledger: the budget account (kind `campaign_budget`, `budget_account_id`) holds
    what is not allocated yet; each member's campaign wallet (kind `campaign`, `Account.campaign_id`)
    what they have left. Lists are comma-separated, like Partner.currencies; empty = every brand.
    """

    __table_args__ = (UniqueConstraint("partner_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    name: str = Field(max_length=120)
    currency: str = Field(max_length=3)
    per_consumer_amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # minor units, for later allocations
    brand_slugs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # comma-separated
    categories: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # comma-separated
    starts_at: datetime
    ends_at: datetime | None = None
    priority: int = 0  # higher is spent first
    status: str = Field(default="scheduled", max_length=20, index=True)  # scheduled | active | paused | ended
    return_unused_on_end: bool = False  # at the end, the unallocated budget goes back to partner funds
    budget_account_id: int | None = Field(default=None, foreign_key="account.id")
    created_by_id: int | None = Field(default=None, foreign_key="team_member.id")
    created_by: str = Field(default="", max_length=120)  # who created it: team:<id> <email>, api:<key>, cli
    idempotency_key: str | None = Field(default=None, max_length=120)  # the create request's, once per partner
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)  # every change locks the row by setting it
    ended_at: datetime | None = None

    @property
    def brand_slug_list(self) -> list[str]:
        return [s for s in self.brand_slugs.split(",") if s]

    @property
    def category_list(self) -> list[str]:
        return [c for c in self.categories.split(",") if c]


class CampaignMember(SQLModel, table=True):
    """A consumer in a campaign, with their campaign wallet. Removed members keep their row (removed_at)."""

    __tablename__ = "campaign_member"
    __table_args__ = (UniqueConstraint("campaign_id", "consumer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    consumer_id: int = Field(foreign_key="consumer.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    joined_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None
