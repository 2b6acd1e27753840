"""Stripe events: recorded once by id when they arrive, applied to orders by a worker.

Stripe asks for a quick 2xx and retries anything else, so the webhook only verifies the
signature, checks the event's shape and commits one row (the id is unique, so a redelivery
is a no-op). A worker then applies the event in one transaction with the order change and
the provider's notification. The row is committed before Stripe hears 200, so nothing
acknowledged is lost; the sweep re-enqueues events whose task was lost.
"""

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from checkout import (
    audit,
    database,
    logs,
    metrics,
    notifications,
    orders,
    payments,
    stripe_gateway,
)
from checkout.audit import Action, Actor
from checkout.database import in_transaction
from checkout.errors import DomainError
from checkout.extensions import db
from checkout.models import Order, StripeEvent, utcnow
from checkout.orders import Outcome
from checkout.stripe_gateway import RefundView, well_formed_int, well_formed_text

log = logging.getLogger(__name__)

QUEUED = "queued"
UNHANDLED = "ignored: unhandled type"
MAX_APPLY_ATTEMPTS = 10


class MalformedEvent(ValueError):
    """A signed event without the fields every Stripe event has."""


class AlreadyApplied(DomainError):
    """A retry asked for an event that has been applied."""


def _order_for_intent(intent: dict) -> Order | None:
    """The order a PaymentIntent belongs to, locked: by our metadata, else by its id."""
    metadata = intent.get("metadata")
    order_id = well_formed_text(metadata.get("orderId")) if isinstance(metadata, dict) else None
    order = orders.lock_order(order_id) if order_id else None
    intent_id = well_formed_text(intent.get("id"))
    if order is None and intent_id:
        order = orders.lock_order(payment_intent_id=intent_id)
    return order


@dataclass(frozen=True)
class EventContext:
    """What a handler knows of the event besides its object."""

    id: str
    type: str
    created: datetime | None
    livemode: bool

    @property
    def source(self) -> str:
        """How the order's timeline names the event."""
        return f"Stripe {self.type}"

    @classmethod
    def of(cls, event: dict) -> "EventContext":
        return cls(
            id=event["id"],
            type=event["type"],
            created=_moment(event.get("created")),
            livemode=event.get("livemode") is True,
        )


# A handler applies one event's object to its order, inside the event's transaction, and
# returns what it did (shown to admins) and the order, if it found one.
Handler = Callable[[dict, EventContext], tuple[str, Order | None]]


def _intent_handler(outcome: Outcome) -> Handler:
    def handle(intent: dict, event: EventContext) -> tuple[str, Order | None]:
        order = _order_for_intent(intent)
        if order is None:
            return "ignored: no order for this PaymentIntent", None
        changed = orders.apply_outcome(
            order,
            outcome,
            source=event.source,
            payment_intent_id=well_formed_text(intent.get("id")),
            amount_received_minor=well_formed_int(intent.get("amount_received")),
            currency_received=well_formed_text(intent.get("currency")),
            event_created=event.created,
        )
        return ("applied" if changed else "no change"), order

    return handle


def _buy_button_session_handler(outcome: Outcome | None) -> Handler:
    """Checkout Session events, applied as Stripe has the session now (see FETCHERS) and
    only to the Buy Button order it belongs to; outcome None means: by payment_status."""

    def handle(data: dict, event: EventContext) -> tuple[str, Order | None]:
        if stripe_gateway.is_sandbox():
            return "ignored: without Stripe keys a Checkout Session cannot be verified", None
        session = stripe_gateway.CheckoutSessionView.of(data)
        if session.id is None:
            return "ignored: the event names no Checkout Session", None
        reference = session.client_reference_id
        order = orders.lock_order(reference) if reference else None
        if order is None:
            return "ignored: no order for this client_reference_id", None
        result = payments.apply_checkout_session(
            order, session, outcome, source=event.source, event_created=event.created
        )
        return result, order

    return handle


