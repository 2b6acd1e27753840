"""Command-line tools for scripting and operations; every command prints JSON with --json."""

import dataclasses
import secrets
import signal
import socket
import sys
import time
from datetime import timedelta
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from checkout import (
    accounts,
    api_access,
    audit,
    branding,
    catalog,
    credentials,
    dev_receiver,
    jsonio,
    money,
    notifications,
    payment_links,
    payments,
    schemas,
    stripe_gateway,
    stripe_setup,
    tasks,
    urls,
)
from checkout.catalog import ProviderFields, ServiceFields
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import (
    Admin,
    ApiScope,
    Notification,
    PaymentLink,
    Provider,
    Service,
    SignatureFormat,
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
scope_option = click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([scope.value for scope in ApiScope]),
    help="What the key may do; repeat for several. Default: every scope.",
)


def _emit(as_json: bool, data: dict | list, text: str) -> None:
    click.echo(jsonio.dumps(data, indent=2) if as_json else text)


def _fail(as_json: bool, message: str) -> NoReturn:
    if as_json:
        click.echo(jsonio.dumps({"error": message}))
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(1)


# The services name the field a bad value was given for; a person at the command line typed
# an option, so errors name that (`--webhook-url: …`, as click names a bad option). A field
# not listed here is set by the option of its name with dashes.
FIELD_OPTIONS = {
    "service_id": "--service",
    "provider_id": "--provider",
    "stripe_payment_link_id": "--payment-link-id",
    "use_stripe_checkout": "--stripe-checkout",
    "accent_color": "--accent",
    "scopes": "--scope",
}


def option_for(field: str) -> str:
    """The option that sets a service's field: 'webhook_url' -> '--webhook-url'."""
    return FIELD_OPTIONS.get(field, "--" + field.replace("_", "-"))


def _refuse(as_json: bool, error: ValidationError) -> NoReturn:
    _fail(as_json, f"{option_for(error.field)}: {error.message}")


def _with_given(fields, given: dict):
    """An update's fields: each option's value where it was given, else the row's own."""
    return dataclasses.replace(fields, **{name: v for name, v in given.items() if v is not None})


@click.command("create-admin")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@json_option
def create_admin_command(email: str, password: str, as_json: bool) -> None:
    """Create an admin who can sign in at /admin."""
    try:
        admin = accounts.create_admin(email, password, actor=audit.CLI)
    except ValidationError as error:
        _refuse(as_json, error)
    _emit(as_json, {"id": admin.id, "email": admin.email}, f"Admin {admin.email} created.")


services_cli = AppGroup("services", help="Manage services (what providers sell).")


@services_cli.command("create")
@click.option("--title", required=True)
@click.option("--price", required=True, help="Unit price in major units, e.g. 5 or 12.50.")
@click.option("--currency", default="usd", show_default=True)
@click.option("--slug")
@click.option("--buy-button-id", help="Stripe Buy Button ID (buy_btn_…).")
@click.option("--payment-link-id", help="The Stripe Payment Link (plink_…) behind the Buy Button.")
@json_option
def create_service_command(
    title, price, currency, slug, buy_button_id, payment_link_id, as_json
) -> None:
    """Create a service."""
    try:
        service = catalog.create_service(
            ServiceFields(
                title=title,
                price=price,
                currency=currency,
                slug=slug,
                buy_button_id=buy_button_id,
                stripe_payment_link_id=payment_link_id,
            ),
            actor=audit.CLI,
        )
    except ValidationError as error:
        _refuse(as_json, error)
    _emit(
        as_json,
        schemas.service(service),
        f"Service {service.slug} created: {service.title} at "
        f"{money.format_money(service.price_minor, service.currency)}.",
    )


def _service_or_fail(slug: str, as_json: bool, option: str | None = None) -> Service:
    service = catalog.service_by_slug(slug)
    if service is None:
        prefix = f"{option}: " if option else ""
        _fail(as_json, f"{prefix}no service with slug {slug!r}")
    return service


