"""Recurring campaigns' period maths (app/domain/campaign_periods.py): calendar weeks and months in the partner's
time zone, through summer time, month ends and far-off zones; the leftover rule; the low-budget rule."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.campaign_periods import (
    Every,
    Leftover,
    LowBudget,
    Recurrence,
    budget_low_reason,
    check_reminder_days,
    check_time_zone,
    next_allocations_need,
    next_period,
    period_of,
    period_starts_at,
    periods_between,
    reminder_due,
    split_leftover,
)
from app.domain.errors import InvalidInput
from app.domain.money import Money

BERLIN, NEW_YORK, AUCKLAND, TEHRAN = (
    ZoneInfo(name) for name in ("Europe/Berlin", "America/New_York", "Pacific/Auckland", "Asia/Tehran")
)
UTC_ZONE = ZoneInfo("UTC")
USD = lambda cents: Money(cents, "USD")  # noqa: E731


def at(*parts, tz=UTC) -> datetime:
    return datetime(*parts, tzinfo=tz)


# --- weeks ---------------------------------------------------------------------------------------


def test_a_week_starts_on_monday_at_midnight_local_time():
    assert period_of(at(2026, 1, 14, 12), Every.WEEK, UTC_ZONE) == date(2026, 1, 12)  # a Wednesday
    assert period_of(at(2026, 1, 12, 0), Every.WEEK, UTC_ZONE) == date(2026, 1, 12)  # the Monday itself
    assert period_of(at(2026, 1, 11, 23, 59, 59), Every.WEEK, UTC_ZONE) == date(2026, 1, 5)  # the Sunday before
    assert period_starts_at(date(2026, 1, 12), UTC_ZONE) == at(2026, 1, 12)


def test_the_week_is_the_partners_not_utcs():
    # Monday 03:00 UTC is still Sunday evening in New York: last week there.
    monday_early_utc = at(2026, 1, 12, 3)
    assert period_of(monday_early_utc, Every.WEEK, UTC_ZONE) == date(2026, 1, 12)
    assert period_of(monday_early_utc, Every.WEEK, NEW_YORK) == date(2026, 1, 5)
    assert period_starts_at(date(2026, 1, 12), NEW_YORK) == at(2026, 1, 12, 5)  # 00:00 EST = 05:00 UTC
    # Auckland is 13 hours ahead in January: its Monday starts on Sunday at 11:00 UTC.
    assert period_starts_at(date(2026, 1, 12), AUCKLAND) == at(2026, 1, 11, 11)
    assert period_of(at(2026, 1, 11, 11), Every.WEEK, AUCKLAND) == date(2026, 1, 12)
    assert period_of(at(2026, 1, 11, 10, 59), Every.WEEK, AUCKLAND) == date(2026, 1, 5)


def test_a_week_with_summer_time_starting_is_an_hour_shorter_in_utc():
    # Berlin moves its clocks forward on Sunday 29 March 2026: the week from 23 March has 167 hours.
    this_week, next_week = period_starts_at(date(2026, 3, 23), BERLIN), period_starts_at(date(2026, 3, 30), BERLIN)
    assert this_week == at(2026, 3, 22, 23)  # 00:00 CET (+01:00)
    assert next_week == at(2026, 3, 29, 22)  # 00:00 CEST (+02:00)
    assert next_week - this_week == timedelta(hours=167)
    assert period_of(at(2026, 3, 29, 21, 59), Every.WEEK, BERLIN) == date(2026, 3, 23)
    assert period_of(at(2026, 3, 29, 22, 0), Every.WEEK, BERLIN) == date(2026, 3, 30)
    # ...and the week winter time comes back (25 October 2026) has 169.
    assert period_starts_at(date(2026, 10, 26), BERLIN) - period_starts_at(date(2026, 10, 19), BERLIN) == timedelta(hours=169)


def test_a_monday_whose_midnight_does_not_exist_starts_at_its_first_moment():
    # Tehran's clocks jumped from 00:00 to 01:00 on Monday 22 March 2021: that week starts at 01:00 local.
    starts = period_starts_at(date(2021, 3, 22), TEHRAN)
    assert starts == at(2021, 3, 21, 20, 30)
    assert starts.astimezone(TEHRAN).replace(tzinfo=None) == datetime(2021, 3, 22, 1, 0)
    assert period_of(starts, Every.WEEK, TEHRAN) == date(2021, 3, 22)
    assert period_of(starts - timedelta(seconds=1), Every.WEEK, TEHRAN) == date(2021, 3, 15)


# --- months --------------------------------------------------------------------------------------


def test_a_month_starts_on_the_first_at_midnight_local_time_whatever_its_length():
    assert period_of(at(2026, 1, 31, 23, 59), Every.MONTH, UTC_ZONE) == date(2026, 1, 1)
    assert next_period(date(2026, 1, 1), Every.MONTH) == date(2026, 2, 1)
    assert next_period(date(2028, 2, 1), Every.MONTH) == date(2028, 3, 1)  # a leap February
    assert period_of(at(2028, 2, 29, 12), Every.MONTH, UTC_ZONE) == date(2028, 2, 1)
    assert next_period(date(2026, 12, 1), Every.MONTH) == date(2027, 1, 1)  # the year turns
    # New Year's Eve at 20:00 in New York is already January in UTC, not there.
    assert period_of(at(2027, 1, 1, 1), Every.MONTH, NEW_YORK) == date(2026, 12, 1)
    assert period_starts_at(date(2027, 1, 1), NEW_YORK) == at(2027, 1, 1, 5)
    # Auckland's April starts in summer time's last days (+13) and its May in winter (+12).
    assert period_starts_at(date(2026, 4, 1), AUCKLAND) == at(2026, 3, 31, 11)
    assert period_starts_at(date(2026, 5, 1), AUCKLAND) == at(2026, 4, 30, 12)


def test_next_week_is_seven_days_on_even_across_a_month_end():
    assert next_period(date(2026, 1, 26), Every.WEEK) == date(2026, 2, 2)
    assert next_period(date(2026, 12, 28), Every.WEEK) == date(2027, 1, 4)


def test_periods_between_counts_the_period_starts_after_the_last_one_seen():
    assert periods_between(date(2026, 1, 5), date(2026, 1, 5), Every.WEEK) == 0
    assert periods_between(date(2026, 1, 5), date(2026, 1, 12), Every.WEEK) == 1
    assert periods_between(date(2026, 1, 5), date(2026, 2, 2), Every.WEEK) == 4
    assert periods_between(date(2026, 11, 1), date(2027, 2, 1), Every.MONTH) == 3
    assert periods_between(date(2026, 3, 1), date(2026, 2, 1), Every.MONTH) == 0


# --- the recurrence and its leftover --------------------------------------------------------------


def test_a_recurrence_is_checked():
    assert Recurrence.of(None) is None and Recurrence.of("") is None
    assert Recurrence.of("week") == Recurrence(Every.WEEK, Leftover.EXPIRE, None)
    assert Recurrence.of("month", "rollover", 25_00) == Recurrence(Every.MONTH, Leftover.ROLLOVER, 25_00)
    for parts, field in (
        (("day",), "recurrence_every"),
        (("week", "keep"), "leftover"),
        (("week", "expire", 10_00), "rollover_cap"),  # a cap means nothing when the leftover expires
        (("week", "rollover", -1), "rollover_cap"),
        ((None, None, 10_00), "rollover_cap"),
    ):
        with pytest.raises(InvalidInput) as refused:
            Recurrence.of(*parts)
        assert refused.value.field == field


def test_the_leftover_expires_or_rolls_over_up_to_the_cap():
    expire = Recurrence(Every.WEEK, Leftover.EXPIRE)
    assert (split_leftover(12_34, expire).kept, split_leftover(12_34, expire).returned) == (0, 12_34)
    rollover = Recurrence(Every.WEEK, Leftover.ROLLOVER)
    assert (split_leftover(12_34, rollover).kept, split_leftover(12_34, rollover).returned) == (12_34, 0)
    capped = Recurrence(Every.WEEK, Leftover.ROLLOVER, 10_00)
    assert (split_leftover(12_34, capped).kept, split_leftover(12_34, capped).returned) == (10_00, 2_34)
    assert (split_leftover(9_99, capped).kept, split_leftover(9_99, capped).returned) == (9_99, 0)
    assert (split_leftover(0, capped).kept, split_leftover(0, capped).returned) == (0, 0)
    # Handled twice (a run that couldn't pay the allowance, then another): nothing more moves.
    once = split_leftover(12_34, capped)
    assert split_leftover(once.kept, capped).returned == 0


# --- alerts and reminders ------------------------------------------------------------------------


def test_the_budget_is_low_when_it_cant_pay_the_next_allocations_or_is_below_the_threshold():
    amount = USD(20_00)
    assert next_allocations_need(amount, members=7, recurring=False) == USD(20_00)  # the next member's
    assert next_allocations_need(amount, members=7, recurring=True) == USD(140_00)  # every member's, next period
    assert next_allocations_need(amount, members=0, recurring=True) == USD(20_00)
    assert budget_low_reason(USD(139_99), USD(140_00), None) is LowBudget.CANNOT_FUND_NEXT
    assert budget_low_reason(USD(140_00), USD(140_00), None) is None
    assert budget_low_reason(USD(140_00), USD(140_00), USD(150_00)) is LowBudget.BELOW_THRESHOLD
    assert budget_low_reason(USD(150_00), USD(140_00), USD(150_00)) is None


def test_a_reminder_is_due_from_n_days_before_the_end_until_the_end():
    ends = at(2026, 6, 10, 12)
    assert not reminder_due(ends, ends - timedelta(days=3, seconds=1), 3)
    assert reminder_due(ends, ends - timedelta(days=3), 3)
    assert reminder_due(ends, ends - timedelta(seconds=1), 3)
    assert not reminder_due(ends, ends, 3)
    assert not reminder_due(ends, ends - timedelta(hours=1), 0)  # 0: no reminders


def test_time_zones_and_reminder_days_are_checked():
    assert check_time_zone(" Europe/Berlin ") == "Europe/Berlin"
    assert check_time_zone("UTC") == "UTC"
    for bad in ("", "Mars/Olympus_Mons", "../etc/passwd", "Europe/"):
        with pytest.raises(InvalidInput) as refused:
            check_time_zone(bad)
        assert refused.value.field == "time_zone"
    assert check_reminder_days(0) == 0 and check_reminder_days(30) == 30
    for bad in (-1, 31, True):
        with pytest.raises(InvalidInput):
            check_reminder_days(bad)
