"""Paying an order: Stripe PaymentIntents, their status, and the sandbox that stands in for them."""

from datetime import timedelta

from checkout import orders, stripe_gateway
from checkout.database import in_transaction
from checkout.models import Order, OrderStatus, PaymentMode, utcnow
from checkout.orders import Outcome
from checkout.stripe_gateway import PaymentIntentView

OUTCOME_BY_INTENT_STATUS = {
    "processing": Outcome.PROCESSING,
    "succeeded": Outcome.SUCCEEDED,
    "canceled": Outcome.CANCELED,
}

# How often a page poll may ask Stripe about one order.
SYNC_INTERVAL = timedelta(seconds=5)


def outcome_of(intent: PaymentIntentView) -> Outcome | None:
    """What a PaymentIntent's status means for the order; None while it awaits the customer."""
    if intent.status == "requires_payment_method" and intent.has_payment_error:
        return Outcome.FAILED
    return OUTCOME_BY_INTENT_STATUS.get(intent.status)


def apply_intent(order_id: str, intent: PaymentIntentView, source: str) -> Order | None:
    """Bring an order in line with a PaymentIntent retrieved from Stripe."""
    outcome = outcome_of(intent)

    def work() -> Order | None:
        order = orders.lock_order(order_id)
        if order is None:
            return None
        order.synced_at = utcnow()
        if outcome is not None:
            orders.apply_outcome(
                order,
                outcome,
                source=source,
                payment_intent_id=intent.id,
                amount_received_minor=intent.amount_received,
            )
        return order

    return in_transaction(work)


def prepare_cashapp_payment(order: Order) -> PaymentIntentView:
    """The order's PaymentIntent (created on first use), with the order synced to it."""
    if order.stripe_payment_intent_id:
        intent = stripe_gateway.retrieve_payment_intent(order.stripe_payment_intent_id)
    else:
        intent = stripe_gateway.create_cashapp_payment_intent(order)
        _remember_intent(order.id, intent.id)
    apply_intent(order.id, intent, source="Stripe PaymentIntent")
    return intent


def _remember_intent(order_id: str, payment_intent_id: str) -> None:
    def work() -> None:
        order = orders.lock_order(order_id)
        if order is not None and order.stripe_payment_intent_id is None:
            order.stripe_payment_intent_id = payment_intent_id
            orders.note(order, "payment_intent", f"Stripe PaymentIntent {payment_intent_id}")

    in_transaction(work)


def refresh(order: Order) -> Order:
    """Ask Stripe about an unfinished Cash App order, at most every few seconds."""
    due = order.synced_at is None or utcnow() - order.synced_at >= SYNC_INTERVAL
    unfinished = order.status in (OrderStatus.PENDING, OrderStatus.PROCESSING)
    if (
        stripe_gateway.is_live()
        and order.mode is PaymentMode.CASHAPP
        and order.stripe_payment_intent_id
        and unfinished
        and due
    ):
        intent = stripe_gateway.retrieve_payment_intent(order.stripe_payment_intent_id)
        return apply_intent(order.id, intent, source="Stripe PaymentIntent") or order
    return order


def simulate(order_id: str, outcome: Outcome) -> Order | None:
    """Sandbox mode: drive the same state change a real payment would."""
    return orders.record_outcome(order_id, outcome, source="sandbox")
