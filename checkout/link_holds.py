"""Holds on a limited payment link's uses: a customer who starts paying holds one until the
payment ends or the checkout page stops polling, and one address starts only so many.

An order with a limited discount code holds one of the code's redemptions the same way
and by the same hold (issue 21): one `held_until` holds the link's use and the code's
redemption, so neither is ever sold more often than its limit."""

import hashlib
import hmac
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from checkout import database, discounts, orders, payment_links, throttle
from checkout.discount_models import DiscountCode
from checkout.extensions import db
from checkout.models import Order, OrderStatus, PaymentLink, utcnow

HOLD_BUCKET = "link-hold"


class LinkBusy(payment_links.LinkUnavailable):
    """Every remaining payment of a limited link is being made right now; `frees_at` is
    when the first hold may end (None while only payments under way hold them)."""

    reason = "busy"

    def __init__(self, message: str, frees_at: datetime | None = None):
        super().__init__(message)
        self.frees_at = frees_at


class HoldLimitReached(payment_links.LinkUnavailable):
    """The client has started paying for the link as often as LINK_HOLDS_PER_CLIENT allows
    in LINK_HOLD_WINDOW_SECONDS; it may start again at `frees_at`."""

    reason = "hold_limit"

    def __init__(self, message: str, wait: throttle.Lockout):
        super().__init__(message)
        self.retry_after = wait.seconds
        self.frees_at = utcnow() + timedelta(seconds=wait.seconds)


def hold_time() -> timedelta:
    """The longest a hold lasts, however long the checkout page polls (LINK_HOLD_SECONDS)."""
    return timedelta(seconds=current_app.config["LINK_HOLD_SECONDS"])


def first_hold_time() -> timedelta:
    """How long a hold lasts past its start or the page's last poll (LINK_FIRST_HOLD_SECONDS)."""
    return timedelta(seconds=current_app.config["LINK_FIRST_HOLD_SECONDS"])


def _hold_window() -> timedelta:
    return timedelta(seconds=current_app.config["LINK_HOLD_WINDOW_SECONDS"])


def holding(now: datetime):
    """The orders that hold a use: a payment under way, or a customer who started paying and
    whose hold has not ended. An order nobody started paying holds nothing; a failure,
    cancellation or expiry ends its hold at once (orders._move clears it)."""
    return or_(
        Order.status == OrderStatus.PROCESSING,
        Order.status.in_(orders.PAYABLE) & (Order.held_until > now),
    )


def _taken(whose, now: datetime, besides: str | None) -> int:
    """Orders (`whose`: of a link, or with a code) that are paid or hold a use now, but
    `besides`, counted in one statement: counting the paid and the held in two would miss
    an order paid in between (PostgreSQL's READ COMMITTED reads each with its own snapshot;
    a payment takes no link or code lock), and let one use too many be held."""
    query = (
        select(func.count())
        .select_from(Order)
        .where(whose, Order.status.in_(orders.COMPLETED) | holding(now))
    )
    if besides is not None:
        query = query.where(Order.id != besides)
    return db.session.scalar(query)


def holds_use(order: Order, now: datetime) -> bool:
    """Whether the order holds one of its link's uses now."""
    return order.status is OrderStatus.PROCESSING or (
        orders.is_payable(order) and order.held_until is not None and order.held_until > now
    )


def has_timed_hold(order: Order) -> bool:
    """Whether the order holds a use that ends unless its checkout page keeps polling."""
    return orders.is_payable(order) and holds_use(order, utcnow())


