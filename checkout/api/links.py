"""Provider API: payment links."""

from flask import jsonify

from checkout import audit, payment_links, schemas, urls
from checkout.api.common import ApiError, authenticated_key, bp, check_fields, json_body, optional
from checkout.models import ApiScope, PaymentLink


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


@bp.get("/payment-links/<link_id>")
def get_payment_link(link_id: str):
    """One of the provider's payment links, with its status and completed payments."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    check_fields("getPaymentLink")
    link = payment_links.find_link(link_id)
    if link is None or link.provider_id != provider.id:
        raise ApiError("Payment link not found", 404, "not_found")
    return jsonify(_link_json(link))


def _link_json(link: PaymentLink) -> dict:
    usage = payment_links.usage(link)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)
