"""A campaign's burn-down (issue #17): its money over time, and when its budget runs out at the current pace.

Pure: the service reads the ledger into `DayFlows` (one UTC day's moves of one campaign's money) and these
functions do the rest. Three flows say everything (minor units, each net of its reversals):

    funded     partner funds -> budget (+); decreases and returns to partner funds (-)
    allocated  budget -> members' campaign wallets (+); what comes back from them (removal, end, expiry) (-)
    spent      members' campaign wallets -> gift cards (+); refunds of failed orders (-)

so at any moment  remaining (the unallocated budget) = funded - allocated,  held (in members' wallets) =
allocated - spent, and remaining + held + spent = what was funded and not returned to partner funds.

"The budget runs out" means the unallocated budget reaches zero: from then on nobody can be given an
allowance. What drains it is allocations net of returns; spending drains it only through what a recurring
campaign's allocations cost (members' leftovers that expire come back, so what is spent is what is gone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.domain.campaign_periods import Every, next_period

WINDOW_DAYS = 14  # the pace is measured over the last two weeks (or since the campaign began, if later)
MAX_POINTS = 90  # the campaign page's chart: daily points up to 90 days, then one point per few days
SPARKLINE_POINTS = 30  # the campaigns list's sparklines
HORIZON_DAYS = 5 * 365  # a projection further out than this says "more than five years"


@dataclass(frozen=True)
class DayFlows:
    """One UTC day's moves of a campaign's money (minor units, net)."""

    day: date
    funded: int = 0
    allocated: int = 0
    spent: int = 0


@dataclass(frozen=True)
class Point:
    """The campaign's money at the end of `day` (the last day the point covers)."""

    day: date
    remaining: int  # the unallocated budget
    held: int  # what members have in their campaign wallets
    spent: int  # spent on gift cards so far

    @property
    def total(self) -> int:
        """What was funded and not returned to partner funds."""
        return self.remaining + self.held + self.spent


