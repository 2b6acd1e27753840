"""Every JSON shape Kassa hands out, each built in one place.

One rule for all of them: amounts are exact `Decimal`s in major units (written as JSON
numbers), times are `jsonio.timestamp` strings, and every field is present, null while it
has no value (`paidAmount` before payment, `paymentLinkId` of an order opened by API). The
one exception is a field of one payment mode, present only in that mode
(`stripeBuyButtonId`). Nothing here reads the request or the database: callers pass what
depends on them (the base URL, a link's use so far).
"""

from decimal import Decimal

from checkout import branding, jsonio, money, urls
from checkout.models import (
    ApiKey,
    Notification,
    NotificationStatus,
    Order,
    OrderStatus,
    PaymentLink,
    PaymentMode,
    Provider,
    Refund,
    Service,
    WebhookEndpoint,
    utcnow,
)

# How the API names the fields that services name after model columns; an error about a
# field names it as the API caller wrote it.
API_FIELD_NAMES = {
    "service_id": "service",
    "external_id": "externalId",
    "min_quantity": "minQuantity",
    "max_quantity": "maxQuantity",
    "expires_at": "expiresAt",
    "max_uses": "maxUses",
    "confirmation_message": "confirmationMessage",
    "redirect_url": "redirectUrl",
    "after_payment": "redirectUrl",
}


def api_field(name: str) -> str:
    """The API's name for a service's field name."""
    return API_FIELD_NAMES.get(name, name)


def api_error(message: str, code: str, param: str | None = None) -> dict:
    """An API error: the message for people (`error`, the guide's contract), a stable
    machine-readable `code`, and the request field it is about (`param`, null if none)."""
    return {"error": message, "code": code, "param": param}


def _amount(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else money.to_decimal(minor, currency)


def _paid_amount(row: Order) -> Decimal | None:
    currency = row.paid_currency or row.currency
    if row.paid_amount_minor is None or not money.is_supported(currency):
        return None
    return money.to_decimal(row.paid_amount_minor, currency)


def _dispute(row: Order) -> dict | None:
    if row.dispute_id is None:
        return None
    return {
        "id": row.dispute_id,
        "status": row.dispute_status,
        "reason": row.dispute_reason,
        "amount": _amount(row.dispute_amount_minor, row.currency),
        "evidenceDueBy": jsonio.timestamp(row.dispute_evidence_due_by),
    }


def order(row: Order) -> dict:
    """An order as the API and notifications show it, without request-dependent URLs."""
    fields = {
        "orderId": row.id,
        "externalId": row.external_id,
        "amount": row.amount,
        "quantity": row.quantity,
        "currency": row.currency,
        "mode": row.mode.value,
        "status": row.status.value,
        "createdAt": jsonio.timestamp(row.created_at),
        "paidAt": jsonio.timestamp(row.paid_at),
        "paidAmount": _paid_amount(row),
        "paidCurrency": row.paid_currency,
        "refundedAmount": _amount(row.refunded_amount_minor or None, row.currency),
        "fullyRefunded": row.status is OrderStatus.REFUNDED,
        "amountMismatch": row.amount_mismatch,
        "stripePaymentIntentId": row.stripe_payment_intent_id,
        "paymentLinkId": row.payment_link_id,
        "dispute": _dispute(row),
        "livemode": row.livemode,
    }
    if row.mode is PaymentMode.BUY_BUTTON:
        fields["stripeBuyButtonId"] = row.service.buy_button_id
    return fields


def api_order(row: Order, base_url: str) -> dict:
    """An order in an API answer: the order and where its customer pays."""
    return {**order(row), "checkoutUrl": urls.checkout_url(row.id, base_url)}


def order_notification(row: Order, event: str) -> dict:
    """The body a provider receives when its order changes."""
    link = row.payment_link
    return {
        "event": event,
        **order(row),
        "providerId": row.provider_id,
        "providerName": row.provider.name if row.provider else None,
        "serviceId": row.service.id,
        "serviceName": row.service.title,
        "metadata": link.link_metadata if link is not None else None,
        "timestamp": jsonio.timestamp(utcnow()),
    }


def test_notification(provider: Provider) -> dict:
    """The body of the admin's "Send test event"."""
    return {
        "event": "test",
        "providerId": provider.id,
        "providerName": provider.name,
        "message": "A test notification from Kassa. Verify its signature and answer 2xx.",
        "timestamp": jsonio.timestamp(utcnow()),
    }


def refund(row: Refund) -> dict:
    """A refund of an order, in the currency it was paid in, with Stripe's status."""
    return {
        "id": row.id,
        "orderId": row.order_id,
        "amount": _amount(row.amount_minor, row.currency)
        if money.is_supported(row.currency)
        else None,
        "currency": row.currency,
        "status": row.status,
        "reason": row.reason,
        "createdAt": jsonio.timestamp(row.created_at),
    }


def feed_event(row: Notification) -> dict:
    """A notification as the events feed lists it: its webhook-id, type, time and the body
    that was (or is being) delivered."""
    return {
        "id": row.id,
        "type": row.event,
        "orderId": row.order_id,
        "createdAt": jsonio.timestamp(row.created_at),
        "data": jsonio.loads(row.payload),
    }


def webhook_endpoint(row: WebhookEndpoint, secret: str | None = None) -> dict:
    """A webhook endpoint; its secret only in the answer that made it (creation, rotation)."""
    shown = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": ["*"] if row.events == "*" else row.event_types,
        "active": row.active,
        "disabledAt": jsonio.timestamp(row.disabled_at),
        "secretRotatedAt": jsonio.timestamp(row.secret_rotated_at),
        "createdAt": jsonio.timestamp(row.created_at),
    }
    return shown if secret is None else {**shown, "secret": secret}