@services_cli.command("update")
@click.argument("slug")
@click.option("--title")
@click.option("--price", help="Unit price in major units; orders already opened keep theirs.")
@click.option("--currency")
@click.option("--slug", "new_slug", help="A new slug.")
@click.option("--buy-button-id", help='Stripe Buy Button ID (buy_btn_…); "" removes it.')
@click.option("--payment-link-id", help='The Stripe Payment Link (plink_…); "" removes it.')
@click.option("--active/--inactive", default=None, help="Whether new orders may be opened.")
@json_option
def update_service_command(
    slug, title, price, currency, new_slug, buy_button_id, payment_link_id, active, as_json
) -> None:
    """Change a service, as its admin page does; options not given keep their values."""
    service = _service_or_fail(slug, as_json)
    try:
        given = {
            "title": title,
            "price": price,
            "currency": currency,
            "slug": new_slug,
            "buy_button_id": buy_button_id,
            "stripe_payment_link_id": payment_link_id,
            "active": active,
        }
        fields = _with_given(catalog.service_fields(service), given)
        catalog.update_service(service, fields, actor=audit.CLI)
    except ValidationError as error:
        _refuse(as_json, error)
    _emit(
        as_json,
        schemas.service(service),
        f"Service {service.slug} saved: {service.title} at "
        f"{money.format_money(service.price_minor, service.currency)}"
        f"{'' if service.active else ', inactive'}.",
    )


@services_cli.command("list")
@json_option
def list_services_command(as_json: bool) -> None:
    """List every service (slug, price, whether active)."""
    rows = catalog.all_services()
    lines = [
        f"{row.slug:24} {row.price_display:>12}  {'active' if row.active else 'off':6}  {row.title}"
        for row in rows
    ]
    _emit(as_json, [schemas.service(row) for row in rows], "\n".join(lines) or "No services yet.")


providers_cli = AppGroup("providers", help="Manage providers (merchants calling the API).")


@providers_cli.command("list")
@json_option
def list_providers_command(as_json: bool) -> None:
    """List every provider (never its keys or secrets; `providers show` has the secret)."""
    rows = catalog.all_providers()
    lines = [
        f"{row.slug:24} {row.mode.value:11} {'active' if row.active else 'off':6}  {row.name}"
        f"  -> {row.webhook_url or 'no webhook URL'}"
        for row in rows
    ]
    _emit(as_json, [schemas.provider(row) for row in rows], "\n".join(lines) or "No providers yet.")


@providers_cli.command("show")
@click.argument("slug")
@json_option
def show_provider_command(slug: str, as_json: bool) -> None:
    """Show one provider with its API keys' prefixes and its notification signing secret
    (whsec_…). The secret verifies Kassa's webhooks: this prints it, so keep the output
    private."""
    provider = _provider_or_fail(slug, as_json)
    data = schemas.provider_details(provider)
    keys = ", ".join(f"{key['name']} ({key['prefix']}…)" for key in data["apiKeys"])
    text = "\n".join(
        [
            f"{provider.name} ({provider.slug}, {provider.id})",
            f"  Service:        {provider.service.slug}",
            f"  Mode:           {provider.mode.value}",
            f"  Active:         {'yes' if provider.active else 'no'}",
            f"  Webhook URL:    {provider.webhook_url or '—'}",
            f"  Signing secret: {provider.webhook_secret}",
            f"  API keys:       {keys or 'none active'}",
        ]
    )
    _emit(as_json, data, text)


@providers_cli.command("create")
@click.option("--name", required=True)
@click.option("--service", "service_slug", required=True, help="Slug of the service sold.")
@click.option("--webhook-url")
@click.option("--success-url", help="May contain {orderId}.")
@click.option("--cancel-url", help="May contain {orderId}.")
@click.option("--stripe-checkout", is_flag=True, help="Buy Button mode.")
@click.option("--slug")
@scope_option
@json_option
def create_provider_command(
    name, service_slug, webhook_url, success_url, cancel_url, stripe_checkout, slug, scopes, as_json
) -> None:
    """Create a provider and print its first API key (shown only this once)."""
    service = _service_or_fail(service_slug, as_json, "--service")
    try:
        provider = catalog.create_provider(
            ProviderFields(
                name=name,
                service_id=service.id,
                webhook_url=webhook_url,
                success_url=success_url,
                cancel_url=cancel_url,
                use_stripe_checkout=stripe_checkout,
                slug=slug,
            ),
            actor=audit.CLI,
        )
    except ValidationError as error:
        _refuse(as_json, error)
    _, plaintext = credentials.issue_key(provider, "default", list(scopes) or None, actor=audit.CLI)
    _emit(
        as_json,
        {**schemas.provider(provider), "apiKey": plaintext},
        f"Provider {provider.slug} created.\nAPI key (shown only now): {plaintext}",
    )


