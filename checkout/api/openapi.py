"""The OpenAPI 3.1 document for the provider API; tests hold the implementation to it."""

from dataclasses import dataclass

from checkout import notifications, payment_links
from checkout.models import OrderStatus, PaymentMode

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _json(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

# An order's own fields, the same in API answers and notifications (checkout.schemas.order).
_ORDER_FIELDS = {
    "orderId": {"type": "string", "pattern": "^ord_[0-9a-f]{24}$"},
    "externalId": _NULLABLE_STRING,
    "amount": {"type": "number", "description": "Major units, exact."},
    "quantity": {"type": "integer", "minimum": 1},
    "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
    "mode": {"type": "string", "enum": [mode.value for mode in PaymentMode]},
    "status": {"type": "string", "enum": [status.value for status in OrderStatus]},
    "createdAt": {"type": "string", "format": "date-time"},
    "paidAt": _NULLABLE_TIME,
    "paidAmount": {
        "type": ["number", "null"],
        "description": "What Stripe received, in paidCurrency; below amount the order is "
        "underpaid, not paid.",
    },
    "paidCurrency": {
        "type": ["string", "null"],
        "description": "The currency Stripe received the payment in; normally currency.",
    },
    "refundedAmount": {
        "type": ["number", "null"],
        "description": "Refunded so far, in all; null until the first refund. A refund "
        "that fails is taken back out.",
    },
    "fullyRefunded": {"type": "boolean", "description": "Everything paid has been refunded."},
    "amountMismatch": {
        "type": "boolean",
        "description": "The amount or currency paid differs from the order's.",
    },
    "stripePaymentIntentId": _NULLABLE_STRING,
    "paymentLinkId": _NULLABLE_STRING,
    "dispute": {
        "type": ["object", "null"],
        "description": "The customer's dispute with their bank, while and after there is one.",
        "required": ["id", "status", "reason", "amount", "evidenceDueBy"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "description": "Stripe's dispute status."},
            "reason": _NULLABLE_STRING,
            "amount": {"type": ["number", "null"]},
            "evidenceDueBy": _NULLABLE_TIME,
        },
    },
    "livemode": {
        "type": "boolean",
        "description": "True only for an order opened with live Stripe keys; false in "
        "sandbox mode and Stripe test mode. Refuse false in production.",
    },
    "stripeBuyButtonId": {"type": "string", "description": "Present in Buy Button mode only."},
}
_ORDER_REQUIRED = [name for name in _ORDER_FIELDS if name != "stripeBuyButtonId"]
_NOTIFICATION_FIELDS = {
    "providerId": _NULLABLE_STRING,
    "providerName": _NULLABLE_STRING,
    "serviceId": {"type": "string"},
    "serviceName": {"type": "string"},
    "metadata": {
        "type": ["object", "null"],
        "additionalProperties": {"type": "string"},
        "description": "The payment link's metadata; null for an order opened by API.",
    },
    "timestamp": {"type": "string", "format": "date-time"},
}

# Request fields that cannot be combined with each other: the document says so (JSON Schema's
# dependentSchemas) and the API refuses them together (422 conflicting_fields).
CONFLICTING_FIELDS = {"CreatePaymentLink": {"quantity": ("minQuantity", "maxQuantity")}}


