"""The pieces the OpenAPI document's operations share: error answers, JSON answers of a
schema, and the parameters several operations take (api/openapi.py, api/openapi_endpoints.py)."""

ERROR = {"$ref": "#/components/schemas/Error"}


def error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def json_response(schema_name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


UNAUTHORIZED = error_response(
    "Invalid or inactive API key (invalid_api_key), or, when the provider requires signed "
    "requests, a Signature header that is missing (signature_missing), not in the provider's "
    "format (signature_malformed), wrong (signature_invalid), timed more than 300 seconds "
    "from Kassa's clock (signature_expired) or already used once (signature_reused)"
)
FORBIDDEN = error_response(
    "The key lacks the scope this operation needs (scope_missing), or the request comes from "
    "an address outside the provider's IP allowlist (client_not_allowed)"
)
UNPROCESSABLE = error_response(
    "A parameter has the wrong type or value (validation_error), is not one this operation "
    "takes (unknown_field), or cannot be combined with another (conflicting_fields); param "
    "names it"
)
UNKNOWN_QUERY = error_response("A query parameter this operation does not take (unknown_field)")
TOO_MANY = error_response(
    "RATE_LIMIT_API reached for the key, or too many refused requests from the address "
    "(rate_limited); Retry-After says when to retry"
)
ORDER_ID = {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: a repeat with the same body within "
    "IDEMPOTENCY_KEY_HOURS gets the first answer (status and body) with Idempotent-Replayed: "
    "true and runs nothing. Kept per API key, method and path; every answer below 500 is "
    "kept (a refusal of the key, or a 429, is not), a 5xx frees the key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
# What an Idempotency-Key adds to the answers of every POST and PATCH (api/common.py).
IDEMPOTENCY_ANSWERS = {
    "400": "an Idempotency-Key that is empty, longer than 255 characters or not printable "
    "(invalid_idempotency_key)",
    "409": "a request with this Idempotency-Key has not answered yet "
    "(idempotency_key_in_flight): retry once it has",
    "422": "the Idempotency-Key sent before with another body (idempotency_key_reused)",
}
UNSUPPORTED = error_response("Content-Type is not application/json (unsupported_media_type)")
MALFORMED = error_response(
    "Malformed JSON or not an object, nested deeper than 64 levels, or a string holding NUL or "
    "a lone surrogate"
)
TOO_LARGE = error_response("Body larger than 64 KiB (body_too_large)")
LINK_ID = {"name": "linkId", "in": "path", "required": True, "schema": {"type": "string"}}