def _provider_or_fail(slug: str, as_json: bool, option: str | None = None) -> Provider:
    provider = db.session.scalar(select(Provider).where(Provider.slug == slug))
    if provider is None:
        prefix = f"{option}: " if option else ""
        _fail(as_json, f"{prefix}no provider with slug {slug!r}")
    return provider


@providers_cli.command("update")
@click.argument("slug")
@click.option("--name")
@click.option("--service", "service_slug", help="Slug of the service sold.")
@click.option("--webhook-url", help='"" removes it: no notifications are sent.')
@click.option("--success-url", help='May contain {orderId}; "" removes it.')
@click.option("--cancel-url", help='May contain {orderId}; "" removes it.')
@click.option(
    "--stripe-checkout/--cash-app", default=None, help="Buy Button mode, or Cash App Pay."
)
@click.option("--slug", "new_slug", help="A new slug.")
@click.option("--active/--inactive", default=None, help="Whether its API key may open orders.")
@json_option
def update_provider_command(
    slug,
    name,
    service_slug,
    webhook_url,
    success_url,
    cancel_url,
    stripe_checkout,
    new_slug,
    active,
    as_json,
) -> None:
    """Change a provider's settings, as its admin page does; options not given keep their
    values."""
    provider = _provider_or_fail(slug, as_json)
    service = _service_or_fail(service_slug, as_json, "--service") if service_slug else None
    try:
        given = {
            "name": name,
            "service_id": service.id if service else None,
            "webhook_url": webhook_url,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "use_stripe_checkout": stripe_checkout,
            "slug": new_slug,
            "active": active,
        }
        fields = _with_given(catalog.provider_fields(provider), given)
        catalog.update_provider(provider, fields, actor=audit.CLI)
    except ValidationError as error:
        _refuse(as_json, error)
    _emit(
        as_json,
        schemas.provider(provider),
        f"Provider {provider.slug} saved: {provider.name}, {provider.mode.value}, "
        f"{'active' if provider.active else 'inactive'}, "
        f"notifications to {provider.webhook_url or 'nowhere (no webhook URL)'}.",
    )


@providers_cli.command("create-key")
@click.argument("slug")
@click.option("--name", required=True)
@scope_option
@json_option
def create_key_command(slug, name, scopes, as_json) -> None:
    """Issue another API key for a provider and print it (shown only this once)."""
    provider = _provider_or_fail(slug, as_json)
    try:
        key, plaintext = credentials.issue_key(
            provider, name, list(scopes) or None, actor=audit.CLI
        )
    except ValidationError as error:
        _refuse(as_json, error)
    _emit(
        as_json,
        {**schemas.api_key(key), "apiKey": plaintext},
        f"Key {key.name} for {provider.slug} ({', '.join(key.scope_list)}).\n"
        f"API key (shown only now): {plaintext}",
    )


@providers_cli.command("set-allowlist")
@click.argument("slug")
@click.argument("networks", nargs=-1)
@click.option("--clear", is_flag=True, help="Allow requests from any address.")
@json_option
def set_allowlist_command(slug, networks, clear, as_json) -> None:
    """Allow the provider's API requests only from these addresses or CIDR networks."""
    provider = _provider_or_fail(slug, as_json)
    if bool(networks) == clear:
        _fail(as_json, "give one or more networks, or --clear (not both)")
    try:
        kept = api_access.set_allowlist(provider, list(networks), actor=audit.CLI)
    except ValidationError as error:
        _fail(as_json, error.message)
    _emit(
        as_json,
        schemas.provider(provider),
        f"{provider.slug}: API requests allowed from {', '.join(kept)}."
        if kept
        else f"{provider.slug}: API requests allowed from any address.",
    )


@providers_cli.command("require-signatures")
@click.argument("slug")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option(
    "--format",
    "signature_format",
    type=click.Choice([member.value for member in SignatureFormat]),
    help="timestamped: t=…,v1=… over time, method, path and body, each used once (new "
    "providers' default); body: the body alone, replayable (kept unless changed).",
)
@json_option
def require_signatures_command(slug, state, signature_format, as_json) -> None:
    """Require (on) or stop requiring (off) a Signature header on the provider's API
    requests, optionally in another format; a secret made for it is printed only this once."""
    provider = _provider_or_fail(slug, as_json)
    secret = api_access.require_signatures(
        provider,
        state == "on",
        SignatureFormat(signature_format) if signature_format else None,
        actor=audit.CLI,
    )
    required = "required" if state == "on" else "not required"
    lines = [
        f"{provider.slug}: signed requests {required}, format {provider.signature_format.value}."
    ]
    if secret:
        lines.append(f"Request-signing secret (shown only now): {secret}")
    _emit(as_json, {**schemas.provider(provider), "requestSecret": secret}, "\n".join(lines))


