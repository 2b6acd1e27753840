"""Every JSON shape Kassa hands out, each built in one place: the API's answers and the
notifications fill the models of checkout/shapes.py (which define them, and the document),
the CLI's own shapes are plain objects here.

One rule for all of them: amounts are exact `Decimal`s in major units (written as JSON
numbers), times are `jsonio.timestamp` strings, and every field is present, null while it
has no value (`paidAmount` before payment, `paymentLinkId` of an order opened by API). The
one exception is a field of one payment mode, present only in that mode
(`stripeBuyButtonId`). Nothing here reads the request or the database: callers pass what
depends on them (the base URL, a link's use so far).
"""

from decimal import Decimal

from checkout import branding, custom_fields, jsonio, money, shapes, urls
from checkout.discount_models import DiscountCode
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
    # Chosen amounts and discount codes (issue 21)
    "min_amount": "minAmount",
    "max_amount": "maxAmount",
    "preset_amount": "presetAmount",
    "discount_code": "discountCode",
    "percent_off": "percentOff",
    "amount_off": "amountOff",
    "starts_at": "startsAt",
    "max_redemptions": "maxRedemptions",
    "applies_to": "appliesTo",
    "custom_fields": "customFields",
    "collect_email": "collectEmail",
    "customer_email": "customerEmail",
    "terms_url": "termsUrl",
    "privacy_url": "privacyUrl",
}


def api_field(name: str) -> str:
    """The API's name for a service's field name."""
    return API_FIELD_NAMES.get(name, name)


def api_error(message: str, code: str, param: str | None = None) -> dict:
    """An API error: the message for people (`error`, the guide's contract), a stable
    machine-readable `code`, and the request field it is about (`param`, null if none)."""
    return shapes.Error(error=message, code=code, param=param).dump()


def _amount(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else money.to_decimal(minor, currency)


def _paid_amount(row: Order) -> Decimal | None:
    currency = row.paid_currency or row.currency
    if row.paid_amount_minor is None or not money.is_supported(currency):
        return None
    return money.to_decimal(row.paid_amount_minor, currency)


def _dispute(row: Order) -> shapes.Dispute | None:
    if row.dispute_id is None:
        return None
    return shapes.Dispute(
        id=row.dispute_id,
        status=row.dispute_status,
        reason=row.dispute_reason,
        amount=_amount(row.dispute_amount_minor, row.currency),
        evidence_due_by=row.dispute_evidence_due_by,
    )


def _order_fields(row: Order) -> dict:
    """An order's own fields (shapes.OrderFields), the same in answers and notifications."""
    return {
        "order_id": row.id,
        "external_id": row.external_id,
        "amount": row.amount,
        "quantity": row.quantity,
        "currency": row.currency,
        "mode": row.mode,
        "status": row.status,
        "created_at": row.created_at,
        "paid_at": row.paid_at,
        "paid_amount": _paid_amount(row),
        "paid_currency": row.paid_currency,
        "refunded_amount": _amount(row.refunded_amount_minor or None, row.currency),
        "fully_refunded": row.status is OrderStatus.REFUNDED,
        "amount_mismatch": row.amount_mismatch,
        "stripe_payment_intent_id": row.stripe_payment_intent_id,
        "payment_link_id": row.payment_link_id,
        "dispute": _dispute(row),
        "livemode": row.livemode,
        "stripe_buy_button_id": row.service.buy_button_id
        if row.mode is PaymentMode.BUY_BUTTON
        else None,
        "discount_code": row.discount_code,
        "discount_amount": _amount(row.discount_minor, row.currency),
        "custom_fields": row.custom_field_values,
        "customer_email": row.customer_email,
        "terms_accepted_at": row.terms_accepted_at,
    }


def api_order(row: Order, base_url: str) -> shapes.Order:
    """An order in an API answer: the order and where its customer pays."""
    return shapes.Order(**_order_fields(row), checkout_url=urls.checkout_url(row.id, base_url))


def order_notification(row: Order, event: str) -> dict:
    """The body a provider receives when its order changes."""
    link = row.payment_link
    return shapes.Notification(
        **_order_fields(row),
        event=event,
        provider_id=row.provider_id,
        provider_name=row.provider.name if row.provider else None,
        service_id=row.service.id,
        service_name=row.service.title,
        metadata=link.link_metadata if link is not None else None,
        timestamp=utcnow(),
    ).dump()


def test_notification(provider: Provider) -> dict:
    """The body of the admin's "Send test event"."""
    return shapes.TestNotification(
        event="test",
        provider_id=provider.id,
        provider_name=provider.name,
        message="A test notification from Kassa. Verify its signature and answer 2xx.",
        timestamp=utcnow(),
    ).dump()


def refund(row: Refund) -> shapes.Refund:
    """A refund of an order, in the currency it was paid in, with Stripe's status."""
    return shapes.Refund(
        id=row.id,
        order_id=row.order_id,
        amount=_amount(row.amount_minor, row.currency)
        if money.is_supported(row.currency)
        else None,
        currency=row.currency,
        status=row.status,
        reason=row.reason,
        created_at=row.created_at,
    )


def feed_event(row: Notification) -> shapes.Event:
    """A notification as the events feed lists it: its webhook-id, type, time and the body
    that was (or is being) delivered."""
    return shapes.Event(
        id=row.id,
        type=row.event,
        order_id=row.order_id,
        created_at=row.created_at,
        data=jsonio.loads(row.payload),
    )


def webhook_endpoint(row: WebhookEndpoint, secret: str | None = None) -> shapes.WebhookEndpoint:
    """A webhook endpoint; its secret only in the answer that made it (creation, rotation)."""
    shown = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": ["*"] if row.events == "*" else row.event_types,
        "active": row.active,
        "disabled_at": row.disabled_at,
        "secret_rotated_at": row.secret_rotated_at,
        "created_at": row.created_at,
    }
    if secret is None:
        return shapes.WebhookEndpoint(**shown)
    return shapes.WebhookEndpointWithSecret(**shown, secret=secret)


