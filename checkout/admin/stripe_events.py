"""Admin views for Stripe events: what arrived, what applying it did, and retrying."""

from flask import abort, flash, redirect, render_template, request, url_for

from checkout import stripe_events, web
from checkout.admin.common import actor, bp, one_page, require_action_form
from checkout.admin.forms import ActionForm, StripeEventFilterForm
from checkout.extensions import db
from checkout.models import StripeEvent

EVENTS_PER_PAGE = 50


@bp.get("/stripe-events")
def stripe_event_list():
    """Stripe events as received, newest first, with what applying them did."""
    form = StripeEventFilterForm(request.args)
    valid = form.validate()
    filters = {"state": form.state.data or None} if valid else {}
    query = stripe_events.select_events(**filters)
    page, args = one_page(query, EVENTS_PER_PAGE, empty=not valid)
    response = render_template(
        "admin/stripe_events.html",
        form=form,
        page=page,
        args=args,
        action_form=ActionForm(),
        max_attempts=stripe_events.MAX_APPLY_ATTEMPTS,
    )
    return (response, 200) if valid else (response, 422)


@bp.post("/stripe-events/<event_id>/retry")
def retry_stripe_event(event_id: str):
    """Queue an event that failed every attempt once more."""
    row = db.get_or_404(StripeEvent, event_id)
    require_action_form()
    try:
        stripe_events.retry(row, actor=actor())
    except stripe_events.AlreadyApplied as error:
        abort(web.status_for(error), description=error.message)
    flash("Queued again.", "success")
    return redirect(url_for("admin.stripe_event_list", state="waiting"))
