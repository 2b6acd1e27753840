"""Orders: opening them, and the state machine that is the only place a status changes."""

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from checkout import money, notifications, stripe_gateway
from checkout.database import in_transaction
from checkout.errors import DomainError
from checkout.extensions import db
from checkout.models import (
    Order,
    OrderEvent,
    OrderStatus,
    PaymentLink,
    PaymentMode,
    Provider,
    Service,
    utcnow,
)

EXTERNAL_ID_MAX = 255
ORDER_ID = re.compile(r"^ord_[0-9a-f]{24}\Z")


class OrderError(DomainError):
    """A request to open an order that the order rules refuse."""


class PaymentNotConfigured(OrderError):
    """The provider's way of paying is not set up for this order."""


class AmountRefused(OrderError):
    """A valid amount the service's price does not allow (below it, or not a multiple)."""


class AmountInvalid(OrderError):
    """An amount that is no amount at all: not positive, too precise or too large."""


class ServiceUnavailable(OrderError):
    """The service has been turned off."""


class ExternalIdTaken(OrderError):
    """The provider's externalId already names an order with another amount."""


# Status groupings: every module and template asks these, never a list of its own.
# A customer may start (or retry) paying.
PAYABLE = frozenset({OrderStatus.PENDING, OrderStatus.FAILED})
# A payment is under way or may still arrive without the customer doing anything.
UNFINISHED = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})
# Not paid yet, and not given up on.
UNPAID = PAYABLE | UNFINISHED
# Money was received (and may since have been refunded in part or in full).
COMPLETED = frozenset({OrderStatus.PAID, OrderStatus.REFUNDED})
# Nothing more happens on the checkout page.
FINAL = COMPLETED | {OrderStatus.CANCELED}


def is_payable(order: Order) -> bool:
    """Whether the customer may start or retry paying."""
    return order.status in PAYABLE


def is_unpaid(order: Order) -> bool:
    """Whether the order still waits for its money."""
    return order.status in UNPAID


def is_final(order: Order) -> bool:
    """Whether the order is paid, refunded or canceled."""
    return order.status in FINAL


def refundable_minor(order: Order) -> int:
    """What is left to refund, in minor units; 0 for an order that was never paid."""
    if order.status not in COMPLETED:
        return 0
    paid = order.paid_amount_minor or order.amount_minor
    return max(paid - order.refunded_amount_minor, 0)


class Outcome(StrEnum):
    """What a payment attempt reported, whatever reported it."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TARGET = {
    Outcome.PROCESSING: OrderStatus.PROCESSING,
    Outcome.SUCCEEDED: OrderStatus.PAID,
    Outcome.FAILED: OrderStatus.FAILED,
    Outcome.CANCELED: OrderStatus.CANCELED,
}

# Which status may follow which. Anything else (a late failure after paid) is ignored.
TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.PENDING: {
        OrderStatus.PROCESSING,
        OrderStatus.PAID,
        OrderStatus.FAILED,
        OrderStatus.CANCELED,
    },
    OrderStatus.PROCESSING: {OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.CANCELED},
    OrderStatus.FAILED: {OrderStatus.PROCESSING, OrderStatus.PAID, OrderStatus.CANCELED},
    OrderStatus.PAID: {OrderStatus.REFUNDED},
    OrderStatus.REFUNDED: {OrderStatus.REFUNDED},
    OrderStatus.CANCELED: set(),
}


def _plain(value: Decimal) -> str:
    """'5.00' -> '5', '2.50' -> '2.5', never scientific notation."""
    return format(value.normalize(), "f")


def price_order(provider: Provider, amount: Decimal | int | None) -> int:
    """The quantity a provider's request buys, or raise OrderError."""
    service = provider.service
    price = service.price_minor
    if provider.mode is PaymentMode.BUY_BUTTON:
        if not (service.buy_button_id and service.stripe_payment_link_id):
            raise PaymentNotConfigured("Stripe Buy Button not configured")
        return 1
    if stripe_gateway.is_live() and service.currency != "usd":
        raise PaymentNotConfigured(
            f"Cash App payments are not available in {service.currency.upper()}"
        )
    if amount is None:
        return 1
    try:
        total = money.to_minor(amount, service.currency)
    except money.AmountError as error:
        raise AmountInvalid(str(error)) from None
    if total < price:
        raise AmountRefused("Amount cannot be less than service price")
    if total % price:
        raise AmountRefused(f"Amount must be a multiple of {_plain(service.price)}")
    return total // price


