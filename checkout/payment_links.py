"""Payment links: their rules, the orders they open, and their passwords."""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from checkout import audit, money, orders, throttle, urls
from checkout.audit import Action, Actor
from checkout.database import in_transaction
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import (
    AfterPayment,
    Order,
    OrderStatus,
    PaymentLink,
    PaymentMode,
    Provider,
    Service,
    utcnow,
)
from checkout.passwords import check_password, hash_password

LINK_ID = re.compile(r"^plink_[0-9a-f]{24}\Z")
QUANTITY_MAX = 10_000
PASSWORD_WINDOW = timedelta(minutes=15)
# Wrong passwords are counted per link and client, and per client across links: never per
# link alone, so no stranger can lock a link's customers out.
PASSWORD_ATTEMPTS = 5
PASSWORD_ATTEMPTS_PER_CLIENT = 20
# New passwords only: links saved with a shorter one before keep working.
PASSWORD_MIN = 8
PASSWORD_MAX = 200
METADATA_KEYS_MAX = 20
# What a link's audit entry compares; its password shows only as set, changed or removed.
AUDITED = (
    "service_id",
    "provider_id",
    "title",
    "description",
    "quantity",
    "adjustable_quantity",
    "min_quantity",
    "max_quantity",
    "expires_at",
    "max_uses",
    "active",
    "metadata_json",
    "after_payment",
    "confirmation_message",
    "redirect_url",
)


class LinkUnavailable(DomainError):
    """The link cannot be paid now: `reason` for machines, `message` for the customer."""

    reason = "unavailable"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class LinkClosed(LinkUnavailable):
    """Turned off, expired or used up: it will not take payments again as it is."""


class LinkBusy(LinkUnavailable):
    """Every remaining payment of a limited link is being made right now; `frees_at` is
    when the first hold may end (None while only payments under way hold them)."""

    reason = "busy"

    def __init__(self, message: str, frees_at: datetime | None = None):
        super().__init__(message)
        self.frees_at = frees_at


class HoldLimitReached(LinkUnavailable):
    """The client has started paying for the link as often as LINK_HOLDS_PER_CLIENT allows
    in LINK_HOLD_WINDOW_SECONDS; it may start again at `frees_at`."""

    reason = "hold_limit"

    def __init__(self, message: str, wait: throttle.Lockout):
        super().__init__(message)
        self.retry_after = wait.seconds
        self.frees_at = utcnow() + timedelta(seconds=wait.seconds)


class LinkMisconfigured(LinkUnavailable):
    """The link's provider pays in a way its service is not set up for."""

    reason = "misconfigured"


@dataclass
class LinkFields:
    service_id: str | None
    title: str
    description: str = ""
    provider_id: str | None = None
    quantity: int | None = 1
    adjustable_quantity: bool = False
    min_quantity: int | None = 1
    max_quantity: int | None = 10
    expires_at: datetime | None = None
    password: str | None = None
    remove_password: bool = False
    max_uses: int | None = None
    active: bool = True
    metadata: dict = field(default_factory=dict)
    after_payment: str = AfterPayment.MESSAGE.value
    confirmation_message: str = ""
    redirect_url: str | None = None


def parse_expiry(value: object) -> datetime | None:
    """An ISO 8601 time as stored (naive UTC); a time without an offset is taken as UTC."""
    if value is None or value == "":
        return None
    expected = "Give an ISO 8601 date and time, e.g. 2026-12-31T23:59:00Z"
    if not isinstance(value, str):
        raise ValidationError("expires_at", expected)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("expires_at", expected) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # the offset moved it past year 1 or year 9999
            raise ValidationError(
                "expires_at", "Give a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
            ) from None
    return moment


def find_link(link_id: object) -> PaymentLink | None:
    """The link with this id, or None for anything else (including junk)."""
    if not isinstance(link_id, str) or not LINK_ID.match(link_id):
        return None
    return db.session.get(PaymentLink, link_id)


def _count(name: str, value: int | None, low: int, high: int) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, f"Enter a whole number from {low} to {high}")
    if not low <= value <= high:
        raise ValidationError(name, f"Enter a whole number from {low} to {high}")
    return value


