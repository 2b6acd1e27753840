"""Orders: the state machine that is the only place a status changes (opening.py opens them)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from checkout import alerts, audit, metrics, money, notifications, receipts
from checkout.audit import Action, Actor
from checkout.database import in_transaction
from checkout.errors import DomainError
from checkout.extensions import db
from checkout.models import (
    Order,
    OrderEvent,
    OrderStatus,
    PaymentMode,
    Refund,
    utcnow,
)
from checkout.notifications import ProviderEvent

ORDER_ID = re.compile(r"^ord_[0-9a-f]{24}\Z")


class NotUnderpaid(DomainError):
    """An admin asked to accept an underpayment of an order that is not underpaid."""


# Status groupings: every module and template asks these, never a list of its own.
# A customer may start (or retry) paying.
PAYABLE = frozenset({OrderStatus.PENDING, OrderStatus.FAILED})
# A payment is under way or may still arrive without the customer doing anything.
UNFINISHED = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})
# Not paid yet, and not given up on.
UNPAID = PAYABLE | UNFINISHED
# A sale that went through at its price (or an accepted underpayment), whatever refunds or
# disputes followed: what payment links count as uses and analytics as revenue.
COMPLETED = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
        OrderStatus.DISPUTED,
    }
)
# Money arrived, whatever happened to it since.
RECEIVED = COMPLETED | {OrderStatus.UNDERPAID, OrderStatus.DISPUTE_LOST}
# What Stripe lets an admin refund (it refuses refunds of a disputed charge).
REFUNDABLE = frozenset({OrderStatus.PAID, OrderStatus.UNDERPAID, OrderStatus.PARTIALLY_REFUNDED})
# An admin has to decide (accept or refund) or answer (evidence for the bank).
NEEDS_ADMIN = frozenset({OrderStatus.UNDERPAID, OrderStatus.DISPUTED})
# Nothing more happens on the checkout page.
FINAL = RECEIVED | {OrderStatus.CANCELED, OrderStatus.EXPIRED}
# Left unpaid with no payment under way: expired after ORDER_EXPIRY_SECONDS.
EXPIRABLE = PAYABLE
# A payment Stripe reports is recorded: an expired order's PaymentIntent (or Checkout
# Session) may still be paid, and that money must not go unrecorded.
TAKES_PAYMENT = UNPAID | {OrderStatus.EXPIRED}
# What a provider may cancel: no payment under way or made (payments.cancel).
CANCELABLE = PAYABLE | {OrderStatus.EXPIRED}
# Refund statuses of Stripe's that count towards the refunded total.
ACTIVE_REFUND = frozenset({"pending", "requires_action", "succeeded"})


def is_payable(order: Order) -> bool:
    """Whether the customer may start or retry paying."""
    return order.status in PAYABLE


def is_unpaid(order: Order) -> bool:
    """Whether the order still waits for its money."""
    return order.status in UNPAID


def is_final(order: Order) -> bool:
    """Whether nothing more happens on the order's checkout page."""
    return order.status in FINAL


def paid_minor(order: Order) -> int:
    """What Stripe received for the order, in minor units."""
    return order.amount_minor if order.paid_amount_minor is None else order.paid_amount_minor


def refundable_minor(order: Order) -> int:
    """What is left to refund, in minor units; 0 where no refund is possible."""
    if order.status not in REFUNDABLE:
        return 0
    return max(paid_minor(order) - order.refunded_amount_minor, 0)


def is_fully_refunded(order: Order) -> bool:
    """Whether everything received has been refunded."""
    return order.status in RECEIVED and order.refunded_amount_minor >= paid_minor(order) > 0


def _covers_order(order: Order) -> bool:
    """Whether the payment received pays the order in full, in its currency."""
    currency = order.paid_currency or order.currency
    return currency == order.currency and paid_minor(order) >= order.amount_minor


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

