"""Paying an order: Stripe PaymentIntents, their status, and the sandbox that stands in for them."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from checkout import audit, customer_details, discounts, orders, stripe_gateway
from checkout.audit import Action, Actor
from checkout.database import in_transaction
from checkout.errors import DomainError
from checkout.extensions import db
from checkout.models import Order, OrderStatus, PaymentMode, Refund, Service, utcnow
from checkout.orders import Outcome
from checkout.stripe_gateway import (
    CheckoutSessionView,
    PaymentIntentView,
    RefundView,
    StripeError,
)

OUTCOME_BY_INTENT_STATUS = {
    "processing": Outcome.PROCESSING,
    "succeeded": Outcome.SUCCEEDED,
    "canceled": Outcome.CANCELED,
}

# How often a customer back from Cash App may make Kassa ask Stripe about one order
# (STRIPE_REFRESH_SECONDS).
SYNC_INTERVAL = timedelta(seconds=10)
# Stripe retries a webhook for three days; past that an unfinished order is left alone.
RECONCILE_WINDOW = timedelta(days=3)
RECONCILE_BATCH = 100
# Refunds made in sandbox mode: ids Stripe never uses.
SANDBOX_REFUND = "sandbox_re_"
log = logging.getLogger(__name__)


class RefundError(DomainError):
    """A refund amount the order does not allow (more than is left, part of an underpayment)."""

    param = "amount"


class RefundNotAllowed(RefundError):
    """An order whose state allows no refund: not paid, disputed, or refunded in full."""

    param = None


class CancelRefused(DomainError):
    """An order whose payment is under way or done, which can no longer be canceled."""


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
                currency_received=intent.currency,
            )
        return order

    return in_transaction(work)


# What a completed Checkout Session's payment_status means for its order.
OUTCOME_BY_SESSION_PAYMENT_STATUS = {
    "paid": Outcome.SUCCEEDED,
    "no_payment_required": Outcome.SUCCEEDED,
    "unpaid": Outcome.PROCESSING,
}
ORDER_KIND_NAMES = {PaymentMode.CASHAPP: "a Cash App", PaymentMode.BUY_BUTTON: "a Buy Button"}


def session_problem(order: Order, session: CheckoutSessionView) -> str | None:
    """Why a Checkout Session does not pay this order, or None when it does.

    Anyone can put ?client_reference_id= on any Payment Link's URL, so the reference alone
    proves nothing: the session must come from the Payment Link behind the order's Buy
    Button, in the order's currency.
    """
    if order.mode is not PaymentMode.BUY_BUTTON:
        return f"{order.id} is {ORDER_KIND_NAMES[order.mode]} order, not a Buy Button order"
    expected = order.service.stripe_payment_link_id
    if not expected:
        return f"service {order.service.slug} has no Stripe Payment Link ID"
    if session.payment_link != expected:
        paid = f"Payment Link {session.payment_link}" if session.payment_link else "no Payment Link"
        return f"the session is from {paid}, not the service's {expected}"
    if session.currency != order.currency:
        currency = (session.currency or "no currency").upper()
        return f"the session is in {currency}, the order in {order.currency.upper()}"
    return None


def apply_checkout_session(
    order: Order,
    session: CheckoutSessionView,
    outcome: Outcome | None,
    *,
    source: str,
    event_created: datetime | None = None,
) -> str:
    """Apply a Checkout Session retrieved from Stripe to its locked order; say what it did.

    The webhook's handler and reconciliation both come here. Outcome None means: decide by
    the completed session's payment_status. The quantity is what the session's line item
    says was bought; the amount received is its amount_total (tax and discounts included),
    and a discount Stripe applied (total_details.amount_discount) lowers the amount due.
    """
    problem = session_problem(order, session)
    if problem is None and outcome is None:
        outcome = OUTCOME_BY_SESSION_PAYMENT_STATUS.get(session.payment_status or "")
        if session.status != "complete" or outcome is None:
            problem = f"the session is {session.status}, payment_status {session.payment_status}"
    if problem is not None:
        return f"ignored: {problem}"[:200]
    if outcome is not Outcome.FAILED:
        _settle_quantity(order, session, source)
        discounts.record_stripe_discount(order, session.amount_discount, source=source)
        if orders.takes_payment(order):
            customer_details.keep_from_stripe(order, session.custom_fields, session.customer_email)
    changed = orders.apply_outcome(
        order,
        outcome,
        source=source,
        payment_intent_id=session.payment_intent,
        amount_received_minor=session.amount_total,
        currency_received=session.currency,
        event_created=event_created,
    )
    return "applied" if changed else "no change"


def _settle_quantity(order: Order, session: CheckoutSessionView, source: str) -> None:
    if session.quantity is not None:
        orders.settle_quantity(order, session.quantity, source=source)
    elif session.line_item_count not in (None, 1) and orders.is_unpaid(order):
        orders.note(
            order,
            "quantity",
            f"{source}: {session.line_item_count} line items, not one; "
            f"quantity left at {order.quantity}",
        )


def prepare_cashapp_payment(
    order: Order, *, customer_returned: bool = False, every: timedelta = SYNC_INTERVAL
) -> str:
    """The client secret of the order's PaymentIntent, which Stripe.js confirms.

    Stripe is asked once per order, to create the PaymentIntent; after that the secret is
    read from the order, which webhooks and reconciliation keep current. Only a customer
    back from Cash App makes Kassa ask Stripe about the order, at most once per `every`.
    Raises stripe_gateway.CashAppUnavailable when Stripe refuses Cash App Pay to the
    account, and StripeError when Stripe fails otherwise.
    """
    if order.stripe_payment_intent_id is None:
        intent = _create_intent(order)
        _remember_intent(order.id, intent)
        return intent.client_secret
    if order.stripe_client_secret is None:  # opened before Kassa kept the secret
        intent = stripe_gateway.retrieve_payment_intent(order.stripe_payment_intent_id)
        _remember_intent(order.id, intent)
        apply_intent(order.id, intent, source="Stripe PaymentIntent")
        return intent.client_secret
    if customer_returned:
        try:
            refresh(order, every)
        except stripe_gateway.StripeError:
            # The page still works; webhooks and reconciliation bring the outcome.
            log.warning("Could not refresh order %s from Stripe", order.id, exc_info=True)
    return order.stripe_client_secret


def _create_intent(order: Order) -> PaymentIntentView:
    """Ask Stripe for the order's PaymentIntent, learning from how Stripe answers."""
    attempt = order.payment_attempt
    try:
        intent = stripe_gateway.create_cashapp_payment_intent(order)
    except stripe_gateway.CashAppUnavailable as refusal:
        # New orders are refused from now on, until Stripe takes Cash App Pay again.
        stripe_gateway.remember_cashapp_refusal(refusal.reason)
        raise
    except stripe_gateway.StripeError as error:
        if stripe_gateway.is_transient(error):
            _next_attempt(order.id, attempt, error)
        raise
    stripe_gateway.forget_cashapp_refusal()
    return intent