@providers_cli.command("rotate-request-secret")
@click.argument("slug")
@json_option
def rotate_request_secret_command(slug, as_json) -> None:
    """Replace the provider's request-signing secret and print it (shown only this once);
    the old one stops working at once."""
    provider = _provider_or_fail(slug, as_json)
    secret = api_access.generate_secret(provider, actor=audit.CLI)
    _emit(
        as_json,
        {**schemas.provider(provider), "requestSecret": secret},
        f"{provider.slug}: new request-signing secret (shown only now): {secret}",
    )


@providers_cli.command("set-branding")
@click.argument("slug")
@click.option("--display-name", help='The name customers see; "" for the provider\'s name.')
@click.option("--accent", help='Accent colour #rrggbb; "" for Kassa\'s own colours.')
@click.option("--logo", "logo_path", type=click.Path(dir_okay=False), help="A PNG or SVG file.")
@click.option("--remove-logo", is_flag=True)
@json_option
def set_branding_command(slug, display_name, accent, logo_path, remove_logo, as_json) -> None:
    """Set what customers see of the provider: display name, accent colour, logo."""
    provider = _provider_or_fail(slug, as_json)
    if logo_path and remove_logo:
        _fail(as_json, "give --logo or --remove-logo, not both")
    logo = None
    if logo_path:
        try:
            with open(logo_path, "rb") as file:
                logo = file.read(branding.LOGO_MAX_BYTES + 1)
        except OSError as error:
            _fail(as_json, f"--logo: cannot read {logo_path}: {error.strerror}")
    changes = branding.BrandingChanges(display_name, accent, logo, remove_logo)
    try:
        branding.set_branding(provider, changes, actor=audit.CLI)
    except ValidationError as error:
        _refuse(as_json, error)
    shape = schemas.provider_branding(provider, urls.base_url())
    text = [f"{provider.slug}: shown to customers as {shape['shownAs']}"]
    if shape["accentColor"]:
        text.append(f"accent {shape['accentColor']} with {shape['accentTextColor']} text")
    text.append(f"logo {shape['logoUrl']}" if shape["logoUrl"] else "no logo")
    _emit(as_json, shape, ", ".join(text) + ".")


DEMO_EMAIL = "demo@kassa.local"
DEMO_KEY_NAME = "demo"
DEMO_PROVIDER = "demo-shop"


def _demo_admin(reset: bool) -> tuple[str | None, bool]:
    """The demo admin's new password (None: kept from an earlier run), and whether it changed."""
    admin = db.session.scalar(select(Admin).where(Admin.email == DEMO_EMAIL))
    if admin is not None and not reset:
        return None, False
    password = secrets.token_urlsafe(12)
    if admin is None:
        accounts.create_admin(DEMO_EMAIL, password, actor=audit.CLI)
    else:
        accounts.set_password(admin, password, actor=audit.CLI)
    return password, True


def _demo_key(provider: Provider, reset: bool) -> tuple[str | None, bool]:
    """A new demo API key (None: the earlier one is kept), and whether one was issued."""
    earlier = [key for key in provider.active_keys if key.name == DEMO_KEY_NAME]
    if earlier and not reset:
        return None, False
    for key in earlier:
        credentials.revoke_key(key, actor=audit.CLI)
    _, plaintext = credentials.issue_key(provider, DEMO_KEY_NAME, actor=audit.CLI)
    return plaintext, True


