"""Campaign reports (issue #17): the burn-down (the campaign's money per day, and when its budget runs out at the
current pace) and the per-member report as a CSV of any size. Everything is read from the ledger.

The ledger tells each move of a campaign's money by its accounts (`Account.campaign_id`, kinds
`campaign_budget` and `campaign`) and by whether the transaction is the campaign's own
(`Transaction.campaign_id`, set by every move services/campaigns.py makes):

- an entry on the budget: funding and returns to partner funds (no consumer), or an allocation and what came
  back from a member (a consumer);
- an entry on a member's wallet in one of the campaign's own transactions: an allocation (+) or a return to the
  budget (-: removal, the end, a refund after the end, an expiry);
- any other entry on a member's wallet: a checkout's debit (-) or a failed order's refund (+) (checkouts are
  not tagged with a campaign: one may draw on several).

The pure maths (days into points, the pace, the projection, the chart's geometry) is app/domain/burn_down.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain

from sqlalchemy import and_, case, distinct
from sqlmodel import Session, col, func, select

from app.clock import utcnow
from app.db import engine as database_engine
from app.domain import burn_down as rules
from app.domain import campaign_periods as periods
from app.domain.burn_down import DayFlows, PeriodAllocations, Point, Projection
from app.domain.campaigns import CampaignStatus
from app.domain.ledger import AccountKind, TransactionStatus, TransactionType
from app.domain.money import Money
from app.models import Account, Campaign, CampaignMember, Consumer, Entry, Partner, Transaction
from app.services import csv_export
from app.services.reports import utc_day
from app.services.rows import row_id

MEMBER_CSV_COLUMNS = ["name", "email", "status", "joined", "allocated", "spent", "returned", "orders", "balance", "currency"]
MEMBER_CSV_ROWS_PER_CHUNK = 500
MEMBERS_PER_QUERY = 500


def _day(moment: datetime) -> date:
    """The UTC day of a stored moment (SQLite hands back naive UTC datetimes)."""
    return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()


# --- the burn-down -----------------------------------------------------------------------------------


def daily_flows(session: Session, campaign_ids: Sequence[int]) -> dict[int, list[DayFlows]]:
    """Each campaign's money moves per UTC day (funded, allocated, spent), for any number of campaigns in one
    grouped query. Days without a move are left out."""
    if not campaign_ids:
        return {}
    own = col(Transaction.campaign_id) == col(Account.campaign_id)
    wallet = col(Account.kind) == AccountKind.CAMPAIGN.value
    day = utc_day(Transaction.created_at)
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            Account.campaign_id,
            day,
            func.sum(case((col(Account.kind) == AccountKind.CAMPAIGN_BUDGET.value, Entry.amount), else_=0)),
            func.sum(case((and_(wallet, own), Entry.amount), else_=0)),
            func.sum(case((wallet, Entry.amount), else_=0)),
        )
        .select_from(Entry)
        .join(Account, col(Account.id) == Entry.account_id)
        .join(Transaction, col(Transaction.id) == Entry.transaction_id)
        .where(
            col(Account.campaign_id).in_(list(campaign_ids)),
            col(Account.kind).in_([AccountKind.CAMPAIGN.value, AccountKind.CAMPAIGN_BUDGET.value]),
        )
        .group_by(col(Account.campaign_id), day)
    ).all()
    flows: dict[int, list[DayFlows]] = defaultdict(list)
    for campaign_id, moved_on, budget, allocated, wallets in rows:
        budget, allocated, wallets = int(budget or 0), int(allocated or 0), int(wallets or 0)  # PostgreSQL: numeric
        flows[campaign_id].append(
            DayFlows(_as_date(moved_on), funded=budget + allocated, allocated=allocated, spent=allocated - wallets)
        )
    return {campaign_id: sorted(days, key=lambda flow: flow.day) for campaign_id, days in flows.items()}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _span(campaign: Campaign, flows: Sequence[DayFlows], today: date) -> tuple[date, date]:
    """The chart's days: from the campaign's creation to today, or to its end (and any refund after it)."""
    first = _day(campaign.created_at)
    if campaign.status == CampaignStatus.ENDED.value and campaign.ended_at is not None:
        last = max([_day(campaign.ended_at), *(flow.day for flow in flows)])
    else:
        last = today
    return first, max(first, last)


def period_allocations(session: Session, campaign: Campaign, *, now: datetime | None = None) -> PeriodAllocations | None:
    """A recurring campaign's allocations from the next period start on (None: it allocates once, when a member
    joins). The repeat's settings (`recurrence_every`, `leftover`, `rollover_cap`) and the partner's `time_zone`
    are read with getattr: a campaign or partner without them is simply not recurring, or in UTC."""
    recurrence = periods.Recurrence.of(
        getattr(campaign, "recurrence_every", None) or None,
        getattr(campaign, "leftover", None),
        getattr(campaign, "rollover_cap", None),
    )
    if recurrence is None:
        return None
    partner = session.get(Partner, campaign.partner_id)
    tz = periods.zone(getattr(partner, "time_zone", None) or periods.DEFAULT_TIME_ZONE)
    current = periods.period_of(now or utcnow(), recurrence.every, tz)
    return PeriodAllocations(
        recurrence.every,
        _members_paid_each_period(session, campaign) * campaign.per_consumer_amount,
        periods.next_period(current, recurrence.every),
        leftover_returns=recurrence.leftover is periods.Leftover.EXPIRE or recurrence.rollover_cap is not None,
    )


def _members_paid_each_period(session: Session, campaign: Campaign) -> int:
    """The members a period start allocates to: current ones (not removed, and still eligible when the
    campaign's eligibility can drop them)."""
    where = [col(CampaignMember.campaign_id) == campaign.id, col(CampaignMember.removed_at).is_(None)]
    ineligible_at = getattr(CampaignMember, "ineligible_at", None)
    if ineligible_at is not None:
        where.append(ineligible_at.is_(None))
    return session.exec(select(func.count(col(CampaignMember.id))).where(*where)).one()


@dataclass(frozen=True)
class BurnDown:
    """What the campaign page's chart shows: the money at each point (minor units of `currency`) and, while the
    campaign hasn't ended, when the unallocated budget runs out at the recent pace."""

    campaign: Campaign
    currency: str
    points: list[Point]
    projection: Projection | None  # None: the campaign has ended

    @property
    def now(self) -> Point:
        return self.points[-1]

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def bucket_days(self) -> int:
        """How many days each point covers (1: a point a day)."""
        return (self.points[1].day - self.points[0].day).days if len(self.points) > 1 else 1


def burn_down(session: Session, *, campaign: Campaign, today: date | None = None) -> BurnDown:
    """The campaign's burn-down: one grouped query over its ledger entries (and, when its allocations recur, its
    partner and a count of its members), at most `MAX_POINTS` points whatever its age."""
    today = today or utcnow().date()
    flows = daily_flows(session, [row_id(campaign)]).get(row_id(campaign), [])
    first, last = _span(campaign, flows, today)
    points = rules.series(flows, first=first, last=last, max_points=rules.MAX_POINTS)
    projection = None
    if campaign.status != CampaignStatus.ENDED.value:
        pace = rules.recent_pace(flows, today=today, began=first)
        recurrence = period_allocations(session, campaign) if getattr(campaign, "recurrence_every", None) else None
        projection = rules.project(
            points[-1].remaining,
            pace,
            today=today,
            ends_on=_day(campaign.ends_at) if campaign.ends_at else None,
            recurrence=recurrence,
        )
    return BurnDown(campaign, campaign.currency, points, projection)


def remaining_over_time(
    session: Session, campaigns: Sequence[Campaign], *, today: date | None = None, max_points: int = rules.SPARKLINE_POINTS
) -> dict[int, list[Point]]:
    """For the campaigns list's sparklines: each campaign's money over its life in at most `max_points` points,
    for any number of campaigns in one query."""
    today = today or utcnow().date()
    flows = daily_flows(session, [row_id(c) for c in campaigns])
    result = {}
    for campaign in campaigns:
        days = flows.get(row_id(campaign), [])
        first, last = _span(campaign, days, today)
        result[row_id(campaign)] = rules.series(days, first=first, last=last, max_points=max_points)
    return result


# --- the member report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberFigures:
    """One member's campaign money (gross since they joined): allocated - spent - returned = balance."""

    name: str
    email: str
    removed: bool
    joined_at: datetime
    allocated: Money  # allocations into their campaign wallet
    spent: Money  # paid for gift cards, net of refunds (pending orders included)
    returned: Money  # back to the budget (removal, the end, a refund after the end, an expiry)
    orders: int  # orders their campaign balance paid for (failed ones left out)
    balance: Money  # what they have left


def member_figures(session: Session, *, campaign: Campaign, chunk: int = MEMBERS_PER_QUERY) -> Iterator[MemberFigures]:
    """Every member (removed ones too), in the order they first joined, `chunk` at a time (keyset on the
    member's id, two queries a chunk): memory stays flat whatever the campaign's size."""
    own = col(Transaction.campaign_id) == campaign.id
    checkout = and_(
        col(Transaction.campaign_id).is_(None),
        col(Transaction.type) == TransactionType.DEBIT.value,
        col(Transaction.status) != TransactionStatus.FAILED.value,
        col(Entry.amount) < 0,
    )
    members = (
        select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            CampaignMember.id,
            CampaignMember.account_id,
            CampaignMember.joined_at,
            CampaignMember.removed_at,
            Consumer.full_name,
            Consumer.email,
            Account.balance,
        )
        .join(Consumer, col(Consumer.id) == CampaignMember.consumer_id)
        .join(Account, col(Account.id) == CampaignMember.account_id)
        .where(CampaignMember.campaign_id == campaign.id)
        .order_by(col(CampaignMember.id))
        .limit(chunk)
    )
    after = 0
    money = lambda amount: Money(int(amount or 0), campaign.currency)  # noqa: E731
    while True:
        rows = session.exec(members.where(col(CampaignMember.id) > after)).all()
        if not rows:
            return
        sums = {
            account_id: (allocated, returned, spent, orders)
            for account_id, allocated, returned, spent, orders in session.exec(
                select(  # type: ignore[call-overload]
                    Entry.account_id,
                    func.sum(case((and_(own, col(Entry.amount) > 0), Entry.amount), else_=0)),
                    func.sum(case((and_(own, col(Entry.amount) < 0), -col(Entry.amount)), else_=0)),
                    func.sum(case((own, 0), else_=-col(Entry.amount))),
                    func.count(distinct(case((checkout, Transaction.order_id)))),
                )
                .join(Transaction, col(Transaction.id) == Entry.transaction_id)
                .where(col(Entry.account_id).in_([row[1] for row in rows]))
                .group_by(col(Entry.account_id))
            ).all()
        }
        for _id, account_id, joined_at, removed_at, name, email, balance in rows:
            allocated, returned, spent, orders = sums.get(account_id, (0, 0, 0, 0))
            yield MemberFigures(
                name=name,
                email=email,
                removed=removed_at is not None,
                joined_at=joined_at,
                allocated=money(allocated),
                spent=money(spent),
                returned=money(returned),
                orders=int(orders or 0),
                balance=money(balance),
            )
        if len(rows) < chunk:
            return
        after = rows[-1][0]


def _member_cells(row: MemberFigures) -> list:
    amount = lambda money: money.to_decimal()  # noqa: E731
    return [
        row.name,
        row.email,
        "removed" if row.removed else "member",
        row.joined_at.strftime("%Y-%m-%d %H:%M:%S"),
        amount(row.allocated),
        amount(row.spent),
        amount(row.returned),
        row.orders,
        amount(row.balance),
        row.balance.currency,
    ]


def member_report_csv(*, campaign: Campaign) -> Iterator[str]:
    """The member report as CSV text (amounts in major units with the currency, like the transactions export),
    a chunk at a time, through the one formula-safe writer. Read while the response is sent: the generator
    owns a session of its own for as long as the download lasts and needs no Flask context."""
    engine = database_engine()  # now, while there is an app context
    campaign_id = row_id(campaign)

    def lines() -> Iterator[str]:
        with Session(engine) as session:
            fresh = session.get(Campaign, campaign_id)
            assert fresh is not None  # the view found it
            rows = (_member_cells(row) for row in member_figures(session, campaign=fresh))
            yield from csv_export.csv_chunks(chain([MEMBER_CSV_COLUMNS], rows), rows_per_chunk=MEMBER_CSV_ROWS_PER_CHUNK)

    return lines()
