"""Payment links: their settings, whether they can be paid now, and their passwords.

The orders they open are opened by opening.open_link_order; holds on their uses are
link_holds'.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from checkout import audit, chosen_amounts, custom_fields, database, money, orders, throttle, urls
from checkout.audit import Action, Actor
from checkout.database import in_transaction
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import (
    AfterPayment,
    Order,
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
TITLE_MAX = 120
DESCRIPTION_MAX = 2000
MESSAGE_MAX = 1000
METADATA_VALUE_MAX = 500
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
    "min_amount_minor",
    "max_amount_minor",
    "preset_amount_minor",
    "custom_fields_json",
    "collect_email",
)
# A change's entry leaves out `active`: turning a link on or off has entries of its own.
AUDITED_CHANGES = tuple(name for name in AUDITED if name != "active")


class LinkUnavailable(DomainError):
    """The link cannot be paid now: `reason` for machines, `message` for the customer."""

    reason = "unavailable"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class LinkClosed(LinkUnavailable):
    """Turned off, expired or used up: it will not take payments again as it is."""


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
    # A chosen amount (chosen_amounts): Decimals in the service's currency, or None.
    min_amount: object = None
    max_amount: object = None
    preset_amount: object = None
    # What its checkout asks: custom fields in the API's shape, and the e-mail.
    custom_fields: list | None = None
    collect_email: str = "off"


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
        if len(value) > METADATA_VALUE_MAX:
            raise ValidationError(
                "metadata", f"Metadata value of {key!r} is over {METADATA_VALUE_MAX} characters"
            )
        cleaned[key.strip()] = value
    return cleaned


@dataclass(frozen=True)
class _CheckedFields:
    """A link's settings once _check has passed them: what _assign writes."""

    service: Service
    provider: Provider | None
    title: str
    description: str
    quantity: int
    adjustable_quantity: bool
    min_quantity: int
    max_quantity: int
    expires_at: datetime | None
    max_uses: int | None
    active: bool
    metadata: dict[str, str]
    after_payment: AfterPayment
    confirmation_message: str
    redirect_url: str | None
    new_password: str | None
    remove_password: bool
    chosen: chosen_amounts.ChosenRange
    questions: custom_fields.Questions