@click.command("demo")
@with_appcontext
@click.option(
    "--reset",
    is_flag=True,
    help="Give the demo admin a new password and replace the demo API key.",
)
@json_option
def demo_command(reset: bool, as_json: bool) -> None:
    """Seed a demo admin, service and provider, and print how to try them. Run again, it
    changes nothing and says what exists (unless --reset)."""
    password, admin_changed = _demo_admin(reset)
    service = catalog.service_by_slug("demo-credits")
    created = service is None
    if service is None:
        service = catalog.create_service(
            ServiceFields(title="Demo Credits", price="5", currency="usd", slug="demo-credits"),
            actor=audit.CLI,
        )
    provider = db.session.scalar(select(Provider).where(Provider.slug == DEMO_PROVIDER))
    if provider is None:
        created = True
        provider = catalog.create_provider(
            ProviderFields(
                name="Demo Shop",
                slug=DEMO_PROVIDER,
                service_id=service.id,
                success_url="https://example.com/success?orderId={orderId}",
                cancel_url="https://example.com/cancelled?orderId={orderId}",
            ),
            actor=audit.CLI,
        )
    api_key, key_changed = _demo_key(provider, reset)
    base = urls.base_url()
    shown_key = api_key or "<the demo API key printed earlier>"
    curl = (
        f"curl -s -X POST {base}/api/v1/create-payment-intent "
        f"-H 'Authorization: Bearer {shown_key}' -H 'Content-Type: application/json' "
        f'-d \'{{"externalId": "demo-1", "amount": 15}}\''
    )
    changed = created or admin_changed or key_changed
    data = schemas.demo(
        f"{base}/admin", DEMO_EMAIL, password, service, provider, api_key, curl, changed
    )
    price = money.format_money(service.price_minor, service.currency)
    kept = "kept from the first run; `demo --reset` sets a new one"
    text = "\n".join(
        [
            "Demo ready." if changed else "The demo exists already; nothing changed.",
            f"  Admin:    {base}/admin  ({DEMO_EMAIL} / {password or 'password ' + kept})",
            f"  Service:  {service.title}, {price} a unit",
            f"  Provider: {provider.name}, API key {api_key or kept}",
            "",
            "Open a payment of 3 units, then open the checkoutUrl it returns:",
            f"  {curl}",
            "",
            "See the provider's signed notifications arrive on this machine: start Kassa with",
            "`ALLOW_PRIVATE_WEBHOOK_URLS=1 make run`, and in another terminal run",
            "  .venv/bin/flask --app app dev-receiver",
        ]
    )
    _emit(as_json, data, text)


def _next_command() -> str:
    """How to seed the demo against the server `make run` started."""
    port = current_app.config["PORT"]
    prefix = "" if current_app.config["PUBLIC_BASE_URL"] or port == 8000 else f"PORT={port} "
    return f"{prefix}.venv/bin/flask --app app demo"


def _wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


@click.command("banner")
@with_appcontext
@click.option(
    "--wait",
    type=float,
    default=0,
    help="First wait up to this many seconds for the web server to listen on PORT.",
)
def banner_command(wait: float) -> None:
    """Print where the admin is and what to run next (`make run` prints it once started)."""
    if wait and not _wait_for_port(current_app.config["PORT"], wait):
        click.echo(f"Kassa's web server is not listening on port {current_app.config['PORT']}.")
        sys.exit(1)
    click.echo(
        f"Kassa is running: open {urls.base_url()}/admin — first time? run: {_next_command()}"
    )


links_cli = AppGroup("links", help="Manage payment links.")


@links_cli.command("create")
@click.option("--service", "service_slug", required=True, help="Slug of the service sold.")
@click.option("--title", help="Defaults to the service's title.")
@click.option("--description", default="")
@click.option("--provider", "provider_slug", help="Slug of a provider whose settings apply.")
@click.option("--password", help="At least 8 characters; stored hashed.")
@click.option("--expires-at", help="ISO 8601, e.g. 2026-12-31T23:59:00Z (no offset: UTC).")
@click.option("--max-uses", type=int, help="Maximum completed payments.")
@click.option("--quantity", type=int, default=1, show_default=True, help="Fixed quantity.")
@click.option("--min-quantity", type=int, help="With --max-quantity: customers choose.")
@click.option("--max-quantity", type=int)
@click.option("--redirect-url", help="Send customers here after paying.")
@json_option
def create_link_command(
    service_slug,
    title,
    description,
    provider_slug,
    password,
    expires_at,
    max_uses,
    quantity,
    min_quantity,
    max_quantity,
    redirect_url,
    as_json,
) -> None:
    """Create a payment link and print its URL."""
    service = _service_or_fail(service_slug, as_json, "--service")
    provider = _provider_or_fail(provider_slug, as_json, "--provider") if provider_slug else None
    adjustable = min_quantity is not None or max_quantity is not None
    try:
        link = payment_links.create_link(
            payment_links.LinkFields(
                service_id=service.id,
                provider_id=provider.id if provider else None,
                title=title or service.title,
                description=description,
                password=password,
                expires_at=payment_links.parse_expiry(expires_at),
                max_uses=max_uses,
                quantity=quantity,
                adjustable_quantity=adjustable,
                min_quantity=min_quantity if min_quantity is not None else 1,
                max_quantity=max_quantity if max_quantity is not None else quantity,
                after_payment="redirect" if redirect_url else "message",
                redirect_url=redirect_url,
            ),
            actor=audit.CLI,
        )
    except ValidationError as error:
        _refuse(as_json, error)
    data = _link_json(link)
    _emit(as_json, data, f"Payment link {link.id}: {data['url']}")


