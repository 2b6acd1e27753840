"""The OpenAPI operations of webhook endpoints (api/endpoints.py); api/openapi.py puts them
in the document, and their request shapes are in api/openapi_schemas.py."""

from checkout.api import queries
from checkout.api.openapi_parts import (
    FORBIDDEN,
    MALFORMED,
    TOO_LARGE,
    TOO_MANY,
    UNAUTHORIZED,
    UNKNOWN_QUERY,
    UNPROCESSABLE,
    UNSUPPORTED,
    error_response,
    json_response,
)
from checkout.api.openapi_schemas import query_parameters

ENDPOINT_ID = {
    "name": "endpointId",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
NOT_FOUND = error_response("No such webhook endpoint among yours (not_found)")


def _body(schema_name: str, required: bool = True) -> dict:
    return {
        "required": required,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


def _operation(operation_id: str, summary: str, scope: str, answers: dict, **rest) -> dict:
    """An operation with the answers every endpoint operation can give."""
    common = {"401": UNAUTHORIZED, "403": FORBIDDEN, "429": TOO_MANY}
    return {
        "operationId": operation_id,
        "summary": summary,
        "x-scope": scope,
        **rest,
        "responses": {**answers, **common},
    }


def _writing(answers: dict) -> dict:
    """The answers of an operation that takes a JSON body, besides its own."""
    return {
        "400": MALFORMED,
        "413": TOO_LARGE,
        "415": UNSUPPORTED,
        "422": UNPROCESSABLE,
        **answers,
    }


WRITE, READ = "webhooks:write", "webhooks:read"

ENDPOINT_PATHS = {
    "/webhook-endpoints": {
        "get": _operation(
            "listWebhookEndpoints",
            "Your webhook endpoints, oldest first (the first is your webhook URL)",
            READ,
            {
                "200": json_response("WebhookEndpointList", "The endpoints"),
                "422": UNKNOWN_QUERY,
            },
        ),
        "post": _operation(
            "createWebhookEndpoint",
            "Add a webhook endpoint (at most 5); its secret is in this answer only",
            WRITE,
            _writing(
                {
                    "201": json_response("WebhookEndpointWithSecret", "The new endpoint"),
                    "409": error_response("You have 5 endpoints already (endpoint_limit_reached)"),
                }
            ),
            requestBody=_body("CreateWebhookEndpoint"),
        ),
    },
    "/webhook-endpoints/{endpointId}": {
        "get": _operation(
            "getWebhookEndpoint",
            "One of your webhook endpoints (never its secret)",
            READ,
            {
                "200": json_response("WebhookEndpoint", "The endpoint"),
                "404": NOT_FOUND,
                "422": UNKNOWN_QUERY,
            },
            parameters=[ENDPOINT_ID],
        ),
        "patch": _operation(
            "updateWebhookEndpoint",
            "Change an endpoint's URL, description, events or whether it is on",
            WRITE,
            _writing({"200": json_response("WebhookEndpoint", "The endpoint"), "404": NOT_FOUND}),
            parameters=[ENDPOINT_ID],
            requestBody=_body("UpdateWebhookEndpoint"),
        ),
        "delete": _operation(
            "deleteWebhookEndpoint",
            "Delete an endpoint: nothing more is sent to it",
            WRITE,
            {
                "200": json_response("DeletedWebhookEndpoint", "It is gone"),
                "404": NOT_FOUND,
                "422": UNKNOWN_QUERY,
            },
            parameters=[ENDPOINT_ID],
        ),
    },
    "/webhook-endpoints/{endpointId}/rotate-secret": {
        "post": _operation(
            "rotateWebhookSecret",
            "A new signing secret, in this answer only",
            WRITE,
            _writing(
                {
                    "200": json_response("WebhookEndpointWithSecret", "The endpoint"),
                    "404": NOT_FOUND,
                }
            ),
            description="The previous secret keeps signing beside the new one for "
            "WEBHOOK_SECRET_OVERLAP_SECONDS (24 hours unless the operator chose otherwise): "
            "each delivery carries both signatures in webhook-signature, space-separated, so "
            "a receiver verifies with either while it switches. Takes no body (or {}).",
            parameters=[ENDPOINT_ID],
        ),
    },
    "/webhook-endpoints/{endpointId}/deliveries": {
        "get": _operation(
            "listDeliveries",
            "The endpoint's notifications, newest first",
            READ,
            {
                "200": json_response("DeliveryList", "A page of deliveries"),
                "404": NOT_FOUND,
                "422": UNPROCESSABLE,
            },
            parameters=[
                ENDPOINT_ID,
                *query_parameters(queries.ListDeliveries),
            ],
        ),
    },
    "/webhook-endpoints/{endpointId}/test": {
        "post": _operation(
            "sendTestEvent",
            "Queue a signed test event to the endpoint",
            WRITE,
            _writing(
                {"202": json_response("Delivery", "The test event, queued"), "404": NOT_FOUND}
            ),
            description="Takes no body (or {}).",
            parameters=[ENDPOINT_ID],
        ),
    },
    "/webhook-endpoints/{endpointId}/recover": {
        "post": _operation(
            "recoverDeliveries",
            "Send again every failed notification to the endpoint since a time",
            WRITE,
            _writing(
                {
                    "202": json_response("Recovered", "How many were queued again"),
                    "404": NOT_FOUND,
                }
            ),
            description="Each goes again with its webhook-id; one being sent is left to that "
            "attempt, so no two copies are ever in flight.",
            parameters=[ENDPOINT_ID],
            requestBody=_body("RecoverDeliveries"),
        ),
    },
}
