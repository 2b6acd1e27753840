"""Provider API views: parse and check the request, call one service, answer JSON."""

import hashlib
import re

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from checkout import (
    api_access,
    audit,
    credentials,
    jsonio,
    opening,
    orders,
    payment_links,
    schemas,
    urls,
    web,
)
from checkout.api.openapi import openapi_document, request_fields
from checkout.errors import DomainError, ValidationError
from checkout.extensions import csrf, db, limiter
from checkout.models import ApiKey, ApiScope, Order, OrderStatus, PaymentLink

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
    the allowlist, a missing or wrong signature (set by _authenticated_key)."""
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

LIST_LIMIT_MAX = 100
LIMIT_DIGITS = re.compile(r"[0-9]{1,4}")


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


def _json_body() -> dict:
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


def _check_fields(operation_id: str, body: dict | None = None) -> None:
    """Refuse what the operation does not declare (in api/openapi.py): unknown body fields
    or query parameters, and declared fields it does not take together."""
    declared = request_fields(operation_id)
    for given, accepted, kind in (
        (list(body or {}), declared.body, "field"),
        (list(request.args), declared.query, "query parameter"),
    ):
        unknown = [name for name in given if name not in accepted]
        if unknown:
            takes = ", ".join(accepted) if accepted else f"no {kind}s"
            raise ApiError(
                f"Unknown {kind}{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
                f"this endpoint takes {takes}",
                422,
                "unknown_field",
                unknown[0],
            )
    for first, others in declared.conflicts.items():
        clashing = [name for name in others if (body or {}).get(name) is not None]
        if (body or {}).get(first) is not None and clashing:
            raise ApiError(
                f"{first} cannot be combined with {' or '.join(clashing)}: send {first} for "
                f"a fixed quantity, or {' and '.join(others)} to let customers choose",
                422,
                "conflicting_fields",
                first,
            )


def _optional(body: dict, name: str, kind: type, label: str):
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ApiError(f"{name} must be {label}", 422, "validation_error", name)
    return value


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _authenticated_key(scope: ApiScope, body: dict | None = None) -> ApiKey:
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


def _external_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("externalId must be a string", 422, "validation_error", "externalId")
    if not value:
        raise ApiError("externalId must not be empty", 422, "validation_error", "externalId")
    if len(value) > opening.EXTERNAL_ID_MAX:
        raise ApiError(
            f"externalId must be at most {opening.EXTERNAL_ID_MAX} characters",
            422,
            "validation_error",
            "externalId",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ApiError(
            "externalId must not contain control characters", 422, "validation_error", "externalId"
        )
    return value


@bp.post("/create-payment-intent")
def create_payment_intent():
    """Open an order for the provider and answer with its checkout URL."""
    body = _json_body()
    provider = _authenticated_key(ApiScope.ORDERS_WRITE, body).provider
    _check_fields("createPaymentIntent", body)
    external_id = _external_id(body.get("externalId"))
    # The amount goes as sent: whether it is read, and how, depends on the provider's mode.
    order = opening.open_api_order(provider, external_id, body.get("amount"))
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders/<order_id>")
def get_order(order_id: str):
    """One of the provider's orders."""
    provider = _authenticated_key(ApiScope.ORDERS_READ).provider
    _check_fields("getOrder")
    order = orders.find_order(order_id)
    if order is None or order.provider_id != provider.id:
        raise ApiError("Order not found", 404, "not_found")
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders")
def list_orders():
    """The provider's orders, newest first, optionally filtered by externalId or status."""
    provider = _authenticated_key(ApiScope.ORDERS_READ).provider
    _check_fields("listOrders")
    query = select(Order).where(Order.provider_id == provider.id)
    if "externalId" in request.args:
        query = query.where(Order.external_id == _external_id(request.args["externalId"]))
    status = request.args.get("status")
    if status is not None:
        if status not in {member.value for member in OrderStatus}:
            raise ApiError(
                f"status must be one of {', '.join(OrderStatus)}", 422, "validation_error", "status"
            )
        query = query.where(Order.status == OrderStatus(status))
    limit_text = request.args.get("limit", "20")
    # Only ASCII digits: str.isdigit() also takes "²", which int() refuses.
    if not LIMIT_DIGITS.fullmatch(limit_text) or not 1 <= int(limit_text) <= LIST_LIMIT_MAX:
        raise ApiError(
            f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}",
            422,
            "validation_error",
            "limit",
        )
    limit = int(limit_text)
    after_id = request.args.get("startingAfter")
    if after_id is not None:
        after = orders.find_order(after_id)
        if after is None or after.provider_id != provider.id:
            raise ApiError(
                "startingAfter must be one of your order ids",
                422,
                "validation_error",
                "startingAfter",
            )
        query = query.where(
            (Order.created_at < after.created_at)
            | ((Order.created_at == after.created_at) & (Order.id < after.id))
        )
    rows = db.session.scalars(
        query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    ).all()
    base = urls.base_url()
    return jsonify(
        data=[schemas.api_order(order, base) for order in rows[:limit]], hasMore=len(rows) > limit
    )


@bp.post("/payment-links")
def create_payment_link():
    """Create a payment link for the provider's service; its settings and notifications apply."""
    body = _json_body()
    key = _authenticated_key(ApiScope.LINKS_WRITE, body)
    _check_fields("createPaymentLink", body)
    provider = key.provider
    quantity = _optional(body, "quantity", int, "a whole number")
    low = _optional(body, "minQuantity", int, "a whole number")
    high = _optional(body, "maxQuantity", int, "a whole number")
    redirect_url = _optional(body, "redirectUrl", str, "a string")
    metadata = {} if body.get("metadata") is None else body["metadata"]
    link = payment_links.create_link(
        payment_links.LinkFields(
            service_id=provider.service_id,
            provider_id=provider.id,
            title=_optional(body, "title", str, "a string") or provider.service.title,
            description=_optional(body, "description", str, "a string") or "",
            quantity=1 if quantity is None else quantity,
            adjustable_quantity=low is not None or high is not None,
            min_quantity=1 if low is None else low,
            max_quantity=(quantity or 1) if high is None else high,
            expires_at=payment_links.parse_expiry(body.get("expiresAt")),
            password=_optional(body, "password", str, "a string"),
            max_uses=_optional(body, "maxUses", int, "a whole number"),
            metadata=payment_links.clean_metadata(metadata),
            after_payment="redirect" if redirect_url else "message",
            confirmation_message=_optional(body, "confirmationMessage", str, "a string") or "",
            redirect_url=redirect_url,
        ),
        actor=audit.api_key(key.prefix),
    )
    return jsonify(_link_json(link)), 201


@bp.get("/payment-links/<link_id>")
def get_payment_link(link_id: str):
    """One of the provider's payment links, with its status and completed payments."""
    provider = _authenticated_key(ApiScope.LINKS_READ).provider
    _check_fields("getPaymentLink")
    link = payment_links.find_link(link_id)
    if link is None or link.provider_id != provider.id:
        raise ApiError("Payment link not found", 404, "not_found")
    return jsonify(_link_json(link))


def _link_json(link: PaymentLink) -> dict:
    usage = payment_links.usage(link)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(urls.public_url("")))
