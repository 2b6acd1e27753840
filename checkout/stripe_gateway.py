"""Every Stripe call Kassa makes. Nothing else imports stripe."""

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from checkout import alerts, config
from checkout.database import in_transaction
from checkout.enums import RefundReason
from checkout.errors import DomainError
from checkout.extensions import db
from checkout.models import Order
from checkout.records import Setting

StripeError = stripe.StripeError
log = logging.getLogger(__name__)
# The settings row that remembers Stripe refusing Cash App Pay to the account.
CASHAPP_REFUSED = "stripe_cashapp_refused"
SIGNATURE_TOLERANCE = 300
# The API version the installed SDK was generated for; its typed params describe it.
SDK_API_VERSION = stripe.api_version


class InvalidWebhook(ValueError):
    """A webhook request that is not a correctly signed, fresh Stripe event."""


class CashAppUnavailable(DomainError):
    """Stripe does not let this account take Cash App Pay (not activated, or not eligible)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class PaymentIntentView:
    """The parts of a PaymentIntent Kassa acts on."""

    id: str
    status: str
    client_secret: str | None
    amount: int
    amount_received: int | None
    currency: str
    has_payment_error: bool


@dataclass(frozen=True)
class CheckoutSessionView:
    """The parts of a Checkout Session Kassa acts on, each None unless well formed.

    Read from a plain dict in Stripe's shape: a signed webhook's object, or a session
    retrieved from Stripe. `quantity` is known only when the session's line items were
    retrieved and hold exactly one line item (a Buy Button's Payment Link sells one).
    """

    id: str | None
    status: str | None
    payment_status: str | None
    payment_link: str | None
    client_reference_id: str | None
    currency: str | None
    amount_total: int | None
    payment_intent: str | None
    line_item_count: int | None
    quantity: int | None
    # total_details.amount_discount: what Stripe's own discounts (promotion codes) took off.
    amount_discount: int | None = None
    # What Stripe's page asked: its custom fields' (key, label, value), the customer's e-mail.
    custom_fields: tuple[tuple[str, str, str | None], ...] = ()
    customer_email: str | None = None

    @classmethod
    def of(cls, data: dict) -> "CheckoutSessionView":
        session_id = well_formed_text(data.get("id"))
        items = data.get("line_items")
        listed = items.get("data") if isinstance(items, dict) else None
        count = quantity = None
        if isinstance(listed, list) and items.get("has_more") is False:
            count = len(listed)
            only = listed[0] if count == 1 and isinstance(listed[0], dict) else {}
            quantity = _count(only.get("quantity"))
        currency = well_formed_text(data.get("currency"), 3)
        return cls(
            id=session_id if session_id and SESSION_ID.match(session_id) else None,
            status=well_formed_text(data.get("status")),
            payment_status=well_formed_text(data.get("payment_status")),
            payment_link=_id_of(data.get("payment_link")),
            client_reference_id=well_formed_text(data.get("client_reference_id")),
            currency=currency.lower() if currency else None,
            amount_total=well_formed_int(data.get("amount_total")),
            payment_intent=_id_of(data.get("payment_intent")),
            line_item_count=count,
            quantity=quantity,
            amount_discount=_amount_discount(data.get("total_details")),
            custom_fields=_session_custom_fields(data.get("custom_fields")),
            customer_email=_session_email(data.get("customer_details")),
        )


def _amount_discount(total_details: object) -> int | None:
    """A session's total_details.amount_discount (Stripe: an integer, the sum of all the
    discounts; total_details itself may be null)."""
    if not isinstance(total_details, dict):
        return None
    return well_formed_int(total_details.get("amount_discount"))


def _session_custom_fields(listed: object) -> tuple[tuple[str, str, str | None], ...]:
    """A Checkout Session's custom fields as (key, label, value): Stripe keeps each answer
    under its type (`text`, `numeric`, `dropdown`: {"value": …}) and a custom label under
    `label.custom`. Malformed ones are left out."""
    found = []
    for field in listed if isinstance(listed, list) else ():
        if not isinstance(field, dict):
            continue
        key = well_formed_text(field.get("key"), 200)
        label = field.get("label")
        label_text = well_formed_text(label.get("custom") if isinstance(label, dict) else None)
        answer = field.get(field.get("type")) if isinstance(field.get("type"), str) else None
        value = well_formed_text(answer.get("value")) if isinstance(answer, dict) else None
        if key:
            found.append((key, label_text or key, value))
    return tuple(found[:3])


def _session_email(details: object) -> str | None:
    """The e-mail the customer gave on Stripe's page (`customer_details.email`)."""
    return well_formed_text(details.get("email"), 320) if isinstance(details, dict) else None


SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}\Z")


def well_formed_text(value: object, limit: int = 255) -> str | None:
    """A non-empty string that fits its column (no NUL), else None."""
    if isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value:
        return value
    return None


def well_formed_int(value: object) -> int | None:
    """A non-negative integer that fits a BIGINT (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return None


def _count(value: object) -> int | None:
    amount = well_formed_int(value)
    return amount if amount else None


def _id_of(value: object) -> str | None:
    """An object's id, whether Stripe sent the id or the expanded object."""
    return well_formed_text(value.get("id") if isinstance(value, dict) else value)


@dataclass(frozen=True)
class SessionPage:
    """One page of a list of Checkout Sessions, newest first."""

    sessions: list[CheckoutSessionView]
    has_more: bool


@dataclass(frozen=True)
class PaymentLinkView:
    """The parts of a Payment Link Kassa checks."""

    id: str
    active: bool
    currency: str | None


def has_stripe_keys() -> bool:
    """Whether both Stripe keys are set (test or live keys): payments go through Stripe."""
    config = current_app.config
    return bool(config["STRIPE_SECRET_KEY"] and config["STRIPE_PUBLISHABLE_KEY"])


def is_sandbox() -> bool:
    """Whether Kassa runs in sandbox mode: no Stripe keys, so no money moves."""
    return not has_stripe_keys()


def publishable_key() -> str | None:
    """The key Stripe.js and the Buy Button use in the browser."""
    return current_app.config["STRIPE_PUBLISHABLE_KEY"]


def api_version() -> str:
    """The Stripe API version every request sends: STRIPE_API_VERSION, else the SDK's."""
    return current_app.config["STRIPE_API_VERSION"] or SDK_API_VERSION


def _client() -> stripe.StripeClient:
    config = current_app.config
    base = config["STRIPE_API_BASE"]
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        stripe_version=api_version(),
        base_addresses={"api": base} if base else None,
        max_network_retries=config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
    )


def _view(intent) -> PaymentIntentView:
    return PaymentIntentView(
        id=intent.id,
        status=intent.status,
        client_secret=intent.client_secret,
        amount=intent.amount,
        amount_received=getattr(intent, "amount_received", None),
        currency=intent.currency,
        has_payment_error=bool(getattr(intent, "last_payment_error", None)),
    )


def payment_intent_metadata(order: Order) -> dict[str, str]:
    """The metadata that lets an operator find the order from Stripe's dashboard."""
    link = order.payment_link
    ours = {
        "serviceId": order.service.id,
        "serviceName": order.service.title,
        "quantity": str(order.quantity),
        "providerId": order.provider_id or "",
        "providerName": order.provider.name if order.provider else "",
        "externalId": order.external_id or "",
        "orderId": order.id,
    }
    if link is not None:
        ours["paymentLinkId"] = link.id
        return {**link.link_metadata, **ours}
    return ours


def payment_description(order: Order) -> str:
    """'Premium Credits | Direct (Bitloader)' or 'Premium Credits | PaymentLink: plink_…'."""
    if order.payment_link is not None:
        return f"{order.service.title} | PaymentLink: {order.payment_link.id}"
    if order.provider is not None:
        return f"{order.service.title} | Direct ({order.provider.name})"
    return f"{order.service.title} | Direct"


