"""The shapes of what Kassa hands out (API answers, notifications), each defined once.

Each is a pydantic model: `checkout.schemas` fills it from the rows, `Shape.dump` gives the
JSON object, and the OpenAPI document's components are generated from the same classes
(api/openapi_schemas.py). Fields are snake_case here and camelCase in JSON. Amounts are
exact `Decimal`s in major units written as JSON numbers; times are `jsonio.timestamp`
strings; every field is present, null while it has no value, except the one field of one
payment mode (`stripeBuyButtonId`).
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from checkout import jsonio
from checkout.enums import OrderStatus, PaymentMode, ProviderEvent, RefundReason

# A JSON number in major units, exact: Decimal in, Decimal out (jsonio writes it as a number).
Amount = Annotated[Decimal, WithJsonSchema({"type": "number"})]
# A stored UTC time, written as 2026-01-30T10:00:00.000Z.
Timestamp = Annotated[
    datetime,
    PlainSerializer(jsonio.timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
OrderEvent = Literal[
    tuple(event.value for event in ProviderEvent if event is not ProviderEvent.TEST)
]
AnyEvent = Literal[tuple(event.value for event in ProviderEvent)]


class Shape(BaseModel):
    """An answer: camelCase in JSON, nothing undeclared, every field written."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        # Every field is always written, so the document marks every field required.
        json_schema_serialization_defaults_required=True,
    )

    def dump(self) -> dict:
        """The JSON object, with Decimals kept for jsonio to write as numbers."""
        return self.model_dump(by_alias=True)


class Error(Shape):
    """Every refusal: `error` for people, `code` for programs, `param` the field it is about."""

    error: str = Field(description="What went wrong, for people.")
    code: str = Field(
        pattern="^[a-z][a-z0-9_]*$",
        description="What went wrong, for programs: e.g. invalid_api_key, signature_expired, "
        "signature_reused, client_not_allowed, scope_missing, unknown_field, "
        "conflicting_fields, validation_error, amount_invalid, body_too_large, rate_limited.",
    )
    param: str | None = Field(
        description="The request field (body or query) the error is about; null when it is "
        "about the request as a whole."
    )


class Dispute(Shape):
    """The customer's dispute with their bank, while and after there is one."""

    id: str
    status: str = Field(description="Stripe's dispute status.")
    reason: str | None
    amount: Amount | None
    evidence_due_by: Timestamp | None


class CustomFieldAnswer(Shape):
    """One custom field's answer, with its label as the customer saw it."""

    key: str
    label: str
    value: str | None = Field(
        description="As given (a number as its digits, a dropdown as its option's value); "
        "null for an optional field left empty."
    )


class CustomFieldOption(Shape):
    value: str
    label: str


class CustomField(Shape):
    """A question the checkout asks before paying."""

    key: str
    label: str
    type: Literal["text", "number", "dropdown"]
    required: bool
    options: list[CustomFieldOption] = Field(description="A dropdown's; empty for the others.")


