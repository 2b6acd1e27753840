"""Admin views for a provider's webhook endpoints beyond its webhook URL: add, turn on or
off, rotate a secret, send a test event, delete (the same service as the API and CLI)."""

from flask import abort, flash, redirect, request, url_for

from checkout import notifications, webhook_endpoints
from checkout.admin.common import (
    actor,
    attach_error,
    bp,
    confirm,
    keep_for_one_view,
    require_action_form,
    take_for_one_view,
)
from checkout.admin.forms import EndpointForm
from checkout.admin.providers import provider_page
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import Provider, WebhookEndpoint
from checkout.webhook_endpoints import EndpointFields


def _back(provider_id: str) -> str:
    return url_for("admin.provider", provider_id=provider_id) + "#endpoints"


def _show_secret(endpoint: WebhookEndpoint, secret: str):
    """Redirect to the provider's page that shows the new secret once (Post/Redirect/Get)."""
    keep_for_one_view(f"endpoint-secret:{endpoint.provider_id}", f"{endpoint.id} {secret}")
    return redirect(
        url_for("admin.new_endpoint_secret", provider_id=endpoint.provider_id), code=303
    )


@bp.get("/providers/<provider_id>/endpoints/new-secret")
def new_endpoint_secret(provider_id: str):
    """The provider's page with an endpoint's new secret, on its first view only."""
    row = db.get_or_404(Provider, provider_id)
    held = take_for_one_view(f"endpoint-secret:{row.id}")
    return provider_page(row, new_endpoint_secret=held)


def _endpoint_or_404(provider_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = webhook_endpoints.find(provider_id, endpoint_id)
    if endpoint is None:
        abort(404)
    if request.method == "POST":
        require_action_form()
    return endpoint


@bp.post("/providers/<provider_id>/endpoints")
def add_endpoint(provider_id: str):
    """Add a webhook endpoint; its secret shows once on the provider's page."""
    row = db.get_or_404(Provider, provider_id)
    form = EndpointForm()
    if form.validate_on_submit():
        fields = EndpointFields(
            url=form.url.data,
            description=form.description.data or "",
            events=form.events.data or None,
        )
        try:
            endpoint = webhook_endpoints.create(row, fields, actor=actor())
        except ValidationError as error:
            attach_error(form, error)
        except DomainError as error:
            flash(error.message, "error")
            return redirect(_back(row.id))
        else:
            flash(f"Endpoint {endpoint.id} added.", "success")
            return _show_secret(endpoint, endpoint.secret)
    return provider_page(row, status=422, endpoint_form=form)


@bp.post("/providers/<provider_id>/endpoints/<endpoint_id>/<state>")
def switch_endpoint(provider_id: str, endpoint_id: str, state: str):
    """Turn an endpoint on or off: off, nothing is written for it."""
    if state not in ("on", "off"):
        abort(404)
    endpoint = _endpoint_or_404(provider_id, endpoint_id)
    fields = EndpointFields(active=state == "on")
    webhook_endpoints.update_endpoint(endpoint, fields, actor=actor())
    flash(f"Endpoint {endpoint.id} turned {state}.", "success")
    return redirect(_back(provider_id))


@bp.post("/providers/<provider_id>/endpoints/<endpoint_id>/test")
def test_endpoint(provider_id: str, endpoint_id: str):
    """Queue a signed test event to one endpoint."""
    endpoint = _endpoint_or_404(provider_id, endpoint_id)
    sent = notifications.send_test(endpoint, actor=actor())
    flash("Test event queued.", "success")
    return redirect(url_for("admin.delivery", notification_id=sent.id))


@bp.route("/providers/<provider_id>/endpoints/<endpoint_id>/rotate-secret", methods=["GET", "POST"])
def rotate_endpoint_secret(provider_id: str, endpoint_id: str):
    """Give one endpoint a new secret; the old one signs beside it for the overlap."""
    endpoint = _endpoint_or_404(provider_id, endpoint_id)
    if request.method == "GET":
        return confirm(
            f"Rotate the signing secret of {endpoint.url}?",
            "Its notifications are signed with a new secret from now on; the current one also "
            "signs them for the overlap, so the receiver has time to switch.",
            "Rotate secret",
            _back(provider_id),
        )
    secret = webhook_endpoints.rotate_secret(endpoint, actor=actor())
    flash("New signing secret. The previous one keeps signing beside it.", "success")
    return _show_secret(endpoint, secret)


@bp.route("/providers/<provider_id>/endpoints/<endpoint_id>/delete", methods=["GET", "POST"])
def delete_endpoint(provider_id: str, endpoint_id: str):
    """Delete an endpoint: nothing more is sent to it."""
    endpoint = _endpoint_or_404(provider_id, endpoint_id)
    if request.method == "GET":
        return confirm(
            f"Delete the endpoint {endpoint.url}?",
            "Nothing more is sent to it; what it has not received yet fails.",
            "Delete endpoint",
            _back(provider_id),
        )
    webhook_endpoints.delete(endpoint, actor=actor())
    flash(f"Endpoint {endpoint_id} deleted.", "success")
    return redirect(_back(provider_id))
