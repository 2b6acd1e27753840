"""The OpenAPI 3.1 document for the provider API; tests hold the implementation to it."""

import copy

from checkout.api import queries
from checkout.api.openapi_discounts import DISCOUNT_PATHS
from checkout.api.openapi_endpoints import ENDPOINT_PATHS
from checkout.api.openapi_parts import (
    FORBIDDEN,
    IDEMPOTENCY_ANSWERS,
    IDEMPOTENCY_KEY,
    LINK_ID,
    MALFORMED,
    ORDER_ID,
    TOO_LARGE,
    TOO_MANY,
    UNAUTHORIZED,
    UNKNOWN_QUERY,
    UNPROCESSABLE,
    UNSUPPORTED,
    error_response,
    json_response,
)
from checkout.api.openapi_schemas import components, query_parameters


def _with_idempotency_keys(document: dict) -> dict:
    """Every POST and PATCH takes an Idempotency-Key header, and may answer what it adds."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in ("post", "patch"):
                continue
            operation["parameters"] = [*operation.get("parameters", []), IDEMPOTENCY_KEY]
            responses = operation["responses"]
            for status, added in IDEMPOTENCY_ANSWERS.items():
                earlier = responses.get(status)
                responses[status] = error_response(
                    f"{earlier['description']}; {added}"
                    if earlier
                    else added[0].upper() + added[1:]
                )
            operation["responses"] = dict(sorted(responses.items()))
    return document


def openapi_document(server_url: str) -> dict:
    """The document, with the server this instance answers on."""
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Kassa provider API",
            "version": "1",
            "description": "Open payments, redirect customers to the hosted checkout, "
            "look up orders, and create, list and change payment links. Errors are JSON "
            '`{"error": "...", "code": "...", "param": '
            "...}` (Error): `error` for people, `code` for programs, `param` the field it is "
            "about or null. Each operation takes only the fields and query parameters it "
            "lists. Every POST and PATCH takes an Idempotency-Key header (1 to 255 printable "
            "characters): a repeat with the same key, method, path and body, from the same "
            "API key, within IDEMPOTENCY_KEY_HOURS (default 24), gets the first answer again "
            "with Idempotent-Replayed: true, and nothing runs twice. Each key has scopes "
            "(orders:write, orders:read, links:write, links:read, refunds:write, webhooks:read, "
            "webhooks:write); each operation names the one it needs (x-scope). A provider may "
            "allow requests from listed networks only, and may require signed requests. Then "
            "every request carries, by default, `Signature: t=<unix time>,v1=<base64 "
            'HMAC-SHA256(request-signing secret, "<t>.<METHOD>.<path?query>.<raw body>")>`, '
            "e.g. the message `1795430400.GET./api/v1/orders?limit=5.` for a GET: accepted "
            "within 300 seconds of Kassa's clock, and once. A provider the admin keeps on the "
            "body-only form sends `Signature: base64(HMAC-SHA256(secret, raw body))` (a GET "
            "signs the empty body); such a signature can be replayed and moved to another path "
            "until the secret changes.",
        },
        "servers": [{"url": server_url + "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "requestSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "Required beside the key when the provider requires signed "
                    "requests. timestamped (default): `t=<unix time>,v1=<base64 "
                    'HMAC-SHA256(secret, "<t>.<METHOD>.<path?query>.<raw body>")>`, within 300 '
                    "seconds, each accepted once. body (only if the admin chose it): "
                    "`base64(HMAC-SHA256(secret, raw body))`, replayable.",
                },
            },
            "schemas": components(),
        },
        "webhooks": {
            "paymentNotification": {
                "post": {
                    "summary": "Kassa tells your webhook URL about your order",
                    "description": "Signed per Standard Webhooks (webhook-id, "
                    "webhook-timestamp, webhook-signature); delivered at least once, "
                    "with the same webhook-id on every retry.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Notification"},
                                        {"$ref": "#/components/schemas/TestNotification"},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {"2XX": {"description": "Received; anything else is retried"}},
                }
            }
        },
        "paths": {
            # A copy: _with_idempotency_keys adds to each operation it is given.
            **copy.deepcopy(ENDPOINT_PATHS),
            **copy.deepcopy(DISCOUNT_PATHS),
            "/create-payment-intent": {
                "post": {
                    "operationId": "createPaymentIntent",
                    "summary": "Open an order (idempotent on externalId)",
                    "x-scope": "orders:write",
                    "security": [{"bearerAuth": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreatePaymentIntent"}
                            }
                        },
                    },
                    "responses": {
                        "200": json_response("Order", "The order, new or the one externalId made"),
                        "400": error_response(
                            "Malformed JSON, nested deeper than 64 levels, or a string holding "
                            "NUL or a lone surrogate; in Cash App mode an amount below the price "
                            "(zero or negative included) or not a multiple of it; an order "
                            "below Stripe's minimum charge; Buy Button not configured; "
                            "Cash App payments not available (currency, or refused by Stripe)"
                        ),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "409": error_response(
                            "externalId already used with another amount, "
                            "or the service is not available"
                        ),
                        "413": TOO_LARGE,
                        "415": UNSUPPORTED,
                        "422": error_response(
                            "externalId of the wrong type or length (validation_error); a "
                            "field this operation does not take (unknown_field); in Cash App "
                            "mode an amount that is not a number, not exact in the currency "
                            "(more decimals than it has, however many digits) or too large "
                            "(amount_invalid); param names the field"
                        ),
                        "429": TOO_MANY,
                    },
                }
            },
            "/orders/{orderId}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "One of your orders",
                    "x-scope": "orders:read",
                    "parameters": [
                        {
                            "name": "orderId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": json_response("Order", "The order"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such order among yours"),
                        "422": UNKNOWN_QUERY,
                        "429": TOO_MANY,
                    },
                }
            },
            "/orders/{orderId}/refunds": {
                "post": {
                    "operationId": "createRefund",
                    "summary": "Refund a paid order, in full or in part",
                    "description": "Without amount, all that is left is refunded. An "
                    "underpaid order is refunded in full only. Send an Idempotency-Key "
                    "to make retries safe: the same key for the same order answers the "
                    "refund it made (Idempotent-Replayed: true) and never refunds twice, "
                    "even once the key's answer is forgotten. Stripe's later events confirm "
                    "the refund, or take a failed one back out of refundedAmount.",
                    "x-scope": "refunds:write",
                    "parameters": [ORDER_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateRefund"}
                            }
                        },
                    },
                    "responses": {
                        "201": json_response(
                            "Refund", "The refund, made or (replayed) made before"
                        ),
                        "400": error_response("Malformed JSON"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such order among yours"),
                        "409": error_response(
                            "The order cannot be refunded: not paid, disputed, or refunded in "
                            "full (refund_not_allowed); Stripe refused the refund "
                            "(stripe_refused)"
                        ),
                        "413": error_response("Body larger than 64 KiB (body_too_large)"),
                        "415": UNSUPPORTED,
                        "422": error_response(
                            "amount not a number, not exact in the currency, zero, or more "
                            "than is left to refund, or part of an underpaid order "
                            "(validation_error, refund_error); reason not one of Stripe's; "
                            "a field this operation does not take (unknown_field)"
                        ),
                        "429": TOO_MANY,
                        "502": error_response(
                            "Stripe could not be reached; nothing changed (stripe_unavailable)"
                        ),
                    },
                },
                "get": {
                    "operationId": "listRefunds",
                    "summary": "An order's refunds, oldest first",
                    "x-scope": "orders:read",
                    "parameters": [ORDER_ID],
                    "responses": {
                        "200": json_response("RefundList", "The refunds, failed ones included"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such order among yours"),
                        "422": UNKNOWN_QUERY,
                        "429": TOO_MANY,
                    },
                },
            },
            "/orders/{orderId}/cancel": {
                "post": {
                    "operationId": "cancelOrder",
                    "summary": "Cancel an order nobody has paid or is paying",
                    "description": "A pending, failed or expired order becomes canceled, "
                    "its PaymentIntent is canceled with Stripe, and you get payment_canceled. "
                    "An order already canceled is answered as it is. A Buy Button customer "
                    "already on Stripe's page can still pay there: that payment is recorded "
                    "(payment_succeeded), for you to refund. Takes no body (or {}).",
                    "x-scope": "orders:write",
                    "parameters": [ORDER_ID],
                    "responses": {
                        "200": json_response("Order", "The order, canceled"),
                        "400": error_response("Malformed JSON"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such order among yours"),
                        "409": error_response(
                            "A payment is under way, or the order is paid (cancel_refused); "
                            "Stripe refused (stripe_refused)"
                        ),
                        "415": UNSUPPORTED,
                        "422": error_response(
                            "A field or query parameter this operation does not take "
                            "(unknown_field)"
                        ),
                        "429": TOO_MANY,
                        "502": error_response(
                            "Stripe could not be reached; nothing changed (stripe_unavailable)"
                        ),
                    },
                }
            },
            "/orders": {
                "get": {
                    "operationId": "listOrders",
                    "summary": "Your orders, newest first",
                    "x-scope": "orders:read",
                    "parameters": query_parameters(queries.ListOrders),
                    "responses": {
                        "200": json_response("OrderList", "A page of orders"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "422": UNPROCESSABLE,
                        "429": TOO_MANY,
                    },
                }
            },
            "/events": {
                "get": {
                    "operationId": "listEvents",
                    "summary": "Every notification Kassa wrote for you, newest first",
                    "description": "The last 30 days of notifications, whether or not they "
                    "were delivered: id is the webhook-id they carry, data the body sent. "
                    "After an outage, page back from the newest until you meet an id you "
                    "already handled.",
                    "x-scope": "orders:read",
                    "parameters": query_parameters(queries.ListEvents),
                    "responses": {
                        "200": json_response("EventList", "A page of events"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "422": UNPROCESSABLE,
                        "429": TOO_MANY,
                    },
                }
            },
            "/payment-links": {
                "post": {
                    "operationId": "createPaymentLink",
                    "summary": "Create a payment link for your service",
                    "x-scope": "links:write",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreatePaymentLink"}
                            }
                        },
                    },
                    "responses": {
                        "201": json_response("PaymentLink", "The new link"),
                        "400": MALFORMED,
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "413": TOO_LARGE,
                        "415": UNSUPPORTED,
                        "422": UNPROCESSABLE,
                        "429": TOO_MANY,
                    },
                },
                "get": {
                    "operationId": "listPaymentLinks",
                    "summary": "Your payment links, newest first",
                    "x-scope": "links:read",
                    "parameters": query_parameters(queries.ListPaymentLinks),
                    "responses": {
                        "200": json_response("PaymentLinkList", "A page of links"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "422": UNPROCESSABLE,
                        "429": TOO_MANY,
                    },
                },
            },
            "/payment-links/{linkId}": {
                "get": {
                    "operationId": "getPaymentLink",
                    "summary": "One of your payment links",
                    "x-scope": "links:read",
                    "parameters": [LINK_ID],
                    "responses": {
                        "200": json_response("PaymentLink", "The link"),
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such link among yours"),
                        "422": UNKNOWN_QUERY,
                        "429": TOO_MANY,
                    },
                },
                "patch": {
                    "operationId": "updatePaymentLink",
                    "summary": "Change some of a payment link's settings (the rest keep theirs)",
                    "x-scope": "links:write",
                    "parameters": [LINK_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/UpdatePaymentLink"}
                            }
                        },
                    },
                    "responses": {
                        "200": json_response("PaymentLink", "The link as it is now"),
                        "400": MALFORMED,
                        "401": UNAUTHORIZED,
                        "403": FORBIDDEN,
                        "404": error_response("No such link among yours"),
                        "413": TOO_LARGE,
                        "415": UNSUPPORTED,
                        "422": UNPROCESSABLE,
                        "429": TOO_MANY,
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document"}},
                }
            },
        },
    }
    return _with_idempotency_keys(document)