def payment_intent_key(order: Order) -> str:
    """The idempotency key of the order's PaymentIntent creation, numbered by its attempt.

    Stripe replays the answer to a key for 24 hours, errors included, so an attempt that
    met a transient error is followed by one with a new number.
    """
    key = f"kassa-{order.id}-payment-intent"
    return f"{key}-{order.payment_attempt}" if order.payment_attempt else key


def create_cashapp_payment_intent(order: Order) -> PaymentIntentView:
    """Create the order's Cash App PaymentIntent; the idempotency key makes a repeat harmless.

    Raises CashAppUnavailable when Stripe refuses Cash App Pay for the account.
    """
    try:
        intent = _client().v1.payment_intents.create(
            params={
                "amount": order.amount_minor,
                "currency": order.currency,
                "allowed_payment_method_types": ["cashapp"],
                "metadata": payment_intent_metadata(order),
                "description": payment_description(order),
            },
            options={"idempotency_key": payment_intent_key(order)},
        )
    except stripe.InvalidRequestError as error:
        if refuses_cashapp(error):
            raise CashAppUnavailable(
                "Cash App payments are not available", reason=error.user_message
            ) from error
        raise
    return _view(intent)


def refuses_cashapp(error: StripeError) -> bool:
    """Whether Stripe refused a Cash App PaymentIntent because the account cannot take it.

    Stripe answers 400 invalid_request_error, either with code payment_method_unactivated
    or on the payment method types parameter ("The payment method type "cashapp" is
    invalid. Please ensure the provided type is activated in your dashboard …").
    """
    details = error.error
    if error.http_status != 400 or details is None:
        return False
    if getattr(details, "type", None) != "invalid_request_error":
        return False
    code = getattr(details, "code", None)
    if code == "payment_method_unactivated":
        return True
    if code == "payment_method_types_no_longer_supported":
        return False
    param = getattr(details, "param", None) or ""
    return param.startswith(("allowed_payment_method_types", "payment_method_types"))


def is_refusal(error: StripeError) -> bool:
    """Whether Stripe answered and refused the request itself (a 4xx other than 429)."""
    status = error.http_status
    return status is not None and 400 <= status < 500 and status != 429


def is_transient(error: StripeError) -> bool:
    """Whether a Stripe error may pass by itself: no answer, rate limited (429), or 5xx."""
    status = error.http_status
    return (
        isinstance(error, stripe.APIConnectionError)
        or status is None
        or status == 429
        or status >= 500
    )


def _key_fingerprint() -> str:
    """Which secret key a remembered refusal belongs to, without storing the key."""
    secret = current_app.config["STRIPE_SECRET_KEY"] or ""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def cashapp_refused() -> bool:
    """Whether Stripe refused Cash App Pay to the configured account, and has not since taken it."""
    row = db.session.get(Setting, CASHAPP_REFUSED)
    if row is None:
        return False
    try:
        remembered = json.loads(row.value)
    except ValueError:
        return True
    return not isinstance(remembered, dict) or remembered.get("key") == _key_fingerprint()


def remember_cashapp_refusal(reason: str) -> None:
    """Note that Stripe refused Cash App Pay to this account, so new orders are refused too."""
    value = json.dumps({"key": _key_fingerprint(), "reason": reason[:1000]})

    def work() -> None:
        row = db.session.get(Setting, CASHAPP_REFUSED)
        if row is None:
            db.session.add(Setting(key=CASHAPP_REFUSED, value=value))
            alerts.happened(
                "cashapp_refused",
                "account",
                f"Stripe refuses Cash App Pay to this account ({reason[:300]}): Cash App "
                "orders are refused until it is enabled in Stripe's dashboard.",
            )
        else:
            row.value = value

    try:
        in_transaction(work)
    except IntegrityError:
        db.session.rollback()  # a concurrent request remembered it first
        return
    log.warning("Stripe refuses Cash App Pay for this account: %s", reason)


