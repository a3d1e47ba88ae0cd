"""Recurring allowances (issue #17): period maths and the rules around them. Pure: no database, no Flask.

A recurring campaign gives each member its per-consumer amount again at the start of every period.
Periods are calendar periods in the partner's time zone: a week starts on Monday at 00:00 local time,
a month on the 1st at 00:00 local time. A period is named by its first local day (a `date`): that name
stays the same whatever the UTC offset is that day (summer time), and when the partner changes its time
zone, a period already given is not given again.

At a period start, what a member has left of the last period either expires back to the budget or rolls
over (optionally capped: what is above the cap goes back to the budget), then the new amount is allocated.

Catching up: a sweep that was down for several periods allocates once, for the current period, and
handles the leftover once. Missed periods are counted, never paid: an allowance is for spending in its
period, and paying several at once would hand members money for weeks that are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.domain.errors import InvalidInput
from app.domain.money import Money

DEFAULT_TIME_ZONE = "UTC"
REMINDER_DAYS_DEFAULT, REMINDER_DAYS_MAX = 3, 30


class Every(StrEnum):
    WEEK = "week"
    MONTH = "month"


class Leftover(StrEnum):
    EXPIRE = "expire"  # what is left at a period's end goes back to the budget
    ROLLOVER = "rollover"  # it stays with the member (above the cap, if any, goes back)


# --- time zones --------------------------------------------------------------------------------


def check_time_zone(name: str) -> str:
    """An IANA time zone name ("Europe/Berlin", "UTC"), as the tz database spells it."""
    name = (name or "").strip()
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise InvalidInput("Choose a time zone, like Europe/Berlin or America/New_York.", field="time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"'{name}' is not a time zone we know, like Europe/Berlin.", field="time_zone") from None
    return name


def time_zone_names() -> list[str]:
    """Every IANA name the system knows, sorted (for the settings page's list)."""
    return sorted(available_timezones() | {"UTC"})


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TIME_ZONE)


def check_reminder_days(days: int) -> int:
    if type(days) is not int or not 0 <= days <= REMINDER_DAYS_MAX:
        raise InvalidInput(
            f"Reminder days must be a whole number from 0 (no reminders) to {REMINDER_DAYS_MAX}.", field="reminder_days"
        )
    return days


# --- periods -------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # the database hands back naive UTC


def period_of(moment: datetime, every: Every | str, tz: ZoneInfo) -> date:
    """The period `moment` falls in, named by its first local day: the Monday of its week, or the 1st of its month."""
    day = _aware(moment).astimezone(tz).date()
    if Every(every) is Every.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(period: date, every: Every | str) -> date:
    if Every(every) is Every.WEEK:
        return period + timedelta(days=7)
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def period_starts_at(period: date, tz: ZoneInfo) -> datetime:
    """The period's first moment, in UTC: 00:00 local on its first day. Where 00:00 doesn't exist that day
    (summer time starting at midnight) it is the day's first moment (01:00 local); where it happens twice
    (winter time at midnight), the first of the two."""
    return datetime.combine(period, time(0), tzinfo=tz).astimezone(UTC)


def periods_between(last: date, current: date, every: Every | str) -> int:
    """How many period starts there are after `last` up to and including `current` (0 when current <= last)."""
    if current <= last:
        return 0
    if Every(every) is Every.WEEK:
        return (current - last).days // 7
    return (current.year - last.year) * 12 + current.month - last.month


@dataclass(frozen=True)
class Recurrence:
    """A campaign's repeat: every week or month; the leftover expires or rolls over (up to `rollover_cap`)."""

    every: Every
    leftover: Leftover = Leftover.EXPIRE
    rollover_cap: int | None = None  # minor units; None: no cap (only with ROLLOVER)

    @classmethod
    def of(cls, every: str | None, leftover: str | None = None, rollover_cap: int | None = None) -> Recurrence | None:
        """The recurrence from its parts as typed or stored (None: the campaign doesn't repeat). Checked."""
        if every is None or every == "":
            if rollover_cap is not None:
                raise InvalidInput("A rollover cap needs a recurring campaign.", field="rollover_cap")
            return None
        try:
            every_ = Every(every)
        except ValueError:
            raise InvalidInput("A campaign repeats every week or every month.", field="recurrence_every") from None
        try:
            leftover_ = Leftover(leftover or Leftover.EXPIRE.value)
        except ValueError:
            raise InvalidInput("What is left at a period's end either expires or rolls over.", field="leftover") from None
        if rollover_cap is not None:
            if type(rollover_cap) is not int or rollover_cap < 0:
                raise InvalidInput("The rollover cap can't be negative.", field="rollover_cap")
            if leftover_ is not Leftover.ROLLOVER:
                raise InvalidInput("A rollover cap only applies when the leftover rolls over.", field="rollover_cap")
        return cls(every_, leftover_, rollover_cap)


@dataclass(frozen=True)
class LeftoverSplit:
    kept: int  # stays in the member's campaign wallet
    returned: int  # goes back to the campaign's budget


def split_leftover(balance: int, recurrence: Recurrence) -> LeftoverSplit:
    """At a period start: what of a member's `balance` (minor units) stays, and what goes back to the budget."""
    balance = max(balance, 0)
    if recurrence.leftover is Leftover.EXPIRE:
        return LeftoverSplit(0, balance)
    if recurrence.rollover_cap is None:
        return LeftoverSplit(balance, 0)
    kept = min(balance, recurrence.rollover_cap)
    return LeftoverSplit(kept, balance - kept)


# --- alerts ----------------------------------------------------------------------------------------


class LowBudget(StrEnum):
    """Why a campaign's budget is low (the admins' email and the `campaign.budget_low` webhook)."""

    CANNOT_FUND_NEXT = "cannot_fund_next"  # less than the next allocation(s) need
    BELOW_THRESHOLD = "below_threshold"  # less than the admin's threshold


def next_allocations_need(per_consumer_amount: Money, *, members: int, recurring: bool) -> Money:
    """What the budget must hold to pay what comes next: the next member's allocation, or for a recurring
    campaign every member's allocation at the next period start (at least one member's)."""
    count = max(members, 1) if recurring else 1
    return Money(per_consumer_amount.amount * count, per_consumer_amount.currency)


def budget_low_reason(remaining: Money, need: Money, threshold: Money | None) -> LowBudget | None:
    """None when the budget is fine; else why it is low (not enough for the next allocations comes first)."""
    if remaining.amount < need.amount:
        return LowBudget.CANNOT_FUND_NEXT
    if threshold is not None and remaining.amount < threshold.amount:
        return LowBudget.BELOW_THRESHOLD
    return None


def check_threshold(threshold: Money | None) -> None:
    if threshold is not None and threshold.amount <= 0:
        raise InvalidInput("The low-budget threshold must be more than zero (or empty: none).", field="low_budget_threshold")


def reminder_due(ends_at: datetime, now: datetime, reminder_days: int) -> bool:
    """Whether a balance expiring at `ends_at` is inside its reminder window now: at most `reminder_days`
    days before its end, and not ended yet. 0 days: reminders are off."""
    if reminder_days <= 0:
        return False
    ends_at, now = _aware(ends_at), _aware(now)
    return ends_at - timedelta(days=reminder_days) <= now < ends_at
