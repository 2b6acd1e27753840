"""The admin's first page: counts by status and the latest orders."""

from flask import render_template
from sqlalchemy import func, select

from checkout import orders, payment_links, stripe_events
from checkout.admin.common import bp
from checkout.extensions import db
from checkout.models import Notification, NotificationStatus, Provider, Service


@bp.get("/")
def dashboard():
    """Counts by status and the latest orders."""
    delivery_counts = dict(
        db.session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        counts=orders.count_by_status(),
        failed_deliveries=delivery_counts.get(NotificationStatus.FAILED, 0),
        link_totals=payment_links.totals(),
        pending_deliveries=delivery_counts.get(NotificationStatus.PENDING, 0),
        stripe_event_counts=stripe_events.unapplied_counts(),
        recent=orders.latest_orders(10),
        services=db.session.scalar(select(func.count()).select_from(Service)),
        providers=db.session.scalar(select(func.count()).select_from(Provider)),
    )