class OrderFields(Shape):
    """Every field is present, null while it has no value; stripeBuyButtonId only in Buy
    Button mode."""

    order_id: str = Field(pattern="^ord_[0-9a-f]{24}$")
    external_id: str | None
    amount: Amount = Field(description="Major units, exact.")
    quantity: int = Field(ge=1)
    currency: str = Field(pattern="^[a-z]{3}$")
    mode: PaymentMode
    status: OrderStatus
    created_at: Timestamp
    paid_at: Timestamp | None
    paid_amount: Amount | None = Field(
        description="What Stripe received, in paidCurrency; below amount the order is "
        "underpaid, not paid."
    )
    paid_currency: str | None = Field(
        description="The currency Stripe received the payment in; normally currency."
    )
    refunded_amount: Amount | None = Field(
        description="Refunded so far, in all; null until the first refund. A refund that "
        "fails is taken back out."
    )
    fully_refunded: bool = Field(description="Everything paid has been refunded.")
    amount_mismatch: bool = Field(
        description="The amount or currency paid differs from the order's."
    )
    stripe_payment_intent_id: str | None
    payment_link_id: str | None
    dispute: Dispute | None
    livemode: bool = Field(
        description="True only for an order opened with live Stripe keys; false in sandbox "
        "mode and Stripe test mode. Refuse false in production."
    )
    stripe_buy_button_id: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "description": "Present in Buy Button mode only."}),
    ] = Field(default=None, exclude_if=lambda value: value is None)
    # Discount codes (issue 21)
    discount_code: str | None = Field(
        description="The discount code redeemed, as the provider spelt it; null without one "
        "(and for a discount Stripe applied on a Buy Button's page).",
    )
    discount_amount: Amount | None = Field(
        description="What the discount took off the list price (unit price × quantity); "
        "amount is what is due after it. Null without a discount.",
    )
    custom_fields: list[CustomFieldAnswer] = Field(
        description="The answers to the checkout's custom fields (the payment link's, or "
        "the service's), and those Stripe's Buy Button page asked; empty for none."
    )
    customer_email: str | None = Field(
        description="The customer's e-mail, given on the checkout or by you when opening; "
        "a paid order with one gets a receipt."
    )
    terms_accepted_at: Timestamp | None = Field(
        description="When the customer agreed to the seller's terms (only asked when the "
        "provider has a terms URL)."
    )


class Order(OrderFields):
    """An order in an API answer: the order and where its customer pays. Every field is
    present, null while it has no value; stripeBuyButtonId only in Buy Button mode."""

    checkout_url: str = Field(json_schema_extra={"format": "uri"})


class Notification(OrderFields):
    """What Kassa POSTs to your webhook URL when one of your orders changes."""

    event: OrderEvent
    provider_id: str | None
    provider_name: str | None
    service_id: str
    service_name: str
    metadata: dict[str, str] | None = Field(
        description="The payment link's metadata; null for an order opened by API."
    )
    timestamp: Timestamp


class TestNotification(Shape):
    """The admin's "Send test event", and an endpoint's test."""

    event: Literal["test"]
    provider_id: str
    provider_name: str
    message: str
    timestamp: Timestamp


class Refund(Shape):
    """A refund of an order, in the currency it was paid in, with Stripe's status."""

    id: str = Field(description="Stripe's refund id (sandbox_re_… in sandbox mode).")
    order_id: str
    amount: Amount | None = Field(description="Major units, exact.")
    currency: str
    status: str = Field(
        description="Stripe's: pending, requires_action, succeeded, failed or canceled. "
        "Failed and canceled refunds give their amount back."
    )
    reason: RefundReason | None
    created_at: Timestamp


class Event(Shape):
    """A notification Kassa wrote for you, as the events feed lists it."""

    id: str = Field(description="The webhook-id of its notification.")
    type: AnyEvent
    order_id: str | None
    created_at: Timestamp
    # The body as it was sent, not checked again: one written by an older version may lack
    # a field added since.
    data: Annotated[
        dict[str, Any],
        WithJsonSchema(
            {
                "oneOf": [
                    {"$ref": "#/components/schemas/Notification"},
                    {"$ref": "#/components/schemas/TestNotification"},
                ]
            }
        ),
    ]


class WebhookEndpoint(Shape):
    """Where your notifications go (never its secret)."""

    id: str = Field(pattern="^we_[0-9a-f]{24}$")
    url: str
    description: str
    events: list[str]
    active: bool
    disabled_at: Timestamp | None = Field(
        description="When it answered 410 Gone: nothing is sent until an admin enables it."
    )
    secret_rotated_at: Timestamp | None
    created_at: Timestamp


class WebhookEndpointWithSecret(WebhookEndpoint):
    """A webhook endpoint as creation and rotation answer it, with its new secret."""

    secret: str = Field(
        description="whsec_…: shown in this answer only. Verify deliveries with it "
        "(Standard Webhooks)."
    )


class DeletedWebhookEndpoint(Shape):
    id: str
    deleted: Literal[True]


