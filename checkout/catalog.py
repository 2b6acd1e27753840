"""Services and providers: the rules for creating and changing them, shared by forms and CLI."""

import re
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from checkout import audit, custom_fields, embedding, money, urls, webhook_endpoints
from checkout.addresses import is_email_address
from checkout.audit import Action, Actor
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Provider, Service

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
BUY_BUTTON_PATTERN = re.compile(r"^buy_btn_[A-Za-z0-9]{1,60}$")
STRIPE_PAYMENT_LINK_PATTERN = re.compile(r"^plink_[A-Za-z0-9]{1,60}$")


def slugify(text: str) -> str:
    """'Premium Credits!' -> 'premium-credits'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64]


def _clean_text(field: str, value: str | None, label: str, longest: int = 120) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(field, f"{label} is required")
    if len(value) > longest:
        raise ValidationError(field, f"{label} must be at most {longest} characters")
    return value


def _clean_slug(model, value: str | None, fallback: str, current_id: str | None) -> str:
    slug = (value or "").strip().lower() or slugify(fallback)
    if not SLUG_PATTERN.match(slug) or len(slug) > 64:
        raise ValidationError("slug", "Use lowercase letters, digits and single dashes")
    taken = db.session.scalar(select(model.id).where(model.slug == slug))
    if taken is not None and taken != current_id:
        raise ValidationError("slug", f"Slug {slug!r} is already taken")
    return slug


@dataclass
class ServiceFields:
    title: str
    price: str
    currency: str
    slug: str | None = None
    buy_button_id: str | None = None
    stripe_payment_link_id: str | None = None
    active: bool = True
    # What the checkout of its API-opened orders asks: custom fields in the API's shape,
    # and the e-mail (checkout.custom_fields).
    custom_fields: list | None = None
    collect_email: str = "off"


def _clean_buy_button(fields: ServiceFields) -> tuple[str | None, str | None]:
    """The Buy Button ID and the Stripe Payment Link behind it: both well formed, or neither.

    Only sessions of that Payment Link pay the service's orders; anyone can add
    client_reference_id to any Payment Link's URL, so the button alone proves nothing.
    """
    buy_button_id = (fields.buy_button_id or "").strip() or None
    link_id = (fields.stripe_payment_link_id or "").strip() or None
    if buy_button_id and not BUY_BUTTON_PATTERN.match(buy_button_id):
        raise ValidationError("buy_button_id", "A Buy Button ID looks like buy_btn_1Abc…")
    if link_id and not STRIPE_PAYMENT_LINK_PATTERN.match(link_id):
        raise ValidationError(
            "stripe_payment_link_id", "A Stripe Payment Link ID looks like plink_1Abc…"
        )
    if buy_button_id and not link_id:
        raise ValidationError(
            "stripe_payment_link_id",
            "A Buy Button needs the ID of the Stripe Payment Link behind it (plink_…)",
        )
    if link_id and not buy_button_id:
        raise ValidationError(
            "buy_button_id", "A Stripe Payment Link ID needs its Buy Button ID (buy_btn_…)"
        )
    return buy_button_id, link_id


SERVICE_AUDITED = (
    "title",
    "slug",
    "currency",
    "price_minor",
    "buy_button_id",
    "stripe_payment_link_id",
    "active",
    "custom_fields_json",
    "collect_email",
)
PROVIDER_AUDITED = (
    "name",
    "slug",
    "service_id",
    "webhook_url",
    "success_url",
    "cancel_url",
    "use_stripe_checkout",
    "active",
    "embed_origins",
    "contact_email",
    "terms_url",
    "privacy_url",
)


def _apply_service(service: Service, fields: ServiceFields, actor: Actor) -> Service:
    title = _clean_text("title", fields.title, "Title")
    currency = (fields.currency or "").strip().lower()
    if not money.is_supported(currency):
        raise ValidationError("currency", f"Unsupported currency {fields.currency!r}")
    try:
        price_minor = money.parse(str(fields.price), currency)
        money.check_minimum_charge(price_minor, currency)
    except money.AmountError as error:
        raise ValidationError("price", str(error)) from None
    buy_button_id, stripe_payment_link_id = _clean_buy_button(fields)
    questions = custom_fields.check_questions(fields.custom_fields, fields.collect_email)
    slug = _clean_slug(Service, fields.slug, title, service.id)
    before = audit.snapshot(service, SERVICE_AUDITED) if service.id else {}
    service.title = title
    service.slug = slug
    service.currency = currency
    service.price_minor = price_minor
    service.buy_button_id = buy_button_id
    service.stripe_payment_link_id = stripe_payment_link_id
    service.active = bool(fields.active)
    custom_fields.assign(service, questions)
    created = not before
    return _save(
        service,
        actor,
        Action.SERVICE_CREATED if created else Action.SERVICE_CHANGED,
        before,
        SERVICE_AUDITED,
    )


def create_service(fields: ServiceFields, *, actor: Actor) -> Service:
    """Create a service, or raise ValidationError naming the bad field."""
    return _apply_service(Service(), fields, actor)


def update_service(service: Service, fields: ServiceFields, *, actor: Actor) -> Service:
    """Change a service; existing orders keep the price they were opened with."""
    return _apply_service(service, fields, actor)


@dataclass
class ProviderFields:
    name: str
    service_id: str | None
    webhook_url: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    use_stripe_checkout: bool = False
    slug: str | None = None
    active: bool = True
    # Sites that may show its links in kassa.js's overlay: origins, one a line or comma
    # separated (embedding.clean_origins).
    embed_origins: str | None = None
    # Told when one of its webhook endpoints keeps failing (checkout.alerts).
    contact_email: str | None = None
    # With terms, customers agree to them before paying (checkout.customer_details).
    terms_url: str | None = None
    privacy_url: str | None = None


def _apply_provider(provider: Provider, fields: ProviderFields, actor: Actor) -> Provider:
    name = _clean_text("name", fields.name, "Name")
    service = db.session.get(Service, fields.service_id) if fields.service_id else None
    if service is None:
        raise ValidationError("service_id", "Choose the service this provider sells")
    webhook_url = urls.clean_webhook_url("webhook_url", fields.webhook_url)
    success_url = urls.clean_redirect_url("success_url", fields.success_url)
    cancel_url = urls.clean_redirect_url("cancel_url", fields.cancel_url)
    embed_origins = embedding.clean_origins(fields.embed_origins)
    contact_email = clean_email("contact_email", fields.contact_email)
    terms_url = urls.clean_redirect_url("terms_url", fields.terms_url)
    privacy_url = urls.clean_redirect_url("privacy_url", fields.privacy_url)
    slug = _clean_slug(Provider, fields.slug, name, provider.id)
    before = audit.snapshot(provider, PROVIDER_AUDITED) if provider.id else {}
    provider.name = name
    provider.slug = slug
    provider.service = service
    webhook_endpoints.set_primary_url(provider, webhook_url)
    provider.success_url = success_url
    provider.cancel_url = cancel_url
    provider.use_stripe_checkout = bool(fields.use_stripe_checkout)
    provider.active = bool(fields.active)
    provider.embed_origins = "\n".join(embed_origins)
    provider.contact_email = contact_email
    provider.terms_url, provider.privacy_url = terms_url, privacy_url
    created = not before
    return _save(
        provider,
        actor,
        Action.PROVIDER_CREATED if created else Action.PROVIDER_CHANGED,
        before,
        PROVIDER_AUDITED,
    )


def clean_email(field: str, value: str | None) -> str | None:
    """An e-mail address, or None for nothing."""
    value = (value or "").strip()
    if not value:
        return None
    if not is_email_address(value):
        raise ValidationError(field, "Give an e-mail address such as ops@shop.example")
    return value


def create_provider(fields: ProviderFields, *, actor: Actor) -> Provider:
    """Create a provider, or raise ValidationError naming the bad field."""
    return _apply_provider(Provider(), fields, actor)


def update_provider(provider: Provider, fields: ProviderFields, *, actor: Actor) -> Provider:
    """Change a provider's settings."""
    return _apply_provider(provider, fields, actor)