_REFUND_OR_DISPUTE = {
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED,
    OrderStatus.DISPUTED,
    OrderStatus.DISPUTE_LOST,
}
# Which status may follow which. Anything else (a late failure after paid) is ignored.
TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.PENDING: {
        OrderStatus.PROCESSING,
        OrderStatus.PAID,
        OrderStatus.UNDERPAID,
        OrderStatus.FAILED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    },
    OrderStatus.PROCESSING: {
        OrderStatus.PAID,
        OrderStatus.UNDERPAID,
        OrderStatus.FAILED,
        OrderStatus.CANCELED,
    },
    OrderStatus.FAILED: {
        OrderStatus.PROCESSING,
        OrderStatus.PAID,
        OrderStatus.UNDERPAID,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    },
    # Only a payment Stripe still reports moves an expired order; a failure does not. Its
    # provider may still cancel it.
    OrderStatus.EXPIRED: {
        OrderStatus.PROCESSING,
        OrderStatus.PAID,
        OrderStatus.UNDERPAID,
        OrderStatus.CANCELED,
    },
    # An admin accepts an underpayment (paid) or refunds it.
    OrderStatus.UNDERPAID: {OrderStatus.PAID, *_REFUND_OR_DISPUTE},
    OrderStatus.PAID: _REFUND_OR_DISPUTE,
    # A refund that fails goes back: to paid (or underpaid) when none is left.
    OrderStatus.PARTIALLY_REFUNDED: {OrderStatus.PAID, OrderStatus.UNDERPAID, *_REFUND_OR_DISPUTE},
    OrderStatus.REFUNDED: {OrderStatus.PAID, OrderStatus.UNDERPAID, *_REFUND_OR_DISPUTE},
    # A dispute won goes back to where the order was when it was opened.
    OrderStatus.DISPUTED: {
        OrderStatus.PAID,
        OrderStatus.UNDERPAID,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
        OrderStatus.DISPUTE_LOST,
    },
    # Only a canceled Buy Button order's late payment (takes_payment).
    OrderStatus.CANCELED: {OrderStatus.PAID, OrderStatus.UNDERPAID},
    OrderStatus.DISPUTE_LOST: set(),
}


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


def _stale(order: Order, event_created: datetime | None) -> bool:
    """Whether an event is older than the one behind the order's latest change."""
    return (
        event_created is not None
        and order.last_event_at is not None
        and event_created < order.last_event_at
    )


def _move(
    order: Order,
    target: OrderStatus,
    event: ProviderEvent | None,
    *,
    source: str,
    event_created: datetime | None = None,
) -> bool:
    """Change a locked order's status if the rules allow, with its timeline line and the
    provider's notification in the same transaction; return whether it changed."""
    if target is order.status:
        return False
    if target not in TRANSITIONS[order.status]:
        note(order, "ignored", f"{source}: {target} ignored, order is {order.status}")
        return False
    previous = order.status
    order.status = target
    # A payment link's hold ends with the status it was taken in: a payment under way holds
    # by its status, and a failure, cancellation or expiry frees the use at once.
    order.held_until = None
    if event_created is not None and (
        order.last_event_at is None or event_created > order.last_event_at
    ):
        order.last_event_at = event_created
    note(order, "status", f"{previous} → {target} ({source})")
    if target in _COUNTED:
        metrics.count_after_commit(_COUNTED[target], order.mode.value)
    alerts.order_moved(order, target, source)
    receipts.order_moved(order, previous, target)
    if event is not None:
        notifications.record_for_order(order, event)
    return True


# The source of changes reconciliation makes (payments.reconcile).
RECONCILIATION = alerts.RECONCILIATION


# The status changes metrics count, by payment mode.
_COUNTED = {
    OrderStatus.PAID: metrics.PAYMENTS_PAID,
    OrderStatus.FAILED: metrics.PAYMENTS_FAILED,
}


OUTCOME_EVENT = {
    Outcome.PROCESSING: None,
    Outcome.FAILED: ProviderEvent.PAYMENT_FAILED,
    Outcome.CANCELED: ProviderEvent.PAYMENT_CANCELED,
}


