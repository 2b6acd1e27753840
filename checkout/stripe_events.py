"""Applying verified Stripe events to orders: each event id once, in one transaction."""

import logging
from collections.abc import Callable

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from checkout import orders
from checkout.database import in_transaction
from checkout.extensions import db
from checkout.models import Order, StripeEvent
from checkout.orders import Outcome

log = logging.getLogger(__name__)


class MalformedEvent(ValueError):
    """A signed event without the fields every Stripe event has."""


def _order_for_intent(intent: dict) -> Order | None:
    """The order a PaymentIntent belongs to, locked: by our metadata, else by its id."""
    metadata = intent.get("metadata")
    order_id = _text(metadata.get("orderId")) if isinstance(metadata, dict) else None
    order = orders.lock_order(order_id) if order_id else None
    intent_id = _text(intent.get("id"))
    if order is None and intent_id:
        order = orders.lock_order(payment_intent_id=intent_id)
    return order


def _intent_handler(outcome: Outcome) -> Callable[[dict, str], tuple[str, Order | None]]:
    def handle(intent: dict, source: str) -> tuple[str, Order | None]:
        order = _order_for_intent(intent)
        if order is None:
            return "ignored: no order for this PaymentIntent", None
        changed = orders.apply_outcome(
            order,
            outcome,
            source=source,
            payment_intent_id=_text(intent.get("id")),
            amount_received_minor=_int(intent.get("amount_received")),
            currency_received=_text(intent.get("currency")),
        )
        return ("applied" if changed else "no change"), order

    return handle


def _session_handler(outcome: Outcome | None) -> Callable[[dict, str], tuple[str, Order | None]]:
    """Checkout Session events; outcome None means: decide by payment_status."""

    def handle(session: dict, source: str) -> tuple[str, Order | None]:
        reference = _text(session.get("client_reference_id"))
        order = orders.lock_order(reference) if reference else None
        if order is None:
            return "ignored: no order for this client_reference_id", None
        chosen = outcome
        if chosen is None:
            chosen = (
                Outcome.SUCCEEDED
                if session.get("payment_status") == "paid"
                else (Outcome.PROCESSING)
            )
        changed = orders.apply_outcome(
            order,
            chosen,
            source=source,
            payment_intent_id=_text(session.get("payment_intent")),
            amount_received_minor=_int(session.get("amount_total")),
            currency_received=_text(session.get("currency")),
        )
        return ("applied" if changed else "no change"), order

    return handle


def _charge_refunded(charge: dict, source: str) -> tuple[str, Order | None]:
    intent_id = _text(charge.get("payment_intent"))
    order = orders.lock_order(payment_intent_id=intent_id) if intent_id else None
    refunded = _int(charge.get("amount_refunded"))
    if order is None or refunded is None:
        return "ignored: no order for this charge", None
    changed = orders.apply_refund(order, refunded, source=source)
    return ("applied" if changed else "no change"), order


# A signature proves who sent an event, not its shape: fields are used only when well formed.


def _int(value: object) -> int | None:
    """A non-negative amount that fits a BIGINT, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


def _text(value: object, limit: int = 255) -> str | None:
    """A non-empty string that fits its column, else None."""
    if isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value:
        return value
    return None


HANDLERS: dict[str, Callable[[dict, str], tuple[str, Order | None]]] = {
    "payment_intent.succeeded": _intent_handler(Outcome.SUCCEEDED),
    "payment_intent.processing": _intent_handler(Outcome.PROCESSING),
    "payment_intent.payment_failed": _intent_handler(Outcome.FAILED),
    "payment_intent.canceled": _intent_handler(Outcome.CANCELED),
    "checkout.session.completed": _session_handler(None),
    "checkout.session.async_payment_succeeded": _session_handler(Outcome.SUCCEEDED),
    "checkout.session.async_payment_failed": _session_handler(Outcome.FAILED),
    # An abandoned Checkout Session: the attempt ended unpaid; a new session can still pay.
    "checkout.session.expired": _session_handler(Outcome.FAILED),
    "charge.refunded": _charge_refunded,
}


def apply_event(event: dict) -> str:
    """Apply a verified event once; returns what happened, for the log and the response."""
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if not _text(event_id):
        raise MalformedEvent("Event has no id")
    if not _text(event_type) or not isinstance(data_object, dict):
        raise MalformedEvent("Event has no type or data.object")

    def work() -> str:
        # Claim the id first: a redelivery fails here, and a concurrent copy waits, then fails.
        # (On SQLite this first write also takes the write lock before anything is read.)
        db.session.execute(
            insert(StripeEvent).values(id=event_id, type=event_type[:80], result="received")
        )
        handler = HANDLERS.get(event_type)
        result, order = (
            handler(data_object, f"Stripe {event_type}")
            if handler
            else ("ignored: unhandled type", None)
        )
        db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            .values(result=result, order_id=order.id if order else None)
            .execution_options(synchronize_session=False)
        )
        if order is None and handler:
            log.warning("Stripe event %s (%s): %s", event_id, event_type, result)
        return result

    try:
        return in_transaction(work)
    except IntegrityError:
        db.session.rollback()
        if db.session.get(StripeEvent, event_id) is None:
            raise
        return "duplicate"
