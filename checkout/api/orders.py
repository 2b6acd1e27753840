"""Provider API: opening orders, reading them, refunding and cancelling them."""

import hashlib
import uuid

from sqlalchemy import select

from checkout import (
    audit,
    database,
    logs,
    money,
    opening,
    orders,
    payments,
    schemas,
    shapes,
    urls,
)
from checkout.api import bodies, queries
from checkout.api.common import (
    ApiError,
    answer,
    authenticated_key,
    bp,
    idempotency_key,
    json_body,
    optional_json_body,
    page_start,
    parse,
    parse_query,
    stripe_failure,
)
from checkout.extensions import db
from checkout.models import ApiScope, Order, OrderStatus, Provider
from checkout.stripe_gateway import StripeError


@bp.post("/create-payment-intent")
def create_payment_intent():
    """Open an order for the provider and answer with its checkout URL."""
    body = json_body()
    provider = authenticated_key(ApiScope.ORDERS_WRITE, body).provider
    parse_query(queries.NoQuery)
    sent = parse(bodies.CreatePaymentIntent, body)
    # The amount goes as sent: whether it is read, and how, depends on the provider's mode.
    order = opening.open_api_order(
        provider,
        sent.external_id,
        sent.amount,
        custom_fields=None
        if sent.custom_fields is None
        else [answer.model_dump() for answer in sent.custom_fields],
        customer_email=sent.customer_email,
        discount_code=sent.discount_code,
    )
    logs.bind(order_id=order.id)
    return answer(schemas.api_order(order, urls.base_url()))


@bp.get("/orders/<order_id>")
def get_order(order_id: str):
    """One of the provider's orders."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    parse_query(queries.NoQuery)
    return answer(schemas.api_order(_own_order(provider, order_id), urls.base_url()))


def _order_of(provider: Provider, order_id: str) -> Order | None:
    """The provider's order with this id; another provider's is as unknown as none."""
    order = orders.find_order(order_id)
    return order if order is not None and order.provider_id == provider.id else None


def _own_order(provider: Provider, order_id: str) -> Order:
    order = _order_of(provider, order_id)
    if order is None:
        raise ApiError("Order not found", 404, "not_found")
    logs.bind(order_id=order.id)
    return order


@bp.get("/orders")
def list_orders():
    """The provider's orders, newest first, optionally filtered by externalId or status."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    asked = parse_query(queries.ListOrders)
    query = select(Order).where(Order.provider_id == provider.id)
    if asked.external_id is not None:
        query = query.where(Order.external_id == asked.external_id)
    if asked.status is not None:
        query = query.where(Order.status == OrderStatus(asked.status))
    limit = asked.limit
    after = page_start(
        asked.starting_after,
        lambda order_id: _order_of(provider, order_id),
        "one of your order ids",
    )
    rows = db.session.scalars(database.newest_first(query, Order, after).limit(limit + 1)).all()
    base = urls.base_url()
    return answer(
        shapes.OrderList(
            data=[schemas.api_order(order, base) for order in rows[:limit]],
            has_more=len(rows) > limit,
        )
    )


@bp.post("/orders/<order_id>/refunds")
def create_refund(order_id: str):
    """Refund a paid order, in full or in part; once per Idempotency-Key."""
    body = json_body()
    key = authenticated_key(ApiScope.REFUNDS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.CreateRefund, body)
    order = _own_order(key.provider, order_id)
    amount = _refund_amount(order, sent.amount)
    reason = sent.reason
    request_key = _refund_request_key(key.id, order.id)
    earlier = payments.requested_refund(request_key)
    if earlier is None:
        try:
            payments.refund(
                order.id, amount, request_key, actor=audit.api_key(key.prefix), reason=reason
            )
        except StripeError as error:
            raise stripe_failure(error, "refund") from None
        made = payments.requested_refund(request_key)
    else:
        made = earlier
        if (amount is not None and amount != made.amount_minor) or reason != made.reason:
            raise ApiError(
                "This Idempotency-Key was sent with another amount or reason: use a new key "
                "for another refund",
                422,
                "idempotency_key_reused",
            )
    response = answer(schemas.refund(made), 201)
    if earlier is not None:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _refund_amount(order: Order, value: object) -> int | None:
    """The amount asked for, in minor units of the currency paid in; None: all that is left."""
    if value is None:
        return None
    currency = order.paid_currency or order.currency
    if not money.is_supported(currency):
        raise ApiError(
            f"This order was paid in {currency.upper()}, which Kassa cannot count in: "
            "leave amount out to refund it in full",
            422,
            "validation_error",
            "amount",
        )
    try:
        return money.to_minor(value, currency)
    except money.AmountError as error:
        raise ApiError(f"amount: {error}", 422, "validation_error", "amount") from None


def _refund_request_key(api_key_id: str, order_id: str) -> str:
    """The refund's request key: one per Idempotency-Key of this API key and order, else a
    new one (each request without the header is a refund of its own)."""
    sent = idempotency_key()
    if sent is None:
        return f"api-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{api_key_id}|{order_id}|{sent}".encode()).hexdigest()
    return f"api-{digest}"


@bp.get("/orders/<order_id>/refunds")
def list_refunds(order_id: str):
    """An order's refunds, oldest first, with Stripe's status of each."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    parse_query(queries.NoQuery)
    order = _own_order(provider, order_id)
    refunds = [schemas.refund(row) for row in payments.refunds_of(order.id)]
    return answer(shapes.RefundList(data=refunds, has_more=False))


@bp.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str):
    """Cancel an order nobody has paid or is paying; its provider hears payment_canceled."""
    body = optional_json_body()
    key = authenticated_key(ApiScope.ORDERS_WRITE, body)
    parse_query(queries.NoQuery)
    parse(bodies.NoBody, body)
    order = _own_order(key.provider, order_id)
    try:
        canceled = payments.cancel(order.id, actor=audit.api_key(key.prefix))
    except StripeError as error:
        raise stripe_failure(error, "cancellation") from None
    return answer(schemas.api_order(canceled, urls.base_url()))