def _check(fields: LinkFields) -> _CheckedFields:
    """A link's settings from the admin form, the API or the CLI, checked; or raise
    ValidationError naming the first bad field."""
    service = db.session.get(Service, fields.service_id) if fields.service_id else None
    if service is None:
        raise ValidationError("service_id", "Choose the service this link sells")
    provider = None
    if fields.provider_id:
        provider = db.session.get(Provider, fields.provider_id)
        if provider is None:
            raise ValidationError("provider_id", "No such provider")
    title = (fields.title or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise ValidationError("title", f"Give the link a title of 1 to {TITLE_MAX} characters")
    description = (fields.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            "description", f"The description is over {DESCRIPTION_MAX} characters"
        )
    quantity, low, high = _check_quantities(fields, service)
    max_uses = None
    if fields.max_uses is not None:
        max_uses = _count("max_uses", fields.max_uses, 1, 1_000_000)
    after_payment, message, redirect_url = _check_after_payment(fields)
    metadata = clean_metadata(fields.metadata)
    if fields.password and not PASSWORD_MIN <= len(fields.password) <= PASSWORD_MAX:
        raise ValidationError(
            "password", f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters"
        )
    return _CheckedFields(
        service=service,
        provider=provider,
        title=title,
        description=description,
        quantity=quantity,
        adjustable_quantity=bool(fields.adjustable_quantity),
        min_quantity=low,
        max_quantity=high,
        expires_at=fields.expires_at,
        max_uses=max_uses,
        active=bool(fields.active),
        metadata=metadata,
        after_payment=after_payment,
        confirmation_message=message,
        redirect_url=redirect_url,
        new_password=fields.password or None,
        remove_password=bool(fields.remove_password),
        chosen=chosen_amounts.check_range(
            service,
            provider,
            (fields.min_amount, fields.max_amount, fields.preset_amount),
            quantity=quantity,
            adjustable_quantity=bool(fields.adjustable_quantity),
        ),
        questions=custom_fields.check_questions(fields.custom_fields, fields.collect_email),
    )


def _check_quantities(fields: LinkFields, service: Service) -> tuple[int, int, int]:
    """(quantity, lowest, highest) a customer may buy; the highest total within Stripe's."""
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
    return quantity, low, high


def _check_after_payment(fields: LinkFields) -> tuple[AfterPayment, str, str | None]:
    """(the choice, its confirmation message, its redirect URL): only the chosen way
    applies; the other's field is cleared, not checked."""
    if fields.after_payment not in {choice.value for choice in AfterPayment}:
        raise ValidationError("after_payment", "Choose a message or a redirect")
    choice = AfterPayment(fields.after_payment)
    if choice is AfterPayment.REDIRECT:
        redirect_url = urls.clean_redirect_url("redirect_url", fields.redirect_url)
        if not redirect_url:
            raise ValidationError("redirect_url", "Give the URL to send customers to after paying")
        return choice, "", redirect_url
    message = (fields.confirmation_message or "").strip()
    if len(message) > MESSAGE_MAX:
        raise ValidationError(
            "confirmation_message", f"The message is over {MESSAGE_MAX} characters"
        )
    return choice, message, None


def _assign(link: PaymentLink, checked: _CheckedFields) -> str | None:
    """Write checked settings to the link; returns what happened to its password, for the
    audit log ("set", "changed", "removed"), or None."""
    password_change = None
    if checked.new_password:
        password_change = "changed" if link.password_hash else "set"
        link.password_hash = hash_password(checked.new_password)
    elif checked.remove_password and link.password_hash:
        password_change = "removed"  # noqa: S105 -- what happened to it, for the audit log
        link.password_hash = None
    link.service = checked.service
    link.provider = checked.provider
    link.title = checked.title
    link.description = checked.description
    link.quantity = checked.quantity
    link.adjustable_quantity = checked.adjustable_quantity
    link.min_quantity = checked.min_quantity
    link.max_quantity = checked.max_quantity
    link.expires_at = checked.expires_at
    link.max_uses = checked.max_uses
    link.active = checked.active
    link.metadata_json = json.dumps(checked.metadata, sort_keys=True)
    link.after_payment = checked.after_payment
    link.confirmation_message = checked.confirmation_message
    link.redirect_url = checked.redirect_url
    link.min_amount_minor = checked.chosen.min_minor
    link.max_amount_minor = checked.chosen.max_minor
    link.preset_amount_minor = checked.chosen.preset_minor
    custom_fields.assign(link, checked.questions)
    return password_change


def _apply(link: PaymentLink, fields: LinkFields, actor: Actor) -> PaymentLink:
    """Check the settings, write them and their audit entries, and commit."""
    checked = _check(fields)
    created = not link.id
    before = {} if created else audit.snapshot(link, AUDITED_CHANGES)
    turned = not created and link.active != checked.active
    password_change = _assign(link, checked)
    audit.record_save(
        actor,
        Action.LINK_CREATED if created else Action.LINK_CHANGED,
        "link",
        link,
        before,
        AUDITED if created else AUDITED_CHANGES,
        **({"password": password_change} if password_change else {}),
    )
    if turned:
        _record_turn(link, actor)
    db.session.commit()
    return link


def _record_turn(link: PaymentLink, actor: Actor) -> None:
    action = Action.LINK_TURNED_ON if link.active else Action.LINK_TURNED_OFF
    audit.record(actor, action, "link", link.id)


def create_link(fields: LinkFields, *, actor: Actor) -> PaymentLink:
    """Create a link, or raise ValidationError naming the bad field."""
    if fields.expires_at is not None and fields.expires_at <= utcnow():
        raise ValidationError("expires_at", "The expiry must be in the future")
    return _apply(PaymentLink(), fields, actor)


def update_link(link: PaymentLink, fields: LinkFields, *, actor: Actor) -> PaymentLink:
    """Change a link; orders already opened keep their amounts. A new expiry must be in the
    future (an expired link keeps its own while other settings change)."""
    expiry = fields.expires_at
    if expiry is not None and expiry != link.expires_at and expiry <= utcnow():
        raise ValidationError("expires_at", "The expiry must be in the future")
    return _apply(link, fields, actor)


def copy_link(link: PaymentLink, *, actor: Actor) -> PaymentLink:
    """A new link with the same settings (and password), its own id and no history."""
    twin = PaymentLink(
        service_id=link.service_id,
        provider_id=link.provider_id,
        title=f"{link.title} (copy)"[:TITLE_MAX],
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
        min_amount_minor=link.min_amount_minor,
        max_amount_minor=link.max_amount_minor,
        preset_amount_minor=link.preset_amount_minor,
        custom_fields_json=link.custom_fields_json,
        collect_email=link.collect_email,
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
        _record_turn(link, actor)
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


def completed_uses_of(link_ids: list[str]) -> dict[str, int]:
    """Payments completed through each of these links, in one query."""
    counts = dict.fromkeys(link_ids, 0)
    rows = db.session.execute(
        select(Order.payment_link_id, func.count())
        .where(Order.payment_link_id.in_(link_ids), Order.status.in_(orders.COMPLETED))
        .group_by(Order.payment_link_id)
    )
    counts.update({link_id: count for link_id, count in rows})
    return counts


def unavailability(
    link: PaymentLink, now: datetime | None = None, completed: int | None = None
) -> LinkUnavailable | None:
    """Why the link cannot be paid now, or None when it can; `completed`, its completed
    uses when the caller has counted them."""
    now = now or utcnow()
    if not link.active or not link.service.active:
        return LinkClosed("This payment link has been turned off by the seller.", "inactive")
    if link.expires_at is not None and now >= link.expires_at:
        return LinkClosed("This payment link has expired.", "expired")
    if completed is None and link.max_uses is not None:
        completed = completed_uses(link.id)
    if link.max_uses is not None and completed >= link.max_uses:
        return LinkClosed("This payment link has reached its number of payments.", "used_up")
    return None


def refusing_transaction(work):
    """Run work() in a transaction of its own; a refusal rolls it back (and frees the lock)."""
    try:
        return in_transaction(work)
    except LinkUnavailable:
        db.session.rollback()
        raise


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


def usage(link: PaymentLink, completed: int | None = None) -> Usage:
    """How far the link has been used, and whether it still takes payments; `completed`,
    its completed uses when the caller has counted them (completed_uses_of)."""
    if completed is None:
        completed = completed_uses(link.id)
    problem = unavailability(link, completed=completed)
    return Usage(completed, problem.reason if problem else "active")


def button_label(link: PaymentLink) -> str:
    """The words of the link's pay button on another website (kassa.js's data-label): the
    total when the quantity is fixed, "Pay from" the smallest total when the customer
    chooses, and just "Pay" when Stripe's page asks the quantity. Pasted text, so the same
    in every locale."""
    if link.provider is not None and link.provider.mode is PaymentMode.BUY_BUTTON:
        return "Pay"
    if chosen_amounts.chooses_amount(link):
        return "Pay"  # the customer enters the amount on the link's page
    service = link.service
    smallest = link.min_quantity if link.adjustable_quantity else link.quantity
    total = money.format_money(service.price_minor * smallest, service.currency)
    if link.adjustable_quantity and link.max_quantity > link.min_quantity:
        return f"Pay from {total}"
    return f"Pay {total}"


# Queries for the API and the admin pages


def provider_links(
    provider_id: str, *, active: bool | None, after: PaymentLink | None, limit: int
) -> list[PaymentLink]:
    """Up to `limit` of the provider's links, newest first, those after `after` (a link of
    the same list), only those turned on or off when `active` says so."""
    query = select(PaymentLink).where(PaymentLink.provider_id == provider_id)
    if active is not None:
        query = query.where(PaymentLink.active == active)
    query = query.options(selectinload(PaymentLink.service))
    return list(db.session.scalars(database.newest_first(query, PaymentLink, after).limit(limit)))


def all_links() -> list[PaymentLink]:
    """Every payment link, newest first."""
    return list(db.session.scalars(select(PaymentLink).order_by(PaymentLink.created_at.desc())))