def _retrieve_session(data: dict) -> dict:
    """The event's Checkout Session as Stripe has it now, with the line items bought."""
    session_id = stripe_gateway.CheckoutSessionView.of(data).id
    if session_id is None:
        return data
    return stripe_gateway.retrieve_checkout_session(session_id)


def _session_expired(session: dict, event: EventContext) -> tuple[str, Order | None]:
    """An abandoned Checkout Session ends nothing: the order can still be paid."""
    reference = well_formed_text(session.get("client_reference_id"))
    order = orders.lock_order(reference) if reference else None
    if order is None:
        return "ignored: no order for this client_reference_id", None
    if orders.is_unpaid(order):
        orders.note(order, "session", "A Checkout Session expired unpaid; it can still be paid")
    return "no change", order


def _refunds_of_charge(charge: dict) -> dict:
    """charge.refunded carries only a total: list the charge's refunds from Stripe."""
    intent_id = well_formed_text(charge.get("payment_intent"))
    refunds = stripe_gateway.list_refunds(intent_id) if intent_id else []
    return {**charge, "kassa_refunds": refunds}


def _settle_refunds(
    intent_id: str | None, refunds: list[RefundView], event: EventContext
) -> tuple[str, Order | None]:
    order = orders.lock_order(payment_intent_id=intent_id) if intent_id else None
    for refund in refunds:
        orders.record_refund(
            order,
            refund_id=refund.id,
            payment_intent_id=refund.payment_intent or intent_id,
            amount_minor=refund.amount,
            currency=refund.currency,
            status=refund.status,
        )
    if order is None:
        # Kept by PaymentIntent: applied once an order is paid through it.
        return "kept: no order for this PaymentIntent yet", None
    if not orders.settle_refunds(order, source=event.source):
        return (
            "no change" if order.status in orders.RECEIVED else "kept: order not paid yet"
        ), order
    return "applied", order


def _charge_refunded(charge: dict, event: EventContext) -> tuple[str, Order | None]:
    return _settle_refunds(
        well_formed_text(charge.get("payment_intent")), charge.get("kassa_refunds", []), event
    )


def _refund_changed(refund: dict, event: EventContext) -> tuple[str, Order | None]:
    """refund.created, refund.updated and refund.failed: one refund's status."""
    refund_id, amount = well_formed_text(refund.get("id")), well_formed_int(refund.get("amount"))
    currency = well_formed_text(refund.get("currency"), 3)
    status = well_formed_text(refund.get("status"), 24)
    if not (refund_id and amount is not None and currency and status):
        return "ignored: malformed refund", None
    if event.type == "refund.failed":
        status = "failed"
    view = RefundView(
        refund_id, amount, currency.lower(), status, well_formed_text(refund.get("payment_intent"))
    )
    return _settle_refunds(view.payment_intent, [view], event)


def _dispute_of(dispute: dict) -> orders.Dispute | None:
    dispute_id = well_formed_text(dispute.get("id"))
    status = well_formed_text(dispute.get("status"), 40)
    if not dispute_id or not status:
        return None
    details = dispute.get("evidence_details")
    return orders.Dispute(
        id=dispute_id,
        status=status,
        reason=well_formed_text(dispute.get("reason"), 80),
        amount_minor=well_formed_int(dispute.get("amount")),
        evidence_due_by=_moment(details.get("due_by")) if isinstance(details, dict) else None,
    )


def _intent_of_dispute(dispute: dict) -> dict:
    """A dispute names its charge; older ones name no PaymentIntent: ask Stripe."""
    named_intent = well_formed_text(dispute.get("payment_intent"))
    if named_intent or not well_formed_text(dispute.get("charge")):
        return dispute
    return {**dispute, "payment_intent": stripe_gateway.charge_payment_intent(dispute["charge"])}


def _dispute_handler(change: Callable) -> Handler:
    def handle(dispute: dict, event: EventContext) -> tuple[str, Order | None]:
        found = _dispute_of(dispute)
        intent_id = well_formed_text(dispute.get("payment_intent"))
        order = orders.lock_order(payment_intent_id=intent_id) if intent_id else None
        if found is None or order is None:
            return "ignored: no order for this dispute", None
        changed = change(order, found, source=event.source, event_created=event.created)
        return ("applied" if changed else "no change"), order

    return handle


