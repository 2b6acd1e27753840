"""`flask providers endpoints|add-endpoint|update-endpoint|remove-endpoint|rotate-endpoint-secret`:
a provider's webhook endpoints, as its backend manages them through the API."""

import click

from checkout import audit, notifications, schemas, webhook_endpoints
from checkout.cli.common import emit, fail, json_option, provider_or_fail, refuse
from checkout.cli.providers import providers_cli
from checkout.errors import DomainError, ValidationError
from checkout.webhook_endpoints import EndpointFields

event_option = click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(["*", *notifications.EVENTS]),
    help="An event type it receives; repeat for several. Default: every one (*).",
)


def _endpoint_or_fail(slug: str, endpoint_id: str, as_json: bool):
    provider = provider_or_fail(slug, as_json)
    endpoint = webhook_endpoints.find(provider.id, endpoint_id)
    if endpoint is None:
        fail(as_json, f"{provider.slug} has no webhook endpoint {endpoint_id!r}")
    return endpoint


def _line(endpoint) -> str:
    events = "all events" if endpoint.events == "*" else ", ".join(endpoint.event_types)
    state = "disabled (410 Gone)" if endpoint.disabled_at else ("on" if endpoint.active else "off")
    return f"{endpoint.id}  {state:5}  {endpoint.url}  ({events})"


@providers_cli.command("endpoints")
@click.argument("slug")
@json_option
def list_endpoints_command(slug: str, as_json: bool) -> None:
    """List a provider's webhook endpoints, the first being its webhook URL (no secrets)."""
    provider = provider_or_fail(slug, as_json)
    rows = provider.endpoints
    text = "\n".join(_line(row) for row in rows) or f"{provider.slug} has no webhook endpoints."
    emit(as_json, [schemas.webhook_endpoint(row).dump() for row in rows], text)


@providers_cli.command("add-endpoint")
@click.argument("slug")
@click.option("--url", required=True, help="Where notifications are POSTed.")
@event_option
@click.option("--description")
@json_option
def add_endpoint_command(slug, url, events, description, as_json) -> None:
    """Add a webhook endpoint (at most 5); prints its signing secret once."""
    provider = provider_or_fail(slug, as_json)
    fields = EndpointFields(url=url, description=description, events=list(events) or None)
    try:
        endpoint = webhook_endpoints.create(provider, fields, actor=audit.CLI)
    except ValidationError as error:
        refuse(as_json, error)
    except DomainError as error:
        fail(as_json, error.message)
    text = f"{_line(endpoint)}\n  Signing secret (shown once): {endpoint.secret}"
    emit(as_json, schemas.webhook_endpoint(endpoint, secret=endpoint.secret).dump(), text)


@providers_cli.command("update-endpoint")
@click.argument("slug")
@click.argument("endpoint_id")
@click.option("--url")
@event_option
@click.option("--description")
@click.option(
    "--on/--off", "active", default=None, help="Whether notifications are written for it."
)
@json_option
def update_endpoint_command(slug, endpoint_id, url, events, description, active, as_json):
    """Change an endpoint: only the options given."""
    endpoint = _endpoint_or_fail(slug, endpoint_id, as_json)
    fields = EndpointFields(url, description, list(events) or None, active)
    try:
        webhook_endpoints.update_endpoint(endpoint, fields, actor=audit.CLI)
    except ValidationError as error:
        refuse(as_json, error)
    emit(as_json, schemas.webhook_endpoint(endpoint).dump(), _line(endpoint))


@providers_cli.command("remove-endpoint")
@click.argument("slug")
@click.argument("endpoint_id")
@json_option
def remove_endpoint_command(slug: str, endpoint_id: str, as_json: bool) -> None:
    """Delete an endpoint: nothing more is sent to it; what it had not received fails."""
    endpoint = _endpoint_or_fail(slug, endpoint_id, as_json)
    webhook_endpoints.delete(endpoint, actor=audit.CLI)
    emit(as_json, {"id": endpoint_id, "deleted": True}, f"Deleted {endpoint_id}.")


@providers_cli.command("rotate-endpoint-secret")
@click.argument("slug")
@click.argument("endpoint_id")
@json_option
def rotate_endpoint_secret_command(slug: str, endpoint_id: str, as_json: bool) -> None:
    """A new signing secret for an endpoint, printed once; the old one keeps signing beside
    it for WEBHOOK_SECRET_OVERLAP_SECONDS."""
    endpoint = _endpoint_or_fail(slug, endpoint_id, as_json)
    secret = webhook_endpoints.rotate_secret(endpoint, actor=audit.CLI)
    text = f"{_line(endpoint)}\n  New signing secret (shown once): {secret}"
    emit(as_json, schemas.webhook_endpoint(endpoint, secret=secret).dump(), text)
