"""The query parameters of the provider API's lists, each list's defined once: the views read
them with `api.common.parse_query`, which refuses what the model does not declare, and the
document's `parameters` are generated from the same classes (`openapi_schemas.parameters`).
An operation that takes none reads `NoQuery`."""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from checkout.api.bodies import ExternalId, Maybe
from checkout.enums import OrderStatus, ProviderEvent

LIST_LIMIT_MAX = 100
_DIGITS = re.compile(r"[0-9]{1,4}")


def _limit(value: object) -> int:
    # Only ASCII digits: str.isdigit() also takes "²", which int() refuses.
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        value = ""
    if not value or not 1 <= int(value) <= LIST_LIMIT_MAX:
        raise PydanticCustomError(
            "field_rule", f"must be a whole number from 1 to {LIST_LIMIT_MAX}"
        )
    return int(value)


def _true_or_false(value: object) -> bool:
    if value not in ("true", "false"):
        raise PydanticCustomError("field_rule", "must be true or false")
    return value == "true"


Limit = Annotated[
    int,
    BeforeValidator(_limit),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX}),
]


def _starting_after(what: str):
    return Field(default=None, description=f"{what} from the previous page")


class Query(BaseModel):
    """A request's query string: camelCase names, nothing undeclared (422 unknown_field)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")


class NoQuery(Query):
    """The query of an operation that takes no parameter."""


class ListOrders(Query):
    external_id: Maybe[ExternalId] = None
    status: Maybe[OrderStatus] = None
    limit: Limit = 20
    starting_after: Maybe[str] = _starting_after("An orderId")


class ListEvents(Query):
    type: Maybe[Literal[tuple(event.value for event in ProviderEvent)]] = None
    order_id: Maybe[str] = None
    limit: Limit = 20
    starting_after: Maybe[str] = _starting_after("An event id")


class ListPaymentLinks(Query):
    active: Annotated[
        bool | None,
        BeforeValidator(_true_or_false),
        WithJsonSchema(
            {
                "type": "string",
                "enum": ["true", "false"],
                "description": "Only the links turned on (true) or off (false)",
            }
        ),
    ] = None
    limit: Limit = 20
    starting_after: Maybe[str] = _starting_after("A link id")


class ListDeliveries(Query):
    limit: Limit = 20
    starting_after: Maybe[str] = _starting_after("A delivery id")


class ListDiscountCodes(Query):
    limit: Limit = 20
    starting_after: Maybe[str] = _starting_after("A discount code id")