# A signature proves who sent an event, not its shape: fields are used only when well formed.


def _moment(value: object) -> datetime | None:
    """A Unix time Stripe sent, as a stored (naive UTC) time, else None."""
    seconds = well_formed_int(value)
    if seconds is None or seconds >= 2**37:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent_handler(Outcome.SUCCEEDED),
    "payment_intent.processing": _intent_handler(Outcome.PROCESSING),
    "payment_intent.payment_failed": _intent_handler(Outcome.FAILED),
    "payment_intent.canceled": _intent_handler(Outcome.CANCELED),
    "checkout.session.completed": _buy_button_session_handler(None),
    "checkout.session.async_payment_succeeded": _buy_button_session_handler(Outcome.SUCCEEDED),
    "checkout.session.async_payment_failed": _buy_button_session_handler(Outcome.FAILED),
    "checkout.session.expired": _session_expired,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_changed,
    "refund.updated": _refund_changed,
    "refund.failed": _refund_changed,
    "charge.dispute.created": _dispute_handler(orders.open_dispute),
    "charge.dispute.updated": _dispute_handler(orders.update_dispute),
    "charge.dispute.closed": _dispute_handler(orders.close_dispute),
}

# Events whose object must be completed from Stripe before it is applied (a Checkout
# Session's line items, say). Fetching runs before the event's transaction, so no lock is
# held while Stripe answers; a failure counts as an attempt, retried by the sweep.
FETCHERS: dict[str, Callable[[dict], dict]] = {
    "checkout.session.completed": _retrieve_session,
    "checkout.session.async_payment_succeeded": _retrieve_session,
    "checkout.session.async_payment_failed": _retrieve_session,
    "charge.refunded": _refunds_of_charge,
    "charge.dispute.created": _intent_of_dispute,
    "charge.dispute.updated": _intent_of_dispute,
    "charge.dispute.closed": _intent_of_dispute,
}


def check_shape(event: dict) -> tuple[str, str]:
    """The event's id and type, once it has the fields every Stripe event has."""
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    data_object = data.get("object") if isinstance(data, dict) else None
    if not well_formed_text(event_id):
        raise MalformedEvent("Event has no id")
    if not well_formed_text(event_type) or not isinstance(data_object, dict):
        raise MalformedEvent("Event has no type or data.object")
    return event_id, event_type


@dataclass(frozen=True)
class Recorded:
    """What the webhook answers for an event, and whether a worker should now apply it."""

    event_id: str
    result: str

    @property
    def to_apply(self) -> bool:
        return self.result == QUEUED


def record(event: dict, payload: str) -> Recorded:
    """Commit a verified event once.

    Its result is "queued" for a new event of a type Kassa handles (the caller queues its
    task), "duplicate" for an id already recorded, "ignored: unhandled type" for any other
    type (recorded, never applied).
    """
    event_id, event_type = check_shape(event)
    handled = event_type in HANDLERS
    result = QUEUED if handled else UNHANDLED
    now = utcnow()
    inserted = database.execute_raw(
        _INSERT[db.engine.dialect.name],
        {
            "id": event_id,
            "type": event_type[:80],
            "payload": payload if handled else None,
            "result": result,
            "attempts": 0,
            "received_at": now,
            "applied_at": None if handled else now,
        },
    )
    if inserted != 1:
        return Recorded(event_id, "duplicate")
    metrics.STRIPE_EVENTS_RECEIVED.labels(event_type[:80]).inc()
    return Recorded(event_id, result)