def new_order(
    service: Service,
    quantity: int,
    *,
    opened_by: str,
    mode: PaymentMode,
    provider: Provider | None = None,
    payment_link: PaymentLink | None = None,
    external_id: str | None = None,
) -> Order:
    """Add an order at the service's current price, with its first timeline line; the caller
    commits."""
    order = Order(
        provider_id=provider.id if provider else None,
        payment_link_id=payment_link.id if payment_link else None,
        service_id=service.id,
        external_id=external_id,
        mode=mode,
        currency=service.currency,
        unit_price_minor=service.price_minor,
        quantity=quantity,
        amount_minor=service.price_minor * quantity,
    )
    order.events.append(
        OrderEvent(kind="created", message=f"Opened {opened_by}: {quantity} × {service.title}")
    )
    db.session.add(order)
    return order


def open_order(provider: Provider, external_id: str | None, amount: Decimal | int | None) -> Order:
    """Create the order for a provider's request, or return the one its externalId made."""
    service = provider.service
    if not service.active:
        raise ServiceUnavailable("Service is not available")
    quantity = price_order(provider, amount)
    total = service.price_minor * quantity
    if external_id is not None:
        existing = _find_by_external_id(provider.id, external_id)
        if existing is not None:
            return _same_or_conflict(existing, total)
    order = new_order(
        service,
        quantity,
        opened_by="by API",
        mode=provider.mode,
        provider=provider,
        external_id=external_id,
    )
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent request with the same externalId won the insert.
        db.session.rollback()
        existing = _find_by_external_id(provider.id, external_id)
        if existing is None:
            raise
        return _same_or_conflict(existing, total)
    return order


def _find_by_external_id(provider_id: str, external_id: str | None) -> Order | None:
    return db.session.scalar(
        select(Order).where(Order.provider_id == provider_id, Order.external_id == external_id)
    )


def _same_or_conflict(existing: Order, total: int) -> Order:
    if existing.amount_minor != total:
        raise ExternalIdTaken(
            f"externalId {existing.external_id!r} is already used by order {existing.id} "
            f"with amount {_plain(existing.amount)}"
        )
    return existing


# What the checkout page and a notification read besides the order, in the same query.
WITH_PARTIES = (
    joinedload(Order.provider),
    joinedload(Order.service),
    joinedload(Order.payment_link),
)


def lock_order(
    order_id: str | None = None, *, payment_intent_id: str | None = None
) -> Order | None:
    """Load an order for change, holding its row lock where the database has row locks."""
    query = select(Order).options(*WITH_PARTIES)
    if order_id is not None:
        if not ORDER_ID.match(order_id):
            return None
        query = query.where(Order.id == order_id)
    else:
        query = query.where(Order.stripe_payment_intent_id == payment_intent_id)
    return db.session.scalar(
        query.with_for_update(of=Order).execution_options(populate_existing=True)
    )


def note(order: Order, kind: str, message: str) -> None:
    """Add a line to the order's timeline."""
    db.session.add(OrderEvent(order=order, kind=kind, message=message[:500]))


def apply_outcome(
    order: Order,
    outcome: Outcome,
    *,
    source: str,
    payment_intent_id: str | None = None,
    amount_received_minor: int | None = None,
    currency_received: str | None = None,
) -> bool:
    """Move a locked order to the status an outcome implies; return whether it changed.

    The provider's notification is written in the same transaction as the change.
    """
    target = TARGET[outcome]
    if payment_intent_id and not order.stripe_payment_intent_id:
        order.stripe_payment_intent_id = payment_intent_id
    if target not in TRANSITIONS[order.status]:
        if target is not order.status:
            note(order, "ignored", f"{source}: {outcome} ignored, order is {order.status}")
        return False
    previous = order.status
    order.status = target
    if target is OrderStatus.PAID:
        _record_payment(order, amount_received_minor, currency_received)
    note(order, "status", f"{previous} → {target} ({source})")
    notifications.record_for_order(order)
    return True


