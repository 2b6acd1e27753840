"""A provider's webhook endpoints: where its notifications go, which events each takes, and
each one's signing secret (rotated without downtime).

The first endpoint is what the provider's settings call its webhook URL: the admin form and
`flask providers … --webhook-url` set it through `set_primary_url`.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from checkout import audit, notifications, urls
from checkout.audit import Action, Actor
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import (
    Notification,
    NotificationStatus,
    Provider,
    WebhookEndpoint,
    new_webhook_secret,
    utcnow,
)

# The integration guide's number: enough for production, staging and a log sink.
ENDPOINTS_MAX = 5
DESCRIPTION_MAX = 255
ALL_EVENTS = "*"


class EndpointLimitReached(DomainError):
    """The provider has as many endpoints as it may have."""


def overlap() -> timedelta:
    """How long a rotated-out secret keeps signing beside the new one."""
    return timedelta(seconds=current_app.config["WEBHOOK_SECRET_OVERLAP_SECONDS"])


def find(provider_id: str, endpoint_id: object) -> WebhookEndpoint | None:
    """The provider's endpoint with this id, or None (another provider's, or junk)."""
    if not isinstance(endpoint_id, str) or not endpoint_id.startswith("we_"):
        return None
    found = db.session.get(WebhookEndpoint, endpoint_id)
    return found if found is not None and found.provider_id == provider_id else None


def clean_events(events: list[str] | None) -> str:
    """The stored form of an endpoint's event types (None or ["*"]: every one)."""
    if events is None or events == [ALL_EVENTS]:
        return ALL_EVENTS
    unknown = [name for name in events if name not in notifications.EVENTS]
    if unknown or not events:
        raise ValidationError(
            "events",
            f"events must be {ALL_EVENTS!r} or event types from: {', '.join(notifications.EVENTS)}",
        )
    return " ".join(dict.fromkeys(events))


@dataclass
class EndpointFields:
    """An endpoint's settings as a form or request gives them; None: leave as it is."""

    url: str | None = None
    description: str | None = None
    events: list[str] | None = None
    active: bool | None = None


def _apply(endpoint: WebhookEndpoint, fields: EndpointFields) -> None:
    if fields.url is not None:
        url = urls.clean_webhook_url("url", fields.url)
        if url is None:
            raise ValidationError("url", "Give the URL notifications are sent to")
        endpoint.url = url
    if fields.description is not None:
        if len(fields.description) > DESCRIPTION_MAX:
            raise ValidationError(
                "description", f"description must be at most {DESCRIPTION_MAX} characters"
            )
        endpoint.description = fields.description
    if fields.events is not None:
        endpoint.events = clean_events(fields.events)
    if fields.active is not None:
        endpoint.active = fields.active


def create(provider: Provider, fields: EndpointFields, *, actor: Actor) -> WebhookEndpoint:
    """Add an endpoint (ENDPOINTS_MAX at most) with a new secret; the caller shows it once."""
    count = db.session.scalar(
        select(func.count()).where(WebhookEndpoint.provider_id == provider.id)
    )
    if count >= ENDPOINTS_MAX:
        raise EndpointLimitReached(
            f"A provider has at most {ENDPOINTS_MAX} webhook endpoints: delete one first"
        )
    if fields.url is None:
        raise ValidationError("url", "Give the URL notifications are sent to")
    # Tied to the provider only once it is valid: a refused one must not join its list.
    endpoint = WebhookEndpoint(provider_id=provider.id, events=ALL_EVENTS, description="")
    _apply(endpoint, fields)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, Action.ENDPOINT_CREATED, "provider", provider.id, endpoint=endpoint.id)
    db.session.commit()
    return endpoint


def update_endpoint(
    endpoint: WebhookEndpoint, fields: EndpointFields, *, actor: Actor
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, events or whether it is on."""
    _apply(endpoint, fields)
    changed = [name for name, value in vars(fields).items() if value is not None]
    if changed:
        audit.record(
            actor,
            Action.ENDPOINT_CHANGED,
            "provider",
            endpoint.provider_id,
            endpoint=endpoint.id,
            changed=", ".join(changed),
        )
    db.session.commit()
    return endpoint


def _forget(endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint; what it had not received fails, visibly, and a resend of it goes
    to the provider's first endpoint. The caller commits."""
    db.session.execute(
        update(Notification)
        .where(
            Notification.endpoint_id == endpoint.id,
            Notification.status == NotificationStatus.PENDING,
        )
        .values(status=NotificationStatus.FAILED, last_error="Its webhook endpoint was deleted")
    )
    db.session.execute(
        update(Notification).where(Notification.endpoint_id == endpoint.id).values(endpoint_id=None)
    )
    db.session.delete(endpoint)


def delete(endpoint: WebhookEndpoint, *, actor: Actor) -> None:
    """Delete an endpoint; nothing more is sent to it."""
    audit.record(
        actor, Action.ENDPOINT_DELETED, "provider", endpoint.provider_id, endpoint=endpoint.id
    )
    _forget(endpoint)
    db.session.commit()


def set_primary_url(provider: Provider, url: str | None) -> None:
    """Point the provider's first endpoint at a (checked) URL: made when there is none, and
    deleted when the URL is cleared. The caller audits and commits."""
    primary = provider.primary_endpoint
    if url and primary is None:
        provider.endpoints.append(WebhookEndpoint(url=url, events=ALL_EVENTS, description=""))
    elif url:
        primary.url = url
    elif primary is not None:
        _forget(primary)
        provider.endpoints.remove(primary)


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Actor) -> str:
    """Give the endpoint a new signing secret; the old one keeps signing beside it for
    `overlap()`. Returns the new secret, for the caller to show once."""
    endpoint.previous_secret = endpoint.secret
    endpoint.secret = new_webhook_secret()
    endpoint.secret_rotated_at = utcnow()
    audit.record(
        actor, Action.WEBHOOK_SECRET_ROTATED, "provider", endpoint.provider_id, endpoint=endpoint.id
    )
    db.session.commit()
    return endpoint.secret


def enable(endpoint: WebhookEndpoint, *, actor: Actor) -> None:
    """Deliver to the endpoint again after it answered 410 Gone."""
    endpoint.disabled_at = None
    audit.record(
        actor, Action.ENDPOINT_ENABLED, "provider", endpoint.provider_id, endpoint=endpoint.id
    )
    db.session.commit()
