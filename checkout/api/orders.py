"""Provider API: opening orders and reading them."""

from flask import jsonify, request
from sqlalchemy import select

from checkout import opening, orders, schemas, urls
from checkout.api.common import ApiError, authenticated_key, bp, check_fields, json_body, page_limit
from checkout.extensions import db
from checkout.models import ApiScope, Order, OrderStatus


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
    body = json_body()
    provider = authenticated_key(ApiScope.ORDERS_WRITE, body).provider
    check_fields("createPaymentIntent", body)
    external_id = _external_id(body.get("externalId"))
    # The amount goes as sent: whether it is read, and how, depends on the provider's mode.
    order = opening.open_api_order(provider, external_id, body.get("amount"))
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders/<order_id>")
def get_order(order_id: str):
    """One of the provider's orders."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    check_fields("getOrder")
    order = orders.find_order(order_id)
    if order is None or order.provider_id != provider.id:
        raise ApiError("Order not found", 404, "not_found")
    return jsonify(schemas.api_order(order, urls.base_url()))


@bp.get("/orders")
def list_orders():
    """The provider's orders, newest first, optionally filtered by externalId or status."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    check_fields("listOrders")
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
    limit = page_limit()
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