def settle_quantity(order: Order, quantity: int, *, source: str) -> bool:
    """Set a locked, unpaid order to the quantity the customer bought on Stripe's page;
    its amount follows at the order's unit price. Returns whether it changed."""
    if quantity == order.quantity or quantity < 1 or not is_unpaid(order):
        return False
    amount = order.unit_price_minor * quantity
    if amount > money.MAX_MINOR:
        return False
    note(order, "quantity", f"{source}: {order.quantity} → {quantity} bought")
    order.quantity = quantity
    order.amount_minor = amount
    return True


def _record_payment(order: Order, amount_minor: int | None, currency: str | None) -> None:
    order.paid_at = utcnow()
    order.paid_amount_minor = order.amount_minor if amount_minor is None else amount_minor
    currency = (currency or order.currency).lower()
    if order.paid_amount_minor != order.amount_minor or currency != order.currency:
        order.amount_mismatch = True
        paid = (
            money.format_money(order.paid_amount_minor, currency)
            if money.is_supported(currency)
            else f"{order.paid_amount_minor} {currency.upper()} minor units"
        )
        note(order, "amount_mismatch", f"Paid {paid}, expected {order.amount_display}")


def apply_refund(order: Order, refunded_total_minor: int, *, source: str) -> bool:
    """Record a refund total on a locked paid order; return whether it changed."""
    if order.status not in COMPLETED:
        note(order, "ignored", f"{source}: refund ignored, order is {order.status}")
        return False
    if refunded_total_minor <= order.refunded_amount_minor:
        return False
    previous = order.status
    order.refunded_amount_minor = refunded_total_minor
    order.status = OrderStatus.REFUNDED
    refunded = money.format_money(refunded_total_minor, order.currency)
    note(order, "status", f"{previous} → refunded, {refunded} in all ({source})")
    notifications.record_for_order(order)
    return True


def _change_locked(order_id: str, change: Callable[[Order], object]) -> Order | None:
    """Lock the order, change it, and commit, in a transaction of its own."""

    def work() -> Order | None:
        order = lock_order(order_id)
        if order is not None:
            change(order)
        return order

    return in_transaction(work)


def record_outcome(order_id: str, outcome: Outcome, *, source: str) -> Order | None:
    """Apply an outcome to an order in its own transaction; None when the order is unknown."""
    return _change_locked(order_id, lambda order: apply_outcome(order, outcome, source=source))


def record_refund(order_id: str, refunded_total_minor: int, *, source: str) -> Order | None:
    """Apply a refund total to an order in its own transaction."""
    return _change_locked(
        order_id, lambda order: apply_refund(order, refunded_total_minor, source=source)
    )


def find_order(order_id: str | None) -> Order | None:
    """The order with this public id, or None for anything else (including junk)."""
    if not isinstance(order_id, str) or not ORDER_ID.match(order_id):
        return None
    return db.session.get(Order, order_id, options=WITH_PARTIES)


# Queries for the admin pages


def count_by_status() -> dict[OrderStatus, int]:
    """How many orders are in each status, zeros included, in the statuses' order."""
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    return {status: counts.get(status, 0) for status in OrderStatus}


def latest_orders(limit: int) -> list[Order]:
    """The most recently opened orders, newest first."""
    return list(db.session.scalars(select(Order).order_by(Order.created_at.desc()).limit(limit)))


def select_orders(
    status: OrderStatus | None = None,
    provider_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select[tuple[Order]]:
    """Orders with a status, of a provider, opened from one UTC day to another; newest first."""
    query = select(Order)
    if status is not None:
        query = query.where(Order.status == status)
    if provider_id is not None:
        query = query.where(Order.provider_id == provider_id)
    if date_from is not None:
        query = query.where(Order.created_at >= datetime.combine(date_from, time.min))
    if date_to is not None:
        end = datetime.combine(date_to, time.min) + timedelta(days=1)
        query = query.where(Order.created_at < end)
    return query.order_by(Order.created_at.desc(), Order.id.desc())