def clean_metadata(metadata: object) -> dict[str, str]:
    """Key/value pairs as Stripe takes them: up to 20, keys ≤ 40 and values ≤ 500 characters."""
    if not isinstance(metadata, dict):
        raise ValidationError("metadata", "Metadata must be an object of strings")
    if len(metadata) > METADATA_KEYS_MAX:
        raise ValidationError("metadata", f"At most {METADATA_KEYS_MAX} metadata keys")
    cleaned = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError("metadata", "Metadata keys and values must be strings")
        if not key.strip() or len(key) > 40 or "[" in key or "]" in key:
            raise ValidationError("metadata", f"Metadata key {key!r} is empty or too long")
        if len(value) > 500:
            raise ValidationError("metadata", f"Metadata value of {key!r} is over 500 characters")
        cleaned[key.strip()] = value
    return cleaned


def _apply(link: PaymentLink, fields: LinkFields, actor: Actor) -> PaymentLink:
    service = db.session.get(Service, fields.service_id) if fields.service_id else None
    if service is None:
        raise ValidationError("service_id", "Choose the service this link sells")
    provider = None
    if fields.provider_id:
        provider = db.session.get(Provider, fields.provider_id)
        if provider is None:
            raise ValidationError("provider_id", "No such provider")
    title = (fields.title or "").strip()
    if not title or len(title) > 120:
        raise ValidationError("title", "Give the link a title of 1 to 120 characters")
    description = (fields.description or "").strip()
    if len(description) > 2000:
        raise ValidationError("description", "The description is over 2000 characters")
    if fields.adjustable_quantity:
        low = _count("min_quantity", fields.min_quantity, 1, QUANTITY_MAX)
        high = _count("max_quantity", fields.max_quantity, 1, QUANTITY_MAX)
        if high < low:
            raise ValidationError("max_quantity", "The maximum is below the minimum")
        quantity = low
    else:
        quantity = _count("quantity", fields.quantity, 1, QUANTITY_MAX)
        low = high = quantity
    if service.price_minor * high > money.MAX_MINOR:
        raise ValidationError(
            "max_quantity" if fields.adjustable_quantity else "quantity",
            f"The total would exceed {money.format_money(money.MAX_MINOR, service.currency)}",
        )
    max_uses = None
    if fields.max_uses is not None:
        max_uses = _count("max_uses", fields.max_uses, 1, 1_000_000)
    after = fields.after_payment
    if after not in {choice.value for choice in AfterPayment}:
        raise ValidationError("after_payment", "Choose a message or a redirect")
    # Only the chosen way applies; the other's field is cleared, not checked.
    redirect_url, message = None, ""
    if after == AfterPayment.REDIRECT:
        redirect_url = urls.clean_redirect_url("redirect_url", fields.redirect_url)
        if not redirect_url:
            raise ValidationError("redirect_url", "Give the URL to send customers to after paying")
    else:
        message = (fields.confirmation_message or "").strip()
        if len(message) > 1000:
            raise ValidationError("confirmation_message", "The message is over 1000 characters")
    metadata = clean_metadata(fields.metadata)
    before = audit.snapshot(link, AUDITED) if link.id else {}
    password_change = None
    if fields.password:
        if not PASSWORD_MIN <= len(fields.password) <= PASSWORD_MAX:
            raise ValidationError(
                "password", f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters"
            )
        password_change = "changed" if link.password_hash else "set"
        link.password_hash = hash_password(fields.password)
    elif fields.remove_password and link.password_hash:
        password_change = "removed"  # noqa: S105 -- what happened to it, for the audit log
        link.password_hash = None
    link.service = service
    link.provider = provider
    link.title = title
    link.description = description
    link.quantity = quantity
    link.adjustable_quantity = bool(fields.adjustable_quantity)
    link.min_quantity = low
    link.max_quantity = high
    link.expires_at = fields.expires_at
    link.max_uses = max_uses
    link.active = bool(fields.active)
    link.metadata_json = json.dumps(metadata, sort_keys=True)
    link.after_payment = AfterPayment(after)
    link.confirmation_message = message
    link.redirect_url = redirect_url
    db.session.add(link)
    db.session.flush()
    after = audit.snapshot(link, AUDITED)
    detail = audit.changes(before, after) if before else after
    if password_change:
        detail["password"] = password_change
    if detail:  # a save that changed nothing is not worth a line
        action = Action.LINK_CHANGED if before else Action.LINK_CREATED
        audit.record(actor, action, "link", link.id, **detail)
    db.session.commit()
    return link