def delivery(row: Notification) -> dict:
    """One endpoint's notification: where it stands, its last answer and its next try."""
    last = row.attempt_log[-1] if row.attempt_log else None
    pending = row.status is NotificationStatus.PENDING
    return {
        "id": row.id,
        "webhookId": row.message_id,
        "type": row.event,
        "orderId": row.order_id,
        "status": row.status.value,
        "attempts": row.attempts,
        "lastResponseStatus": last.response_status if last else None,
        "lastError": row.last_error,
        "nextAttemptAt": jsonio.timestamp(row.next_attempt_at) if pending else None,
        "createdAt": jsonio.timestamp(row.created_at),
        "deliveredAt": jsonio.timestamp(row.delivered_at),
    }


def payment_link(link: PaymentLink, base_url: str, completed: int, status: str) -> dict:
    """A payment link for the API and the CLI, with its use so far (payment_links.usage)."""
    url = urls.link_url(link.id, base_url)
    return {
        "id": link.id,
        "url": url,
        "checkoutUrl": f"{base_url}/checkout?paymentLinkId={link.id}",
        "qrCodePng": url + "/qr.png",
        "qrCodeSvg": url + "/qr.svg",
        "title": link.title,
        "description": link.description,
        "serviceId": link.service_id,
        "providerId": link.provider_id,
        "unitAmount": link.service.price,
        "currency": link.service.currency,
        "adjustableQuantity": link.adjustable_quantity,
        "quantity": link.quantity,
        "minQuantity": link.min_quantity,
        "maxQuantity": link.max_quantity,
        "expiresAt": jsonio.timestamp(link.expires_at),
        "maxUses": link.max_uses,
        "completedPayments": completed,
        "passwordProtected": link.password_hash is not None,
        "active": link.active,
        "status": status,
        "metadata": link.link_metadata,
        "afterPayment": link.after_payment.value,
        "confirmationMessage": link.confirmation_message,
        "redirectUrl": link.redirect_url,
        "createdAt": jsonio.timestamp(link.created_at),
    }


def link_overlay(available: bool, on_phones: bool, reason: str | None) -> dict:
    """Whether kassa.js may open a link in its overlay on the asking page (and on phones)."""
    return {"overlay": available, "onPhones": on_phones, "reason": reason}


def service(row: Service) -> dict:
    """A service, as the CLI prints it."""
    return {
        "id": row.id,
        "slug": row.slug,
        "title": row.title,
        "price": row.price,
        "currency": row.currency,
        "buyButtonId": row.buy_button_id,
        "stripePaymentLinkId": row.stripe_payment_link_id,
        "active": row.active,
    }


def provider(row: Provider) -> dict:
    """A provider's settings, as the CLI prints them (never its keys or secrets)."""
    return {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "service": row.service.slug,
        "mode": row.mode.value,
        "active": row.active,
        "webhookUrl": row.webhook_url,
        "successUrl": row.success_url,
        "cancelUrl": row.cancel_url,
        "ipAllowlist": row.allowed_networks,
        "embedOrigins": row.embed_origin_list,
        "requireSignedRequests": row.require_signed_requests,
        "signatureFormat": row.signature_format.value,
        "requestSecretPrefix": row.request_secret_prefix,
    }


def provider_branding(row: Provider, base: str) -> dict:
    """A provider's branding, as the CLI prints it; the logo's URL is absolute on `base`."""
    look = branding.brand(row)
    return {
        "provider": row.slug,
        "displayName": row.display_name,
        "shownAs": look.name,
        "accentColor": look.accent,
        "accentTextColor": look.accent_text,
        "logoType": row.logo_type,
        "logoUrl": base + look.logo_url if look.logo_url else None,
    }


def provider_details(row: Provider) -> dict:
    """`providers show`: the provider's settings, its keys' public facts and the
    notification signing secret (a secret: shown only by this command)."""
    return {
        **provider(row),
        "webhookSecret": row.primary_endpoint.secret if row.primary_endpoint else None,
        "apiKeys": [api_key(key) for key in row.active_keys],
    }


def demo(
    admin_url: str,
    email: str,
    password: str | None,
    service_row: Service,
    provider_row: Provider,
    key: str | None,
    try_it: str,
    changed: bool,
) -> dict:
    """`demo --json`: what the demo seeded; a password or key kept from an earlier run is null
    (only its first run, or --reset, shows them)."""
    return {
        "changed": changed,
        "admin": {"url": admin_url, "email": email, "password": password},
        "service": service(service_row),
        "provider": {**provider(provider_row), "apiKey": key},
        "tryIt": try_it,
    }


def api_key(row: ApiKey) -> dict:
    """An API key's public facts, as the CLI prints them (never the key itself)."""
    return {
        "id": row.id,
        "provider": row.provider.slug,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scope_list,
        "revoked": row.revoked_at is not None,
    }


def stripe_check(mode: str, api_version: str, findings: list) -> dict:
    """`stripe check --json`: the mode, the pinned API version and each check's findings
    (stripe_setup.Finding: check, ok, message)."""
    return {
        "ok": all(finding.ok for finding in findings),
        "mode": mode,
        "livemode": mode == "live",
        "apiVersion": api_version,
        "checks": [
            {"check": finding.check, "ok": finding.ok, "message": finding.message}
            for finding in findings
        ],
        "problems": [
            f"{finding.check}: {finding.message}" for finding in findings if not finding.ok
        ],
    }
