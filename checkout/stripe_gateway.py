"""Every Stripe call Kassa makes. Nothing else imports stripe."""

import json
from dataclasses import dataclass

import stripe
from flask import current_app

from checkout import config
from checkout.models import Order

StripeError = stripe.StripeError
SIGNATURE_TOLERANCE = 300
# The API version the installed SDK was generated for; its typed params describe it.
SDK_API_VERSION = stripe.api_version


class InvalidWebhook(ValueError):
    """A webhook request that is not a correctly signed, fresh Stripe event."""


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


def is_live() -> bool:
    """Whether Stripe keys are configured; without them Kassa runs in sandbox mode."""
    config = current_app.config
    return bool(config["STRIPE_SECRET_KEY"] and config["STRIPE_PUBLISHABLE_KEY"])


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


def create_cashapp_payment_intent(order: Order) -> PaymentIntentView:
    """Create the order's Cash App PaymentIntent; the idempotency key makes a repeat harmless."""
    intent = _client().v1.payment_intents.create(
        params={
            "amount": order.amount_minor,
            "currency": order.currency,
            "allowed_payment_method_types": ["cashapp"],
            "metadata": payment_intent_metadata(order),
            "description": payment_description(order),
        },
        options={"idempotency_key": f"kassa-{order.id}-payment-intent"},
    )
    return _view(intent)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntentView:
    """Fetch a PaymentIntent's current state from Stripe."""
    return _view(_client().v1.payment_intents.retrieve(payment_intent_id))


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
    if not isinstance(event, dict) or event.get("object") == "v2.core.event":
        raise InvalidWebhook("Body is not a JSON Stripe event")
    return event


def create_refund(payment_intent_id: str, amount_minor: int | None, idempotency_key: str) -> str:
    """Ask Stripe to refund a PaymentIntent (all of it when amount is None); returns the id."""
    params: dict = {"payment_intent": payment_intent_id}
    if amount_minor is not None:
        params["amount"] = amount_minor
    refund = _client().v1.refunds.create(
        params=params, options={"idempotency_key": idempotency_key}
    )
    return refund.id


def mode() -> str:
    """'sandbox' without Stripe keys, else 'test' or 'live', from the secret key's prefix."""
    return config.stripe_mode(current_app.config)


def is_livemode() -> bool:
    """Whether payments are real: live Stripe keys (sandbox and Stripe test mode are not)."""
    return mode() == "live"


MODE_NAMES = {
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