# The whole of the webhook's database work: INSERT … ON CONFLICT (id) DO NOTHING.
_INSERT = {
    name: dialect.insert(StripeEvent)
    .values(
        {
            column.name: bindparam(column.name, type_=column.type)
            for column in StripeEvent.__table__.columns
            if column.name != "order_id"
        }
    )
    .on_conflict_do_nothing(index_elements=["id"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def apply_recorded(event_id: str) -> str | None:
    """Apply a recorded event to its order, once; None when it was applied already.

    The claim, the order change, the notification and the event's result share one
    transaction. A failure rolls all of it back and counts an attempt; the sweep tries
    again until MAX_APPLY_ATTEMPTS, after which the event shows as failed to admins.
    """
    try:
        return _apply(event_id)
    except Exception as error:
        db.session.rollback()
        _count_failure(event_id, error)
        metrics.STRIPE_EVENTS_FAILED.inc()
        raise


def _apply(event_id: str) -> str | None:
    recorded = db.session.execute(
        select(StripeEvent.payload, StripeEvent.received_at).where(
            StripeEvent.id == event_id, StripeEvent.applied_at.is_(None)
        )
    ).one_or_none()
    db.session.commit()
    if recorded is None:
        return None
    event = json.loads(recorded.payload)
    context = EventContext.of(event)
    data_object = event["data"]["object"]
    fetch = FETCHERS.get(context.type)
    # Without Stripe keys (sandbox mode) there is no Stripe to ask: the handlers then work
    # from the event alone, or ignore what they cannot verify.
    if fetch is not None and stripe_gateway.has_stripe_keys():
        data_object = fetch(data_object)

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
        with notifications.caused_by_stripe_event(recorded.received_at):
            result, order = HANDLERS[context.type](data_object, context)
        if order is not None:
            logs.bind(order_id=order.id, provider_id=order.provider_id)
        db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            # The body is only needed until it is applied; Stripe keeps its events 30 days.
            .values(result=result, order_id=order.id if order else None, payload=None)
            .execution_options(synchronize_session=False)
        )
        if order is None:
            log.warning("Stripe event %s (%s): %s", event_id, context.type, result)
        return result

    result = in_transaction(work)
    if result is not None:
        metrics.STRIPE_EVENTS_APPLIED.labels(context.type).inc()
    return result


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


def lost() -> Iterator[str]:
    """Events not applied within the grace period, oldest first, for the sweep to queue again.

    Their task was lost (the queue or a worker died) or failed. Queueing an event twice is
    harmless: only one worker can claim it.
    """
    grace = timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE_SECONDS"])
    waiting = WAITING & (StripeEvent.received_at <= utcnow() - grace)
    return database.ids_in_batches(waiting, StripeEvent.received_at, StripeEvent.id)


def waiting_longer_than(wait: timedelta) -> int:
    """How many events have waited for a worker longer than `wait`."""
    return db.session.scalar(
        select(func.count())
        .select_from(StripeEvent)
        .where(WAITING, StripeEvent.received_at <= utcnow() - wait)
    )


def unapplied_counts() -> dict[str, int]:
    """How many events wait for a worker, and how many failed every attempt."""
    waiting, failed = db.session.execute(
        select(
            func.count().filter(WAITING),
            func.count().filter(FAILED),
        ).select_from(StripeEvent)
    ).one()
    return {"waiting": waiting, "failed": failed}


def retry(event: StripeEvent, *, actor: Actor) -> None:
    """Give a failed event its attempts back and queue it (after the cause is fixed)."""
    if event.applied_at is not None:
        raise AlreadyApplied("This event has been applied already.")
    audit.record(
        actor, Action.STRIPE_EVENT_RETRIED, "stripe_event", event.id, attempts=event.attempts
    )
    event.attempts = 0
    event.result = QUEUED
    database.after_commit("apply_stripe_event", event.id)
    db.session.commit()


# Queries for the admin pages

_STATES = {"waiting": WAITING, "failed": FAILED}


def select_events(state: str | None = None) -> Select[tuple[StripeEvent]]:
    """Events newest first; with state "waiting" or "failed", only the events in that state."""
    query = select(StripeEvent)
    if state is not None:
        query = query.where(_STATES[state])
    return query.order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc())
