"""The request bodies the provider API takes, each defined once: the views read a body with
`api.common.parse`, which refuses what the model does not declare or type, and the OpenAPI
document's components are generated from the same classes (api/openapi_schemas.py).

Types are strict (JSON's): "5" is not a number, 1 is not true. Rules a service enforces for
the admin's forms too (a link's quantities, an endpoint's URL, money in a currency) stay in
that service, so the API and the admin refuse alike; the models check the shape.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from checkout import custom_fields, discounts, opening, payment_links, webhook_endpoints
from checkout.enums import CollectEmail, ProviderEvent, RefundReason
from checkout.errors import ValidationError


def _time(value: object) -> datetime | None:
    try:
        return payment_links.parse_expiry(value)
    except ValidationError as error:
        raise PydanticCustomError("validation_error", error.message) from None


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        # A rule the field breaks, said after its name (api.common.parse).
        raise PydanticCustomError("field_rule", "must not contain control characters")
    return value


T = TypeVar("T")


def rule(description: str | None = None, **constraints) -> Any:
    """Constraints a service checks, for the admin's forms too and with their messages: the
    document states them (JSON Schema's names), the model leaves the checking to it."""
    return Field(description=description, json_schema_extra=constraints)


# An ISO 8601 time; one without an offset is UTC (payment_links.parse_expiry).
Time = Annotated[
    datetime,
    BeforeValidator(_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
ExternalId = Annotated[
    StrictStr,
    Field(min_length=1, max_length=opening.EXTERNAL_ID_MAX),
    AfterValidator(_no_control_characters),
]


class _NullAsLeftOut:
    """In the document, a field's type without its null: for a field that may be left out,
    or sent as null to the same effect, so generated clients make it optional rather than
    nullable."""

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        choices = [choice for choice in schema.get("anyOf", ()) if choice != {"type": "null"}]
        if len(choices) != 1:
            return schema
        return {**choices[0], **{key: value for key, value in schema.items() if key != "anyOf"}}


Maybe = Annotated[T | None, _NullAsLeftOut()]
ApiKeyField = Annotated[
    Maybe[StrictStr],
    Field(description="Your API key; may instead be sent as `Authorization: Bearer`."),
]
Metadata = dict[StrictStr, Annotated[StrictStr, rule(maxLength=payment_links.METADATA_VALUE_MAX)]]


def _number(value: object) -> object:
    if value is None or (isinstance(value, int | Decimal) and not isinstance(value, bool)):
        return value
    raise PydanticCustomError("validation_error", "Give a number, e.g. 12.50")


# An amount in major units, read exactly by the service (its currency's places).
MoneyNumber = Annotated[
    Any, BeforeValidator(_number), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})
]
EndpointEvent = Annotated[
    StrictStr,
    WithJsonSchema({"type": "string", "enum": ["*", *(event.value for event in ProviderEvent)]}),
]


class Body(BaseModel):
    """A request body: camelCase fields, strict JSON types, nothing undeclared (422
    unknown_field); null is as good as leaving a field out, unless a field says otherwise."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        json_schema_extra={"description": "Any other field is refused (422 unknown_field)."},
    )

    def sent(self, name: str) -> bool:
        """Whether the request carried the field (null included)."""
        return name in self.model_fields_set


class CustomFieldOptionInput(Body):
    value: Annotated[StrictStr, rule(maxLength=custom_fields.OPTION_MAX, pattern="^[A-Za-z0-9_]+$")]
    label: Annotated[StrictStr, rule(maxLength=custom_fields.OPTION_MAX)]


class CustomFieldInput(Body):
    """A question the checkout asks before paying; its position is its place in the list."""

    key: Annotated[
        StrictStr,
        rule(
            maxLength=custom_fields.KEY_MAX,
            pattern="^[A-Za-z0-9_]+$",
            description="Unique among the fields; names the answer in orders",
        ),
    ]
    label: Annotated[
        StrictStr, rule(maxLength=custom_fields.LABEL_MAX, description="Shown to the customer")
    ]
    type: Literal["text", "number", "dropdown"] = Field(
        description=f"text: up to {custom_fields.TEXT_MAX} characters; number; dropdown: "
        "one of its options"
    )
    required: Maybe[StrictBool] = Field(default=None, description="Default false")
    options: Maybe[
        Annotated[
            list[CustomFieldOptionInput],
            rule(
                maxItems=custom_fields.OPTIONS_MAX,
                description="A dropdown's choices (1 to 50); none for text and number",
            ),
        ]
    ] = None


CustomFields = Annotated[
    list[CustomFieldInput],
    rule(
        maxItems=custom_fields.MAX_FIELDS,
        description="Up to 3 questions asked before paying, in this order",
    ),
]
CollectEmailField = Annotated[
    CollectEmail,
    Field(description="Whether the checkout asks the customer's e-mail (for a receipt)"),
]


class CustomFieldAnswerInput(Body):
    key: StrictStr
    value: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": ["string", "number", "null"],
                "description": "A text, a number (as a JSON number or its digits), or a "
                "dropdown option's value; null or empty for an optional field left empty",
            }
        ),
    ] = None


class CreatePaymentIntent(Body):
    api_key: ApiKeyField = None
    external_id: Maybe[
        Annotated[
            ExternalId, Field(description="Your own order id. Repeating it returns the same order.")
        ]
    ] = None
    # Read by the provider's mode: Buy Button ignores it, whatever its type; Cash App reads
    # it in the service's currency (opening.open_api_order).
    amount: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Cash App mode only: a multiple of the service price, in major "
                "units (5 means $5.00). Ignored in Buy Button mode, whatever its type.",
            }
        ),
    ] = None
    custom_fields: Maybe[
        Annotated[
            list[CustomFieldAnswerInput],
            Field(
                description="Answers to the service's custom fields, every required one; "
                "left out, the customer answers them on the checkout page"
            ),
        ]
    ] = None
    customer_email: Maybe[
        Annotated[
            StrictStr,
            rule(
                maxLength=320,
                format="email",
                description="Where the receipt goes; left out, the checkout page asks it "
                "when the service collects e-mail",
            ),
        ]
    ] = None

    discount_code: Maybe[
        Annotated[
            StrictStr,
            Field(
                max_length=discounts.CODE_MAX,
                description="Cash App mode: one of your discount codes; amount is then the "
                "amount due after it (422 naming discountCode when it does not apply).",
            ),
        ]
    ] = None


class CreateRefund(Body):
    api_key: ApiKeyField = None
    # Read in the currency the order was paid in (api/orders.py).
    amount: Annotated[
        Any,
        WithJsonSchema(
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "In major units of the currency the order was paid in; all "
                "that is left to refund when left out.",
            }
        ),
    ] = None
    reason: Maybe[RefundReason] = None


# A link's fixed quantity cannot be combined with the bounds of one customers choose.
QUANTITY_CONFLICTS = ("min_quantity", "max_quantity")


def _quantity_or_bounds(schema: dict) -> None:
    schema["description"] = (
        "Any other field is refused (422 unknown_field); quantity cannot be combined with "
        "minQuantity or maxQuantity (422 conflicting_fields)."
    )
    schema["dependentSchemas"] = {
        "quantity": {
            "not": {"anyOf": [{"required": [to_camel(name)]} for name in QUANTITY_CONFLICTS]}
        }
    }


class CreatePaymentLink(Body):
    model_config = ConfigDict(json_schema_extra=_quantity_or_bounds)

    api_key: ApiKeyField = None
    title: Maybe[Annotated[StrictStr, rule(maxLength=payment_links.TITLE_MAX)]] = None
    description: Maybe[Annotated[StrictStr, rule(maxLength=payment_links.DESCRIPTION_MAX)]] = None
    quantity: Maybe[Annotated[StrictInt, rule(minimum=1, description="Fixed quantity")]] = None
    min_quantity: Maybe[
        Annotated[
            StrictInt,
            rule(minimum=1, description="With maxQuantity, customers choose the quantity"),
        ]
    ] = None
    max_quantity: Maybe[Annotated[StrictInt, rule(minimum=1)]] = None
    expires_at: Maybe[Time] = None
    password: Maybe[
        Annotated[
            StrictStr,
            rule(minLength=payment_links.PASSWORD_MIN, maxLength=payment_links.PASSWORD_MAX),
        ]
    ] = None
    max_uses: Maybe[Annotated[StrictInt, rule(minimum=1, description="Completed payments")]] = None
    metadata: Maybe[Annotated[Metadata, rule(maxProperties=payment_links.METADATA_KEYS_MAX)]] = None
    confirmation_message: Maybe[Annotated[StrictStr, rule(maxLength=payment_links.MESSAGE_MAX)]] = (
        None
    )
    redirect_url: Maybe[
        Annotated[
            StrictStr,
            Field(description="After paying, customers go here ({orderId} is filled in)"),
        ]
    ] = None
    # Chosen amounts (issue 21)
    min_amount: Maybe[
        Annotated[
            MoneyNumber,
            Field(
                description="With maxAmount, customers enter the amount, in the service's "
                "currency (at least Stripe's minimum charge); quantity stays 1. Not in Buy "
                "Button mode."
            ),
        ]
    ] = None
    max_amount: Maybe[MoneyNumber] = None
    preset_amount: Maybe[
        Annotated[MoneyNumber, Field(description="The amount the page suggests")]
    ] = None
    custom_fields: Maybe[CustomFields] = None
    collect_email: Maybe[CollectEmailField] = None

    @model_validator(mode="after")
    def _one_way_to_choose_quantity(self):
        clashing = [name for name in QUANTITY_CONFLICTS if getattr(self, name) is not None]
        if self.quantity is not None and clashing:
            raise PydanticCustomError(
                "conflicting_fields",
                "quantity cannot be combined with {others}: send quantity for a fixed "
                "quantity, or minQuantity and maxQuantity to let customers choose",
                {"param": "quantity", "others": " or ".join(map(to_camel, clashing))},
            )
        return self


def _only_what_is_sent(schema: dict) -> None:
    schema["description"] = (
        "Only the fields sent change; any other field is refused (422 unknown_field). "
        "Validated as the admin's form: a new expiresAt must be in the future. An empty "
        "object changes nothing."
    )


class UpdatePaymentLink(Body):
    """null clears expiresAt, maxUses, password and redirectUrl; elsewhere it is refused
    (the field's type has no null)."""

    model_config = ConfigDict(json_schema_extra=_only_what_is_sent)

    title: Annotated[StrictStr, rule(minLength=1, maxLength=payment_links.TITLE_MAX)] = None
    description: Annotated[StrictStr, rule(maxLength=payment_links.DESCRIPTION_MAX)] = None
    active: Annotated[StrictBool, Field(description="false turns the link off")] = None
    expires_at: Annotated[Time | None, Field(description="null: never expires")] = None
    max_uses: Annotated[
        Annotated[StrictInt, rule(minimum=1)] | None,
        Field(description="Completed payments; null: unlimited"),
    ] = None
    password: Annotated[
        Annotated[
            StrictStr,
            rule(minLength=payment_links.PASSWORD_MIN, maxLength=payment_links.PASSWORD_MAX),
        ]
        | None,
        Field(description="A new password (never shown back); null removes it"),
    ] = None
    metadata: Annotated[
        Metadata,
        rule(
            maxProperties=payment_links.METADATA_KEYS_MAX,
            description="Replaces the link's metadata as a whole",
        ),
    ] = None
    confirmation_message: Annotated[
        StrictStr,
        rule(
            maxLength=payment_links.MESSAGE_MAX,
            description="Without a redirectUrl, customers see this after paying",
        ),
    ] = None
    redirect_url: Annotated[
        StrictStr | None,
        Field(
            description="After paying, customers go here ({orderId} is filled in); null: they "
            "see the confirmation message"
        ),
    ] = None
    # Chosen amounts (issue 21)
    min_amount: Annotated[
        MoneyNumber | None,
        Field(description="null with maxAmount null: the link sells at the service's price"),
    ] = None
    max_amount: MoneyNumber | None = None
    preset_amount: Annotated[MoneyNumber | None, Field(description="null: none")] = None
    custom_fields: Annotated[CustomFields, Field(description="Replaces the link's fields")] = None
    collect_email: CollectEmailField = None


EndpointUrl = Annotated[
    StrictStr,
    Field(
        json_schema_extra={"format": "uri"},
        description="https on port 443 and public addresses (unless the operator allows "
        "private ones).",
    ),
]


class _EndpointSettings(Body):
    url: Maybe[EndpointUrl] = None
    description: Maybe[Annotated[StrictStr, rule(maxLength=webhook_endpoints.DESCRIPTION_MAX)]] = (
        None
    )
    events: Maybe[
        Annotated[
            list[EndpointEvent],
            rule(
                minItems=1,
                description='The event types the endpoint receives; ["*"] (the default): all.',
            ),
        ]
    ] = None
    active: Maybe[
        Annotated[
            StrictBool, Field(description="Off: nothing is written for it until it is on again.")
        ]
    ] = None


class CreateWebhookEndpoint(_EndpointSettings):
    api_key: ApiKeyField = None
    url: EndpointUrl


class UpdateWebhookEndpoint(_EndpointSettings):
    """Fields not sent keep their values; null counts as not sent."""

    api_key: ApiKeyField = None


class RecoverDeliveries(Body):
    api_key: ApiKeyField = None
    since: Annotated[Time, Field(description="Failed notifications created at or after this time.")]


# Discount codes (issue 21)


class DiscountTargets(Body):
    """Where a code applies; both lists empty (or left out): every order of yours."""

    links: Maybe[
        Annotated[list[StrictStr], rule(maxItems=discounts.TARGETS_MAX, description="Link ids")]
    ] = None
    services: Maybe[
        Annotated[list[StrictStr], rule(maxItems=discounts.TARGETS_MAX, description="Service ids")]
    ] = None


DiscountCodeText = Annotated[
    StrictStr,
    rule(
        minLength=1,
        maxLength=discounts.CODE_MAX,
        pattern="^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="What customers type; matched in any case",
    ),
]


class _DiscountSettings(Body):
    percent_off: Maybe[
        Annotated[
            MoneyNumber,
            rule(maximum=100, description="Percent off, up to two decimals; or amountOff"),
        ]
    ] = None
    amount_off: Maybe[
        Annotated[MoneyNumber, Field(description="Major units off, with currency")]
    ] = None
    currency: Maybe[Annotated[StrictStr, Field(description="amountOff's currency, e.g. usd")]] = (
        None
    )
    max_redemptions: Maybe[
        Annotated[StrictInt, rule(minimum=1, description="Paid orders; left out: unlimited")]
    ] = None
    applies_to: Maybe[DiscountTargets] = None
    active: Maybe[StrictBool] = None


class CreateDiscountCode(_DiscountSettings):
    api_key: ApiKeyField = None
    code: DiscountCodeText
    starts_at: Maybe[Time] = None
    expires_at: Maybe[Time] = None


class UpdateDiscountCode(_DiscountSettings):
    """Only the fields sent change; percentOff or amountOff (with currency, or the code's)
    switches the kind of discount; null clears startsAt, expiresAt and maxRedemptions."""

    api_key: ApiKeyField = None
    code: Maybe[DiscountCodeText] = None
    starts_at: Annotated[Time | None, Field(description="null: from now on")] = None
    expires_at: Annotated[Time | None, Field(description="null: never expires")] = None
    max_redemptions: Annotated[
        Annotated[StrictInt, rule(minimum=1)] | None, Field(description="null: unlimited")
    ] = None


class NoBody(Body):
    """The body of an operation that takes none: nothing, or {}."""


# The request bodies the document names, in its order; NoBody is not one.
BODIES = (
    CreatePaymentIntent,
    CreateRefund,
    CreatePaymentLink,
    UpdatePaymentLink,
    CreateWebhookEndpoint,
    UpdateWebhookEndpoint,
    RecoverDeliveries,
    DiscountTargets,
    CreateDiscountCode,
    UpdateDiscountCode,
)
