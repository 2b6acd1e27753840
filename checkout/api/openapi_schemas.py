"""The shapes of the provider API's requests and answers (OpenAPI components): the document
in api/openapi.py refers to them, and the API refuses fields they do not declare."""

from checkout import notifications, payment_links
from checkout.models import OrderStatus, PaymentMode
from checkout.stripe_gateway import REFUND_REASONS

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


_ENDPOINT_SETTINGS = {
    "url": {
        "type": "string",
        "format": "uri",
        "description": "https on port 443 and public addresses (unless the operator allows "
        "private ones).",
    },
    "description": {"type": "string", "maxLength": 255},
    "events": {
        "type": "array",
        "items": {"type": "string", "enum": ["*", *notifications.EVENTS]},
        "minItems": 1,
        "description": 'The event types the endpoint receives; ["*"] (the default): all.',
    },
    "active": {
        "type": "boolean",
        "description": "Off: nothing is written for it until it is on again.",
    },
}


def _webhook_endpoint(with_secret: bool = False) -> dict:
    fields = {
        "id": {"type": "string", "pattern": "^we_[0-9a-f]{24}$"},
        "url": {"type": "string"},
        "description": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "boolean"},
        "disabledAt": {
            **_NULLABLE_TIME,
            "description": "When it answered 410 Gone: nothing is sent until an admin enables it.",
        },
        "secretRotatedAt": _NULLABLE_TIME,
        "createdAt": {"type": "string", "format": "date-time"},
    }
    if with_secret:
        fields["secret"] = {
            "type": "string",
            "description": "whsec_…: shown in this answer only. Verify deliveries with it "
            "(Standard Webhooks).",
        }
    return {
        "type": "object",
        "required": list(fields),
        "additionalProperties": False,
        "properties": fields,
    }


_DELIVERY_FIELDS = {
    "id": {"type": "string"},
    "webhookId": {
        "type": "string",
        "description": "The webhook-id it carries: the same for every endpoint sent one "
        "order change.",
    },
    "type": {"type": "string", "enum": list(notifications.EVENTS)},
    "orderId": _NULLABLE_STRING,
    "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
    "attempts": {"type": "integer", "minimum": 0},
    "lastResponseStatus": {"type": ["integer", "null"]},
    "lastError": _NULLABLE_STRING,
    "nextAttemptAt": {
        **_NULLABLE_TIME,
        "description": "When it is tried next, while pending.",
    },
    "createdAt": {"type": "string", "format": "date-time"},
    "deliveredAt": _NULLABLE_TIME,
}


