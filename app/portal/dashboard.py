"""The dashboard, the portal's home: the partner's funds, and for a period money into wallets, money
spent on cards and how orders went, per day and per brand.

Charts are SVG drawn here on the server (no script): bar geometry is computed below, the template
draws it, and a table under each chart holds the same numbers for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import make_response, render_template, request

from app.db import db_session
from app.domain.errors import InvalidInput
from app.domain.money import Money
from app.portal import current_partner, partner_funds, portal_route
from app.services import daily_totals

DEFAULT_PERIOD = 30
CHART_WIDTH = 720
PLOT_HEIGHT = 160  # day labels go under it
BRAND_LABEL_WIDTH = 200
BRAND_ROW = 26


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # what it measures, and its CSS class: chart-<kind>
    label: str  # the day or the brand
    value: Money | int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    top: Money | int  # what a bar of the full height stands for
    height: int


def _amount(value: Money | int) -> int:
    return value.amount if isinstance(value, Money) else value


def _scaled(value: Money | int, top: int, space: float) -> float:
    return round(space * _amount(value) / top, 1) if top else 0


def _top(values: list[Money | int], zero: Money | int) -> Money | int:
    return max(values, key=_amount, default=zero)


Measure = tuple[str, Callable[[daily_totals.DayTotals], Money | int]]


def side_by_side(days: list[daily_totals.DayTotals], measures: list[Measure], zero: Money | int) -> Chart:
    """One bar per measure per day, next to each other."""
    top = _top([value(day) for day in days for _kind, value in measures], zero)
    slot = CHART_WIDTH / len(days)
    width = slot * 0.8 / len(measures)
    bars = []
    for n, day in enumerate(days):
        for m, (kind, value) in enumerate(measures):
            height = _scaled(value(day), _amount(top), PLOT_HEIGHT)
            if height:
                bars.append(
                    Bar(
                        round(n * slot + slot * 0.1 + m * width, 1),
                        PLOT_HEIGHT - height,
                        round(width, 1),
                        height,
                        kind,
                        day.day.isoformat(),
                        value(day),
                    )
                )
    return Chart(bars, top, PLOT_HEIGHT)


def stacked(days: list[daily_totals.DayTotals], measures: list[Measure]) -> Chart:
    """One bar per day, its measures stacked."""
    top = max((sum(value(day) for _kind, value in measures) for day in days), default=0)
    slot = CHART_WIDTH / len(days)
    bars = []
    for n, day in enumerate(days):
        y = PLOT_HEIGHT
        for kind, value in measures:
            height = _scaled(value(day), top, PLOT_HEIGHT)
            if height:
                y = round(y - height, 1)
                bars.append(
                    Bar(round(n * slot + slot * 0.15, 1), y, round(slot * 0.7, 1), height, kind, day.day.isoformat(), value(day))
                )
    return Chart(bars, top, PLOT_HEIGHT)


def brand_chart(brands: list[daily_totals.BrandTotals], zero: Money) -> Chart:
    """One horizontal bar per brand, its name to the left."""
    top = _top([brand.spend for brand in brands], zero)
    space = CHART_WIDTH - BRAND_LABEL_WIDTH - 110  # room for the amount after the longest bar
    bars = [
        Bar(
            BRAND_LABEL_WIDTH,
            n * BRAND_ROW + 4,
            max(_scaled(brand.spend, top.amount, space), 1),
            BRAND_ROW - 8,
            "brand",
            brand.name,
            brand.spend,
        )
        for n, brand in enumerate(brands)
    ]
    return Chart(bars, top, len(brands) * BRAND_ROW + 8)


def _report(currency: str, period: int) -> daily_totals.Dashboard:
    return daily_totals.dashboard(db_session(), partner=current_partner(), currency=currency, period=period)


@portal_route("/dashboard", role="viewer")
def dashboard():
    partner = current_partner()
    currency = request.args.get("currency", partner.currency_list[0])[:3].upper()
    error = None
    try:
        report = _report(currency, daily_totals.period_days(request.args.get("days", str(DEFAULT_PERIOD))))
    except InvalidInput as problem:
        error = problem.message
        report = _report(partner.currency_list[0], DEFAULT_PERIOD)
    zero = Money.zero(report.currency)
    charts = dict(
        money=side_by_side(report.days, [("funds", lambda day: day.funds_added), ("spend", lambda day: day.spend)], zero),
        orders=stacked(
            report.days,
            [("completed", lambda day: day.completed), ("failed", lambda day: day.failed), ("pending", lambda day: day.pending)],
        ),
        brands=brand_chart(report.brands, zero),
    )
    body = render_template(
        "portal/dashboard/index.html",
        report=report,
        charts=charts,
        funds=partner_funds(),
        periods=daily_totals.PERIODS,
        currencies=partner.currency_list,
        error=error,
        chart_width=CHART_WIDTH,
        label_width=BRAND_LABEL_WIDTH,
    )
    return make_response(body, 422 if error else 200)
