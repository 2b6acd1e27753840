"""What every provider API view shares: the blueprint, its rate limits and errors, reading
the JSON body, refusing undeclared fields, the caller's key, and its Idempotency-Key."""

import hashlib
import re
from collections.abc import Callable
from typing import TypeVar

import pydantic
from flask import Blueprint, Response, g, jsonify, request

from checkout import (
    api_access,
    credentials,
    idempotency,
    jsonio,
    logs,
    schemas,
    shapes,
    stripe_gateway,
    web,
)
from checkout.api import bodies, queries
from checkout.errors import DomainError, ValidationError
from checkout.extensions import csrf, limiter
from checkout.models import ApiKey, ApiScope
from checkout.stripe_gateway import StripeError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _presented_key() -> str:
    """The rate-limit key of the API key a request presents (its hash, never the key itself),
    else of the client's address."""
    key = _bearer_token()
    if key is None and request.mimetype == "application/json":
        try:
            body = jsonio.parse_body(request.get_data(cache=True))
        except ValueError:  # jsonio.BodyRefused too: the view answers it
            body = None
        key = body.get("apiKey") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        return f"client:{web.client_key()}"
    return "key:" + hashlib.sha256(key.encode(errors="replace")).hexdigest()


def _caller_refused() -> bool:
    """Whether this request was refused for who sent it: an unknown key, an address outside
    the allowlist, a missing or wrong signature (set by authenticated_key)."""
    return g.get("caller_refused", False)


# One budget per key for the whole API, not one per endpoint. Requests refused for their
# caller do not spend it: a leaked key used from elsewhere cannot starve its provider.
limiter.shared_limit(
    web.configured_limit("RATE_LIMIT_API"),
    "api",
    key_func=_presented_key,
    deduct_when=lambda response: response.status_code != 429 and not _caller_refused(),
)(bp)
# Those refusals count against the address they came from, so guessing keys, or using a
# stolen one from outside the allowlist or without the signing secret, gets nowhere.
limiter.shared_limit(
    web.configured_limit("RATE_LIMIT_API_UNAUTHENTICATED"),
    "api-refused",
    key_func=web.client_key,
    deduct_when=lambda response: _caller_refused(),
)(bp)

IDEMPOTENCY_KEY_MAX = 255
# The requests an Idempotency-Key makes safe to repeat; reading is safe already.
IDEMPOTENT_METHODS = {"POST", "PATCH"}