def create_link(fields: LinkFields, *, actor: Actor) -> PaymentLink:
    """Create a link, or raise ValidationError naming the bad field."""
    if fields.expires_at is not None and fields.expires_at <= utcnow():
        raise ValidationError("expires_at", "The expiry must be in the future")
    return _apply(PaymentLink(), fields, actor)


def update_link(link: PaymentLink, fields: LinkFields, *, actor: Actor) -> PaymentLink:
    """Change a link; orders already opened keep their amounts."""
    return _apply(link, fields, actor)


def copy_link(link: PaymentLink, *, actor: Actor) -> PaymentLink:
    """A new link with the same settings (and password), its own id and no history."""
    twin = PaymentLink(
        service_id=link.service_id,
        provider_id=link.provider_id,
        title=f"{link.title} (copy)"[:120],
        description=link.description,
        quantity=link.quantity,
        adjustable_quantity=link.adjustable_quantity,
        min_quantity=link.min_quantity,
        max_quantity=link.max_quantity,
        expires_at=link.expires_at,
        password_hash=link.password_hash,
        max_uses=link.max_uses,
        active=link.active,
        metadata_json=link.metadata_json,
        after_payment=link.after_payment,
        confirmation_message=link.confirmation_message,
        redirect_url=link.redirect_url,
    )
    db.session.add(twin)
    db.session.flush()
    audit.record(actor, Action.LINK_COPIED, "link", twin.id, copied_from=link.id)
    db.session.commit()
    return twin


def set_active(link: PaymentLink, active: bool, *, actor: Actor) -> None:
    """Turn a link on or off."""
    if link.active != active:
        link.active = active
        audit.record(
            actor, Action.LINK_TURNED_ON if active else Action.LINK_TURNED_OFF, "link", link.id
        )
    db.session.commit()


# Availability


def _orders_of(link_id: str, statuses: frozenset) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.payment_link_id == link_id, Order.status.in_(statuses))
    )


def completed_uses(link_id: str) -> int:
    """Payments completed through the link."""
    return _orders_of(link_id, orders.COMPLETED)


def hold_time() -> timedelta:
    """The longest a hold lasts, however long the checkout page polls (LINK_HOLD_SECONDS)."""
    return timedelta(seconds=current_app.config["LINK_HOLD_SECONDS"])


def first_hold_time() -> timedelta:
    """How long a hold lasts past its start or the page's last poll (LINK_FIRST_HOLD_SECONDS)."""
    return timedelta(seconds=current_app.config["LINK_FIRST_HOLD_SECONDS"])


def _hold_window() -> timedelta:
    return timedelta(seconds=current_app.config["LINK_HOLD_WINDOW_SECONDS"])


HOLD_BUCKET = "link-hold"


def _holding(now: datetime):
    """The orders that hold a use: a payment under way, or a customer who started paying and
    whose hold has not ended. An order nobody started paying holds nothing; a failure,
    cancellation or expiry ends its hold at once (orders._move clears it)."""
    return or_(
        Order.status == OrderStatus.PROCESSING,
        Order.status.in_(orders.PAYABLE) & (Order.held_until > now),
    )


