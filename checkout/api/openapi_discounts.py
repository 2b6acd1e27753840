"""The OpenAPI operations of discount codes (api/discounts.py, issue 21); api/openapi.py puts
them in the document, and their shapes are in api/openapi_schemas.py."""

from checkout.api import queries
from checkout.api.openapi_endpoints import _body, _operation, _writing
from checkout.api.openapi_parts import UNKNOWN_QUERY, UNPROCESSABLE, error_response, json_response
from checkout.api.openapi_schemas import query_parameters

CODE_ID = {"name": "codeId", "in": "path", "required": True, "schema": {"type": "string"}}
NOT_FOUND = error_response("No such discount code among yours (not_found)")
WRITE, READ = "links:write", "links:read"

DISCOUNT_PATHS = {
    "/discount-codes": {
        "post": _operation(
            "createDiscountCode",
            "Create a discount code: percentOff, or amountOff with currency",
            WRITE,
            _writing({"201": json_response("DiscountCode", "The new code")}),
            description="A code is unique among yours in any case. Customers enter it on a "
            "payment link's page (?code= fills it in), or you pass it as discountCode when "
            "opening an order; a redemption counts once the order is paid, and is held while "
            "its payment is under way, so maxRedemptions is never exceeded.",
            requestBody=_body("CreateDiscountCode"),
        ),
        "get": _operation(
            "listDiscountCodes",
            "Your discount codes, newest first, with their redemptions",
            READ,
            {
                "200": json_response("DiscountCodeList", "A page of codes"),
                "422": UNPROCESSABLE,
            },
            parameters=query_parameters(queries.ListDiscountCodes),
        ),
    },
    "/discount-codes/{codeId}": {
        "get": _operation(
            "getDiscountCode",
            "One of your discount codes",
            READ,
            {
                "200": json_response("DiscountCode", "The code"),
                "404": NOT_FOUND,
                "422": UNKNOWN_QUERY,
            },
            parameters=[CODE_ID],
        ),
        "patch": _operation(
            "updateDiscountCode",
            "Change some of a discount code's settings (the rest keep theirs)",
            WRITE,
            _writing({"200": json_response("DiscountCode", "The code"), "404": NOT_FOUND}),
            description="Orders already opened keep their discounts.",
            parameters=[CODE_ID],
            requestBody=_body("UpdateDiscountCode"),
        ),
    },
}
