"""Opening orders, from the API and from payment links: the one place an order is made.

Both openers price through `_priced`, so a readiness or pricing rule added there holds for
both; the rules only the API has always applied are asked with `by_api`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from checkout import (
    chosen_amounts,
    customer_details,
    discounts,
    link_holds,
    metrics,
    money,
    orders,
    payment_links,
    stripe_gateway,
)
from checkout.database import in_transaction, lock_row
from checkout.discount_models import DiscountCode
from checkout.errors import DomainError, ValidationError
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


class OrderError(DomainError):
    """A request to open an order that the order rules refuse."""


class PaymentNotConfigured(OrderError):
    """The provider's way of paying is not set up for this order."""


class AmountRefused(OrderError):
    """A valid amount the service's price does not allow (below it, or not a multiple)."""

    param = "amount"


class AmountBelowMinimum(AmountRefused):
    """An order total below the smallest charge Stripe makes in its currency."""


class AmountInvalid(OrderError):
    """An amount that is no amount at all: not positive, too precise or too large."""

    param = "amount"


class ServiceUnavailable(OrderError):
    """The service has been turned off."""


class ExternalIdTaken(OrderError):
    """The provider's externalId already names an order with another amount."""

    param = "external_id"


# Pricing, shared by both openers


def buy_button_ready(service: Service) -> bool:
    """Whether the service has a Buy Button and the Stripe Payment Link behind it, which only
    sessions of that Payment Link pay."""
    return bool(service.buy_button_id and service.stripe_payment_link_id)


def check_ready(service: Service, mode: PaymentMode, *, by_api: bool) -> None:
    """Raise PaymentNotConfigured (or stripe_gateway.CashAppUnavailable) when the way of
    paying cannot take the order's payment.

    With Stripe keys, Cash App takes only USD and only while Stripe allows it: asked of the
    API's orders alone (`by_api`); a link's order opens, and its checkout page says why it
    cannot be paid.
    """
    if mode is PaymentMode.BUY_BUTTON:
        if not buy_button_ready(service):
            raise PaymentNotConfigured("Stripe Buy Button not configured")
        return
    if not (by_api and stripe_gateway.has_stripe_keys()):
        return
    if service.currency != "usd":
        raise PaymentNotConfigured(
            f"Cash App payments are not available in {service.currency.upper()}"
        )
    if stripe_gateway.cashapp_refused():
        raise stripe_gateway.CashAppUnavailable("Cash App payments are not available")


def _priced(
    service: Service, mode: PaymentMode, cash_app_quantity: Callable[[], int], *, by_api: bool
) -> int:
    """The quantity an order buys, once the way of paying is ready.

    With a Buy Button the customer picks the quantity on Stripe's page, and the session's
    line items settle the order; with Cash App the opener's rule says (`cash_app_quantity`).
    Stripe's minimum charge is asked of the API's orders alone (`by_api`): only a service
    priced before the rule existed is below it, as saving one checks it.
    """
    check_ready(service, mode, by_api=by_api)
    quantity = 1 if mode is PaymentMode.BUY_BUTTON else cash_app_quantity()
    if by_api:
        try:
            money.check_minimum_charge(service.price_minor * quantity, service.currency)
        except money.AmountError as error:
            raise AmountBelowMinimum(str(error)) from None
    return quantity


def price_order(provider: Provider, amount: object) -> int:
    """The quantity a provider's API request buys, or raise OrderError.

    `amount` is the request's value as it came: only Cash App mode reads it, so in Buy Button
    mode anything there is ignored.
    """
    service = provider.service
    return _priced(service, provider.mode, lambda: _cash_app_quantity(service, amount), by_api=True)


def price_link_order(link: PaymentLink, mode: PaymentMode, quantity: int | None) -> int:
    """The quantity a customer's pay from a link buys, or raise OrderError or
    ValidationError (a quantity outside the link's range)."""
    return _priced(link.service, mode, lambda: _link_quantity(link, quantity), by_api=False)


def _plain(value: Decimal) -> str:
    """'5.00' -> '5', '2.50' -> '2.5', never scientific notation."""
    return format(value.normalize(), "f")


def _cash_app_quantity(service: Service, amount: object) -> int:
    """The quantity a Cash App request's amount buys: a multiple of the price, 1 if none."""
    if amount is None:
        return 1
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise AmountInvalid("amount must be a number")
    if not Decimal(amount).is_nan() and amount <= 0:
        raise AmountRefused("Amount cannot be less than service price")
    try:
        total = money.to_minor(amount, service.currency)
    except money.AmountError as error:
        raise AmountInvalid(str(error)) from None
    if total < service.price_minor:
        raise AmountRefused("Amount cannot be less than service price")
    if total % service.price_minor:
        raise AmountRefused(f"Amount must be a multiple of {_plain(service.price)}")
    return total // service.price_minor