class Delivery(Shape):
    """One endpoint's notification: where it stands, its last answer and its next try."""

    id: str
    webhook_id: str = Field(
        description="The webhook-id it carries: the same for every endpoint sent one order change."
    )
    type: AnyEvent
    order_id: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(ge=0)
    last_response_status: int | None
    last_error: str | None
    next_attempt_at: Timestamp | None = Field(description="When it is tried next, while pending.")
    created_at: Timestamp
    delivered_at: Timestamp | None


class Recovered(Shape):
    queued: int = Field(ge=0)


class PaymentLink(Shape):
    """A payment link, with its use so far."""

    id: str = Field(pattern="^plink_[0-9a-f]{24}$")
    url: str = Field(json_schema_extra={"format": "uri"})
    checkout_url: str = Field(json_schema_extra={"format": "uri"})
    qr_code_png: str = Field(json_schema_extra={"format": "uri"})
    qr_code_svg: str = Field(json_schema_extra={"format": "uri"})
    title: str
    description: str
    service_id: str
    provider_id: str | None
    unit_amount: Amount
    currency: str
    adjustable_quantity: bool
    quantity: int
    min_quantity: int
    max_quantity: int
    expires_at: Timestamp | None
    max_uses: int | None
    completed_payments: int
    password_protected: bool
    active: bool
    status: Literal["active", "inactive", "expired", "used_up"]
    metadata: dict[str, str]
    after_payment: Literal["message", "redirect"]
    confirmation_message: str
    redirect_url: str | None
    created_at: Timestamp
    custom_fields: list[CustomField]
    collect_email: Literal["off", "optional", "required"]
    # Chosen amounts (issue 21)
    min_amount: Amount | None = Field(
        description="With maxAmount, customers enter the amount (quantity 1); null: the "
        "service's price.",
    )
    max_amount: Amount | None
    preset_amount: Amount | None = Field(
        description="The amount the link's page suggests; null: none."
    )


class AppliesTo(Shape):
    """Where a discount code applies: these payment links and services; both empty: every
    order of the provider."""

    links: list[str]
    services: list[str]


class DiscountCode(Shape):
    """A provider's discount code, with its redemptions so far."""

    id: str = Field(pattern="^disc_[0-9a-f]{24}$")
    code: str
    percent_off: Amount | None = Field(description="Percent off, e.g. 15 or 12.5; or null.")
    amount_off: Amount | None = Field(description="Major units of currency off; or null.")
    currency: str | None = Field(description="amountOff's currency; null for a percentage.")
    starts_at: Timestamp | None
    expires_at: Timestamp | None
    max_redemptions: int | None = Field(description="Paid orders; null: unlimited.")
    times_redeemed: int = Field(ge=0, description="Paid orders that redeemed it.")
    applies_to: AppliesTo
    active: bool
    created_at: Timestamp


class DiscountCodeList(Shape):
    data: list[DiscountCode]
    has_more: bool


class OrderList(Shape):
    data: list[Order]
    has_more: bool


class RefundList(Shape):
    data: list[Refund]
    has_more: bool = Field(description="Always false: every refund is listed.")


class PaymentLinkList(Shape):
    data: list[PaymentLink]
    has_more: bool


class EventList(Shape):
    data: list[Event]
    has_more: bool


class WebhookEndpointList(Shape):
    data: list[WebhookEndpoint]
    has_more: bool = Field(description="Always false: at most 5.")


class DeliveryList(Shape):
    data: list[Delivery]
    has_more: bool


# The answers the document names, in its order.
ANSWERS = (
    Error,
    Refund,
    RefundList,
    Order,
    Notification,
    TestNotification,
    PaymentLink,
    PaymentLinkList,
    Event,
    EventList,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
    WebhookEndpointList,
    DeletedWebhookEndpoint,
    Delivery,
    DeliveryList,
    Recovered,
    OrderList,
    AppliesTo,
    DiscountCode,
    DiscountCodeList,
)
