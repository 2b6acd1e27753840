"""Admin views for provider notifications: the filtered list, one delivery, and resending."""

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from checkout import jsonio, notifications, reports
from checkout.admin.common import (
    actor,
    bp,
    confirm,
    csv_download,
    one_page,
    provider_choices,
    require_action_form,
)
from checkout.admin.forms import ActionForm, DeliveryFilterForm, ResendFailedForm
from checkout.extensions import db
from checkout.models import Notification, NotificationStatus, utcnow

DELIVERIES_PER_PAGE = 50
# A notification's page looks for an attempt due within this long, until this long after it.
WATCH = timedelta(minutes=1)
RESENT_MESSAGES = {
    notifications.Resent.QUEUED: "Queued again.",
    notifications.Resent.BROUGHT_FORWARD: "Its next retry was due later; it is being sent now.",
    notifications.Resent.ALREADY_SENDING: "Already being sent; nothing more to do.",
}


def _filters(form: DeliveryFilterForm) -> dict:
    """A valid filter form's choices, as notifications.select_notifications takes them."""
    return {
        "status": NotificationStatus(form.status.data) if form.status.data else None,
        "provider_id": form.provider.data or None,
        "event_name": form.event.data or None,
    }


@bp.get("/deliveries")
def deliveries():
    """Provider notifications with filters, newest first."""
    form = DeliveryFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    valid = form.validate()
    filters = _filters(form) if valid else {}
    query = notifications.select_notifications(**filters)
    page, args = one_page(query, DELIVERIES_PER_PAGE, empty=not valid)
    response = render_template(
        "admin/deliveries.html", form=form, page=page, args=args, resend_form=ResendFailedForm()
    )
    return (response, 200) if valid else (response, 422)


@bp.get("/deliveries.csv")
def deliveries_csv():
    """The filtered notifications as CSV, streamed a batch at a time."""
    form = DeliveryFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    if not form.validate():
        abort(422, description="Fix the filters on the deliveries page, then export again.")
    query = notifications.select_notifications(**_filters(form))
    return csv_download("deliveries", reports.delivery_rows(query))


def _watch_seconds(row: Notification) -> int | None:
    """How long the page should look for the next attempt (static/admin.js): while one is
    due within WATCH (a test event just sent, a resend, an early retry), until WATCH after
    it is due; None when nothing is due that soon."""
    if row.status != NotificationStatus.PENDING:
        return None
    due_in = row.next_attempt_at - utcnow()
    if due_in > WATCH:
        return None
    return int((max(due_in, timedelta(0)) + WATCH).total_seconds())


@bp.get("/deliveries/<notification_id>")
def delivery(notification_id: str):
    """One notification: its payload and every attempt."""
    row = db.get_or_404(Notification, notification_id)
    return render_template(
        "admin/delivery.html",
        notification=row,
        payload=jsonio.pretty(row.payload),
        action_form=ActionForm(),
        watch_seconds=_watch_seconds(row),
    )


@bp.post("/deliveries/<notification_id>/resend")
def resend_delivery(notification_id: str):
    """Send a notification again with the same webhook-id."""
    row = db.get_or_404(Notification, notification_id)
    require_action_form()
    outcome = notifications.resend(row, actor=actor())
    flash(RESENT_MESSAGES[outcome], "success")
    return redirect(url_for("admin.delivery", notification_id=row.id))


@bp.route("/deliveries/resend-failed", methods=["GET", "POST"])
def resend_failed():
    """Resend every failed notification created since a moment."""
    if request.method == "GET":
        asked = ResendFailedForm(request.args, meta={"csrf": False})
        if not asked.validate():
            flash("Give a date and time to resend from.", "error")
            return redirect(url_for("admin.deliveries", status="failed"))
        return confirm(
            "Resend every failed notification?",
            f"Every failed notification created since {asked.since.data:%Y-%m-%d %H:%M} UTC "
            "is sent again, with its original webhook-id.",
            "Resend all failed",
            url_for("admin.deliveries", status="failed"),
            danger=False,
            fields={"since": request.args["since"]},
        )
    form = ResendFailedForm()
    if not form.validate_on_submit():
        flash("Give a date and time to resend from.", "error")
        return redirect(url_for("admin.deliveries", status="failed"))
    count = notifications.resend_failed_since(form.since.data, actor=actor())
    flash(f"{count} failed notification{'s' if count != 1 else ''} queued again.", "success")
    return redirect(url_for("admin.deliveries"))
