"""Stripe events: recorded once by id when they arrive, applied to orders by a worker.

Stripe asks for a quick 2xx and retries anything else, so the webhook only verifies the
signature, checks the event's shape and commits one row (the id is unique, so a redelivery
is a no-op). A worker then applies the event in one transaction with the order change and
the provider's notification. The row is committed before Stripe hears 200, so nothing
acknowledged is lost; the sweep re-enqueues events whose task was lost.
"""

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from checkout import orders
from checkout.database import each_in_batches, in_transaction
from checkout.extensions import db
from checkout.models import Order, StripeEvent, utcnow
from checkout.orders import Outcome

log = logging.getLogger(__name__)

QUEUED = "queued"
UNHANDLED = "ignored: unhandled type"
MAX_APPLY_ATTEMPTS = 10


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


def check_shape(event: dict) -> tuple[str, str]:
    """The event's id and type, once it has the fields every Stripe event has."""
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if not _text(event_id):
        raise MalformedEvent("Event has no id")
    if not _text(event_type) or not isinstance(data_object, dict):
        raise MalformedEvent("Event has no type or data.object")
    return event_id, event_type


def record(event: dict, payload: str) -> str:
    """Commit a verified event once and queue it; returns what the webhook answers.

    "queued" for a new event of a type Kassa handles, "duplicate" for an id already
    recorded, "ignored: unhandled type" for any other type (recorded, never applied).
    """
    event_id, event_type = check_shape(event)
    handled = event_type in HANDLERS
    result = QUEUED if handled else UNHANDLED
    now = utcnow()
    inserted = _insert_once(
        id=event_id,
        type=event_type[:80],
        payload=payload if handled else None,
        result=result,
        received_at=now,
        applied_at=None if handled else now,
    )
    if not inserted:
        return "duplicate"
    if handled:
        _enqueue(event_id)
    return result


_COLUMNS = ("id", "type", "payload", "result", "attempts", "received_at", "applied_at")


@lru_cache
def _insert_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None, Callable]:
    """INSERT … ON CONFLICT (id) DO NOTHING for this dialect, compiled once."""
    insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(StripeEvent)
        .values({name: bindparam(name) for name in _COLUMNS})
        .on_conflict_do_nothing(index_elements=["id"])
    )
    compiled = statement.compile(dialect=dialect)
    stamp = StripeEvent.__table__.c.received_at.type.bind_processor(dialect)
    order = tuple(compiled.positiontup) if compiled.positional else None
    return str(compiled), order, stamp or (lambda value: value)


def _insert_once(**values) -> bool:
    """Insert and commit the event row; False when its id was already there.

    This is the whole of the webhook's database work, so it uses the driver's cursor:
    SQLAlchemy's statement building and session would cost more than the insert itself.
    """
    sql, positions, stamp = _insert_sql(db.engine.dialect)
    values["attempts"] = 0
    values["received_at"] = stamp(values["received_at"])
    if values["applied_at"] is not None:
        values["applied_at"] = stamp(values["applied_at"])
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, tuple(values[name] for name in positions) if positions else values)
        inserted = cursor.rowcount == 1
        connection.commit()
    finally:
        connection.close()
    return inserted


def _enqueue(event_id: str) -> None:
    from checkout import tasks

    try:
        tasks.apply_stripe_event(event_id)
    except Exception:  # the row is committed: the sweep queues it again
        log.warning("Could not enqueue Stripe event %s; the sweep will", event_id)


def apply_recorded(event_id: str) -> str | None:
    """Apply a recorded event to its order, once; None when it was applied already.

    The claim, the order change, the notification and the event's result share one
    transaction. A failure rolls all of it back and counts an attempt; the sweep tries
    again until MAX_APPLY_ATTEMPTS, after which the event shows as failed to admins.
    """

    def work() -> str | None:
        # Claim first: a concurrent worker waits on this row (SQLite: on the write lock),
        # then finds it applied. The claim rolls back with everything else on failure.
        claimed = db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id, StripeEvent.applied_at.is_(None))
            .values(applied_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return None
        event_type, payload = db.session.execute(
            select(StripeEvent.type, StripeEvent.payload).where(StripeEvent.id == event_id)
        ).one()
        data_object = json.loads(payload)["data"]["object"]
        result, order = HANDLERS[event_type](data_object, f"Stripe {event_type}")
        db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            # The body is only needed until it is applied; Stripe keeps its events 30 days.
            .values(result=result, order_id=order.id if order else None, payload=None)
            .execution_options(synchronize_session=False)
        )
        if order is None:
            log.warning("Stripe event %s (%s): %s", event_id, event_type, result)
        return result

    try:
        return in_transaction(work)
    except Exception as error:
        db.session.rollback()
        _count_failure(event_id, error)
        raise


def _count_failure(event_id: str, error: Exception) -> None:
    db.session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == event_id, StripeEvent.applied_at.is_(None))
        .values(
            attempts=StripeEvent.attempts + 1,
            result=f"failed: {type(error).__name__}"[:200],
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


# Events still waiting for a worker (the sweep's, and admins'), and events given up on.
WAITING = StripeEvent.applied_at.is_(None) & (StripeEvent.attempts < MAX_APPLY_ATTEMPTS)
FAILED = StripeEvent.applied_at.is_(None) & (StripeEvent.attempts >= MAX_APPLY_ATTEMPTS)


def sweep() -> int:
    """Queue again events not applied within the grace period; returns how many.

    Their task was lost (the queue or a worker died) or failed. Queueing an event twice is
    harmless: only one worker can claim it.
    """
    grace = timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE_SECONDS"])
    waiting = WAITING & (StripeEvent.received_at <= utcnow() - grace)
    return each_in_batches(waiting, StripeEvent.received_at, StripeEvent.id, _enqueue)


def unapplied_counts() -> dict[str, int]:
    """How many events wait for a worker, and how many failed every attempt."""
    waiting, failed = db.session.execute(
        select(
            func.count().filter(WAITING),
            func.count().filter(FAILED),
        ).select_from(StripeEvent)
    ).one()
    return {"waiting": waiting, "failed": failed}


def retry(event: StripeEvent) -> None:
    """Give a failed event its attempts back and queue it (after the cause is fixed)."""
    event.attempts = 0
    event.result = QUEUED
    db.session.commit()
    _enqueue(event.id)


# Queries for the admin pages

_STATES = {"waiting": WAITING, "failed": FAILED}


def select_events(state: str | None = None) -> Select[tuple[StripeEvent]]:
    """Events newest first; with state "waiting" or "failed", only the events in that state."""
    query = select(StripeEvent)
    if state is not None:
        query = query.where(_STATES[state])
    return query.order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