def _list_of(schema_name: str, has_more: str | None = None) -> dict:
    """A page of a list: its items and whether more follow (`has_more` describes that)."""
    more = {"type": "boolean", **({"description": has_more} if has_more else {})}
    return {
        "type": "object",
        "required": ["data", "hasMore"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema_name}"}},
            "hasMore": more,
        },
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
    "CreateRefund": {
        "type": "object",
        "additionalProperties": False,
        "description": "Any other field is refused (422 unknown_field).",
        "properties": {
            "apiKey": {
                "type": "string",
                "description": "Your API key; may instead be sent as `Authorization: Bearer`.",
            },
            "amount": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "In major units of the currency the order was paid in; "
                "all that is left to refund when left out.",
            },
            "reason": {"$ref": "#/components/schemas/RefundReason"},
        },
    },
    "RefundReason": {"type": "string", "enum": list(REFUND_REASONS)},
    "Refund": {
        "type": "object",
        "required": ["id", "orderId", "amount", "currency", "status", "reason", "createdAt"],
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": "string",
                "description": "Stripe's refund id (sandbox_re_… in sandbox mode).",
            },
            "orderId": {"type": "string"},
            "amount": {"type": ["number", "null"], "description": "Major units, exact."},
            "currency": {"type": "string"},
            "status": {
                "type": "string",
                "description": "Stripe's: pending, requires_action, succeeded, failed or "
                "canceled. Failed and canceled refunds give their amount back.",
            },
            # The named enum or null, so generated clients have one reason type for both
            # (openapi-python-client made three identical enum classes of an inline one).
            "reason": {"anyOf": [{"$ref": "#/components/schemas/RefundReason"}, {"type": "null"}]},
            "createdAt": {"type": "string", "format": "date-time"},
        },
    },
    "RefundList": _list_of("Refund", "Always false: every refund is listed."),
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
    "UpdatePaymentLink": {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields sent change; any other field is refused (422 "
        "unknown_field). Validated as the admin's form: a new expiresAt must be in the "
        "future. An empty object changes nothing.",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "active": {"type": "boolean", "description": "false turns the link off"},
            "expiresAt": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "null: never expires",
            },
            "maxUses": {
                "type": ["integer", "null"],
                "minimum": 1,
                "description": "Completed payments; null: unlimited",
            },
            "password": {
                "type": ["string", "null"],
                "minLength": payment_links.PASSWORD_MIN,
                "maxLength": payment_links.PASSWORD_MAX,
                "description": "A new password (never shown back); null removes it",
            },
            "metadata": {
                "type": "object",
                "additionalProperties": {"type": "string", "maxLength": 500},
                "maxProperties": 20,
                "description": "Replaces the link's metadata as a whole",
            },
            "confirmationMessage": {
                "type": "string",
                "maxLength": 1000,
                "description": "Without a redirectUrl, customers see this after paying",
            },
            "redirectUrl": {
                "type": ["string", "null"],
                "description": "After paying, customers go here ({orderId} is filled in); "
                "null: they see the confirmation message",
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
    "PaymentLinkList": _list_of("PaymentLink"),
    "Event": {
        "type": "object",
        "required": ["id", "type", "orderId", "createdAt", "data"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "description": "The webhook-id of its notification."},
            "type": {"type": "string", "enum": list(notifications.EVENTS)},
            "orderId": _NULLABLE_STRING,
            "createdAt": {"type": "string", "format": "date-time"},
            "data": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Notification"},
                    {"$ref": "#/components/schemas/TestNotification"},
                ]
            },
        },
    },
    "EventList": _list_of("Event"),
    "CreateWebhookEndpoint": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "description": "Any other field is refused (422 unknown_field).",
        "properties": {
            "apiKey": {"type": "string", "description": "Or `Authorization: Bearer`."},
            **_ENDPOINT_SETTINGS,
        },
    },
    "UpdateWebhookEndpoint": {
        "type": "object",
        "additionalProperties": False,
        "description": "Fields not sent keep their values; null counts as not sent.",
        "properties": {
            "apiKey": {"type": "string", "description": "Or `Authorization: Bearer`."},
            **_ENDPOINT_SETTINGS,
        },
    },
    "WebhookEndpoint": _webhook_endpoint(),
    "WebhookEndpointWithSecret": _webhook_endpoint(with_secret=True),
    "WebhookEndpointList": _list_of("WebhookEndpoint", "Always false: at most 5."),
    "DeletedWebhookEndpoint": {
        "type": "object",
        "required": ["id", "deleted"],
        "additionalProperties": False,
        "properties": {"id": {"type": "string"}, "deleted": {"const": True}},
    },
    "Delivery": {
        "type": "object",
        "required": list(_DELIVERY_FIELDS),
        "additionalProperties": False,
        "properties": _DELIVERY_FIELDS,
    },
    "DeliveryList": _list_of("Delivery"),
    "RecoverDeliveries": {
        "type": "object",
        "additionalProperties": False,
        "required": ["since"],
        "properties": {
            "apiKey": {"type": "string", "description": "Or `Authorization: Bearer`."},
            "since": {
                "type": "string",
                "format": "date-time",
                "description": "Failed notifications created at or after this time.",
            },
        },
    },
    "Recovered": {
        "type": "object",
        "required": ["queued"],
        "additionalProperties": False,
        "properties": {"queued": {"type": "integer", "minimum": 0}},
    },
    "OrderList": _list_of("Order"),
}