def _link_quantity(link: PaymentLink, quantity: int | None) -> int:
    """The link's quantity, or the customer's choice within its range if it lets them choose."""
    if not link.adjustable_quantity:
        return link.quantity
    if quantity is None or not link.min_quantity <= quantity <= link.max_quantity:
        raise ValidationError(
            "quantity", f"Choose a quantity from {link.min_quantity} to {link.max_quantity}"
        )
    return quantity


def new_order(
    service: Service,
    quantity: int,
    *,
    opened_by: str,
    mode: PaymentMode,
    provider: Provider | None = None,
    payment_link: PaymentLink | None = None,
    external_id: str | None = None,
    client_hash: str | None = None,
    browser_hash: str | None = None,
    price: "Price | None" = None,
) -> Order:
    """Add an order at the service's current price (or `price`: a chosen amount, a discount
    code), with its first timeline line; the caller commits."""
    price = price or Price(service.price_minor)
    order = Order(
        provider_id=provider.id if provider else None,
        payment_link_id=payment_link.id if payment_link else None,
        service_id=service.id,
        external_id=external_id,
        mode=mode,
        status=OrderStatus.PENDING,
        currency=service.currency,
        quantity=quantity,
        livemode=stripe_gateway.is_livemode(),
        client_hash=client_hash,
        browser_hash=browser_hash,
    )
    _set_price(order, quantity, price)
    order.events.append(
        OrderEvent(
            kind="created",
            message=f"Opened {opened_by}: {quantity} × {service.title}{_discount_text(order)}",
        )
    )
    db.session.add(order)
    metrics.count_after_commit(metrics.PAYMENTS_OPENED, mode.value)
    return order


# The API's opener


def open_api_order(
    provider: Provider,
    external_id: str | None,
    amount: object,
    *,
    custom_fields: list[dict] | None = None,
    customer_email: str | None = None,
    discount_code: str | None = None,
) -> Order:
    """Create the order for a provider's API request, or return the one its externalId made.

    A repeated request gets its order back whatever happened since (the service turned
    off, Cash App refused): only a different amount or discount code is a conflict. The
    customer's answers the provider sends (its service's custom fields, the e-mail) are
    checked and kept (customer_details.from_provider); its checkout page asks the rest.
    """
    if external_id is not None:
        existing = _find_by_external_id(provider.id, external_id)
        if existing is not None:
            return _same_or_conflict(existing, provider, amount, discount_code)
    service = provider.service
    if not service.active:
        raise ServiceUnavailable("Service is not available")
    quantity = price_order(provider, amount)
    code = discount_for(provider, discount_code, mode=provider.mode, service=service, link=None)
    provided = customer_details.from_provider(service, custom_fields, customer_email)
    order = new_order(
        service,
        quantity,
        opened_by="by API",
        mode=provider.mode,
        provider=provider,
        external_id=external_id,
        price=Price(service.price_minor, code),
    )
    customer_details.keep_provided(order, provided)
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent request with the same externalId won the insert.
        db.session.rollback()
        existing = _find_by_external_id(provider.id, external_id)
        if existing is None:
            raise
        return _same_or_conflict(existing, provider, amount, discount_code)
    return order


def _find_by_external_id(provider_id: str, external_id: str | None) -> Order | None:
    return db.session.scalar(
        select(Order).where(Order.provider_id == provider_id, Order.external_id == external_id)
    )


def _same_or_conflict(
    existing: Order, provider: Provider, amount: object, discount_code: str | None
) -> Order:
    """The order an externalId already made, if the repeated request asks the same amount
    (before any discount) with the same discount code."""
    if existing.mode is PaymentMode.BUY_BUTTON:
        return existing  # its amount is what was bought on Stripe's page; a request has none
    total = provider.service.price_minor * _cash_app_quantity(provider.service, amount)
    same_code = discounts.normalise(existing.discount_code) == discounts.normalise(discount_code)
    if existing.unit_price_minor * existing.quantity != total or not same_code:
        raise ExternalIdTaken(
            f"externalId {existing.external_id!r} is already used by order {existing.id} "
            f"with amount {_plain(existing.amount)}"
        )
    return existing


# The payment links' opener


