"""The admin's first page: counts by status and the latest orders."""

from flask import render_template
from sqlalchemy import func, select

from checkout import payment_links, stripe_events
from checkout.admin.common import bp
from checkout.extensions import db
from checkout.models import Notification, NotificationStatus, Order, OrderStatus, Provider, Service


@bp.get("/")
def dashboard():
    """Counts by status and the latest orders."""
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    recent = db.session.scalars(select(Order).order_by(Order.created_at.desc()).limit(10)).all()
    delivery_counts = dict(
        db.session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        counts={status: counts.get(status, 0) for status in OrderStatus},
        failed_deliveries=delivery_counts.get(NotificationStatus.FAILED, 0),
        link_totals=payment_links.totals(),
        pending_deliveries=delivery_counts.get(NotificationStatus.PENDING, 0),
        stripe_event_counts=stripe_events.unapplied_counts(),
        recent=recent,
        services=db.session.scalar(select(func.count()).select_from(Service)),
        providers=db.session.scalar(select(func.count()).select_from(Provider)),
    )