def _link_or_fail(link_id: str, as_json: bool) -> PaymentLink:
    link = payment_links.find_link(link_id)
    if link is None:
        _fail(as_json, f"no payment link {link_id!r}")
    return link


@links_cli.command("turn-off")
@click.argument("link_id")
@json_option
def turn_off_link_command(link_id: str, as_json: bool) -> None:
    """Turn a payment link off, as its admin page does: customers who open it are told it is
    no longer available, and nobody can pay through it until it is turned on."""
    link = _link_or_fail(link_id, as_json)
    payment_links.set_active(link, False, actor=audit.CLI)
    _emit(as_json, _link_json(link), f"Payment link {link.id} turned off.")


@links_cli.command("turn-on")
@click.argument("link_id")
@json_option
def turn_on_link_command(link_id: str, as_json: bool) -> None:
    """Turn a payment link back on."""
    link = _link_or_fail(link_id, as_json)
    payment_links.set_active(link, True, actor=audit.CLI)
    problem = payment_links.unavailability(link)
    still = f" Customers still cannot pay: {problem.message}" if problem else ""
    _emit(as_json, _link_json(link), f"Payment link {link.id} turned on.{still}")


@links_cli.command("list")
@json_option
def list_links_command(as_json: bool) -> None:
    """List every payment link, newest first, with its URL and use so far."""
    rows = [_link_json(link) for link in payment_links.all_links()]
    lines = [
        f"{row['id']:26} {row['status']:10} {row['completedPayments']:>4} paid  {row['title']}"
        f"  {row['url']}"
        for row in rows
    ]
    _emit(as_json, rows, "\n".join(lines) or "No payment links yet.")


def _link_json(link: PaymentLink) -> dict:
    usage = payment_links.usage(link)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status)


@click.command("reconcile")
@click.option(
    "--older-than",
    type=int,
    help="Seconds an order must have been unfinished (default RECONCILE_AFTER_SECONDS).",
)
@with_appcontext
@json_option
def reconcile_command(older_than: int | None, as_json: bool) -> None:
    """Ask Stripe about unfinished orders, as the worker does every five minutes."""
    seconds = current_app.config["RECONCILE_AFTER_SECONDS"] if older_than is None else older_than
    checked = payments.reconcile(timedelta(seconds=seconds))
    _emit(as_json, {"checked": checked}, f"Checked {checked} order(s) with Stripe.")


@click.command("sweep-outbox")
@with_appcontext
@json_option
def sweep_command(as_json: bool) -> None:
    """Queue Stripe events and due notifications whose task was lost, as the worker does
    every minute."""
    queued = tasks.requeue_lost()
    _emit(
        as_json,
        queued,
        f"Queued {queued['stripeEvents']} Stripe event(s) "
        f"and {queued['notifications']} notification(s).",
    )


@click.command("retire-old")
@with_appcontext
@json_option
def retire_command(as_json: bool) -> None:
    """Expire abandoned unpaid orders and roll up old link views, as the worker does every
    minute."""
    retired = tasks.retire_old()
    _emit(
        as_json,
        retired,
        f"Expired {retired['expiredOrders']} order(s); "
        f"rolled up {retired['rolledUpViews']} link view(s).",
    )


stripe_cli = AppGroup("stripe", help="Check Kassa's Stripe setup.")


