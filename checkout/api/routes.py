"""Provider API views: parse and check the request, call one service, answer JSON."""

import hashlib
import re

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from checkout import (
    api_access,
    audit,
    credentials,
    jsonio,
    orders,
    payment_links,
    schemas,
    urls,
    web,
)
from checkout.api.openapi import openapi_document
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


# One budget per key for the whole API, not one per endpoint.
limiter.shared_limit(web.configured_limit("RATE_LIMIT_API"), "api", key_func=_presented_key)(bp)
# Refused keys count against the address they came from, so guessing keys gets nowhere.
limiter.shared_limit(
    web.configured_limit("RATE_LIMIT_API_UNAUTHENTICATED"),
    "api-refused",
    key_func=web.client_key,
    deduct_when=lambda response: response.status_code == 401,
)(bp)

LIST_LIMIT_MAX = 100
LIMIT_DIGITS = re.compile(r"[0-9]{1,4}")


class ApiError(Exception):
    """A request this API refuses before any service sees it: {"error": message}, status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    response = jsonify(error=error.message)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kassa"'
    return response


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    message = error.message
    if isinstance(error, ValidationError):
        message = f"{schemas.api_field(error.field)}: {message}"
    return jsonify(error=message), web.status_for(error)


def _json_body() -> dict:
    raw = request.get_data(cache=True)
    if request.mimetype != "application/json":
        raise ApiError("Content-Type must be application/json", 415)
    try:
        body = jsonio.parse_body(raw) if raw.strip() else None
    except jsonio.BodyRefused as error:
        raise ApiError(str(error), 400) from None
    if not isinstance(body, dict):
        raise ApiError("Request body must be a JSON object", 400)
    return body


def _optional(body: dict, name: str, kind: type, label: str):
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ApiError(f"{name} must be {label}", 422)
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
        raise ApiError("Invalid or inactive API key", 401)
    try:
        api_access.check_request(
            key,
            web.client_address(),
            request.get_data(cache=True),
            request.headers.get("Signature"),
            scope,
        )
    except api_access.AccessRefused as refused:
        raise ApiError(refused.message, web.status_for(refused)) from None
    return key


def _external_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError("externalId must be a string", 422)
    if not value:
        raise ApiError("externalId must not be empty", 422)
    if len(value) > orders.EXTERNAL_ID_MAX:
        raise ApiError(f"externalId must be at most {orders.EXTERNAL_ID_MAX} characters", 422)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ApiError("externalId must not contain control characters", 422)
    return value


@bp.post("/create-payment-intent")
def create_payment_intent():
    """Open an order for the provider and answer with its checkout URL."""
    body = _json_body()
    provider = _authenticated_key(ApiScope.ORDERS_WRITE, body).provider
    external_id = _external_id(body.get("externalId"))
    # The amount goes as sent: whether it is read, and how, depends on the provider's mode.
    order = orders.open_order(provider, external_id, body.get("amount"))
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders/<order_id>")
def get_order(order_id: str):
    """One of the provider's orders."""
    provider = _authenticated_key(ApiScope.ORDERS_READ).provider
    order = orders.find_order(order_id)
    if order is None or order.provider_id != provider.id:
        raise ApiError("Order not found", 404)
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders")
def list_orders():
    """The provider's orders, newest first, optionally filtered by externalId or status."""
    provider = _authenticated_key(ApiScope.ORDERS_READ).provider
    query = select(Order).where(Order.provider_id == provider.id)
    if "externalId" in request.args:
        query = query.where(Order.external_id == _external_id(request.args["externalId"]))
    status = request.args.get("status")
    if status is not None:
        if status not in {member.value for member in OrderStatus}:
            raise ApiError(f"status must be one of {', '.join(OrderStatus)}", 422)
        query = query.where(Order.status == OrderStatus(status))
    limit_text = request.args.get("limit", "20")
    # Only ASCII digits: str.isdigit() also takes "²", which int() refuses.
    if not LIMIT_DIGITS.fullmatch(limit_text) or not 1 <= int(limit_text) <= LIST_LIMIT_MAX:
        raise ApiError(f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}", 422)
    limit = int(limit_text)
    after_id = request.args.get("startingAfter")
    if after_id is not None:
        after = orders.find_order(after_id)
        if after is None or after.provider_id != provider.id:
            raise ApiError("startingAfter must be one of your order ids", 422)
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
    link = payment_links.find_link(link_id)
    if link is None or link.provider_id != provider.id:
        raise ApiError("Payment link not found", 404)
    return jsonify(_link_json(link))


def _link_json(link: PaymentLink) -> dict:
    usage = payment_links.usage(link)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(urls.public_url("")))