def _next_attempt(order_id: str, failed_attempt: int, error: stripe_gateway.StripeError) -> None:
    """Number the order's next creation anew: Stripe would replay this error for its key."""

    def work() -> None:
        order = orders.lock_order(order_id)
        if order is not None and order.payment_attempt == failed_attempt:
            order.payment_attempt = failed_attempt + 1
            status = error.http_status or "no answer"
            orders.note(
                order,
                "stripe_error",
                f"Stripe could not create the PaymentIntent ({status}); "
                f"the next try is attempt {failed_attempt + 1}",
            )

    in_transaction(work)


def _remember_intent(order_id: str, intent: PaymentIntentView) -> None:
    def work() -> None:
        order = orders.lock_order(order_id)
        if order is None:
            return
        if order.stripe_payment_intent_id is None:
            order.stripe_payment_intent_id = intent.id
            orders.note(order, "payment_intent", f"Stripe PaymentIntent {intent.id}")
        if order.stripe_payment_intent_id == intent.id and order.stripe_client_secret is None:
            order.stripe_client_secret = intent.client_secret

    in_transaction(work)


def refresh(order: Order, every: timedelta = SYNC_INTERVAL) -> Order:
    """Ask Stripe about an unfinished Cash App order, at most once per `every` for all
    web processes together."""
    if (
        stripe_gateway.has_stripe_keys()
        and order.mode is PaymentMode.CASHAPP
        and order.stripe_payment_intent_id
        and order.status in orders.UNFINISHED
        and _claim_sync(order.id, every)
    ):
        intent = stripe_gateway.retrieve_payment_intent(order.stripe_payment_intent_id)
        return apply_intent(order.id, intent, source="Stripe PaymentIntent") or order
    return order


