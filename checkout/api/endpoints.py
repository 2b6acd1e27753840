"""Provider API: webhook endpoints, their secrets, deliveries, tests and recovery."""

from flask import jsonify, request

from checkout import audit, notifications, payment_links, schemas, webhook_endpoints
from checkout.api.common import (
    ApiError,
    authenticated_key,
    bp,
    check_fields,
    json_body,
    optional_json_body,
    page_limit,
)
from checkout.errors import ValidationError
from checkout.models import ApiKey, ApiScope, WebhookEndpoint
from checkout.webhook_endpoints import EndpointFields


def _own_endpoint(key: ApiKey, endpoint_id: str) -> WebhookEndpoint:
    endpoint = webhook_endpoints.find(key.provider_id, endpoint_id)
    if endpoint is None:
        raise ApiError("Webhook endpoint not found", 404, "not_found")
    return endpoint


def _typed(body: dict, name: str, kind: type, label: str):
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ApiError(f"{name} must be {label}", 422, "validation_error", name)
    return value


def _fields(body: dict) -> EndpointFields:
    events = _typed(body, "events", list, 'a list of event types, or ["*"] for all')
    if events is not None and not all(isinstance(name, str) for name in events):
        raise ApiError("events must be a list of event types", 422, "validation_error", "events")
    return EndpointFields(
        url=_typed(body, "url", str, "a string"),
        description=_typed(body, "description", str, "a string"),
        events=events,
        active=_typed(body, "active", bool, "true or false"),
    )


@bp.get("/webhook-endpoints")
def list_webhook_endpoints():
    """The provider's webhook endpoints, oldest first (the first is its webhook URL)."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    check_fields("listWebhookEndpoints")
    endpoints = key.provider.endpoints
    return jsonify(data=[schemas.webhook_endpoint(row) for row in endpoints], hasMore=False)


@bp.post("/webhook-endpoints")
def create_webhook_endpoint():
    """Add an endpoint; its signing secret is in this answer only."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    check_fields("createWebhookEndpoint", body)
    endpoint = webhook_endpoints.create(
        key.provider, _fields(body), actor=audit.api_key(key.prefix)
    )
    return jsonify(schemas.webhook_endpoint(endpoint, secret=endpoint.secret)), 201


@bp.get("/webhook-endpoints/<endpoint_id>")
def get_webhook_endpoint(endpoint_id: str):
    """One of the provider's endpoints (never its secret)."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    check_fields("getWebhookEndpoint")
    return jsonify(schemas.webhook_endpoint(_own_endpoint(key, endpoint_id)))


@bp.patch("/webhook-endpoints/<endpoint_id>")
def update_webhook_endpoint(endpoint_id: str):
    """Change an endpoint's URL, description, events or whether it is on."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    check_fields("updateWebhookEndpoint", body)
    endpoint = _own_endpoint(key, endpoint_id)
    webhook_endpoints.update_endpoint(endpoint, _fields(body), actor=audit.api_key(key.prefix))
    return jsonify(schemas.webhook_endpoint(endpoint))


@bp.delete("/webhook-endpoints/<endpoint_id>")
def delete_webhook_endpoint(endpoint_id: str):
    """Delete an endpoint: nothing more is sent to it; what it had not received fails."""
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE)
    check_fields("deleteWebhookEndpoint")
    endpoint = _own_endpoint(key, endpoint_id)
    webhook_endpoints.delete(endpoint, actor=audit.api_key(key.prefix))
    return jsonify(id=endpoint_id, deleted=True)


@bp.post("/webhook-endpoints/<endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id: str):
    """A new signing secret, in this answer only; the old one keeps signing beside it."""
    body = optional_json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    check_fields("rotateWebhookSecret", body)
    endpoint = _own_endpoint(key, endpoint_id)
    secret = webhook_endpoints.rotate_secret(endpoint, actor=audit.api_key(key.prefix))
    return jsonify(schemas.webhook_endpoint(endpoint, secret=secret))


@bp.get("/webhook-endpoints/<endpoint_id>/deliveries")
def list_deliveries(endpoint_id: str):
    """The endpoint's notifications, newest first: status, attempts, last answer, next try."""
    key = authenticated_key(ApiScope.WEBHOOKS_READ)
    check_fields("listDeliveries")
    endpoint = _own_endpoint(key, endpoint_id)
    limit = page_limit()
    after = None
    if "startingAfter" in request.args:
        after = notifications.find_delivery(endpoint.id, request.args["startingAfter"])
        if after is None:
            raise ApiError(
                "startingAfter must be the id of one of this endpoint's deliveries",
                422,
                "validation_error",
                "startingAfter",
            )
    rows = notifications.deliveries(endpoint.id, limit + 1, after=after)
    return jsonify(data=[schemas.delivery(row) for row in rows[:limit]], hasMore=len(rows) > limit)


@bp.post("/webhook-endpoints/<endpoint_id>/test")
def send_test_event(endpoint_id: str):
    """Queue a signed `test` event to the endpoint."""
    body = optional_json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    check_fields("sendTestEvent", body)
    endpoint = _own_endpoint(key, endpoint_id)
    sent = notifications.send_test(endpoint, actor=audit.api_key(key.prefix))
    return jsonify(schemas.delivery(sent)), 202


@bp.post("/webhook-endpoints/<endpoint_id>/recover")
def recover_deliveries(endpoint_id: str):
    """Send again every failed notification to the endpoint since a time, with its webhook-id;
    one being sent is left to that attempt, so no two copies are ever in flight."""
    body = json_body()
    key = authenticated_key(ApiScope.WEBHOOKS_WRITE, body)
    check_fields("recoverDeliveries", body)
    endpoint = _own_endpoint(key, endpoint_id)
    if body.get("since") is None:
        raise ApiError("since is required: an ISO 8601 time", 422, "validation_error", "since")
    try:
        since = payment_links.parse_expiry(body["since"])
    except ValidationError as error:
        raise ApiError(f"since: {error.message}", 422, "validation_error", "since") from None
    queued = notifications.resend_failed_since(
        since, endpoint.provider_id, actor=audit.api_key(key.prefix), endpoint_id=endpoint.id
    )
    return jsonify(queued=queued), 202