def _exclusive(schema_name: str) -> dict:
    return {
        first: {"not": {"anyOf": [{"required": [second]} for second in others]}}
        for first, others in CONFLICTING_FIELDS[schema_name].items()
    }


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "code", "param"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "What went wrong, for people."},
            "code": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]*$",
                "description": "What went wrong, for programs: e.g. invalid_api_key, "
                "signature_expired, signature_reused, client_not_allowed, scope_missing, "
                "unknown_field, conflicting_fields, validation_error, amount_invalid, "
                "body_too_large, rate_limited.",
            },
            "param": {
                "type": ["string", "null"],
                "description": "The request field (body or query) the error is about; "
                "null when it is about the request as a whole.",
            },
        },
    },
    "CreatePaymentIntent": {
        "type": "object",
        "additionalProperties": False,
        "description": "Any other field is refused (422 unknown_field).",
        "properties": {
            "apiKey": {
                "type": "string",
                "description": "Your API key; may instead be sent as `Authorization: Bearer`.",
            },
            "externalId": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Your own order id. Repeating it returns the same order.",
            },
            "amount": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Cash App mode only: a multiple of the service price, "
                "in major units (5 means $5.00). Ignored in Buy Button mode, whatever "
                "its type.",
            },
        },
    },
    "Order": {
        "type": "object",
        "description": "Every field is present, null while it has no value; "
        "stripeBuyButtonId only in Buy Button mode.",
        "required": ["checkoutUrl", *_ORDER_REQUIRED],
        "additionalProperties": False,
        "properties": {"checkoutUrl": {"type": "string", "format": "uri"}, **_ORDER_FIELDS},
    },
    "Notification": {
        "type": "object",
        "description": "What Kassa POSTs to your webhook URL when one of your orders changes.",
        "required": ["event", *_ORDER_REQUIRED, *_NOTIFICATION_FIELDS],
        "additionalProperties": False,
        "properties": {
            "event": {
                "type": "string",
                "enum": list(notifications.ORDER_EVENTS),
            },
            **_ORDER_FIELDS,
            **_NOTIFICATION_FIELDS,
        },
    },
    "TestNotification": {
        "type": "object",
        "description": 'The admin\'s "Send test event".',
        "required": ["event", "providerId", "providerName", "message", "timestamp"],
        "additionalProperties": False,
        "properties": {
            "event": {"const": "test"},
            "providerId": {"type": "string"},
            "providerName": {"type": "string"},
            "message": {"type": "string"},
            "timestamp": {"type": "string", "format": "date-time"},
        },
    },
    "CreatePaymentLink": {
        "type": "object",
        "additionalProperties": False,
        "description": "Any other field is refused (422 unknown_field); quantity cannot be "
        "combined with minQuantity or maxQuantity (422 conflicting_fields).",
        "dependentSchemas": _exclusive("CreatePaymentLink"),
        "properties": {
            "apiKey": {
                "type": "string",
                "description": "Your API key; may instead be sent as `Authorization: Bearer`.",
            },
            "title": {"type": "string", "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "quantity": {"type": "integer", "minimum": 1, "description": "Fixed quantity"},
            "minQuantity": {
                "type": "integer",
                "minimum": 1,
                "description": "With maxQuantity, customers choose the quantity",
            },
            "maxQuantity": {"type": "integer", "minimum": 1},
            "expiresAt": {"type": "string", "format": "date-time"},
            "password": {
                "type": "string",
                "minLength": payment_links.PASSWORD_MIN,
                "maxLength": payment_links.PASSWORD_MAX,
            },
            "maxUses": {"type": "integer", "minimum": 1, "description": "Completed payments"},
            "metadata": {
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 500},
                "maxProperties": 20,
            },
            "confirmationMessage": {"type": "string", "maxLength": 1000},
            "redirectUrl": {
                "type": "string",
                "description": "After paying, customers go here ({orderId} is filled in)",
            },
        },
    },
    "PaymentLink": {
        "type": "object",
        "required": [
            "id",
            "url",
            "checkoutUrl",
            "qrCodePng",
            "qrCodeSvg",
            "title",
            "description",
            "serviceId",
            "providerId",
            "unitAmount",
            "currency",
            "adjustableQuantity",
            "quantity",
            "minQuantity",
            "maxQuantity",
            "expiresAt",
            "maxUses",
            "completedPayments",
            "passwordProtected",
            "active",
            "status",
            "metadata",
            "afterPayment",
            "confirmationMessage",
            "redirectUrl",
            "createdAt",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^plink_[0-9a-f]{24}$"},
            "url": {"type": "string", "format": "uri"},
            "checkoutUrl": {"type": "string", "format": "uri"},
            "qrCodePng": {"type": "string", "format": "uri"},
            "qrCodeSvg": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "serviceId": {"type": "string"},
            "providerId": _NULLABLE_STRING,
            "unitAmount": {"type": "number"},
            "currency": {"type": "string"},
            "adjustableQuantity": {"type": "boolean"},
            "quantity": {"type": "integer"},
            "minQuantity": {"type": "integer"},
            "maxQuantity": {"type": "integer"},
            "expiresAt": _NULLABLE_TIME,
            "maxUses": {"type": ["integer", "null"]},
            "completedPayments": {"type": "integer"},
            "passwordProtected": {"type": "boolean"},
            "active": {"type": "boolean"},
            "status": {"type": "string", "enum": ["active", "inactive", "expired", "used_up"]},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "afterPayment": {"type": "string", "enum": ["message", "redirect"]},
            "confirmationMessage": {"type": "string"},
            "redirectUrl": _NULLABLE_STRING,
            "createdAt": {"type": "string", "format": "date-time"},
        },
    },
    "OrderList": {
        "type": "object",
        "required": ["data", "hasMore"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "hasMore": {"type": "boolean"},
        },
    },
}