def _keyed(kind: str, link_id: str, value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{kind}|{link_id}|{value}".encode(), hashlib.sha256).hexdigest()


def client_hash(link_id: str, client: str) -> str:
    """A per-link keyed hash of the client (its address, or IPv6 /64: throttle.client_key);
    the address itself is never stored."""
    return _keyed("link-hold", link_id, throttle.client_key(client))


def browser_hash(link_id: str, browser: str) -> str:
    """A per-link keyed hash of the browser's visitor cookie (links.routes sets it)."""
    return _keyed("link-browser", link_id, browser)


def busy_refusal(link_id: str, now: datetime) -> LinkBusy:
    """The refusal of a full link, with the earliest time one of its holds may end."""
    frees_at = db.session.scalar(
        select(func.min(Order.held_until)).where(
            Order.payment_link_id == link_id,
            Order.status.in_(orders.PAYABLE),
            Order.held_until > now,
        )
    )
    return LinkBusy(
        "Every remaining payment of this link is being made right now. Try again in a few minutes.",
        frees_at,
    )


def is_full(link: PaymentLink, now: datetime, besides: str | None = None) -> bool:
    """Whether every use of a limited link is paid or held (by an order other than `besides`)."""
    return _taken(Order.payment_link_id == link.id, now, besides) >= link.max_uses


def _needs_hold(order: Order, now: datetime) -> bool:
    link = order.payment_link
    return (
        link is not None
        and link.max_uses is not None
        and orders.is_payable(order)
        and not holds_use(order, now)
    )


def _hold_limit(link_id: str, client: str) -> HoldLimitReached | None:
    """The refusal of a client that started as many holds on the link as the window allows."""
    config = current_app.config
    wait = throttle.lockout(
        HOLD_BUCKET, client_hash(link_id, client), _hold_window(), config["LINK_HOLDS_PER_CLIENT"]
    )
    if wait is None:
        return None
    return HoldLimitReached(
        "You have started paying for this link as often as it allows in a while. "
        f"You can start again {wait.wait_text}.",
        wait,
    )


def blocks_payment(order: Order) -> payment_links.LinkUnavailable | None:
    """For a link's unpaid order: why the link no longer takes its payment, or None.

    An order that holds no use (its customer has not started paying, or the hold ended)
    may still be paid while the link has a use that no other order holds.
    """
    if not orders.is_unpaid(order):
        return None
    link, now = order.payment_link, utcnow()
    if link is not None:
        problem = payment_links.unavailability(link, now)
        if problem:
            return problem
        limited = link.max_uses is not None and not holds_use(order, now)
        if limited and is_full(link, now, besides=order.id):
            return busy_refusal(link.id, now)
    code = _limited_code(order)
    if code is not None and not holds_use(order, now) and code_is_full(code, now, order.id):
        return code_busy_refusal(code.id, now)
    return None


def hold_refusal(order: Order, client: str) -> payment_links.LinkUnavailable | None:
    """Why start_hold would refuse this client now (see blocks_payment), or None; it takes
    nothing, so a page can say so before Stripe is asked for anything."""
    problem = blocks_payment(order)
    if problem is None and _needs_hold(order, utcnow()):
        problem = _hold_limit(order.payment_link_id, client)
    return problem


def start_hold(order_id: str, client: str) -> bool:
    """The customer starts paying a limited link's order: hold one of its uses for
    LINK_FIRST_HOLD_SECONDS, or raise LinkUnavailable (LinkBusy, HoldLimitReached).

    Returns whether a hold started. An order that holds a use keeps it (as a status poll
    would extend it); an order of an unlimited link, or one no longer payable, needs none.
    Each hold started counts towards LINK_HOLDS_PER_CLIENT for the client's address.
    """

    def work() -> bool:
        # Only the order of a limited link or code takes their locks (link, code, order).
        link_id, code_id = _limited_of(order_id)
        if link_id is None and code_id is None:
            return False
        link = database.lock_row(PaymentLink, link_id) if link_id else None
        code = database.lock_row(DiscountCode, code_id) if code_id else None
        order = orders.lock_order(order_id)
        now = utcnow()
        if order is None or not orders.is_payable(order):
            return False
        if holds_use(order, now):
            _extend(order, now)
            return False
        limited_link = link is not None and link.max_uses is not None
        if limited_link:
            _refuse_link_hold(link, order, client, now)
        if code is not None and code.max_redemptions is not None:
            if code_is_full(code, now, besides=order.id):
                raise code_busy_refusal(code.id, now)
        elif not limited_link:
            return False
        if limited_link:
            throttle.record(HOLD_BUCKET, client_hash(link.id, client))
        order.hold_started_at = now
        order.held_until = min(now + first_hold_time(), now + hold_time())
        held = (
            "one of the link's uses" if limited_link else f"a redemption of {order.discount_code}"
        )
        orders.note(order, "hold", f"Holds {held} until {order.held_until:%H:%M:%S} UTC")
        return True

    return payment_links.refusing_transaction(work)


def _refuse_link_hold(link: PaymentLink, order: Order, client: str, now: datetime) -> None:
    """Raise LinkUnavailable when the client may not start holding one of the link's uses."""
    problem = payment_links.unavailability(link, now)
    if problem:
        raise problem
    if is_full(link, now, besides=order.id):
        raise busy_refusal(link.id, now)
    refusal = _hold_limit(link.id, client)
    if refusal:
        raise refusal


def _limited_of(order_id: str) -> tuple[str | None, str | None]:
    """The order's link if it is limited, and its discount code if that is."""
    row = db.session.execute(
        select(
            Order.payment_link_id,
            PaymentLink.max_uses,
            Order.discount_code_id,
            DiscountCode.max_redemptions,
        )
        .select_from(Order)
        .outerjoin(PaymentLink, PaymentLink.id == Order.payment_link_id)
        .outerjoin(DiscountCode, DiscountCode.id == Order.discount_code_id)
        .where(Order.id == order_id)
    ).one_or_none()
    if row is None:
        return None, None
    link_id = row.payment_link_id if row.max_uses is not None else None
    code_id = row.discount_code_id if row.max_redemptions is not None else None
    return link_id, code_id


# A limited discount code's redemptions


class DiscountBusy(LinkBusy):
    """Every remaining redemption of a limited discount code is being made right now."""


def _limited_code(order: Order) -> DiscountCode | None:
    if order.discount_code_id is None:
        return None
    code = db.session.get(DiscountCode, order.discount_code_id)
    return code if code is not None and code.max_redemptions is not None else None


def code_is_full(code: DiscountCode, now: datetime, besides: str | None = None) -> bool:
    """Whether every redemption of a limited code is paid or held (by an order other than
    `besides`); an unlimited code never is."""
    if code.max_redemptions is None:
        return False
    return _taken(Order.discount_code_id == code.id, now, besides) >= code.max_redemptions


def code_used_up(code: DiscountCode) -> bool:
    """Whether a limited code has been redeemed as often as it may be (paid orders)."""
    return code.max_redemptions is not None and (
        discounts.times_redeemed(code.id) >= code.max_redemptions
    )


def code_busy_refusal(code_id: str, now: datetime) -> DiscountBusy:
    """The refusal of a code whose remaining redemptions are all held, with the earliest
    time one of its holds may end."""
    frees_at = db.session.scalar(
        select(func.min(Order.held_until)).where(
            Order.discount_code_id == code_id,
            Order.status.in_(orders.PAYABLE),
            Order.held_until > now,
        )
    )
    return DiscountBusy(
        "Every remaining use of this discount code is being redeemed right now. "
        "Try again in a few minutes.",
        frees_at,
    )


def _extend(order: Order, now: datetime) -> None:
    until = min(now + first_hold_time(), order.hold_started_at + hold_time())
    if until > order.held_until:
        order.held_until = until


def extend_hold(order: Order, *, paying: bool = False) -> None:
    """The order's checkout page is still open (its status poll): keep the order's hold for
    LINK_FIRST_HOLD_SECONDS more, up to LINK_HOLD_SECONDS from its start. A customer who
    pressed the page's pay button (`paying`) leaves it for Cash App or Stripe's page, where
    nothing polls: the hold lasts to that end at once. A hold that has ended stays ended."""
    now = utcnow()
    if not (has_timed_hold(order) and order.hold_started_at is not None):
        return
    end = order.hold_started_at + hold_time()
    until = end if paying else min(now + first_hold_time(), end)
    if until <= order.held_until:
        return
    # One UPDATE, guarded by the hold it extends: the order's version stays, so no writer
    # of its status is made to retry, and a hold ended meanwhile is not brought back.
    db.session.execute(
        update(Order)
        .where(
            Order.id == order.id,
            Order.hold_started_at == order.hold_started_at,
            Order.held_until > now,
            Order.status.in_(orders.PAYABLE),
        )
        .values(held_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
