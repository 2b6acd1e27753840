"""The admin's first page: counts by status and the latest orders."""

from flask import render_template

from checkout import catalog, link_analytics, notifications, orders, stripe_events
from checkout.admin.common import bp
from checkout.models import NotificationStatus


@bp.get("/")
def dashboard():
    """Counts by status and the latest orders."""
    deliveries = notifications.count_by_status()
    return render_template(
        "admin/dashboard.html",
        counts=orders.count_by_status(),
        attention=sorted(orders.NEEDS_ADMIN),
        failed_deliveries=deliveries[NotificationStatus.FAILED],
        link_totals=link_analytics.totals(),
        pending_deliveries=deliveries[NotificationStatus.PENDING],
        stripe_event_counts=stripe_events.unapplied_counts(),
        recent=orders.latest_orders(10),
        services=catalog.service_count(),
        providers=catalog.provider_count(),
    )
