"""Admin views for provider notifications: the filtered list, one delivery, and resending."""

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from checkout import notifications
from checkout.admin.common import bp, one_page, provider_choices, require_action_form
from checkout.admin.forms import ActionForm, DeliveryFilterForm, ResendFailedForm
from checkout.extensions import db
from checkout.models import Notification, NotificationStatus

DELIVERIES_PER_PAGE = 50


@bp.get("/deliveries")
def deliveries():
    """Provider notifications with filters, newest first."""
    form = DeliveryFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    valid = form.validate()
    query = select(Notification).where(False)
    if valid:
        query = select(Notification)
        if form.status.data:
            query = query.where(Notification.status == NotificationStatus(form.status.data))
        if form.provider.data:
            query = query.where(Notification.provider_id == form.provider.data)
        if form.event.data:
            query = query.where(Notification.event == form.event.data)
    page, args = one_page(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()), DELIVERIES_PER_PAGE
    )
    response = render_template(
        "admin/deliveries.html", form=form, page=page, args=args, resend_form=ResendFailedForm()
    )
    return (response, 200) if valid else (response, 422)


@bp.get("/deliveries/<notification_id>")
def delivery(notification_id: str):
    """One notification: its payload and every attempt."""
    row = db.get_or_404(Notification, notification_id)
    return render_template("admin/delivery.html", notification=row, action_form=ActionForm())


@bp.post("/deliveries/<notification_id>/resend")
def resend_delivery(notification_id: str):
    """Send a notification again with the same webhook-id."""
    row = db.get_or_404(Notification, notification_id)
    require_action_form()
    notifications.resend(row)
    flash("Queued again.", "success")
    return redirect(url_for("admin.delivery", notification_id=row.id))


@bp.post("/deliveries/resend-failed")
def resend_failed():
    """Resend every failed notification created since a moment."""
    form = ResendFailedForm()
    if not form.validate_on_submit():
        flash("Give a date and time to resend from.", "error")
        return redirect(url_for("admin.deliveries", status="failed"))
    count = notifications.resend_failed_since(form.since.data)
    flash(f"{count} failed notification{'s' if count != 1 else ''} queued again.", "success")
    return redirect(url_for("admin.deliveries"))