def delivery(row: Notification) -> shapes.Delivery:
    """One endpoint's notification: where it stands, its last answer and its next try."""
    last = row.attempt_log[-1] if row.attempt_log else None
    pending = row.status is NotificationStatus.PENDING
    return shapes.Delivery(
        id=row.id,
        webhook_id=row.message_id,
        type=row.event,
        order_id=row.order_id,
        status=row.status,
        attempts=row.attempts,
        last_response_status=last.response_status if last else None,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if pending else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def payment_link(
    link: PaymentLink, base_url: str, completed: int, status: str
) -> shapes.PaymentLink:
    """A payment link for the API and the CLI, with its use so far (payment_links.usage)."""
    url = urls.link_url(link.id, base_url)
    return shapes.PaymentLink(
        id=link.id,
        url=url,
        checkout_url=f"{base_url}/checkout?paymentLinkId={link.id}",
        qr_code_png=url + "/qr.png",
        qr_code_svg=url + "/qr.svg",
        title=link.title,
        description=link.description,
        service_id=link.service_id,
        provider_id=link.provider_id,
        unit_amount=link.service.price,
        currency=link.service.currency,
        adjustable_quantity=link.adjustable_quantity,
        quantity=link.quantity,
        min_quantity=link.min_quantity,
        max_quantity=link.max_quantity,
        expires_at=link.expires_at,
        max_uses=link.max_uses,
        completed_payments=completed,
        password_protected=link.password_hash is not None,
        active=link.active,
        status=status,
        metadata=link.link_metadata,
        after_payment=link.after_payment,
        confirmation_message=link.confirmation_message,
        redirect_url=link.redirect_url,
        created_at=link.created_at,
        custom_fields=custom_fields.settings_of(link),
        collect_email=link.collect_email.value,
        min_amount=_amount(link.min_amount_minor, link.service.currency),
        max_amount=_amount(link.max_amount_minor, link.service.currency),
        preset_amount=_amount(link.preset_amount_minor, link.service.currency),
    )


def discount_code(row: DiscountCode, times_redeemed: int) -> shapes.DiscountCode:
    """A discount code for the API and the CLI, with its paid redemptions so far."""
    return shapes.DiscountCode(
        id=row.id,
        code=row.code,
        percent_off=row.percent_off,
        amount_off=row.amount_off,
        currency=row.currency,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        max_redemptions=row.max_redemptions,
        times_redeemed=times_redeemed,
        applies_to=shapes.AppliesTo(links=row.link_ids, services=row.service_ids),
        active=row.active,
        created_at=row.created_at,
    )


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
        "customFields": custom_fields.settings_of(row),
        "collectEmail": row.collect_email.value,
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
        "contactEmail": row.contact_email,
        "requireSignedRequests": row.require_signed_requests,
        "signatureFormat": row.signature_format.value,
        "requestSecretPrefix": row.request_secret_prefix,
        "termsUrl": row.terms_url,
        "privacyUrl": row.privacy_url,
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


def backup(path: str, manifest: dict, notes: list[str], upgraded_from: str | None = None) -> dict:
    """`backup create` and `backup restore`: the folder, its manifest and what was done."""
    return {"path": path, "manifest": manifest, "notes": notes, "upgradedFrom": upgraded_from}