def _claim_sync(order_id: str, every: timedelta) -> bool:
    """Note that the order is being synced now, unless it was within `every`; say whether."""
    now = utcnow()
    claimed = db.session.execute(
        update(Order)
        .where(
            Order.id == order_id,
            or_(Order.synced_at.is_(None), Order.synced_at <= now - every),
        )
        .values(synced_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claimed.rowcount == 1


def simulate(order_id: str, outcome: Outcome) -> Order | None:
    """Sandbox mode: drive the same state change a real payment would."""
    return orders.record_outcome(order_id, outcome, source="sandbox")


def _due_for_reconciliation(after: timedelta, now: datetime) -> tuple:
    """Orders unfinished for longer than `after`, within Stripe's retry window, and not
    synced with Stripe since."""
    return (
        Order.status.in_(orders.UNFINISHED),
        Order.created_at <= now - after,
        Order.created_at >= now - RECONCILE_WINDOW,
        or_(Order.synced_at.is_(None), Order.synced_at <= now - after),
    )


def reconcile(after: timedelta) -> int:
    """Apply what missed webhooks would have: sync orders unfinished for longer than `after`."""
    if stripe_gateway.is_sandbox():
        return 0
    now = utcnow()
    rows = db.session.execute(
        select(Order.id, Order.stripe_payment_intent_id)
        .where(*_due_for_reconciliation(after, now), Order.stripe_payment_intent_id.is_not(None))
        .order_by(Order.created_at)
        .limit(RECONCILE_BATCH)
    ).all()
    db.session.commit()
    for order_id, intent_id in rows:
        try:
            intent = stripe_gateway.retrieve_payment_intent(intent_id)
        except stripe_gateway.StripeError:
            log.warning("Reconciliation could not fetch %s for %s", intent_id, order_id)
            continue
        apply_intent(order_id, intent, source=orders.RECONCILIATION)
    return len(rows) + _reconcile_buy_button_orders(after, now)


# A Payment Link's sessions are read newest first, at most this many pages of 100 per run;
# sessions are looked for from a little before the oldest order (clocks differ).
SESSION_PAGES_MAX = 10
SESSION_CLOCK_SLACK = timedelta(minutes=5)


def _reconcile_buy_button_orders(after: timedelta, now: datetime) -> int:
    """Settle Buy Button orders unfinished for longer than `after` from the completed
    sessions of their service's Payment Link, matched on client_reference_id."""
    rows = db.session.execute(
        select(Order.id, Order.created_at, Service.stripe_payment_link_id)
        .join(Service, Order.service_id == Service.id)
        .where(
            *_due_for_reconciliation(after, now),
            Order.mode == PaymentMode.BUY_BUTTON,
            Service.stripe_payment_link_id.is_not(None),
        )
        .order_by(Order.created_at)
        .limit(RECONCILE_BATCH)
    ).all()
    db.session.commit()
    by_link: dict[str, dict[str, datetime]] = {}
    for order_id, created_at, link_id in rows:
        by_link.setdefault(link_id, {})[order_id] = created_at
    for link_id, wanted in by_link.items():
        try:
            found = _completed_sessions(link_id, wanted)
        except stripe_gateway.StripeError:
            log.warning("Reconciliation could not list the sessions of %s", link_id)
            continue
        for order_id in wanted:
            session_id = found.get(order_id)
            try:
                session = (
                    CheckoutSessionView.of(stripe_gateway.retrieve_checkout_session(session_id))
                    if session_id
                    else None
                )
            except stripe_gateway.StripeError:
                log.warning("Reconciliation could not fetch %s for %s", session_id, order_id)
                continue
            _apply_reconciled_session(order_id, session)
    return len(rows)


def _completed_sessions(link_id: str, wanted: dict[str, datetime]) -> dict[str, str]:
    """The id of the session that best pays each wanted order: a paid one, else the newest."""
    since = min(wanted.values()) - SESSION_CLOCK_SLACK
    found: dict[str, CheckoutSessionView] = {}
    starting_after = None
    for _ in range(SESSION_PAGES_MAX):
        page = stripe_gateway.list_payment_link_sessions(link_id, since, starting_after)
        for session in page.sessions:
            reference = session.client_reference_id
            if reference not in wanted or session.id is None:
                continue
            known = found.get(reference)
            if known is None or (_unpaid(known) and not _unpaid(session)):
                found[reference] = session
        settled = len(found) == len(wanted) and not any(map(_unpaid, found.values()))
        if settled or not page.has_more or not page.sessions or page.sessions[-1].id is None:
            break
        starting_after = page.sessions[-1].id
    return {order_id: session.id for order_id, session in found.items()}


def _unpaid(session: CheckoutSessionView) -> bool:
    return session.payment_status == "unpaid"


def _apply_reconciled_session(order_id: str, session: CheckoutSessionView | None) -> None:
    def work() -> None:
        order = orders.lock_order(order_id)
        if order is None:
            return
        order.synced_at = utcnow()
        if session is not None:
            result = apply_checkout_session(order, session, None, source=orders.RECONCILIATION)
            if result.startswith("ignored"):
                log.warning("Reconciliation of %s with %s: %s", order_id, session.id, result)

    in_transaction(work)


def _refund_amount(order: Order, amount_minor: int | None) -> int:
    """The amount to refund (None: all that is left); RefundError if the order has less."""
    refundable = orders.refundable_minor(order)
    amount = refundable if amount_minor is None else amount_minor
    if refundable <= 0:
        raise RefundNotAllowed("This order is already fully refunded")
    if not 0 < amount <= refundable:
        left = orders.order_display(order, refundable)
        raise RefundError(
            f"The refund must be more than zero and at most what is left to refund ({left})"
        )
    if order.status is OrderStatus.UNDERPAID and amount != refundable:
        raise RefundError("An underpaid payment is refunded in full, or accepted")
    return amount


@dataclass(frozen=True)
class RefundRequested:
    """A refund asked for: its id, whether sandbox mode made it at once, and whether this
    request repeated one already made (a double click, an API request sent again)."""

    refund_id: str
    sandbox: bool = False
    repeated: bool = False


def refund(
    order_id: str,
    amount_minor: int | None,
    request_key: str,
    *,
    actor: Actor,
    reason: str | None = None,
) -> RefundRequested:
    """Refund a paid order, fully or in part, once per request_key (the admin form
    submission's token or the API request's, also Stripe's idempotency key).

    The refund is recorded and the order's total changes at once; Stripe's later refund
    events confirm it, or take it back out if it fails. An underpaid order is refunded in
    full or accepted, never in part.
    """
    earlier = db.session.scalar(select(Refund).where(Refund.request_key == request_key))
    if earlier is not None:
        return RefundRequested(earlier.id, earlier.id.startswith(SANDBOX_REFUND), repeated=True)
    order = _refundable_order(order_id)
    amount = _refund_amount(order, amount_minor)
    sandbox = stripe_gateway.is_sandbox()
    made = _make_refund(order, amount, request_key, sandbox, reason)
    try:
        in_transaction(lambda: _record_refund(order.id, made, request_key, reason, actor))
    except RefundError:
        db.session.rollback()
        raise
    except IntegrityError:  # the same submission, at the same moment
        db.session.rollback()
        return RefundRequested(made.id, sandbox, repeated=True)
    return RefundRequested(made.id, sandbox)


def _refundable_order(order_id: str) -> Order:
    """The order, if it may be refunded; else a RefundError saying why not."""
    order = orders.find_order(order_id)
    if order is None or order.status not in orders.REFUNDABLE:
        if order is not None and orders.is_fully_refunded(order):
            raise RefundNotAllowed("This order is already fully refunded")
        if order is not None and order.status is OrderStatus.DISPUTED:
            raise RefundNotAllowed("Only a paid order can be refunded: this one is disputed")
        status = f": this one is {order.status}" if order is not None else ""
        raise RefundNotAllowed(f"Only a paid order can be refunded{status}")
    return order


def _make_refund(
    order: Order, amount: int, request_key: str, sandbox: bool, reason: str | None
) -> RefundView:
    """The refund Stripe made (or, in the sandbox, one made up, named after request_key)."""
    if sandbox:
        digest = hashlib.sha256(request_key.encode()).hexdigest()[:24]
        return RefundView(
            SANDBOX_REFUND + digest,
            amount,
            order.paid_currency or order.currency,
            "succeeded",
            order.stripe_payment_intent_id,
        )
    if not order.stripe_payment_intent_id:
        raise RefundNotAllowed("This order has no Stripe payment to refund")
    return stripe_gateway.create_refund(
        order.stripe_payment_intent_id, amount, f"kassa-refund-{request_key}", reason
    )


def _record_refund(
    order_id: str, made: RefundView, request_key: str, reason: str | None, actor: Actor
) -> None:
    """Record the refund on the locked order, its timeline line and its audit entry."""
    locked = orders.lock_order(order_id)
    sandbox = made.id.startswith(SANDBOX_REFUND)
    if sandbox:
        # Checked again with the order locked: a refund made at the same moment may
        # have taken what was left. (Stripe itself refuses more than its charge.)
        _refund_amount(locked, made.amount)
    orders.record_refund(
        locked,
        refund_id=made.id,
        payment_intent_id=made.payment_intent or locked.stripe_payment_intent_id,
        amount_minor=made.amount,
        currency=made.currency,
        status=made.status,
        request_key=request_key,
        reason=reason,
    )
    orders.note(
        locked,
        "refund",
        f"Refund {made.id} of {orders.order_display(locked, made.amount)}: {made.status}",
    )
    orders.settle_refunds(locked, source="sandbox" if sandbox else "admin refund")
    audit.record(
        actor,
        Action.ORDER_REFUNDED,
        "order",
        locked.id,
        refund=made.id,
        amount=orders.order_display(locked, made.amount),
        status=made.status,
    )


def refunds_of(order_id: str) -> list[Refund]:
    """An order's refunds, oldest first, failed and canceled ones included."""
    query = select(Refund).where(Refund.order_id == order_id)
    return list(db.session.scalars(query.order_by(Refund.created_at, Refund.id)))


def requested_refund(request_key: str) -> Refund | None:
    """The refund a request_key asked for, if one was made."""
    return db.session.scalar(select(Refund).where(Refund.request_key == request_key))


# Cancelling


def cancel(order_id: str, *, actor: Actor) -> Order:
    """Cancel an order nobody is paying, and its PaymentIntent at Stripe, so that it can no
    longer be paid; the provider hears payment_canceled. One already canceled is returned
    as it is; one being paid or paid raises CancelRefused."""
    order = orders.find_order(order_id)
    if order.status is OrderStatus.CANCELED:
        return order
    _refuse_uncancelable(order)
    if order.stripe_payment_intent_id and not stripe_gateway.is_sandbox():
        _cancel_intent(order)

    def work() -> Order:
        locked = orders.lock_order(order_id)
        if locked.status is not OrderStatus.CANCELED:
            _refuse_uncancelable(locked)
            orders.apply_outcome(locked, Outcome.CANCELED, source=f"canceled by {actor.label}")
        audit.record(actor, Action.ORDER_CANCELED, "order", locked.id)
        return locked

    return in_transaction(work)


def _refuse_uncancelable(order: Order) -> None:
    if order.status in orders.CANCELABLE:
        return
    if order.status is OrderStatus.PROCESSING:
        raise CancelRefused("A payment of this order is under way, so it cannot be canceled")
    instead = ": refund it instead" if order.status in orders.REFUNDABLE else ""
    raise CancelRefused(f"This order is {order.status}, so it cannot be canceled{instead}")


def _cancel_intent(order: Order) -> None:
    """Cancel the order's PaymentIntent; when Stripe refuses (the customer has paid, or is
    paying), bring the order in line with it and raise CancelRefused."""
    payment_intent_id = order.stripe_payment_intent_id
    try:
        stripe_gateway.cancel_payment_intent(payment_intent_id)
    except StripeError as error:
        if not stripe_gateway.is_refusal(error):
            raise
        intent = stripe_gateway.retrieve_payment_intent(payment_intent_id)
        apply_intent(order.id, intent, source="Stripe, asked to cancel")
        if intent.status != "canceled":
            raise CancelRefused(
                f"Stripe's payment of this order is {intent.status}, so it cannot be canceled"
            ) from None


def payment_link_problems() -> list[str]:
    """What is wrong with the Stripe Payment Links behind active services' Buy Buttons.

    Each problem names its service; an empty list means every Payment Link exists, is
    active and charges the service's currency.
    """
    services = db.session.scalars(
        select(Service)
        .where(Service.active, Service.buy_button_id.is_not(None))
        .order_by(Service.slug)
    ).all()
    problems = []
    for service in services:
        link_id = service.stripe_payment_link_id
        name = f"Service {service.slug}"
        if not link_id:
            problems.append(f"{name}: its Buy Button has no Stripe Payment Link ID (plink_…)")
            continue
        try:
            link = stripe_gateway.retrieve_payment_link(link_id)
        except stripe_gateway.StripeError as error:
            if stripe_gateway.is_missing(error):
                problems.append(f"{name}: Stripe has no Payment Link {link_id}")
            else:
                problems.append(f"{name}: Payment Link {link_id} could not be checked ({error})")
            continue
        if not link.active:
            problems.append(f"{name}: Payment Link {link_id} is not active")
        elif link.currency and link.currency != service.currency:
            problems.append(
                f"{name}: Payment Link {link_id} charges {link.currency.upper()}, "
                f"the service is priced in {service.currency.upper()}"
            )
    return problems