@stripe_cli.command("check")
@json_option
def stripe_check_command(as_json: bool) -> None:
    """Check that the configured Stripe account is ready for Kassa's payments: the mode, the
    pinned API version, Cash App Pay, the webhook endpoint. Exits 1 on any problem."""
    report = stripe_setup.run()
    data = schemas.stripe_check(report.mode, report.api_version, report.findings)
    lines = [f"{stripe_gateway.STRIPE_MODE_NAMES[report.mode]}, API version {report.api_version}"]
    lines += [
        f"  {'ok' if finding.ok else 'PROBLEM':8} {finding.check}: {finding.message}"
        for finding in report.findings
    ]
    count = len(report.problems)
    lines.append(
        f"{count} problem{'s' if count > 1 else ''}: fix {'them' if count > 1 else 'it'} and "
        "run this again."
        if count
        else f"All good: ready for payments in {stripe_gateway.STRIPE_MODE_NAMES[report.mode]}."
    )
    _emit(as_json, data, "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@click.command("dev-receiver")
@with_appcontext
@click.option("--provider", "slug", default=DEMO_PROVIDER, show_default=True, help="Its slug.")
@click.option("--port", type=click.IntRange(1, 65535), default=8025, show_default=True)
@click.option("--body", "show_body", is_flag=True, help="Print each notification's whole body.")
@click.option(
    "--wait",
    type=float,
    default=20,
    show_default=True,
    help=(
        "Seconds to wait for the test event it sends at start before saying why it did not come."
    ),
)
def dev_receiver_command(slug: str, port: int, show_body: bool, wait: float) -> None:
    """Receive a provider's notifications on this machine and print each verified one (sandbox
    and Stripe test mode): points its webhook URL here until you press Ctrl-C."""
    if stripe_gateway.stripe_mode() == "live":
        _fail(False, "dev-receiver is for sandbox and Stripe test mode, not live keys")
    provider = _provider_or_fail(slug, False, "--provider")
    provider_id, app = provider.id, current_app._get_current_object()

    def secrets() -> list[str]:
        with app.app_context():
            return notifications.secrets_in_use(db.session.get(Provider, provider_id))

    try:
        receiver = dev_receiver.Receiver(port, secrets, click.echo, show_body)
    except OSError as error:
        _fail(False, f"--port {port}: {error.strerror}")
    previous = provider.webhook_url
    # A loopback http URL: this command's own check of its own address allows it. The worker
    # that delivers checks it again, and needs ALLOW_PRIVATE_WEBHOOK_URLS=1 for that.
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = True
    catalog.set_webhook_url(provider, receiver.url, actor=audit.CLI)
    receiver.start()
    click.echo(f"Receiving {provider.name}'s notifications on {receiver.url}")
    click.echo(f"  (its webhook URL was {previous or 'not set'}; Ctrl-C puts it back)")
    # `kill` or a closing terminal ends it as Ctrl-C does: the webhook URL is put back.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    test = notifications.send_test(provider, actor=audit.CLI)
    click.echo("Sent a test event. Pay an order to see its notifications arrive.")
    try:
        _say_why_undelivered(test.id, wait)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.shutdown()
        with app.app_context():
            current = db.session.get(Provider, provider_id)
            catalog.set_webhook_url(current, previous, actor=audit.CLI)
            click.echo(f"Stopped; {current.name}'s webhook URL is {previous or 'not set'} again.")


def _interrupt(_signal, _frame) -> None:
    raise KeyboardInterrupt


def _say_why_undelivered(notification_id: str, wait: float) -> None:
    """Tell the developer why the test event has not arrived after `wait` seconds, if so."""
    deadline = time.monotonic() + wait
    while True:
        db.session.remove()  # each look reads what the worker committed since
        notification = db.session.get(Notification, notification_id)
        if notification.delivered_at is not None:
            return
        if notification.attempts or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if not notification.attempts:
        click.echo(
            f"The test event was not delivered within {wait:g} s: is Kassa's worker running? "
            "(`make run` starts it.)"
        )
        return
    hint = "it tries again later"
    refusals = ("Enter an absolute https URL", "Webhook URL must")  # urls.webhook_target's
    if any(refusal in (notification.last_error or "") for refusal in refusals):
        hint = (
            "for a loopback URL the worker needs ALLOW_PRIVATE_WEBHOOK_URLS=1: start Kassa "
            "with `ALLOW_PRIVATE_WEBHOOK_URLS=1 make run`"
        )
    click.echo(f"The worker could not deliver the test event: {notification.last_error}; {hint}.")


def register_cli(app: Flask) -> None:
    """Attach the commands to `flask --app app`."""
    commands = (
        create_admin_command,
        services_cli,
        providers_cli,
        demo_command,
        dev_receiver_command,
        banner_command,
        reconcile_command,
        sweep_command,
        retire_command,
        links_cli,
        stripe_cli,
    )
    for command in commands:
        app.cli.add_command(command)