def apply_outcome(
    order: Order,
    outcome: Outcome,
    *,
    source: str,
    payment_intent_id: str | None = None,
    amount_received_minor: int | None = None,
    currency_received: str | None = None,
    event_created: datetime | None = None,
) -> bool:
    """Move a locked order to the status an outcome implies; return whether it changed.

    A payment below the order's amount, or in another currency, is underpaid, never paid.
    An event older than the order's latest change never moves it backwards. The
    provider's notification is written in the same transaction as the change.
    """
    if payment_intent_id and not order.stripe_payment_intent_id:
        _adopt_payment_intent(order, payment_intent_id, source=source)
    if outcome is not Outcome.SUCCEEDED:
        if _stale(order, event_created) and order.status is not TARGET[outcome]:
            note(order, "ignored", f"{source}: {outcome} ignored, older than the last change")
            return False
        return _move(
            order,
            TARGET[outcome],
            OUTCOME_EVENT[outcome],
            source=source,
            event_created=event_created,
        )
    if not takes_payment(order):
        if order.status not in RECEIVED:
            note(order, "ignored", f"{source}: {outcome} ignored, order is {order.status}")
        return False
    if order.status is OrderStatus.EXPIRED:
        note(order, "late_payment", f"{source}: paid after the order expired")
    elif order.status is OrderStatus.CANCELED:
        note(order, "late_payment", f"{source}: paid after the order was canceled")
    _record_payment(order, amount_received_minor, currency_received)
    if _covers_order(order):
        target, event = OrderStatus.PAID, ProviderEvent.PAYMENT_SUCCEEDED
    else:
        target, event = OrderStatus.UNDERPAID, ProviderEvent.PAYMENT_UNDERPAID
    _move(order, target, event, source=source, event_created=event_created)
    settle_refunds(order, source=source)  # refunds Stripe reported before the payment
    return True


def takes_payment(order: Order) -> bool:
    """Whether a payment Stripe reports for the order is recorded. A canceled Buy Button
    order's too: its customer may still pay on Stripe's page, which Kassa cannot close, and
    that money must not go unrecorded (a Cash App order's PaymentIntent is canceled)."""
    return order.status in TAKES_PAYMENT or (
        order.status is OrderStatus.CANCELED and order.mode is PaymentMode.BUY_BUTTON
    )


def _adopt_payment_intent(order: Order, payment_intent_id: str, *, source: str) -> None:
    """Remember the PaymentIntent that pays the order, unless another order has it already
    (an event naming a foreign PaymentIntent must not make the order unsavable)."""
    taken = db.session.scalar(
        select(Order.id).where(Order.stripe_payment_intent_id == payment_intent_id)
    )
    if taken is None:
        order.stripe_payment_intent_id = payment_intent_id
    elif taken != order.id:
        note(order, "ignored", f"{source}: PaymentIntent {payment_intent_id} pays order {taken}")


def settle_quantity(order: Order, quantity: int, *, source: str) -> bool:
    """Set a locked, unpaid order to the quantity the customer bought on Stripe's page;
    its amount follows at the order's unit price. Returns whether it changed."""
    if quantity == order.quantity or quantity < 1 or not takes_payment(order):
        return False
    amount = order.unit_price_minor * quantity
    if amount > money.MAX_MINOR:
        return False
    change_quantity(order, quantity, f"{source}: {order.quantity} → {quantity} bought")
    return True


def change_quantity(order: Order, quantity: int, why: str) -> None:
    """Set an unpaid order's quantity, with `why` on its timeline; its amount follows at
    the order's unit price (the price it was opened at)."""
    note(order, "quantity", why)
    order.quantity = quantity
    order.amount_minor = order.unit_price_minor * quantity


def _record_payment(order: Order, amount_minor: int | None, currency: str | None) -> None:
    order.paid_at = utcnow()
    order.paid_amount_minor = order.amount_minor if amount_minor is None else amount_minor
    order.paid_currency = (currency or order.currency).lower()[:3]
    if order.paid_amount_minor != order.amount_minor or order.paid_currency != order.currency:
        order.amount_mismatch = True
        paid = money.format_reported(order.paid_amount_minor, order.paid_currency)
        expected = money.format_money(order.amount_minor, order.currency)
        note(order, "amount_mismatch", f"Paid {paid}, expected {expected}")


