from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.clock import utcnow
from app.domain.segments import member_is_eligible


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
    # Who it is for (app/domain/segments.py): None = the consumers chosen by hand; a tag = everyone with it
    # (joining when they get it), optionally only consumers created after `eligible_created_after`.
    eligible_tag: str | None = Field(default=None, max_length=40)
    eligible_created_after: datetime | None = None
    status: str = Field(default="scheduled", max_length=20, index=True)  # scheduled | active | paused | ended
    return_unused_on_end: bool = False  # at the end, the unallocated budget goes back to partner funds
    # Recurring allowances (app/domain/campaign_periods.py): None = allocated once, when a member joins; "week" |
    # "month" = again at every period start (calendar, in the partner's time zone). At a period start the leftover
    # "expire"s back to the budget or "rollover"s (up to `rollover_cap` minor units; None: no cap).
    recurrence_every: str | None = Field(default=None, max_length=10)
    leftover: str = Field(default="expire", max_length=10, sa_column_kwargs={"server_default": "expire"})
    rollover_cap: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Alerts: admins get one email (and the campaign.budget_low webhook fires) when the budget falls below this
    # (minor units; None: only when it can't pay the next allocations); `budget_low_since` records the crossing
    # (set when the alert goes out, cleared when the budget is enough again: the next crossing alerts again).
    low_budget_threshold: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    budget_low_since: datetime | None = None
    pause_when_exhausted: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
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
    # Recurring campaigns: the period (its first local day) whose allocation this member has had; None: the one
    # they joined in (app/services/campaigns.py, `run_period`).
    allocated_period: date | None = None
    # The one "your balance expires soon" email (app/services/campaign_reminders.py): when it was sent.
    expiry_reminded_at: datetime | None = None
    # Set when they stop matching the campaign's eligibility (lost its tag): they keep what they were given,
    # but get no later allocation (`is_eligible`); cleared when they match again.
    ineligible_at: datetime | None = None

    @property
    def is_eligible(self) -> bool:
        """Whether later allocations (a recurring period's) still go to this member."""
        return member_is_eligible(removed_at=self.removed_at, ineligible_at=self.ineligible_at)


class CampaignPeriod(SQLModel, table=True):
    """One period of a recurring campaign, as its allowance run went (app/services/campaigns.py, `run_period`).

    Unique per campaign and period (its first local day): the run that creates it holds the campaign's row, so
    a second run, concurrent or later, finds it and allocates nothing twice (each member also records the period
    it was paid for: `CampaignMember.allocated_period`). Totals are in the campaign's minor units."""

    __tablename__ = "campaign_period"
    __table_args__ = (UniqueConstraint("campaign_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    period: date  # its first local day: a Monday, or the 1st of a month
    starts_at: datetime  # 00:00 local on that day, in UTC
    missed_periods: int = 0  # period starts before this one that no run saw (downtime): not paid, only counted
    members_allocated: int = 0
    allocated: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    expired: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # leftover back to the budget
    rolled_over: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))  # leftover kept
    members_unpaid: int = 0  # due but not paid (the budget ran out): paid by a later run once the budget allows
    first_run_at: datetime = Field(default_factory=utcnow)
    last_run_at: datetime = Field(default_factory=utcnow)