class ApiError(Exception):
    """A request this API refuses before any service sees it: its message, status, code and
    the field it is about (schemas.api_error)."""

    def __init__(self, message: str, status: int, code: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.param = param


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    response = jsonify(schemas.api_error(error.message, error.code, error.param))
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kassa"'
    return response


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    message = error.message
    if isinstance(error, ValidationError):
        message = f"{schemas.api_field(error.field)}: {message}"
    param = schemas.api_field(error.param) if error.param else None
    return jsonify(schemas.api_error(message, web.error_code(error), param)), web.status_for(error)


@bp.after_request
def _record_use(response):
    """Note when a key was last used, for accepted requests only: a refused one changes
    nothing, not even that."""
    key = g.get("api_key")
    if key is not None and response.status_code < 400:
        credentials.record_use(key)
    return response


def json_body() -> dict:
    raw = request.get_data(cache=True)
    if request.mimetype != "application/json":
        raise ApiError("Content-Type must be application/json", 415, "unsupported_media_type")
    try:
        body = jsonio.parse_body(raw) if raw.strip() else None
    except jsonio.BodyRefused as error:
        raise ApiError(str(error), 400, error.code, error.param) from None
    if not isinstance(body, dict):
        raise ApiError("Request body must be a JSON object", 400, "invalid_body")
    return body


def answer(shape: shapes.Shape, status: int = 200) -> Response:
    """A JSON answer of one of the API's shapes."""
    response = jsonify(shape.dump())
    response.status_code = status
    return response


def optional_json_body() -> dict:
    """The JSON body of an operation that needs none: an empty body is {}, whatever its
    Content-Type."""
    return json_body() if request.get_data(cache=True).strip() else {}


def stripe_failure(error: StripeError, action: str) -> ApiError:
    """The answer when Stripe refused an action (409) or could not be reached (502)."""
    if stripe_gateway.is_refusal(error):
        message = getattr(error, "user_message", None) or str(error)
        return ApiError(f"Stripe refused the {action}: {message}", 409, "stripe_refused")
    return ApiError(
        f"Stripe could not be reached for the {action}; nothing was changed, try again",
        502,
        "stripe_unavailable",
    )


Queried = TypeVar("Queried", bound=queries.Query)


def parse_query(model: type[Queried]) -> Queried:
    """The query string as its model reads it (the first value of a repeated name), or a 422
    naming the first parameter it refuses, as `parse` does for a body."""
    try:
        return model.model_validate(request.args.to_dict())
    except pydantic.ValidationError as error:
        raise _refusal(model, error.errors(), "query parameter") from None


def _unknown(kind: str, unknown: list[str], accepted) -> ApiError:
    takes = ", ".join(accepted) if accepted else f"no {kind}s"
    return ApiError(
        f"Unknown {kind}{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
        f"this endpoint takes {takes}",
        422,
        "unknown_field",
        unknown[0],
    )


Parsed = TypeVar("Parsed", bound=bodies.Body)


def parse(model: type[Parsed], body: dict) -> Parsed:
    """The body as its model reads it, or a 422 naming the first field it refuses: every
    undeclared field at once (unknown_field), else the first wrong one (validation_error,
    conflicting_fields)."""
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as error:
        raise _refusal(model, error.errors(), "field") from None


def _refusal(model: type[pydantic.BaseModel], errors: list, kind: str) -> ApiError:
    unknown = [
        ".".join(map(str, error["loc"])) for error in errors if error["type"] == "extra_forbidden"
    ]
    if unknown:
        accepted = [field.alias for field in model.model_fields.values()]
        return _unknown(kind, unknown, accepted)
    first = errors[0]
    context = first.get("ctx") or {}
    param = context.get("param") or ".".join(map(str, first["loc"][:1])) or None
    code = "conflicting_fields" if first["type"] == "conflicting_fields" else "validation_error"
    return ApiError(_message(param, first), 422, code, param)


# What a field must be, by the pydantic error that refused it.
_MUST_BE = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "dict_type": "an object",
    "list_type": "a list",
    "missing": None,
    "string_too_short": "at least {min_length} characters long",
    "string_too_long": "at most {max_length} characters",
    "greater_than_equal": "at least {ge}",
    "too_short": "at least {min_length} long",
    "too_long": "at most {max_length} long",
    "enum": "one of {expected}",
    "literal_error": "one of {expected}",
}
# Pydantic's "'a', 'b' or 'c'" as "a, b or c".
_CHOICES_QUOTED = re.compile(r"'([^']*)'")


def _message(param: str | None, error: dict) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"{param} is required"
    if kind == "string_too_short" and context.get("min_length") == 1:
        return f"{param} must not be empty"
    if kind in _MUST_BE:
        where = ".".join(map(str, error["loc"])) or param
        must_be = _CHOICES_QUOTED.sub(r"\1", _MUST_BE[kind].format(**context))
        return f"{where} must be {must_be}"
    if kind == "conflicting_fields":
        return error["msg"]
    if kind == "field_rule":
        return f"{param} {error['msg']}"
    return f"{param}: {error['msg']}"


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticated_key(scope: ApiScope, body: dict | None = None) -> ApiKey:
    """The request's active key, once its provider's allowlist and signature rule and the
    key's scopes allow this request."""
    key = credentials.find_active_key(_bearer_token() or (body or {}).get("apiKey"))
    if key is None:
        g.caller_refused = True
        raise ApiError("Invalid or inactive API key", 401, "invalid_api_key")
    try:
        api_access.check_request(key, web.client_address(), _signed_request(), scope)
    except api_access.AccessRefused as refused:
        g.caller_refused = not isinstance(refused, api_access.ScopeMissing)
        raise ApiError(refused.message, web.status_for(refused), web.error_code(refused)) from None
    g.api_key = key
    logs.bind(provider_id=key.provider_id)
    _claim_idempotency_key(key)
    return key