def bucket_days(first: date, last: date, max_points: int) -> int:
    """How many days one point covers so that first..last takes at most `max_points` points (1: daily)."""
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    days = max((last - first).days + 1, 1)
    return -(-days // max_points)


def series(flows: Iterable[DayFlows], *, first: date, last: date, max_points: int = MAX_POINTS) -> list[Point]:
    """The money at the end of each bucket of days from `first` to `last`: one point a day while that makes at
    most `max_points`, else one point per `bucket_days` days (the last point always at `last`). Flows before
    `first` are in the first point's totals; flows after `last` are left out."""
    if last < first:
        last = first
    step = bucket_days(first, last, max_points)
    ordered = sorted(flows, key=lambda flow: flow.day)
    funded = allocated = spent = 0
    points: list[Point] = []
    position = 0
    end = first + timedelta(days=step - 1)
    while True:
        end = min(end, last)
        while position < len(ordered) and ordered[position].day <= end:
            flow = ordered[position]
            funded, allocated, spent = funded + flow.funded, allocated + flow.allocated, spent + flow.spent
            position += 1
        points.append(Point(end, funded - allocated, allocated - spent, spent))
        if end >= last:
            return points
        end += timedelta(days=step)


# --- the pace and the projection -----------------------------------------------------------------


@dataclass(frozen=True)
class Pace:
    """What moved over the recent window: `days` days up to today."""

    days: int
    allocated: int  # net allocations (allocations - what came back from members)
    spent: int  # net spending


def recent_pace(flows: Iterable[DayFlows], *, today: date, began: date, window_days: int = WINDOW_DAYS) -> Pace:
    """The net allocations and spending of the last `window_days` days up to `today` (both included), or of the
    days since the campaign `began` when that is fewer."""
    start = max(today - timedelta(days=window_days - 1), min(began, today))
    allocated = spent = 0
    for flow in flows:
        if start <= flow.day <= today:
            allocated += flow.allocated
            spent += flow.spent
    return Pace((today - start).days + 1, allocated, spent)


@dataclass(frozen=True)
class PeriodAllocations:
    """A recurring campaign's allocations (app/domain/campaign_periods.py has its periods): `per_period` (members x
    per-consumer amount) at each period start from `next_start` on. `leftover_returns`: what members don't spend
    in a period comes back to the budget (leftovers expire, or roll over only up to a cap), so in the long run a
    period costs the budget what members spend; else (rolled over, no cap) it costs the whole allocation."""

    every: Every
    per_period: int
    next_start: date
    leftover_returns: bool = True


def period_days(every: Every) -> int:
    """A period's length, on average, for what spending costs in one."""
    return 7 if every is Every.WEEK else 30


class Outlook(StrEnum):
    EMPTY = "empty"  # nothing is left to allocate
    NONE = "none"  # nothing left the budget lately: no projection
    RUNS_OUT = "runs_out"  # at this pace the budget runs out on `runs_out_on`
    LASTS = "lasts"  # at this pace it lasts past `until` (the campaign's end, or the horizon)


@dataclass(frozen=True)
class Projection:
    outlook: Outlook
    pace: Pace
    runs_out_on: date | None = None
    until: date | None = None  # LASTS: the campaign's end date, or today + HORIZON_DAYS when it has none
    burn_per_period: int = 0  # what leaves the budget a day (one-off) or a period (recurring), minor units
    recurrence: PeriodAllocations | None = None
    ends_first: bool = False  # LASTS: the campaign ends before the budget runs out (else: past the horizon)


def project(
    remaining: int,
    pace: Pace,
    *,
    today: date,
    ends_on: date | None = None,
    recurrence: PeriodAllocations | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> Projection:
    """When the unallocated budget (`remaining`) runs out at the recent `pace`.

    A one-off campaign: the budget drains by the window's net allocations per day (members being added);
    none lately, no projection. A recurring campaign: each period start takes `recurrence.per_period` (when
    leftovers come back, only what members spend in a period is gone for good, so the period costs the smaller
    of the two); the budget runs out at the first period start it can't pay for in full. A run-out after the
    campaign's end (`ends_on`) or past the horizon is LASTS."""
    if remaining <= 0:
        return Projection(Outlook.EMPTY, pace, runs_out_on=today, recurrence=recurrence)
    horizon = today + timedelta(days=horizon_days)
    if recurrence is not None:
        spent_per_period = max(pace.spent, 0) * period_days(recurrence.every) // max(pace.days, 1)
        cost = min(recurrence.per_period, spent_per_period) if recurrence.leftover_returns else recurrence.per_period
        if cost <= 0:
            return Projection(Outlook.NONE, pace, recurrence=recurrence)
        paid_for = remaining // cost  # whole periods the budget still pays for: it can't pay the next one after them
        runs_out_on: date | None = recurrence.next_start
        for _ in range(paid_for):
            if runs_out_on is None or runs_out_on > horizon:
                runs_out_on = None  # (at most five years of periods: the loop stays short)
                break
            runs_out_on = next_period(runs_out_on, recurrence.every)
        return _bounded(runs_out_on, pace, ends_on=ends_on, horizon=horizon, burn=cost, recurrence=recurrence)
    if pace.allocated <= 0:
        return Projection(Outlook.NONE, pace)
    days_left = -(-remaining * pace.days // pace.allocated)  # whole days, rounded up
    runs_out_on = today + timedelta(days=days_left) if days_left <= horizon_days else None
    burn = -(-pace.allocated // pace.days)
    return _bounded(runs_out_on, pace, ends_on=ends_on, horizon=horizon, burn=burn, recurrence=None)


def _bounded(
    runs_out_on: date | None,
    pace: Pace,
    *,
    ends_on: date | None,
    horizon: date,
    burn: int,
    recurrence: PeriodAllocations | None,
) -> Projection:
    if runs_out_on is not None and runs_out_on > horizon:
        runs_out_on = None
    if ends_on is not None and (ends_on < runs_out_on if runs_out_on is not None else ends_on <= horizon):
        return Projection(Outlook.LASTS, pace, until=ends_on, burn_per_period=burn, recurrence=recurrence, ends_first=True)
    if runs_out_on is None:
        return Projection(Outlook.LASTS, pace, until=horizon, burn_per_period=burn, recurrence=recurrence)
    return Projection(Outlook.RUNS_OUT, pace, runs_out_on=runs_out_on, burn_per_period=burn, recurrence=recurrence)


# --- drawing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plot:
    """The chart's geometry in a width x height box (y grows down): one polyline per series, the projection's
    dotted line from today's remaining budget down to zero when it falls inside the chart."""

    width: int
    height: int
    first: date
    last: date  # the x axis' right end: the last point, or the run-out date when it is drawn
    top: int  # what the top of the plot stands for (minor units)
    remaining: str  # SVG polyline points "x,y x,y ..."
    held: str
    spent: str
    projection: str | None = None
    now_x: float = 0.0  # where the last point (today, while the campaign runs) is on the x axis


def _scale(value: int, top: int, height: int) -> float:
    return round(height - height * value / top, 1) if top > 0 else float(height)


def _x(day: date, first: date, span: int, width: int) -> float:
    return round(width * (day - first).days / span, 1) if span else 0.0


def _line(xs: Sequence[float], ys: Sequence[float], width: int) -> str:
    if len(xs) == 1:  # one point: a level line across the chart
        return f"0,{ys[0]} {width},{ys[0]}"
    return " ".join(f"{x},{y}" for x, y in zip(xs, ys, strict=True))


def plot(points: Sequence[Point], *, width: int, height: int, runs_out_on: date | None = None) -> Plot:
    """Points to coordinates. The x axis runs from the first point's day to the last's, or on to `runs_out_on`
    when that is no further ahead than the history is long, or a week (a projection years out would squash the
    history into a sliver: then the date is said in words only, as it is for a history of one point)."""
    if not points:
        raise ValueError("a plot needs at least one point")
    first, last = points[0].day, points[-1].day
    history = (last - first).days
    drawn = runs_out_on is not None and len(points) > 1 and last < runs_out_on and (runs_out_on - last).days <= max(history, 7)
    end = runs_out_on if drawn and runs_out_on is not None else last
    span = (end - first).days
    top = max(max(max(p.remaining, p.held, p.spent) for p in points), 0)
    xs = [_x(p.day, first, span, width) for p in points]
    lines = {
        name: _line(xs, [_scale(getattr(p, name), top, height) for p in points], width) for name in ("remaining", "held", "spent")
    }
    projection = None
    if drawn:
        projection = f"{xs[-1]},{_scale(points[-1].remaining, top, height)} {float(width)},{float(height)}"
    return Plot(width, height, first, end, top, lines["remaining"], lines["held"], lines["spent"], projection, xs[-1])


def sparkline(points: Sequence[Point], *, width: int, height: int) -> str:
    """The remaining budget as polyline points in a small box (a level line for a single point)."""
    if not points:
        return ""
    first, last = points[0].day, points[-1].day
    span = (last - first).days
    top = max(max(p.remaining for p in points), 0)
    xs = [_x(p.day, first, span, width) for p in points]
    return _line(xs, [_scale(p.remaining, top, height) for p in points], width)