def accept_underpaid(order_id: str, *, actor: Actor) -> Order | None:
    """An admin takes an underpayment as payment in full: paid, and the provider is told
    payment_succeeded with the amount really received. None for an unknown order."""

    def accept(order: Order) -> None:
        if order.status is not OrderStatus.UNDERPAID:
            raise NotUnderpaid(f"Order {order.id} is {order.status}, not underpaid")
        order.accepted_at = utcnow()
        audit.record(
            actor,
            Action.UNDERPAYMENT_ACCEPTED,
            "order",
            order.id,
            paid=order_display(order, order.paid_amount_minor or 0),
            amount=money.format_money(order.amount_minor, order.currency),
        )
        _move(
            order,
            OrderStatus.PAID,
            ProviderEvent.PAYMENT_SUCCEEDED,
            source=f"accepted by {actor.label}",
        )

    return _change_locked(order_id, accept)


# Refunds: kept per Stripe refund id, the order's total is what they add up to.


def record_refund(
    order: Order | None,
    *,
    refund_id: str,
    payment_intent_id: str | None,
    amount_minor: int,
    currency: str,
    status: str,
    request_key: str | None = None,
    reason: str | None = None,
) -> Refund:
    """Store a refund as Stripe reports it; failed and canceled are final. The caller then
    settles the order's total (settle_refunds) and commits."""
    row = db.session.get(Refund, refund_id, with_for_update=True)
    if row is None:
        row = Refund(
            id=refund_id,
            payment_intent_id=payment_intent_id,
            amount_minor=amount_minor,
            currency=currency,
            status=status,
        )
        db.session.add(row)
    elif row.status not in ("failed", "canceled"):
        row.status = status
        row.amount_minor = amount_minor
    # Stripe's event may have recorded the refund first: it is still this request's.
    row.request_key = row.request_key or request_key
    row.reason = row.reason or reason
    if order is not None:
        row.order_id = order.id
        row.payment_intent_id = row.payment_intent_id or order.stripe_payment_intent_id
    db.session.flush()
    return row


def settle_refunds(order: Order, *, source: str) -> bool:
    """Bring a locked order's refunded total and status in line with its refunds; return
    whether it changed.

    Refunds that arrived before the payment wait until the order is paid. A refund that
    failed or was canceled leaves the total; the total never exceeds what was paid.
    """
    if order.status not in RECEIVED or order.status is OrderStatus.DISPUTE_LOST:
        return False
    if order.stripe_payment_intent_id:
        db.session.execute(
            update(Refund)
            .where(
                Refund.payment_intent_id == order.stripe_payment_intent_id,
                Refund.order_id.is_(None),
            )
            .values(order_id=order.id)
            .execution_options(synchronize_session=False)
        )
    total = db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.order_id == order.id, Refund.status.in_(ACTIVE_REFUND)
        )
    )
    paid = paid_minor(order)
    if total > paid:
        note(
            order,
            "refund",
            f"{source}: refunds add up to {order_display(order, total)}, more than the "
            f"{order_display(order, paid)} paid; counted as {order_display(order, paid)}",
        )
        total = paid
    previous = order.refunded_amount_minor
    if total == previous:
        return False
    order.refunded_amount_minor = total
    event = ProviderEvent.PAYMENT_REFUNDED if total > previous else ProviderEvent.REFUND_FAILED
    receipts.refunded(order, total - previous)
    note(
        order,
        "refund",
        f"Refunded {order_display(order, total)} in all, was {order_display(order, previous)} "
        f"({source})",
    )
    if order.status is OrderStatus.DISPUTED:
        target = OrderStatus.DISPUTED
    elif total == 0:
        target = (
            OrderStatus.PAID if order.accepted_at or _covers_order(order) else OrderStatus.UNDERPAID
        )
    else:
        target = OrderStatus.REFUNDED if total >= paid else OrderStatus.PARTIALLY_REFUNDED
    if not _move(order, target, event, source=source):
        notifications.record_for_order(order, event)  # the total changed, the status did not
    return True


def order_display(order: Order, minor: int) -> str:
    """An amount in the currency the order was paid in."""
    return money.format_reported(minor, order.paid_currency or order.currency)


# Disputes


@dataclass(frozen=True)
class Dispute:
    """The parts of a Stripe dispute an order keeps."""

    id: str
    status: str
    reason: str | None
    amount_minor: int | None
    evidence_due_by: datetime | None


