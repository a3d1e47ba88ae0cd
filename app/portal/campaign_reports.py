"""Campaign reports in the portal (issue #17): the burn-down chart on a campaign's page, the sparklines of the
campaigns list, and the member report as a CSV download (viewers and up, like the transactions export).

The figures come from app/services/campaign_reports.py, the geometry from app/domain/burn_down.py; the
templates (portal/_burn_down.html, portal/_sparkline.html) draw it as SVG, no script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import Response

from app.db import db_session
from app.domain import burn_down as rules
from app.domain.money import Money
from app.models import Campaign
from app.portal import current_partner, portal_route
from app.services import campaign_reports
from app.services import campaigns as campaign_service

CHART_WIDTH = 720
CHART_HEIGHT = 180  # the plot; the day labels go under it
SPARKLINE_WIDTH = 100
SPARKLINE_HEIGHT = 24


@dataclass(frozen=True)
class BurnDownChart:
    report: campaign_reports.BurnDown
    plot: rules.Plot


def burn_down_chart(campaign: Campaign) -> BurnDownChart:
    """The campaign page's chart: the figures and their geometry."""
    report = campaign_reports.burn_down(db_session(), campaign=campaign)
    projection = report.projection
    runs_out_on = projection.runs_out_on if projection is not None and projection.outlook is rules.Outlook.RUNS_OUT else None
    return BurnDownChart(report, rules.plot(report.points, width=CHART_WIDTH, height=CHART_HEIGHT, runs_out_on=runs_out_on))


@dataclass(frozen=True)
class Sparkline:
    line: str  # polyline points
    started: Money  # the remaining budget at the end of the first day
    now: Money  # and now (or at the campaign's end)
    days: int

    @property
    def area(self) -> str:
        """The line closed along the bottom: the shaded area under it."""
        return f"{self.line} {SPARKLINE_WIDTH},{SPARKLINE_HEIGHT} 0,{SPARKLINE_HEIGHT}"


def sparklines(campaigns: Sequence[Campaign]) -> dict[int, Sparkline]:
    """The campaigns list's sparklines (the remaining budget over each campaign's life), one query for all."""
    series = campaign_reports.remaining_over_time(db_session(), campaigns)
    currencies = {campaign.id: campaign.currency for campaign in campaigns}
    return {
        campaign_id: Sparkline(
            rules.sparkline(points, width=SPARKLINE_WIDTH, height=SPARKLINE_HEIGHT),
            Money(points[0].remaining, currencies[campaign_id]),
            Money(points[-1].remaining, currencies[campaign_id]),
            (points[-1].day - points[0].day).days + 1,
        )
        for campaign_id, points in series.items()
    }


@portal_route("/campaigns/<int:campaign_id>/report.csv", role="viewer", endpoint="campaigns_report")
def campaigns_report(campaign_id: int):
    """Each member's allocated, spent, returned, orders and balance, streamed (any number of members)."""
    partner = current_partner()
    campaign = campaign_service.partner_campaign(db_session(), partner=partner, campaign_id=campaign_id)
    return Response(
        campaign_reports.member_report_csv(campaign=campaign),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{partner.slug}-campaign-{campaign.id}-members.csv"'},
    )