def service_fields(service: Service) -> ServiceFields:
    """A service's settings as they are: the start of a change to some of them."""
    return ServiceFields(
        title=service.title,
        price=str(service.price),
        currency=service.currency,
        slug=service.slug,
        buy_button_id=service.buy_button_id,
        stripe_payment_link_id=service.stripe_payment_link_id,
        active=service.active,
        custom_fields=custom_fields.settings_of(service),
        collect_email=service.collect_email.value,
    )


def provider_fields(provider: Provider) -> ProviderFields:
    """A provider's settings as they are: the start of a change to some of them."""
    return ProviderFields(
        name=provider.name,
        service_id=provider.service_id,
        webhook_url=provider.webhook_url,
        success_url=provider.success_url,
        cancel_url=provider.cancel_url,
        use_stripe_checkout=provider.use_stripe_checkout,
        slug=provider.slug,
        active=provider.active,
        embed_origins=provider.embed_origins,
        contact_email=provider.contact_email,
        terms_url=provider.terms_url,
        privacy_url=provider.privacy_url,
    )


def set_webhook_url(provider: Provider, url: str | None, *, actor: Actor) -> Provider:
    """Point the provider's notifications somewhere else, checked as the admin form does."""
    fields = replace(provider_fields(provider), webhook_url=url)
    return update_provider(provider, fields, actor=actor)


def service_by_slug(slug: str) -> Service | None:
    """Look a service up by its slug."""
    return db.session.scalar(select(Service).where(Service.slug == slug))


def _save(row, actor: Actor, action: Action, before: dict, audited: tuple[str, ...]):
    try:
        audit.record_save(actor, action, type(row).__name__.lower(), row, before, audited)
        db.session.commit()
    except IntegrityError:
        # Two admins saving the same slug at once: the unique index decides.
        db.session.rollback()
        raise ValidationError("slug", "That slug was just taken; choose another") from None
    return row


# Queries for the admin pages


def all_services() -> list[Service]:
    """Every service, by title."""
    return list(db.session.scalars(select(Service).order_by(Service.title)))


def all_providers() -> list[Provider]:
    """Every provider, by name."""
    return list(db.session.scalars(select(Provider).order_by(Provider.name)))


def service_count() -> int:
    """How many services exist."""
    return db.session.scalar(select(func.count()).select_from(Service))


def provider_count() -> int:
    """How many providers exist."""
    return db.session.scalar(select(func.count()).select_from(Provider))
