"""Provider API: payment links."""

from flask import jsonify, request

from checkout import audit, payment_links, schemas, urls
from checkout.api.common import (
    ApiError,
    authenticated_key,
    bp,
    check_fields,
    json_body,
    optional,
    page_limit,
)
from checkout.models import ApiScope, PaymentLink, Provider


@bp.post("/payment-links")
def create_payment_link():
    """Create a payment link for the provider's service; its settings and notifications apply."""
    body = json_body()
    key = authenticated_key(ApiScope.LINKS_WRITE, body)
    check_fields("createPaymentLink", body)
    provider = key.provider
    quantity = optional(body, "quantity", int, "a whole number")
    low = optional(body, "minQuantity", int, "a whole number")
    high = optional(body, "maxQuantity", int, "a whole number")
    redirect_url = optional(body, "redirectUrl", str, "a string")
    metadata = {} if body.get("metadata") is None else body["metadata"]
    link = payment_links.create_link(
        payment_links.LinkFields(
            service_id=provider.service_id,
            provider_id=provider.id,
            title=optional(body, "title", str, "a string") or provider.service.title,
            description=optional(body, "description", str, "a string") or "",
            quantity=1 if quantity is None else quantity,
            adjustable_quantity=low is not None or high is not None,
            min_quantity=1 if low is None else low,
            max_quantity=(quantity or 1) if high is None else high,
            expires_at=payment_links.parse_expiry(body.get("expiresAt")),
            password=optional(body, "password", str, "a string"),
            max_uses=optional(body, "maxUses", int, "a whole number"),
            metadata=payment_links.clean_metadata(metadata),
            after_payment="redirect" if redirect_url else "message",
            confirmation_message=optional(body, "confirmationMessage", str, "a string") or "",
            redirect_url=redirect_url,
        ),
        actor=audit.api_key(key.prefix),
    )
    return jsonify(_link_json(link)), 201


@bp.get("/payment-links")
def list_payment_links():
    """The provider's payment links, newest first, optionally only those on (or off)."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    check_fields("listPaymentLinks")
    active = _active_filter(request.args.get("active"))
    limit = page_limit()
    after = None
    after_id = request.args.get("startingAfter")
    if after_id is not None:
        after = _own_link(provider, after_id)
        if after is None:
            raise ApiError(
                "startingAfter must be one of your payment link ids",
                422,
                "validation_error",
                "startingAfter",
            )
    rows = payment_links.provider_links(provider.id, active=active, after=after, limit=limit + 1)
    page = rows[:limit]
    completed = payment_links.completed_uses_of([link.id for link in page])
    return jsonify(
        data=[_link_json(link, completed[link.id]) for link in page], hasMore=len(rows) > limit
    )


@bp.get("/payment-links/<link_id>")
def get_payment_link(link_id: str):
    """One of the provider's payment links, with its status and completed payments."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    check_fields("getPaymentLink")
    link = _own_link(provider, link_id)
    if link is None:
        raise ApiError("Payment link not found", 404, "not_found")
    return jsonify(_link_json(link))


@bp.patch("/payment-links/<link_id>")
def update_payment_link(link_id: str):
    """Change some of a payment link's settings; those not sent keep their values."""
    key = authenticated_key(ApiScope.LINKS_WRITE)
    body = json_body()
    check_fields("updatePaymentLink", body)
    link = _own_link(key.provider, link_id)
    if link is None:
        raise ApiError("Payment link not found", 404, "not_found")
    payment_links.update_link(link, _patched(link, body), actor=audit.api_key(key.prefix))
    return jsonify(_link_json(link))


def _own_link(provider: Provider, link_id: str) -> PaymentLink | None:
    link = payment_links.find_link(link_id)
    return link if link is not None and link.provider_id == provider.id else None


def _active_filter(value: str | None) -> bool | None:
    if value is None:
        return None
    if value not in ("true", "false"):
        raise ApiError("active must be true or false", 422, "validation_error", "active")
    return value == "true"


def _patched(link: PaymentLink, body: dict) -> payment_links.LinkFields:
    """The link's settings with the sent fields in place of theirs: null clears expiresAt,
    maxUses, redirectUrl and password; a redirectUrl sends customers there after paying,
    a confirmationMessage without one shows them the message."""
    after_payment, redirect_url = link.after_payment.value, link.redirect_url
    if "redirectUrl" in body or "confirmationMessage" in body:
        redirect_url = _sent(body, "redirectUrl", None, str, "a string or null", nullable=True)
        after_payment = "redirect" if redirect_url else "message"
    password = _sent(body, "password", None, str, "a string or null", nullable=True)
    expires_at = link.expires_at
    if "expiresAt" in body:
        expires_at = payment_links.parse_expiry(body["expiresAt"])
    return payment_links.LinkFields(
        service_id=link.service_id,
        provider_id=link.provider_id,
        title=_sent(body, "title", link.title, str, "a string"),
        description=_sent(body, "description", link.description, str, "a string"),
        quantity=link.quantity,
        adjustable_quantity=link.adjustable_quantity,
        min_quantity=link.min_quantity,
        max_quantity=link.max_quantity,
        expires_at=expires_at,
        password=password,
        remove_password="password" in body and password is None,
        max_uses=_sent(body, "maxUses", link.max_uses, int, "a whole number or null", True),
        active=_sent(body, "active", link.active, bool, "true or false"),
        metadata=_sent(body, "metadata", link.link_metadata, dict, "an object of strings"),
        after_payment=after_payment,
        confirmation_message=_sent(
            body, "confirmationMessage", link.confirmation_message, str, "a string"
        ),
        redirect_url=redirect_url,
    )


def _sent(body: dict, name: str, current, kind: type, label: str, nullable: bool = False):
    """The field's value as sent, of the right type, or `current` when it was not sent."""
    if name not in body:
        return current
    value = body[name]
    if value is None and nullable:
        return None
    if (
        value is None
        or (isinstance(value, bool) and kind is not bool)
        or not isinstance(value, kind)
    ):
        raise ApiError(f"{name} must be {label}", 422, "validation_error", name)
    return value


def _link_json(link: PaymentLink, completed: int | None = None) -> dict:
    usage = payment_links.usage(link, completed)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)
