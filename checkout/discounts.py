"""Discount codes (issue 21): a provider's codes, their settings (checked alike for the
admin, the API and the CLI), whether one applies to an order, and what it takes off.

Opening prices an order with `applicable` and `discount_minor`; holds on a limited code's
redemptions are link_holds' (a hold on an order holds its link's use and its code's
redemption alike). A redemption counts once its order is paid (orders.COMPLETED).
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from checkout import audit, database, money, orders
from checkout.audit import Action, Actor
from checkout.discount_models import DiscountCode
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Order, PaymentLink, PaymentMode, Provider, Service, utcnow

CODE_MAX = 40
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z")
CODE_ID = re.compile(r"^disc_[0-9a-f]{24}\Z")
REDEMPTIONS_MAX = 1_000_000
TARGETS_MAX = 100
AUDITED = (
    "code",
    "percent_off_bp",
    "amount_off_minor",
    "currency",
    "starts_at",
    "expires_at",
    "max_redemptions",
    "applies_to_links",
    "applies_to_services",
    "active",
)
BUY_BUTTON_REFUSAL = (
    "Discount codes are not taken in Buy Button mode: customers enter the promotion codes "
    "you created in Stripe on Stripe's page"
)


class DiscountRefused(ValidationError):
    """A code a customer or the API gave that does not apply to this order (unknown,
    inactive, not started, expired, used up, for other purchases): 422 naming it."""

    def __init__(self, message: str):
        super().__init__("discount_code", message)


@dataclass
class DiscountFields:
    """A code's settings as the admin, the API and the CLI give them; Decimals in major
    units."""

    code: str
    percent_off: object = None
    amount_off: object = None
    currency: str | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    max_redemptions: int | None = None
    link_ids: list = field(default_factory=list)
    service_ids: list = field(default_factory=list)
    active: bool = True


def normalise(text: object) -> str:
    """How a code is matched: stripped, in capitals."""
    return text.strip().upper() if isinstance(text, str) else ""


def _percent_bp(value: object) -> int:
    """A percentage (Decimal, up to two places, above 0 and at most 100) in hundredths."""
    message = "Give a percentage above 0 and at most 100, with at most two decimal places"
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValidationError("percent_off", message)
    scaled = Decimal(value) * 100
    if not scaled.is_finite() or scaled != scaled.to_integral_value() or not 0 < scaled <= 10000:
        raise ValidationError("percent_off", message)
    return int(scaled)


def _value(fields: DiscountFields) -> tuple[int | None, int | None, str | None]:
    """(percent_off_bp, amount_off_minor, currency): exactly one way of taking off."""
    if (fields.percent_off is None) == (fields.amount_off is None):
        raise ValidationError("percent_off", "Give either percentOff or amountOff with currency")
    if fields.percent_off is not None:
        if fields.currency:
            raise ValidationError("currency", "A percentage takes no currency")
        return _percent_bp(fields.percent_off), None, None
    currency = (fields.currency or "").strip().lower()
    if not money.is_supported(currency):
        raise ValidationError("currency", "Give the currency of amountOff, e.g. usd")
    try:
        return None, money.to_minor(fields.amount_off, currency), currency
    except money.AmountError as error:
        raise ValidationError("amount_off", str(error)) from None


def _targets(provider: Provider, fields: DiscountFields) -> tuple[list[str], list[str]]:
    """The payment links (the provider's own) and services the code is restricted to."""
    for name, ids in (("applies_to", fields.link_ids), ("applies_to", fields.service_ids)):
        if not isinstance(ids, list) or len(ids) > TARGETS_MAX:
            raise ValidationError(name, f"Give lists of at most {TARGETS_MAX} ids")
        if not all(isinstance(one, str) for one in ids):
            raise ValidationError(name, "Ids are strings")
    links = sorted(set(fields.link_ids))
    for link_id in links:
        link = db.session.get(PaymentLink, link_id)
        if link is None or link.provider_id != provider.id:
            raise ValidationError("applies_to", f"{link_id} is not one of your payment links")
    services = sorted(set(fields.service_ids))
    for service_id in services:
        if db.session.get(Service, service_id) is None:
            raise ValidationError("applies_to", f"No service {service_id}")
    return links, services


def _check_code_text(provider: Provider, text: str, row: DiscountCode) -> str:
    code = (text or "").strip()
    if not CODE.match(code):
        raise ValidationError(
            "code", "Use 1 to 40 letters, digits, hyphens or underscores, starting with one"
        )
    taken = find_by_text(provider.id, code)
    if taken is not None and taken.id != row.id:
        raise ValidationError("code", f"You already have the code {taken.code}")
    return code


def _check_limits(fields: DiscountFields) -> int | None:
    starts, ends = fields.starts_at, fields.expires_at
    if starts is not None and ends is not None and ends <= starts:
        raise ValidationError("expires_at", "The code must expire after it starts")
    limit = fields.max_redemptions
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= REDEMPTIONS_MAX:
        raise ValidationError(
            "max_redemptions", f"Enter a whole number from 1 to {REDEMPTIONS_MAX}"
        )
    return limit


def _apply(row: DiscountCode, provider: Provider, fields: DiscountFields, actor: Actor):
    """Check the settings, write them and their audit entry, and commit."""
    code = _check_code_text(provider, fields.code, row)
    percent_bp, amount_minor, currency = _value(fields)
    limit = _check_limits(fields)
    links, services = _targets(provider, fields)
    created = not row.id
    before = {} if created else audit.snapshot(row, AUDITED)
    row.provider_id = provider.id
    row.code, row.code_key = code, normalise(code)
    row.percent_off_bp, row.amount_off_minor, row.currency = percent_bp, amount_minor, currency
    row.starts_at, row.expires_at = fields.starts_at, fields.expires_at
    row.max_redemptions = limit
    row.applies_to_links, row.applies_to_services = json.dumps(links), json.dumps(services)
    row.active = bool(fields.active)
    action = Action.DISCOUNT_CREATED if created else Action.DISCOUNT_CHANGED
    audit.record_save(actor, action, "discount", row, before, AUDITED)
    db.session.commit()
    return row


def create_code(provider: Provider, fields: DiscountFields, *, actor: Actor) -> DiscountCode:
    """Create a provider's discount code, or raise ValidationError naming the bad field."""
    return _apply(DiscountCode(), provider, fields, actor)


def update_code(row: DiscountCode, fields: DiscountFields, *, actor: Actor) -> DiscountCode:
    """Change a code; orders already opened keep their discounts."""
    return _apply(row, row.provider, fields, actor)


def fields_of(row: DiscountCode) -> DiscountFields:
    """A code's settings as they are, for a change of some of them."""
    return DiscountFields(
        code=row.code,
        percent_off=row.percent_off,
        amount_off=row.amount_off,
        currency=row.currency if row.amount_off_minor is not None else None,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        max_redemptions=row.max_redemptions,
        link_ids=row.link_ids,
        service_ids=row.service_ids,
        active=row.active,
    )


# Queries


def find_code(code_id: object) -> DiscountCode | None:
    """The code with this id, or None for anything else (including junk)."""
    if not isinstance(code_id, str) or not CODE_ID.match(code_id):
        return None
    return db.session.get(DiscountCode, code_id)


def find_by_text(provider_id: str, text: object) -> DiscountCode | None:
    """The provider's code a customer typed, in any case."""
    key = normalise(text)
    if not key:
        return None
    return db.session.scalar(
        select(DiscountCode).where(
            DiscountCode.provider_id == provider_id, DiscountCode.code_key == key
        )
    )


def provider_codes(provider_id: str, *, after: DiscountCode | None, limit: int) -> list:
    """Up to `limit` of the provider's codes, newest first, those after `after`."""
    query = select(DiscountCode).where(DiscountCode.provider_id == provider_id)
    return list(db.session.scalars(database.newest_first(query, DiscountCode, after).limit(limit)))


def all_codes() -> list[DiscountCode]:
    """Every discount code, newest first (the admin's list)."""
    return list(db.session.scalars(select(DiscountCode).order_by(DiscountCode.created_at.desc())))


def times_redeemed(code_id: str) -> int:
    """Paid orders that redeemed the code."""
    return times_redeemed_of([code_id])[code_id]


def times_redeemed_of(code_ids: list[str]) -> dict[str, int]:
    """Paid orders that redeemed each of these codes, in one query."""
    counts = dict.fromkeys(code_ids, 0)
    rows = db.session.execute(
        select(Order.discount_code_id, func.count())
        .where(Order.discount_code_id.in_(code_ids), Order.status.in_(orders.COMPLETED))
        .group_by(Order.discount_code_id)
    )
    counts.update({code_id: count for code_id, count in rows})
    return counts


# Applying a code to an order


def applicable(
    provider: Provider | None,
    text: str,
    *,
    mode: PaymentMode,
    service: Service,
    link: PaymentLink | None,
    now: datetime | None = None,
) -> DiscountCode:
    """The provider's code `text` if it applies to an order of `service` (from `link`), or
    raise DiscountRefused. Whether its redemptions are used up is link_holds' to say."""
    if mode is PaymentMode.BUY_BUTTON:
        raise DiscountRefused(BUY_BUTTON_REFUSAL)
    row = find_by_text(provider.id, text) if provider is not None else None
    if row is None:
        raise DiscountRefused("There is no such discount code")
    now = now or utcnow()
    if not row.active:
        raise DiscountRefused("This discount code is no longer valid")
    if row.starts_at is not None and now < row.starts_at:
        raise DiscountRefused("This discount code is not valid yet")
    if row.expires_at is not None and now >= row.expires_at:
        raise DiscountRefused("This discount code has expired")
    if not _applies_to(row, service, link):
        raise DiscountRefused("This discount code does not apply to this purchase")
    if row.amount_off_minor is not None and row.currency != service.currency:
        raise DiscountRefused(f"This discount code is for payments in {row.currency.upper()}")
    return row


def _applies_to(row: DiscountCode, service: Service, link: PaymentLink | None) -> bool:
    links, services = row.link_ids, row.service_ids
    if not links and not services:
        return True
    return service.id in services or (link is not None and link.id in links)


def discount_minor(row: DiscountCode, list_minor: int, currency: str) -> int:
    """What the code takes off a list price: a percentage rounded half up to the minor
    unit, or its fixed amount; never so much that the amount due falls below Stripe's
    minimum charge in the currency (one minor unit where Stripe lists none)."""
    if row.percent_off_bp is not None:
        off = (list_minor * row.percent_off_bp + 5000) // 10000
    else:
        off = row.amount_off_minor or 0
    floor = money.MINIMUM_CHARGE_MINOR.get(currency, 1)
    return max(0, min(off, list_minor - floor))


def record_stripe_discount(order: Order, amount_discount: int | None, *, source: str) -> None:
    """A discount Stripe applied on a Buy Button's Payment Link (a promotion code the
    merchant made in Stripe): the locked order's amount due is its list price less it, so
    paying that is no underpayment. Anything else below the amount stays underpaid."""
    if not amount_discount or not orders.takes_payment(order) or order.status in orders.RECEIVED:
        return
    list_minor = order.unit_price_minor * order.quantity
    off = min(amount_discount, list_minor)
    if order.discount_minor == off and order.amount_minor == list_minor - off:
        return
    order.discount_minor = off
    order.amount_minor = list_minor - off
    orders.note(
        order, "discount", f"{source}: Stripe took {money.format_money(off, order.currency)} off"
    )


def takes_codes(provider: Provider | None) -> bool:
    """Whether a link page of this provider shows a discount code field: Cash App mode and
    at least one code turned on."""
    if provider is None or provider.mode is PaymentMode.BUY_BUTTON:
        return False
    return (
        db.session.scalar(
            select(DiscountCode.id)
            .where(DiscountCode.provider_id == provider.id, DiscountCode.active.is_(True))
            .limit(1)
        )
        is not None
    )