def _held_uses(link_id: str, now: datetime, besides: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(Order)
        .where(Order.payment_link_id == link_id, _holding(now))
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


def unavailability(link: PaymentLink, now: datetime | None = None) -> LinkUnavailable | None:
    """Why the link cannot be paid now, or None when it can."""
    now = now or utcnow()
    if not link.active or not link.service.active:
        return LinkClosed("This payment link has been turned off by the seller.", "inactive")
    if link.expires_at is not None and now >= link.expires_at:
        return LinkClosed("This payment link has expired.", "expired")
    if link.max_uses is not None and completed_uses(link.id) >= link.max_uses:
        return LinkClosed("This payment link has reached its number of payments.", "used_up")
    return None


def _busy(link_id: str, now: datetime) -> LinkBusy:
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


def _is_full(link: PaymentLink, now: datetime, besides: str | None = None) -> bool:
    return completed_uses(link.id) + _held_uses(link.id, now, besides) >= link.max_uses


def _lock_link(link_id: str) -> PaymentLink:
    """The link, read after taking its row (PostgreSQL) or the write lock (SQLite), so
    concurrent customers of a limited link are counted one after the other."""
    db.session.execute(
        update(PaymentLink)
        .where(PaymentLink.id == link_id)
        .values(version=PaymentLink.version + 1)
        .execution_options(synchronize_session=False)
    )
    return db.session.scalar(
        select(PaymentLink)
        .where(PaymentLink.id == link_id)
        .execution_options(populate_existing=True)
    )


def _refusing(work):
    """Run work() in a transaction of its own; a refusal rolls it back (and frees the lock)."""
    try:
        return in_transaction(work)
    except LinkUnavailable:
        db.session.rollback()
        raise


def open_order(link_id: str, quantity: int | None, client: str, browser: str | None) -> Order:
    """Open an order from a link; it holds none of a limited link's uses until the customer
    starts paying it (start_hold).

    One browser at one address has one open order per limited link: paying again returns
    it (at the new quantity while no payment has been started for it). Another browser, or
    a request without the browser's cookie (`browser` None), gets an order of its own and
    never changes anyone's. A link whose uses are all paid or held refuses new orders.
    """

    def work() -> Order:
        link = _lock_link(link_id)
        now = utcnow()
        problem = unavailability(link, now)
        if problem:
            raise problem
        provider = link.provider
        mode = provider.mode if provider else PaymentMode.CASHAPP
        service = link.service
        if mode is PaymentMode.BUY_BUTTON and not (
            service.buy_button_id and service.stripe_payment_link_id
        ):
            raise LinkMisconfigured("This payment link cannot take payments.")
        # With a Buy Button the customer picks the quantity on Stripe's page, and the
        # session's line items settle the order.
        chosen = 1 if mode is PaymentMode.BUY_BUTTON else _quantity(link, quantity)
        hashed = client_hash(link.id, client)
        browser_hashed = browser_hash(link.id, browser) if browser else None
        if link.max_uses is not None:
            mine = _open_order_of(link.id, hashed, browser_hashed, now)
            if mine is not None:
                return _requantify(mine, chosen, now)
            if _is_full(link, now):
                raise _busy(link.id, now)
        order = orders.new_order(
            link.service,
            chosen,
            opened_by=f"from payment link {link.id}",
            mode=mode,
            provider=provider,
            payment_link=link,
        )
        order.client_hash = hashed
        order.browser_hash = browser_hashed
        return order

    return _refusing(work)


def _open_order_of(
    link_id: str, hashed: str, browser_hashed: str | None, now: datetime
) -> Order | None:
    """The browser's order at this address that is still being paid, or opened within
    LINK_HOLD_SECONDS and not given up on; None without a browser."""
    if browser_hashed is None:
        return None
    recent = (Order.status == OrderStatus.PENDING) & (Order.created_at > now - hold_time())
    return db.session.scalar(
        select(Order)
        .where(
            Order.payment_link_id == link_id,
            Order.client_hash == hashed,
            Order.browser_hash == browser_hashed,
            or_(_holding(now), recent),
        )
        .order_by(Order.created_at.desc())
        .limit(1)
    )


def _requantify(order: Order, quantity: int, now: datetime) -> Order:
    """The browser's open order, at the quantity asked for if no payment has started for it
    (a PaymentIntent is made for one amount, a hold for one order; then it is returned as
    it is)."""
    if (
        order.quantity != quantity
        and order.status is OrderStatus.PENDING
        and order.mode is PaymentMode.CASHAPP
        and order.stripe_payment_intent_id is None
        and not holds_use(order, now)
    ):
        orders.note(order, "quantity", f"Customer chose {quantity} instead of {order.quantity}")
        order.quantity = quantity
        order.amount_minor = order.unit_price_minor * quantity
    return order


def _quantity(link: PaymentLink, quantity: int | None) -> int:
    if not link.adjustable_quantity:
        return link.quantity
    if quantity is None or not link.min_quantity <= quantity <= link.max_quantity:
        raise ValidationError(
            "quantity", f"Choose a quantity from {link.min_quantity} to {link.max_quantity}"
        )
    return quantity


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


def blocks_payment(order: Order) -> LinkUnavailable | None:
    """For a link's unpaid order: why the link no longer takes its payment, or None.

    An order that holds no use (its customer has not started paying, or the hold ended)
    may still be paid while the link has a use that no other order holds.
    """
    link = order.payment_link
    if link is None or not orders.is_unpaid(order):
        return None
    now = utcnow()
    problem = unavailability(link, now)
    if problem or link.max_uses is None or holds_use(order, now):
        return problem
    if _is_full(link, now, besides=order.id):
        return _busy(link.id, now)
    return None


def hold_refusal(order: Order, client: str) -> LinkUnavailable | None:
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
        # Only a limited link's order takes the link's lock.
        link_id = db.session.scalar(
            select(Order.payment_link_id)
            .join(PaymentLink, PaymentLink.id == Order.payment_link_id)
            .where(Order.id == order_id, PaymentLink.max_uses.is_not(None))
        )
        if link_id is None:
            return False
        link = _lock_link(link_id)
        order = orders.lock_order(order_id)
        now = utcnow()
        if link.max_uses is None or order is None or not orders.is_payable(order):
            return False
        if holds_use(order, now):
            _extend(order, now)
            return False
        problem = unavailability(link, now)
        if problem:
            raise problem
        if _is_full(link, now, besides=order.id):
            raise _busy(link.id, now)
        refusal = _hold_limit(link.id, client)
        if refusal:
            raise refusal
        throttle.record(HOLD_BUCKET, client_hash(link.id, client))
        order.hold_started_at = now
        order.held_until = min(now + first_hold_time(), now + hold_time())
        orders.note(
            order, "hold", f"Holds one of the link's uses until {order.held_until:%H:%M:%S} UTC"
        )
        return True

    return _refusing(work)


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


# Passwords


@dataclass(frozen=True)
class Unlock:
    ok: bool
    lockout: throttle.Lockout | None = None


def try_password(link: PaymentLink, password: str, client: str) -> Unlock:
    """Check a link password; a client (IPv6: its /64) with too many wrong ones is refused
    for a while."""
    client = throttle.client_key(client)
    pair = f"{link.id}|{client}"
    lockout = throttle.lockout(
        "link-password-client", client, PASSWORD_WINDOW, PASSWORD_ATTEMPTS_PER_CLIENT
    ) or throttle.lockout("link-password", pair, PASSWORD_WINDOW, PASSWORD_ATTEMPTS)
    if lockout:
        return Unlock(False, lockout)
    if link.password_hash and check_password(link.password_hash, password or ""):
        return Unlock(True)
    throttle.record("link-password-client", client)
    throttle.record("link-password", pair)
    db.session.commit()
    return Unlock(False)


def password_fingerprint(link: PaymentLink) -> str:
    """Changes whenever the password does, so unlocking one password opens nothing later."""
    return hashlib.sha256((link.password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Usage:
    """A link's payments so far, and its status: 'active', or why customers cannot pay
    ('inactive', 'expired' or 'used_up')."""

    completed: int
    status: str


def usage(link: PaymentLink) -> Usage:
    """How far the link has been used, and whether it still takes payments."""
    problem = unavailability(link)
    return Usage(completed_uses(link.id), problem.reason if problem else "active")


def button_label(link: PaymentLink) -> str:
    """The words of the link's pay button on another website (kassa.js's data-label): the
    total when the quantity is fixed, "Pay from" the smallest total when the customer
    chooses, and just "Pay" when Stripe's page asks the quantity. Pasted text, so the same
    in every locale."""
    if link.provider is not None and link.provider.mode is PaymentMode.BUY_BUTTON:
        return "Pay"
    service = link.service
    smallest = link.min_quantity if link.adjustable_quantity else link.quantity
    total = money.format_money(service.price_minor * smallest, service.currency)
    if link.adjustable_quantity and link.max_quantity > link.min_quantity:
        return f"Pay from {total}"
    return f"Pay {total}"


# Queries for the admin pages


def all_links() -> list[PaymentLink]:
    """Every payment link, newest first."""
    return list(db.session.scalars(select(PaymentLink).order_by(PaymentLink.created_at.desc())))