def open_link_order(
    link_id: str,
    quantity: int | None,
    client: str,
    browser: str | None,
    *,
    choice: "LinkChoice | None" = None,
    answers: customer_details.Answers | None = None,
) -> Order:
    """Open an order from a link; it holds none of a limited link's uses until the customer
    starts paying it (link_holds.start_hold). `choice`: the amount the customer chose (a
    chosen-amount link) and the discount code they entered. The customer's `answers` to
    the link's questions are kept with it (customer_details.keep) while no payment has
    started.

    One browser at one address has one open order per limited link: paying again returns
    it (at the new quantity while no payment has been started for it). Another browser, or
    a request without the browser's cookie (`browser` None), gets an order of its own and
    never changes anyone's. A link whose uses are all paid or held refuses new orders.
    """

    def work() -> Order:
        order = _opened(link_id, quantity, client, browser, choice or LinkChoice())
        if answers is not None and _not_started(order):
            customer_details.keep(order, answers)
        return order

    try:
        return payment_links.refusing_transaction(work)
    except ValidationError:
        db.session.rollback()  # the link's lock, taken for nothing
        raise


def _opened(
    link_id: str, quantity: int | None, client: str, browser: str | None, choice: "LinkChoice"
) -> Order:
    """The link's order for this browser (open_link_order), with the link locked."""
    link = lock_row(PaymentLink, link_id)
    now = utcnow()
    problem = payment_links.unavailability(link, now)
    if problem:
        raise problem
    provider = link.provider
    mode = provider.mode if provider else PaymentMode.CASHAPP
    try:
        chosen = price_link_order(link, mode, quantity)
        price = link_price(link, mode, choice, now)
    except PaymentNotConfigured:
        raise payment_links.LinkMisconfigured("This payment link cannot take payments.") from None
    hashed = link_holds.client_hash(link.id, client)
    browser_hashed = link_holds.browser_hash(link.id, browser) if browser else None
    if link.max_uses is not None:
        mine = _open_order_of(link.id, hashed, browser_hashed, now)
        if mine is not None:
            return _requantify(mine, chosen, now, price)
        if link_holds.is_full(link, now):
            raise link_holds.busy_refusal(link.id, now)
    return new_order(
        link.service,
        chosen,
        opened_by=f"from payment link {link.id}",
        mode=mode,
        provider=provider,
        payment_link=link,
        client_hash=hashed,
        browser_hash=browser_hashed,
        price=price,
    )


def _open_order_of(
    link_id: str, hashed: str, browser_hashed: str | None, now: datetime
) -> Order | None:
    """The browser's order at this address that is still being paid, or opened within
    LINK_HOLD_SECONDS and not given up on; None without a browser."""
    if browser_hashed is None:
        return None
    recent = (Order.status == OrderStatus.PENDING) & (
        Order.created_at > now - link_holds.hold_time()
    )
    return db.session.scalar(
        select(Order)
        .where(
            Order.payment_link_id == link_id,
            Order.client_hash == hashed,
            Order.browser_hash == browser_hashed,
            or_(link_holds.holding(now), recent),
        )
        .order_by(Order.created_at.desc())
        .limit(1)
    )


def _requantify(order: Order, quantity: int, now: datetime, price: "Price") -> Order:
    """The browser's open order, at the quantity (and chosen amount and discount code) asked
    for if no payment has started for it (a PaymentIntent is made for one amount, a hold
    for one order; then it is returned as it is)."""
    if order.mode is not PaymentMode.CASHAPP or not _not_started(order, now):
        return order
    if order.quantity != quantity:
        orders.change_quantity(
            order, quantity, f"Customer chose {quantity} instead of {order.quantity}"
        )
    code_id = price.code.id if price.code else None
    if (order.unit_price_minor, order.discount_code_id) != (price.unit_minor, code_id):
        _set_price(order, quantity, price)
        orders.note(
            order,
            "price",
            f"Customer chose {money.format_money(order.unit_price_minor, order.currency)}"
            f"{_discount_text(order)}",
        )
    else:
        _set_price(order, quantity, price)
    return order


# Chosen amounts and discount codes (issue 21)


@dataclass(frozen=True)
class Price:
    """What an order is opened at: its unit price (the service's, or the amount the
    customer chose), and the discount code that applies (None: none)."""

    unit_minor: int
    code: DiscountCode | None = None


@dataclass(frozen=True)
class LinkChoice:
    """What the customer entered on a link's page besides the quantity."""

    amount: object = None
    discount_code: str | None = None


def link_price(link: PaymentLink, mode: PaymentMode, choice: LinkChoice, now: datetime) -> Price:
    """The price of a link's order: the service's, or the customer's amount within the
    link's range (not in Buy Button mode: PaymentNotConfigured), less a discount code;
    raise ValidationError naming `amount` or `discount_code`."""
    unit = link.service.price_minor
    if chosen_amounts.chooses_amount(link):
        if mode is PaymentMode.BUY_BUTTON:
            raise PaymentNotConfigured(chosen_amounts.BUY_BUTTON_REFUSAL)
        unit = chosen_amounts.customer_amount(link, choice.amount)
    code = discount_for(
        link.provider, choice.discount_code, mode=mode, service=link.service, link=link, now=now
    )
    return Price(unit, code)


