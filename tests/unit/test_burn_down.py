"""A campaign's burn-down, pure: days into a bounded number of points, the recent pace, when the budget left to
allocate runs out at that pace (one-off and recurring campaigns), and the chart's geometry."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.burn_down import (
    HORIZON_DAYS,
    DayFlows,
    Outlook,
    Pace,
    PeriodAllocations,
    Point,
    bucket_days,
    plot,
    project,
    recent_pace,
    series,
    sparkline,
)
from app.domain.campaign_periods import Every

TODAY = date(2026, 12, 3)  # a Thursday
DAY = timedelta(days=1)


# --- series ------------------------------------------------------------------------------------


def test_a_short_campaign_gets_a_point_a_day_with_running_totals():
    flows = [
        DayFlows(TODAY - 2 * DAY, funded=100_00, allocated=40_00),
        DayFlows(TODAY, allocated=20_00, spent=25_00),
    ]
    points = series(flows, first=TODAY - 2 * DAY, last=TODAY)
    assert points == [
        Point(TODAY - 2 * DAY, remaining=60_00, held=40_00, spent=0),
        Point(TODAY - DAY, remaining=60_00, held=40_00, spent=0),  # a quiet day keeps the totals
        Point(TODAY, remaining=40_00, held=35_00, spent=25_00),
    ]
    assert all(point.total == 100_00 for point in points)


def test_a_long_campaign_is_bucketed_into_at_most_the_points_asked_for_and_ends_on_its_last_day():
    first = TODAY - 999 * DAY  # 1,000 days
    flows = [DayFlows(first + n * DAY, funded=10, allocated=3, spent=1) for n in range(1000)]
    points = series(flows, first=first, last=TODAY, max_points=90)
    assert bucket_days(first, TODAY, 90) == 12
    assert len(points) == 84  # ceil(1000 / 12)
    assert [(b.day - a.day).days for a, b in zip(points, points[1:], strict=False)][:-1] == [12] * 82
    assert points[0].day == first + 11 * DAY and points[0].remaining == 12 * 7
    assert points[-1].day == TODAY
    assert (points[-1].remaining, points[-1].held, points[-1].spent) == (7000, 2000, 1000)


def test_flows_before_the_first_day_count_and_flows_after_the_last_are_left_out():
    flows = [DayFlows(TODAY - 10 * DAY, funded=50_00), DayFlows(TODAY + DAY, funded=7_00)]
    assert series(flows, first=TODAY - DAY, last=TODAY) == [
        Point(TODAY - DAY, 50_00, 0, 0),
        Point(TODAY, 50_00, 0, 0),
    ]


def test_a_campaign_created_today_has_one_point():
    assert series([DayFlows(TODAY, funded=5_00)], first=TODAY, last=TODAY) == [Point(TODAY, 5_00, 0, 0)]


@given(
    days=st.integers(min_value=1, max_value=4000),
    max_points=st.integers(min_value=1, max_value=200),
    moves=st.lists(st.tuples(st.integers(0, 3999), st.integers(-500, 500), st.integers(-500, 500)), max_size=30),
)
def test_any_span_takes_at_most_max_points_and_the_last_point_holds_every_flow(days, max_points, moves):
    first = TODAY - (days - 1) * DAY
    flows = [DayFlows(first + (offset % days) * DAY, funded=f, allocated=a, spent=0) for offset, f, a in moves]
    points = series(flows, first=first, last=TODAY, max_points=max_points)
    assert 1 <= len(points) <= max_points
    assert points[-1].day == TODAY
    assert [p.day for p in points] == sorted({p.day for p in points})
    assert points[-1].remaining == sum(f.funded - f.allocated for f in flows)


# --- the pace ----------------------------------------------------------------------------------


def test_the_pace_covers_the_last_fourteen_days_only():
    flows = [
        DayFlows(TODAY - 20 * DAY, allocated=1000_00, spent=500_00),  # long ago: not the current pace
        DayFlows(TODAY - 13 * DAY, allocated=70_00, spent=10_00),
        DayFlows(TODAY, allocated=70_00, spent=4_00),
    ]
    assert recent_pace(flows, today=TODAY, began=TODAY - 30 * DAY) == Pace(14, 140_00, 14_00)


def test_a_young_campaigns_pace_is_over_the_days_since_it_began():
    flows = [DayFlows(TODAY - 2 * DAY, allocated=30_00)]
    assert recent_pace(flows, today=TODAY, began=TODAY - 2 * DAY) == Pace(3, 30_00, 0)


# --- the projection: one-off campaigns ------------------------------------------------------------


def test_an_empty_budget_has_nothing_left_to_project():
    projection = project(0, Pace(14, 140_00, 50_00), today=TODAY)
    assert projection.outlook is Outlook.EMPTY and projection.runs_out_on == TODAY


def test_nothing_allocated_or_spent_lately_gives_no_projection():
    assert project(500_00, Pace(14, 0, 0), today=TODAY).outlook is Outlook.NONE


def test_spending_alone_does_not_burn_the_budget_left_to_allocate():
    # Members spend what they hold; the unallocated budget only goes when someone is given an allowance.
    assert project(500_00, Pace(14, 0, 300_00), today=TODAY).outlook is Outlook.NONE
    # More came back from members than went out (removals): the budget grows, no run-out.
    assert project(500_00, Pace(14, -20_00, 0), today=TODAY).outlook is Outlook.NONE


def test_at_a_steady_pace_the_budget_runs_out_on_the_day_the_pace_reaches_it():
    # $20 a day ($280 over 14 days): $100 lasts 5 days.
    projection = project(100_00, Pace(14, 280_00, 90_00), today=TODAY)
    assert projection.outlook is Outlook.RUNS_OUT
    assert projection.runs_out_on == TODAY + 5 * DAY
    assert projection.burn_per_period == 20_00


def test_a_part_day_is_rounded_up_to_the_whole_day():
    # $30 over 14 days is $2.14... a day: $10 lasts 4.67 days, so it runs out on the 5th.
    assert project(10_00, Pace(14, 30_00, 0), today=TODAY).runs_out_on == TODAY + 5 * DAY


def test_a_budget_that_outlasts_the_campaigns_end_says_so():
    projection = project(100_00, Pace(14, 14_00, 0), today=TODAY, ends_on=TODAY + 30 * DAY)  # 100 days at $1
    assert projection.outlook is Outlook.LASTS and projection.ends_first
    assert projection.until == TODAY + 30 * DAY
    # Running out before the end is a run-out.
    assert project(100_00, Pace(14, 14_00, 0), today=TODAY, ends_on=TODAY + 200 * DAY).runs_out_on == TODAY + 100 * DAY


def test_a_run_out_beyond_the_horizon_is_not_given_a_date():
    projection = project(10_000_000_00, Pace(14, 14, 0), today=TODAY)  # a cent a day
    assert projection.outlook is Outlook.LASTS and not projection.ends_first
    assert projection.until == TODAY + HORIZON_DAYS * DAY and projection.runs_out_on is None


# --- the projection: recurring campaigns ---------------------------------------------------------


def test_a_monthly_rollover_campaign_runs_out_at_the_first_month_it_cannot_pay_in_full():
    # 10 members x $20 = $200 each month; $500 pays January and February, not March.
    recurrence = PeriodAllocations(Every.MONTH, per_period=200_00, next_start=date(2027, 1, 1), leftover_returns=False)
    projection = project(500_00, Pace(14, 0, 0), today=TODAY, recurrence=recurrence)
    assert projection.outlook is Outlook.RUNS_OUT
    assert projection.runs_out_on == date(2027, 3, 1)
    assert projection.burn_per_period == 200_00


def test_a_recurring_campaign_whose_leftovers_expire_loses_only_what_members_spend():
    # $200 a week allocated, but members spent $140 in the last 14 days ($70 a week): the rest comes back.
    recurrence = PeriodAllocations(Every.WEEK, per_period=200_00, next_start=date(2026, 12, 7))
    projection = project(300_00, Pace(14, 400_00, 140_00), today=TODAY, recurrence=recurrence)
    assert projection.burn_per_period == 70_00
    assert projection.runs_out_on == date(2026, 12, 7) + 4 * 7 * DAY  # pays 4 weeks ($280), not the 5th
    # When members spend more than they are given, a period costs the whole allocation.
    greedy = project(300_00, Pace(14, 400_00, 1000_00), today=TODAY, recurrence=recurrence)
    assert greedy.burn_per_period == 200_00 and greedy.runs_out_on == date(2026, 12, 14)


def test_a_recurring_campaign_with_expiring_leftovers_and_no_spending_gives_no_projection():
    recurrence = PeriodAllocations(Every.WEEK, per_period=200_00, next_start=date(2026, 12, 7))
    assert project(300_00, Pace(14, 400_00, 0), today=TODAY, recurrence=recurrence).outlook is Outlook.NONE


def test_a_recurring_campaign_without_members_gives_no_projection():
    recurrence = PeriodAllocations(Every.MONTH, per_period=0, next_start=date(2027, 1, 1))
    assert project(300_00, Pace(14, 0, 0), today=TODAY, recurrence=recurrence).outlook is Outlook.NONE


# --- the geometry --------------------------------------------------------------------------------


def test_the_plot_scales_each_series_to_the_box_with_the_biggest_value_at_the_top():
    points = [Point(TODAY - 2 * DAY, 100, 0, 0), Point(TODAY - DAY, 50, 50, 0), Point(TODAY, 25, 25, 50)]
    drawn = plot(points, width=200, height=100)
    assert drawn.top == 100 and (drawn.first, drawn.last) == (TODAY - 2 * DAY, TODAY)
    assert drawn.remaining == "0.0,0.0 100.0,50.0 200.0,75.0"
    assert drawn.held == "0.0,100.0 100.0,50.0 200.0,75.0"
    assert drawn.spent == "0.0,100.0 100.0,100.0 200.0,50.0"
    assert drawn.projection is None


def test_a_near_run_out_date_extends_the_axis_and_draws_the_projection_down_to_zero():
    points = [Point(TODAY - 9 * DAY, 100, 0, 0), Point(TODAY, 50, 50, 0)]
    drawn = plot(points, width=200, height=100, runs_out_on=TODAY + 9 * DAY)  # as far ahead as the history is long
    assert drawn.last == TODAY + 9 * DAY
    assert drawn.remaining == "0.0,0.0 100.0,50.0"  # today is halfway along
    assert drawn.projection == "100.0,50.0 200.0,100.0" and drawn.now_x == 100.0
    assert plot(points, width=200, height=100, runs_out_on=TODAY + 10 * DAY).projection is None
    # Years away: said in words, not drawn (the history would be a sliver).
    far = plot(points, width=200, height=100, runs_out_on=TODAY + 400 * DAY)
    assert far.projection is None and far.last == TODAY


def test_a_single_point_is_a_level_line_and_an_empty_campaign_stays_on_the_axis():
    drawn = plot([Point(TODAY, 0, 0, 0)], width=200, height=100)
    assert drawn.remaining == drawn.held == drawn.spent == "0,100.0 200,100.0"
    # One point and a run-out date: no projection line (it would start nowhere on a level line).
    one = plot([Point(TODAY, 50, 50, 0)], width=200, height=100, runs_out_on=TODAY + 2 * DAY)
    assert one.projection is None and one.last == TODAY and one.remaining == "0,0.0 200,0.0"
    with pytest.raises(ValueError):
        plot([], width=200, height=100)


def test_a_sparkline_draws_the_remaining_budget_only():
    points = [Point(TODAY - DAY, 80, 20, 0), Point(TODAY, 40, 20, 40)]
    assert sparkline(points, width=100, height=20) == "0.0,0.0 100.0,10.0"
    assert sparkline([], width=100, height=20) == ""


def test_a_recurring_run_out_years_away_is_beyond_the_horizon_without_counting_every_period():
    recurrence = PeriodAllocations(Every.WEEK, per_period=1, next_start=date(2026, 12, 7), leftover_returns=False)
    projection = project(10**12, Pace(14, 0, 0), today=TODAY, recurrence=recurrence)  # a cent a week
    assert projection.outlook is Outlook.LASTS and projection.until == TODAY + HORIZON_DAYS * DAY