def _signed_request() -> api_access.SignedRequest:
    """What a Signature covers: method, path with the query string as sent, raw body."""
    target = request.path
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    return api_access.SignedRequest(
        method=request.method,
        target=target,
        body=request.get_data(cache=True),
        signature=request.headers.get("Signature"),
    )


def idempotency_key() -> str | None:
    """The request's Idempotency-Key, or None without one; 400 unless it is 1 to
    IDEMPOTENCY_KEY_MAX printable characters."""
    sent = request.headers.get("Idempotency-Key")
    if sent is not None and (not sent or len(sent) > IDEMPOTENCY_KEY_MAX or not sent.isprintable()):
        raise ApiError(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters",
            400,
            "invalid_idempotency_key",
        )
    return sent


class _AnsweredBefore(Exception):
    """A repeat of a request already answered: its answer is that one."""

    def __init__(self, claim: idempotency.Claim):
        super().__init__(claim.digest)
        self.claim = claim


def _claim_idempotency_key(key: ApiKey) -> None:
    """Once the caller is known (requests refused for who sent them claim nothing): run a
    POST or PATCH with an Idempotency-Key only if no request of this key holds it yet."""
    sent = idempotency_key() if request.method in IDEMPOTENT_METHODS else None
    if sent is None:
        return
    claim = idempotency.claim(key.id, request.method, request.path, sent, request.get_data())
    if claim.found is idempotency.Found.HELD:
        g.idempotency_claim = claim
    elif claim.found is idempotency.Found.REUSED:
        raise ApiError(
            "This Idempotency-Key was sent before with another body: use a new key for "
            "another request",
            422,
            "idempotency_key_reused",
        )
    elif claim.found is idempotency.Found.IN_FLIGHT:
        raise ApiError(
            "A request with this Idempotency-Key is still running: retry once it has answered",
            409,
            "idempotency_key_in_flight",
        )
    else:
        raise _AnsweredBefore(claim)


@bp.errorhandler(_AnsweredBefore)
def _replay(answered: _AnsweredBefore):
    claim = answered.claim
    response = Response(claim.body, claim.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _kept(status: int) -> bool:
    """Whether an answer is kept for repeats: any below 500 (a 5xx frees the key, so a retry
    runs again), but never a refusal of who sent it or of its rate (those come before a key
    is claimed; this says so again)."""
    return status < 500 and status not in (401, 403, 429)


@bp.after_request
def _keep_answer(response):
    claim = g.pop("idempotency_claim", None)
    if claim is not None:
        if _kept(response.status_code):
            idempotency.keep_answer(claim, response.status_code, response.get_data(as_text=True))
        else:
            idempotency.free(claim)
    return response


@bp.teardown_request
def _free_unanswered(_error):
    """A request that ended without an answer (an exception nothing handled) frees its key."""
    claim = g.pop("idempotency_claim", None)
    if claim is not None:
        idempotency.free(claim)


def page_start(starting_after: str | None, find: Callable[[str], object], what: str):
    """The row a list's page starts after (`find` looks it up among the caller's), or None
    for the first page; 422 naming startingAfter for an id it does not know."""
    if starting_after is None:
        return None
    row = find(starting_after)
    if row is None:
        raise ApiError(f"startingAfter must be {what}", 422, "validation_error", "startingAfter")
    return row
