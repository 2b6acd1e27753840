"""Provider API: payment links."""

from checkout import audit, chosen_amounts, custom_fields, payment_links, schemas, shapes, urls
from checkout.api import bodies, queries
from checkout.api.common import (
    ApiError,
    answer,
    authenticated_key,
    bp,
    json_body,
    page_start,
    parse,
    parse_query,
)
from checkout.models import ApiScope, PaymentLink, Provider


@bp.post("/payment-links")
def create_payment_link():
    """Create a payment link for the provider's service; its settings and notifications apply."""
    body = json_body()
    key = authenticated_key(ApiScope.LINKS_WRITE, body)
    parse_query(queries.NoQuery)
    sent = parse(bodies.CreatePaymentLink, body)
    provider = key.provider
    link = payment_links.create_link(
        payment_links.LinkFields(
            service_id=provider.service_id,
            provider_id=provider.id,
            title=sent.title or provider.service.title,
            description=sent.description or "",
            quantity=1 if sent.quantity is None else sent.quantity,
            adjustable_quantity=sent.min_quantity is not None or sent.max_quantity is not None,
            min_quantity=1 if sent.min_quantity is None else sent.min_quantity,
            max_quantity=(sent.quantity or 1) if sent.max_quantity is None else sent.max_quantity,
            expires_at=sent.expires_at,
            password=sent.password,
            max_uses=sent.max_uses,
            metadata=payment_links.clean_metadata(sent.metadata or {}),
            after_payment="redirect" if sent.redirect_url else "message",
            confirmation_message=sent.confirmation_message or "",
            redirect_url=sent.redirect_url,
            min_amount=sent.min_amount,
            max_amount=sent.max_amount,
            preset_amount=sent.preset_amount,
            custom_fields=_settings(sent.custom_fields),
            collect_email=(sent.collect_email or "off"),
        ),
        actor=audit.api_key(key.prefix),
    )
    return answer(_link_json(link), 201)


@bp.get("/payment-links")
def list_payment_links():
    """The provider's payment links, newest first, optionally only those on (or off)."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    asked = parse_query(queries.ListPaymentLinks)
    active, limit = asked.active, asked.limit
    after = page_start(
        asked.starting_after,
        lambda link_id: _own_link(provider, link_id),
        "one of your payment link ids",
    )
    rows = payment_links.provider_links(provider.id, active=active, after=after, limit=limit + 1)
    page = rows[:limit]
    completed = payment_links.completed_uses_of([link.id for link in page])
    return answer(
        shapes.PaymentLinkList(
            data=[_link_json(link, completed[link.id]) for link in page],
            has_more=len(rows) > limit,
        )
    )


@bp.get("/payment-links/<link_id>")
def get_payment_link(link_id: str):
    """One of the provider's payment links, with its status and completed payments."""
    provider = authenticated_key(ApiScope.LINKS_READ).provider
    parse_query(queries.NoQuery)
    link = _own_link(provider, link_id)
    if link is None:
        raise ApiError("Payment link not found", 404, "not_found")
    return answer(_link_json(link))


@bp.patch("/payment-links/<link_id>")
def update_payment_link(link_id: str):
    """Change some of a payment link's settings; those not sent keep their values."""
    key = authenticated_key(ApiScope.LINKS_WRITE)
    body = json_body()
    parse_query(queries.NoQuery)
    sent = parse(bodies.UpdatePaymentLink, body)
    link = _own_link(key.provider, link_id)
    if link is None:
        raise ApiError("Payment link not found", 404, "not_found")
    payment_links.update_link(link, _patched(link, sent), actor=audit.api_key(key.prefix))
    return answer(_link_json(link))


def _own_link(provider: Provider, link_id: str) -> PaymentLink | None:
    link = payment_links.find_link(link_id)
    return link if link is not None and link.provider_id == provider.id else None


def _patched(link: PaymentLink, sent: bodies.UpdatePaymentLink) -> payment_links.LinkFields:
    """The link's settings with the sent fields in place of theirs: null clears expiresAt,
    maxUses, redirectUrl and password; a redirectUrl sends customers there after paying,
    a confirmationMessage without one shows them the message."""

    def given(name: str, current):
        return getattr(sent, name) if sent.sent(name) else current

    after_payment, redirect_url = link.after_payment.value, link.redirect_url
    if sent.sent("redirect_url") or sent.sent("confirmation_message"):
        redirect_url = sent.redirect_url
        after_payment = "redirect" if redirect_url else "message"
    return payment_links.LinkFields(
        service_id=link.service_id,
        provider_id=link.provider_id,
        title=given("title", link.title),
        description=given("description", link.description),
        quantity=link.quantity,
        adjustable_quantity=link.adjustable_quantity,
        min_quantity=link.min_quantity,
        max_quantity=link.max_quantity,
        expires_at=given("expires_at", link.expires_at),
        password=sent.password,
        remove_password=sent.sent("password") and sent.password is None,
        max_uses=given("max_uses", link.max_uses),
        active=given("active", link.active),
        metadata=given("metadata", link.link_metadata),
        after_payment=after_payment,
        confirmation_message=given("confirmation_message", link.confirmation_message),
        redirect_url=redirect_url,
        min_amount=given("min_amount", chosen_amounts.to_decimal(link.min_amount_minor, link)),
        max_amount=given("max_amount", chosen_amounts.to_decimal(link.max_amount_minor, link)),
        preset_amount=given(
            "preset_amount", chosen_amounts.to_decimal(link.preset_amount_minor, link)
        ),
        custom_fields=_settings(sent.custom_fields)
        if sent.sent("custom_fields")
        else custom_fields.settings_of(link),
        collect_email=given("collect_email", link.collect_email),
    )


def _settings(sent: list[bodies.CustomFieldInput] | None) -> list[dict]:
    """Custom fields as the API sent them, in the shape payment_links checks."""
    return [field.model_dump(exclude_none=True) for field in sent or []]


def _link_json(link: PaymentLink, completed: int | None = None) -> shapes.PaymentLink:
    usage = payment_links.usage(link, completed)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)
