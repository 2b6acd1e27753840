"""Provider API: webhook endpoints, their secrets, deliveries, tests and recovery."""

from checkout import audit, notifications, schemas, shapes, webhook_endpoints
from checkout.api import bodies, queries
from checkout.api.common import (
    ApiError,
    answer,
    authenticated_key,
    bp,
    json_body,
    optional_json_body,
    page_start,
    parse,
    parse_query,
)
from checkout.models import ApiKey, ApiScope, WebhookEndpoint
from checkout.webhook_endpoints import EndpointFields


def _own_endpoint(key: ApiKey, endpoint_id: str) -> WebhookEndpoint:
    endpoint = webhook_endpoints.find(key.provider_id, endpoint_id)
    if endpoint is None:
        raise ApiError("Webhook endpoint not found", 404, "not_found")
    return endpoint


def _fields(sent: bodies.CreateWebhookEndpoint | bodies.UpdateWebhookEndpoint) -> EndpointFields:
    return EndpointFields(
        url=sent.url, description=sent.description, events=sent.events, active=sent.active
    )


@bp.get("/webhook-endpoints")
def list_webhook_endpoints():
    """The provider's webhook endpoints, oldest first (the first is its webhook URL)."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    parse_query(queries.NoQuery)
    endpoints = [schemas.webhook_endpoint(row) for row in key.provider.endpoints]
    return answer(shapes.WebhookEndpointList(data=endpoints, has_more=False))


@bp.post("/webhook-endpoints")
def create_webhook_endpoint():
    """Add an endpoint; its signing secret is in this answer only."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.CreateWebhookEndpoint, body)
    endpoint = webhook_endpoints.create(
        key.provider, _fields(sent), actor=audit.api_key(key.prefix)
    )
    return answer(schemas.webhook_endpoint(endpoint, secret=endpoint.secret), 201)


@bp.get("/webhook-endpoints/<endpoint_id>")
def get_webhook_endpoint(endpoint_id: str):
    """One of the provider's endpoints (never its secret)."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    parse_query(queries.NoQuery)
    return answer(schemas.webhook_endpoint(_own_endpoint(key, endpoint_id)))


@bp.patch("/webhook-endpoints/<endpoint_id>")
def update_webhook_endpoint(endpoint_id: str):
    """Change an endpoint's URL, description, events or whether it is on."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.UpdateWebhookEndpoint, body)
    endpoint = _own_endpoint(key, endpoint_id)
    webhook_endpoints.update_endpoint(endpoint, _fields(sent), actor=audit.api_key(key.prefix))
    return answer(schemas.webhook_endpoint(endpoint))


@bp.delete("/webhook-endpoints/<endpoint_id>")
def delete_webhook_endpoint(endpoint_id: str):
    """Delete an endpoint: nothing more is sent to it; what it had not received fails."""
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE)
    parse_query(queries.NoQuery)
    endpoint = _own_endpoint(key, endpoint_id)
    webhook_endpoints.delete(endpoint, actor=audit.api_key(key.prefix))
    return answer(shapes.DeletedWebhookEndpoint(id=endpoint_id, deleted=True))


@bp.post("/webhook-endpoints/<endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id: str):
    """A new signing secret, in this answer only; the old one keeps signing beside it."""
    body = optional_json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    parse_query(queries.NoQuery)
    parse(bodies.NoBody, body)
    endpoint = _own_endpoint(key, endpoint_id)
    secret = webhook_endpoints.rotate_secret(endpoint, actor=audit.api_key(key.prefix))
    return answer(schemas.webhook_endpoint(endpoint, secret=secret))


@bp.get("/webhook-endpoints/<endpoint_id>/deliveries")
def list_deliveries(endpoint_id: str):
    """The endpoint's notifications, newest first: status, attempts, last answer, next try."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    asked = parse_query(queries.ListDeliveries)
    endpoint = _own_endpoint(key, endpoint_id)
    limit = asked.limit
    after = page_start(
        asked.starting_after,
        lambda delivery_id: notifications.find_delivery(endpoint.id, delivery_id),
        "the id of one of this endpoint's deliveries",
    )
    rows = notifications.deliveries(endpoint.id, limit + 1, after=after)
    return answer(
        shapes.DeliveryList(
            data=[schemas.delivery(row) for row in rows[:limit]], has_more=len(rows) > limit
        )
    )


@bp.post("/webhook-endpoints/<endpoint_id>/test")
def send_test_event(endpoint_id: str):
    """Queue a signed `test` event to the endpoint."""
    body = optional_json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    parse_query(queries.NoQuery)
    parse(bodies.NoBody, body)
    endpoint = _own_endpoint(key, endpoint_id)
    sent = notifications.send_test(endpoint, actor=audit.api_key(key.prefix))
    return answer(schemas.delivery(sent), 202)


@bp.post("/webhook-endpoints/<endpoint_id>/recover")
def recover_deliveries(endpoint_id: str):
    """Send again every failed notification to the endpoint since a time, with its webhook-id;
    one being sent is left to that attempt, so no two copies are ever in flight."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.RecoverDeliveries, body)
    endpoint = _own_endpoint(key, endpoint_id)
    queued = notifications.resend_failed_since(
        sent.since, endpoint.provider_id, actor=audit.api_key(key.prefix), endpoint_id=endpoint.id
    )
    return answer(shapes.Recovered(queued=queued), 202)