_UNAUTHORIZED = _error_response(
    "Invalid or inactive API key (invalid_api_key), or, when the provider requires signed "
    "requests, a Signature header that is missing (signature_missing), not in the provider's "
    "format (signature_malformed), wrong (signature_invalid), timed more than 300 seconds "
    "from Kassa's clock (signature_expired) or already used once (signature_reused)"
)
_FORBIDDEN = _error_response(
    "The key lacks the scope this operation needs (scope_missing), or the request comes from "
    "an address outside the provider's IP allowlist (client_not_allowed)"
)
_UNPROCESSABLE = _error_response(
    "A parameter has the wrong type or value (validation_error), is not one this operation "
    "takes (unknown_field), or cannot be combined with another (conflicting_fields); param "
    "names it"
)
_UNKNOWN_QUERY = _error_response("A query parameter this operation does not take (unknown_field)")
_TOO_MANY = _error_response(
    "RATE_LIMIT_API reached for the key, or too many refused requests from the address "
    "(rate_limited); Retry-After says when to retry"
)
_UNSUPPORTED = _error_response("Content-Type is not application/json (unsupported_media_type)")


def openapi_document(server_url: str) -> dict:
    """The document, with the server this instance answers on."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kassa provider API",
            "version": "1",
            "description": "Open payments, redirect customers to the hosted checkout, "
            'and look up orders. Errors are JSON `{"error": "...", "code": "...", "param": '
            "...}` (Error): `error` for people, `code` for programs, `param` the field it is "
            "about or null. Each operation takes only the fields and query parameters it "
            "lists. Each key has scopes (orders:write, orders:read, links:write, links:read); "
            "each operation names the one it needs (x-scope). A provider may allow requests "
            "from listed networks only, and may require signed requests. Then every request "
            "carries, by default, `Signature: t=<unix time>,v1=<base64 HMAC-SHA256(request-"
            'signing secret, "<t>.<METHOD>.<path?query>.<raw body>")>`, e.g. the message '
            "`1795430400.GET./api/v1/orders?limit=5.` for a GET: accepted within 300 seconds "
            "of Kassa's clock, and once. A provider the admin keeps on the body-only form "
            "sends `Signature: base64(HMAC-SHA256(secret, raw body))` (a GET signs the empty "
            "body); such a signature can be replayed and moved to another path until the "
            "secret changes.",
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
            "schemas": SCHEMAS,
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
                        "200": _json("Order", "The order, new or the one externalId made"),
                        "400": _error_response(
                            "Malformed JSON, nested deeper than 64 levels, or a string holding "
                            "NUL or a lone surrogate; in Cash App mode an amount below the price "
                            "(zero or negative included) or not a multiple of it; an order "
                            "below Stripe's minimum charge; Buy Button not configured; "
                            "Cash App payments not available (currency, or refused by Stripe)"
                        ),
                        "401": _UNAUTHORIZED,
                        "403": _FORBIDDEN,
                        "409": _error_response(
                            "externalId already used with another amount, "
                            "or the service is not available"
                        ),
                        "413": _error_response("Body larger than 64 KiB (body_too_large)"),
                        "415": _UNSUPPORTED,
                        "422": _error_response(
                            "externalId of the wrong type or length (validation_error); a "
                            "field this operation does not take (unknown_field); in Cash App "
                            "mode an amount that is not a number, not exact in the currency "
                            "(more decimals than it has, however many digits) or too large "
                            "(amount_invalid); param names the field"
                        ),
                        "429": _TOO_MANY,
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
                        "200": _json("Order", "The order"),
                        "401": _UNAUTHORIZED,
                        "403": _FORBIDDEN,
                        "404": _error_response("No such order among yours"),
                        "422": _UNKNOWN_QUERY,
                        "429": _TOO_MANY,
                    },
                }
            },
            "/orders": {
                "get": {
                    "operationId": "listOrders",
                    "summary": "Your orders, newest first",
                    "x-scope": "orders:read",
                    "parameters": [
                        {"name": "externalId", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": [status.value for status in OrderStatus],
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {
                            "name": "startingAfter",
                            "in": "query",
                            "description": "An orderId from the previous page",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _json("OrderList", "A page of orders"),
                        "401": _UNAUTHORIZED,
                        "403": _FORBIDDEN,
                        "422": _UNPROCESSABLE,
                        "429": _TOO_MANY,
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
                        "201": _json("PaymentLink", "The new link"),
                        "400": _error_response(
                            "Malformed JSON, nested deeper than 64 levels, or a string holding "
                            "NUL or a lone surrogate"
                        ),
                        "401": _UNAUTHORIZED,
                        "403": _FORBIDDEN,
                        "413": _error_response("Body larger than 64 KiB (body_too_large)"),
                        "415": _UNSUPPORTED,
                        "422": _UNPROCESSABLE,
                        "429": _TOO_MANY,
                    },
                }
            },
            "/payment-links/{linkId}": {
                "get": {
                    "operationId": "getPaymentLink",
                    "summary": "One of your payment links",
                    "x-scope": "links:read",
                    "parameters": [
                        {
                            "name": "linkId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json("PaymentLink", "The link"),
                        "401": _UNAUTHORIZED,
                        "403": _FORBIDDEN,
                        "404": _error_response("No such link among yours"),
                        "422": _UNKNOWN_QUERY,
                        "429": _TOO_MANY,
                    },
                }
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


@dataclass(frozen=True)
class RequestFields:
    """What an operation accepts, as the document declares it: the API refuses the rest."""

    body: tuple[str, ...]
    query: tuple[str, ...]
    conflicts: dict[str, tuple[str, ...]]


def request_fields(operation_id: str) -> RequestFields:
    """The body fields, query parameters and conflicting pairs of one operation."""
    return _REQUEST_FIELDS[operation_id]


def _request_fields(operation: dict) -> RequestFields:
    schema_name = None
    if "requestBody" in operation:
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema_name = reference.rsplit("/", 1)[1]
    return RequestFields(
        body=tuple(SCHEMAS[schema_name]["properties"]) if schema_name else (),
        query=tuple(
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        ),
        conflicts=CONFLICTING_FIELDS.get(schema_name, {}),
    )


_REQUEST_FIELDS = {
    operation["operationId"]: _request_fields(operation)
    for item in openapi_document("")["paths"].values()
    for operation in item.values()
}