def forget_cashapp_refusal() -> bool:
    """Forget an earlier refusal of Cash App Pay; returns whether there was one."""
    forgotten = db.session.execute(delete(Setting).where(Setting.key == CASHAPP_REFUSED))
    db.session.commit()
    if forgotten.rowcount:
        log.warning("Stripe takes Cash App Pay for this account again")
    return bool(forgotten.rowcount)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntentView:
    """Fetch a PaymentIntent's current state from Stripe."""
    return _view(_client().v1.payment_intents.retrieve(payment_intent_id))


def change_payment_intent_amount(payment_intent_id: str, amount_minor: int) -> PaymentIntentView:
    """Make an unpaid PaymentIntent charge another amount (a discount code entered on the
    checkout page); its client secret stays. Stripe refuses (a 400) once it is paid or
    being paid."""
    return _view(
        _client().v1.payment_intents.update(payment_intent_id, params={"amount": amount_minor})
    )


def cancel_payment_intent(payment_intent_id: str) -> PaymentIntentView:
    """Ask Stripe to cancel a PaymentIntent, so that it can no longer be paid.

    Stripe refuses (a 400) once the payment is processing or has succeeded, and for one
    already canceled; the caller then reads the PaymentIntent to see which. No idempotency
    key of Kassa's own: cancelling twice is harmless, and a key would replay a refusal for
    24 hours after a processing payment failed and the order became cancelable again.
    """
    return _view(_client().v1.payment_intents.cancel(payment_intent_id))


def retrieve_checkout_session(session_id: str) -> dict:
    """A Checkout Session with its line items, in Stripe's shape, as a plain dict."""
    session = _client().v1.checkout.sessions.retrieve(session_id, params={"expand": ["line_items"]})
    return session.to_dict()


SESSION_PAGE_SIZE = 100


def list_payment_link_sessions(
    payment_link_id: str, created_since: datetime, starting_after: str | None = None
) -> SessionPage:
    """One page of a Payment Link's completed Checkout Sessions created since a moment."""
    params: dict = {
        "payment_link": payment_link_id,
        "status": "complete",
        "created": {"gte": int(created_since.replace(tzinfo=UTC).timestamp())},
        "limit": SESSION_PAGE_SIZE,
    }
    if starting_after is not None:
        params["starting_after"] = starting_after
    page = _client().v1.checkout.sessions.list(params=params)
    return SessionPage(
        sessions=[CheckoutSessionView.of(session.to_dict()) for session in page.data],
        has_more=bool(page.has_more),
    )


def retrieve_payment_link(payment_link_id: str) -> PaymentLinkView:
    """A Payment Link, to check that it exists and takes payments."""
    link = _client().v1.payment_links.retrieve(payment_link_id)
    return PaymentLinkView(id=link.id, active=bool(link.active), currency=link.currency)


def is_missing(error: StripeError) -> bool:
    """Whether Stripe answered that the object asked for does not exist."""
    return getattr(error, "code", None) == "resource_missing"


def webhook_configured() -> bool:
    """Whether Stripe webhooks can be verified."""
    return bool(current_app.config["STRIPE_WEBHOOK_SECRET"])