def discount_for(
    provider: Provider | None,
    text: str | None,
    *,
    mode: PaymentMode,
    service: Service,
    link: PaymentLink | None,
    now: datetime | None = None,
) -> DiscountCode | None:
    """The discount code a customer or the API gave, if it applies now and has a redemption
    left that nobody holds; None for none; else raise discounts.DiscountRefused."""
    if text is None or not str(text).strip():
        return None
    now = now or utcnow()
    code = discounts.applicable(provider, text, mode=mode, service=service, link=link, now=now)
    if link_holds.code_used_up(code):
        raise discounts.DiscountRefused("This discount code has been used up")
    if link_holds.code_is_full(code, now):
        raise discounts.DiscountRefused(
            "Every remaining use of this discount code is being redeemed right now. "
            "Try again in a few minutes"
        )
    return code


def _set_price(order: Order, quantity: int, price: Price) -> None:
    """The order's unit price, discount and amount due: the list price (unit price times quantity)
    less the code's discount (discounts.discount_minor: never below Stripe's minimum)."""
    list_minor = price.unit_minor * quantity
    off = None
    if price.code is not None:
        off = discounts.discount_minor(price.code, list_minor, order.currency)
    order.unit_price_minor = price.unit_minor
    order.amount_minor = list_minor - (off or 0)
    order.discount_code_id = price.code.id if price.code else None
    order.discount_code = price.code.code if price.code else None
    order.discount_minor = off


def _discount_text(order: Order) -> str:
    if order.discount_code is None:
        return ""
    off = money.format_money(order.discount_minor or 0, order.currency)
    return f", code {order.discount_code} (−{off})"


def takes_code_at_checkout(order: Order) -> bool:
    """Whether the order's checkout page offers a discount code field: a Cash App order
    without one, not paid nor being paid, whose provider has a code turned on."""
    return (
        order.status in orders.PAYABLE
        and order.mode is PaymentMode.CASHAPP
        and order.discount_code_id is None
        and discounts.takes_codes(order.provider)
    )


def redeem_at_checkout(order_id: str, text: str) -> Order:
    """A discount code the customer entered on an order's checkout page: the order is
    re-priced while no payment is under way, its PaymentIntent (with Stripe) first changed
    to the amount due; raise discounts.DiscountRefused, or stripe_gateway.StripeError."""
    order = orders.find_order(order_id)
    if order is None or not takes_code_at_checkout(order):
        raise discounts.DiscountRefused("This order's amount can no longer change")
    code = discount_for(
        order.provider, text, mode=order.mode, service=order.service, link=order.payment_link
    )
    list_minor, before = order.unit_price_minor * order.quantity, order.amount_minor
    due = list_minor - discounts.discount_minor(code, list_minor, order.currency)
    intent_id = order.stripe_payment_intent_id
    if intent_id is not None:
        stripe_gateway.change_payment_intent_amount(intent_id, due)

    def work() -> Order:
        if code.max_redemptions is not None:
            lock_row(DiscountCode, code.id)  # as start_hold: the code's lock, then the order's
        locked = orders.lock_order(order_id)
        now = utcnow()
        held = link_holds.holds_use(locked, now)
        if not takes_code_at_checkout(locked) or locked.stripe_payment_intent_id != intent_id:
            raise discounts.DiscountRefused("This order's amount can no longer change")
        if held and link_holds.code_is_full(code, now, besides=locked.id):
            raise discounts.DiscountRefused("This discount code has been used up")
        _set_price(locked, locked.quantity, Price(locked.unit_price_minor, code))
        orders.note(
            locked, "price", f"Customer entered a code on the checkout page{_discount_text(locked)}"
        )
        return locked

    try:
        return in_transaction(work)
    except discounts.DiscountRefused:
        db.session.rollback()
        if intent_id is not None:  # the PaymentIntent back to the order's amount
            stripe_gateway.change_payment_intent_amount(intent_id, before)
        raise


def _not_started(order: Order, now: datetime | None = None) -> bool:
    """Whether no payment has started for a link's order: pending, no PaymentIntent made
    for its amount, and holding none of the link's uses."""
    return (
        order.status is OrderStatus.PENDING
        and order.stripe_payment_intent_id is None
        and not link_holds.holds_use(order, now or utcnow())
    )