def _keep_dispute(order: Order, dispute: Dispute) -> None:
    order.dispute_id = dispute.id
    order.dispute_status = dispute.status[:40]
    order.dispute_reason = (dispute.reason or "")[:80] or None
    order.dispute_amount_minor = dispute.amount_minor
    order.dispute_evidence_due_by = dispute.evidence_due_by


def open_dispute(
    order: Order, dispute: Dispute, *, source: str, event_created: datetime | None = None
) -> bool:
    """A customer disputed the payment with their bank: the order is disputed until Stripe
    closes it. Returns whether the order changed."""
    if order.status not in RECEIVED or order.status is OrderStatus.DISPUTE_LOST:
        note(order, "ignored", f"{source}: dispute ignored, order is {order.status}")
        return False
    _keep_dispute(order, dispute)
    if order.status is OrderStatus.DISPUTED:
        return True
    order.status_before_dispute = order.status
    return _move(
        order,
        OrderStatus.DISPUTED,
        ProviderEvent.PAYMENT_DISPUTED,
        source=source,
        event_created=event_created,
    )


def update_dispute(
    order: Order, dispute: Dispute, *, source: str, event_created: datetime | None = None
) -> bool:
    """Keep a dispute's new status and deadline (evidence submitted, under review)."""
    if order.dispute_id not in (None, dispute.id) or order.dispute_status == dispute.status:
        return False
    note(order, "dispute", f"Dispute {dispute.id}: {order.dispute_status} → {dispute.status}")
    _keep_dispute(order, dispute)
    return True


def close_dispute(
    order: Order, dispute: Dispute, *, source: str, event_created: datetime | None = None
) -> bool:
    """Stripe closed the dispute: won goes back to where the order was, lost is final."""
    if order.status not in RECEIVED or order.status is OrderStatus.DISPUTE_LOST:
        note(order, "ignored", f"{source}: dispute ignored, order is {order.status}")
        return False
    _keep_dispute(order, dispute)
    if dispute.status == "lost":
        return _move(
            order,
            OrderStatus.DISPUTE_LOST,
            ProviderEvent.DISPUTE_LOST,
            source=source,
            event_created=event_created,
        )
    note(order, "dispute", f"Dispute {dispute.id} closed: {dispute.status} ({source})")
    if order.status is not OrderStatus.DISPUTED:
        return True
    return _move(
        order,
        order.status_before_dispute or OrderStatus.PAID,
        ProviderEvent.DISPUTE_WON,
        source=source,
        event_created=event_created,
    )


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


def find_order(order_id: str | None) -> Order | None:
    """The order with this public id, or None for anything else (including junk)."""
    if not isinstance(order_id, str) or not ORDER_ID.match(order_id):
        return None
    return db.session.get(Order, order_id, options=WITH_PARTIES)


# Expiry of abandoned orders

EXPIRY_BATCH = 200


def expire_abandoned(older_than: timedelta) -> int:
    """Expire orders left unpaid (pending or failed, no payment under way) for longer than
    `older_than`, each in its own transaction; returns how many.

    Only an order a provider opened through the API tells the provider (order_expired);
    a payment link's order was never announced to anyone. A payment Stripe reports later
    is still recorded (TAKES_PAYMENT).
    """
    cutoff = utcnow() - older_than
    ids = db.session.scalars(
        select(Order.id)
        .where(Order.status.in_(EXPIRABLE), Order.created_at <= cutoff)
        .order_by(Order.created_at)
        .limit(EXPIRY_BATCH)
    ).all()
    db.session.commit()

    def expire(order_id: str) -> bool:
        order = lock_order(order_id)
        if order is None or order.status not in EXPIRABLE or order.created_at > cutoff:
            return False  # paid, or a payment started, since the ids were read
        by_api = order.provider_id is not None and order.payment_link_id is None
        event = ProviderEvent.ORDER_EXPIRED if by_api else None
        return _move(order, OrderStatus.EXPIRED, event, source="left unpaid")

    return sum(in_transaction(partial(expire, order_id)) for order_id in ids)