def verify_event(payload: bytes, signature: str | None) -> dict:
    """Check Stripe-Signature against the raw body and return the event as a plain dict."""
    if not signature:
        raise InvalidWebhook("Missing Stripe-Signature header")
    try:
        # The check construct_event makes, without building a StripeObject only to undo it.
        stripe.WebhookSignature.verify_header(
            payload, signature, current_app.config["STRIPE_WEBHOOK_SECRET"], SIGNATURE_TOLERANCE
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        raise InvalidWebhook("Invalid Stripe-Signature") from None
    except ValueError:  # not UTF-8, or not JSON
        raise InvalidWebhook("Body is not a JSON Stripe event") from None
    # The SDK refuses only old timestamps; one from the future is as suspect.
    if _signed_at(signature) > time.time() + SIGNATURE_TOLERANCE:
        raise InvalidWebhook("Stripe-Signature timestamp is in the future")
    if not isinstance(event, dict) or event.get("object") == "v2.core.event":
        raise InvalidWebhook("Body is not a JSON Stripe event")
    return event


def _signed_at(signature: str) -> int:
    """The t= of a Stripe-Signature header verify_header accepted, read as the SDK reads it."""
    for item in signature.split(","):
        key, *values = item.split("=", 2)
        if key == "t":
            return int(values[0])
    raise InvalidWebhook("Invalid Stripe-Signature")


@dataclass(frozen=True)
class RefundView:
    """The parts of a Stripe refund Kassa keeps."""

    id: str
    amount: int
    currency: str
    status: str
    payment_intent: str | None


def _refund_view(refund) -> RefundView:
    return RefundView(
        id=refund.id,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status or "pending",
        payment_intent=getattr(refund, "payment_intent", None),
    )


# Why a refund was made, in Stripe's words: the `reason` a refund takes.
REFUND_REASONS = tuple(reason.value for reason in RefundReason)


def create_refund(
    payment_intent_id: str,
    amount_minor: int | None,
    idempotency_key: str,
    reason: str | None = None,
) -> RefundView:
    """Ask Stripe to refund a PaymentIntent (all of it when amount is None)."""
    params: dict = {"payment_intent": payment_intent_id}
    if amount_minor is not None:
        params["amount"] = amount_minor
    if reason is not None:
        params["reason"] = reason
    refund = _client().v1.refunds.create(
        params=params, options={"idempotency_key": idempotency_key}
    )
    return _refund_view(refund)


REFUND_PAGE = 100


def list_refunds(payment_intent_id: str) -> list[RefundView]:
    """Every refund of a PaymentIntent, as Stripe has them now."""
    refunds = _client().v1.refunds.list(
        params={"payment_intent": payment_intent_id, "limit": REFUND_PAGE}
    )
    return [_refund_view(refund) for refund in refunds.auto_paging_iter()]


def charge_payment_intent(charge_id: str) -> str | None:
    """The PaymentIntent a charge belongs to."""
    charge = _client().v1.charges.retrieve(charge_id)
    return getattr(charge, "payment_intent", None)


def stripe_mode() -> str:
    """'sandbox' without Stripe keys, else 'test' or 'live', from the secret key's prefix."""
    return config.stripe_mode(current_app.config)


def is_livemode() -> bool:
    """Whether payments are real: live Stripe keys (sandbox and Stripe test mode are not)."""
    return stripe_mode() == "live"


STRIPE_MODE_NAMES = {
    "sandbox": "sandbox mode (no Stripe keys, no real money moves)",
    "test": "Stripe test mode",
    "live": "Stripe live mode",
}


@dataclass(frozen=True)
class AccountView:
    """The parts of the Stripe account Kassa's setup check reads."""

    id: str
    capabilities: dict[str, str]


@dataclass(frozen=True)
class WebhookEndpointView:
    """A webhook endpoint of the Stripe account."""

    id: str
    url: str
    status: str
    enabled_events: tuple[str, ...]
    livemode: bool


def retrieve_account() -> AccountView:
    """The account the secret key belongs to."""
    account = _client().v1.accounts.retrieve_current().to_dict()
    return AccountView(id=account["id"], capabilities=account.get("capabilities") or {})


def list_webhook_endpoints() -> list[WebhookEndpointView]:
    """Every webhook endpoint of the account, all pages."""
    first = _client().v1.webhook_endpoints.list(params={"limit": 100})
    return [
        WebhookEndpointView(
            id=endpoint.id,
            url=endpoint.url,
            status=endpoint.status,
            enabled_events=tuple(endpoint.enabled_events),
            livemode=endpoint.livemode,
        )
        for endpoint in first.auto_paging_iter()
    ]


def describe_error(error: StripeError) -> str:
    """A Stripe error in one line: what Stripe answered, or that it could not be reached."""
    if isinstance(error, stripe.APIConnectionError):
        return "could not reach Stripe (network error)"
    message = " ".join(str(error.user_message or error).split())
    return f"Stripe answered {error.http_status}: {message}" if error.http_status else message
