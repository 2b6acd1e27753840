"""The admin's first page: how money is doing, what needs attention, and counts by status."""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, render_template

from checkout import catalog, link_analytics, orders, reports, stripe_events
from checkout.admin.common import bp

CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 600, 120, 2


@dataclass
class TrendBar:
    x: int
    y: int
    width: int
    height: int
    day: date
    label: str


def trend_bars(trend: reports.Trend) -> list[TrendBar]:
    """Bar geometry of one currency's daily volume, scaled to its own busiest day."""
    peak = max([*trend.minors, 1])
    width = CHART_WIDTH // len(trend.days)
    bars = []
    for index, day in enumerate(trend.days):
        height = CHART_HEIGHT * trend.minors[index] // peak
        if trend.minors[index] and not height:
            height = 1  # a small day stays visible beside a big one
        bars.append(
            TrendBar(
                x=index * width,
                y=CHART_HEIGHT - height,
                width=max(width - CHART_GAP, 1),
                height=height,
                day=day,
                label=f"{day.isoformat()}: {trend.display(index)}, "
                f"{trend.counts[index]} order{'s' if trend.counts[index] != 1 else ''}",
            )
        )
    return bars


@bp.get("/")
def dashboard():
    """Money received, conversion and attention first; then counts by status."""
    report = reports.money_report(timedelta(seconds=current_app.config["RECONCILE_AFTER_SECONDS"]))
    return render_template(
        "admin/dashboard.html",
        report=report,
        charts=[(trend, trend_bars(trend)) for trend in report.trends],
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        counts=reports.count_by_status(),
        attention=sorted(orders.NEEDS_ADMIN),
        link_totals=link_analytics.totals(),
        stripe_event_counts=stripe_events.unapplied_counts(),
        recent=reports.latest_orders(10),
        services=catalog.service_count(),
        providers=catalog.provider_count(),
    )
