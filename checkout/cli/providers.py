"""`flask providers …`: providers, their API keys, allowlists, signed requests and branding."""

import click
from flask.cli import AppGroup

from checkout import api_access, audit, branding, catalog, credentials, schemas, urls
from checkout.catalog import ProviderFields
from checkout.cli.common import (
    emit,
    fail,
    json_option,
    provider_or_fail,
    refuse,
    scope_option,
    service_or_fail,
    with_given,
)
from checkout.errors import ValidationError
from checkout.models import SignatureFormat

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
    emit(as_json, [schemas.provider(row) for row in rows], "\n".join(lines) or "No providers yet.")


@providers_cli.command("show")
@click.argument("slug")
@json_option
def show_provider_command(slug: str, as_json: bool) -> None:
    """Show one provider with its API keys' prefixes and its notification signing secret
    (whsec_…). The secret verifies Kassa's webhooks: this prints it, so keep the output
    private."""
    provider = provider_or_fail(slug, as_json)
    data = schemas.provider_details(provider)
    keys = ", ".join(f"{key['name']} ({key['prefix']}…)" for key in data["apiKeys"])
    text = "\n".join(
        [
            f"{provider.name} ({provider.slug}, {provider.id})",
            f"  Service:        {provider.service.slug}",
            f"  Mode:           {provider.mode.value}",
            f"  Active:         {'yes' if provider.active else 'no'}",
            f"  Webhook URL:    {provider.webhook_url or '—'}",
            f"  Signing secret: {_signing_secret(provider)}",
            f"  API keys:       {keys or 'none active'}",
        ]
    )
    emit(as_json, data, text)


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
    service = service_or_fail(service_slug, as_json, "--service")
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
        refuse(as_json, error)
    _, plaintext = credentials.issue_key(provider, "default", list(scopes) or None, actor=audit.CLI)
    emit(
        as_json,
        {**schemas.provider(provider), "apiKey": plaintext},
        f"Provider {provider.slug} created.\nAPI key (shown only now): {plaintext}",
    )


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
@click.option("--contact-email", help='Told when a webhook endpoint keeps failing; "" removes it.')
@click.option(
    "--embed-origins",
    help='Sites whose pages may open its links in the pay overlay: "https://shop.example, '
    'https://www.shop.example"; "" allows none.',
)
@click.option("--terms-url", help='Customers agree to these terms before paying; "" removes it.')
@click.option("--privacy-url", help='The privacy policy linked beside them; "" removes it.')
@json_option
def update_provider_command(
    slug, service_slug, stripe_checkout, new_slug, as_json, **same_named
) -> None:
    """Change a provider's settings, as its admin page does; options not given keep their
    values."""
    provider = provider_or_fail(slug, as_json)
    service = service_or_fail(service_slug, as_json, "--service") if service_slug else None
    try:
        # The other options are named as the provider's fields they set (--terms-url …).
        given = {
            **same_named,
            "service_id": service.id if service else None,
            "use_stripe_checkout": stripe_checkout,
            "slug": new_slug,
        }
        fields = with_given(catalog.provider_fields(provider), given)
        catalog.update_provider(provider, fields, actor=audit.CLI)
    except ValidationError as error:
        refuse(as_json, error)
    emit(as_json, schemas.provider(provider), _saved_line(provider))


def _saved_line(provider) -> str:
    return (
        f"Provider {provider.slug} saved: {provider.name}, {provider.mode.value}, "
        f"{'active' if provider.active else 'inactive'}, "
        f"notifications to {provider.webhook_url or 'nowhere (no webhook URL)'}, "
        f"pay overlay on {', '.join(provider.embed_origin_list) or 'no site'}."
    )


@providers_cli.command("create-key")
@click.argument("slug")
@click.option("--name", required=True)
@scope_option
@json_option
def create_key_command(slug, name, scopes, as_json) -> None:
    """Issue another API key for a provider and print it (shown only this once)."""
    provider = provider_or_fail(slug, as_json)
    try:
        key, plaintext = credentials.issue_key(
            provider, name, list(scopes) or None, actor=audit.CLI
        )
    except ValidationError as error:
        refuse(as_json, error)
    emit(
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
    provider = provider_or_fail(slug, as_json)
    if bool(networks) == clear:
        fail(as_json, "give one or more networks, or --clear (not both)")
    try:
        kept = api_access.set_allowlist(provider, list(networks), actor=audit.CLI)
    except ValidationError as error:
        fail(as_json, error.message)
    emit(
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
    provider = provider_or_fail(slug, as_json)
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
    emit(as_json, {**schemas.provider(provider), "requestSecret": secret}, "\n".join(lines))


@providers_cli.command("rotate-request-secret")
@click.argument("slug")
@json_option
def rotate_request_secret_command(slug, as_json) -> None:
    """Replace the provider's request-signing secret and print it (shown only this once);
    the old one stops working at once."""
    provider = provider_or_fail(slug, as_json)
    secret = api_access.generate_secret(provider, actor=audit.CLI)
    emit(
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
    provider = provider_or_fail(slug, as_json)
    if logo_path and remove_logo:
        fail(as_json, "give --logo or --remove-logo, not both")
    logo = None
    if logo_path:
        try:
            with open(logo_path, "rb") as file:
                logo = file.read(branding.LOGO_MAX_BYTES + 1)
        except OSError as error:
            fail(as_json, f"--logo: cannot read {logo_path}: {error.strerror}")
    changes = branding.BrandingChanges(display_name, accent, logo, remove_logo)
    try:
        branding.set_branding(provider, changes, actor=audit.CLI)
    except ValidationError as error:
        refuse(as_json, error)
    shape = schemas.provider_branding(provider, urls.base_url())
    text = [f"{provider.slug}: shown to customers as {shape['shownAs']}"]
    if shape["accentColor"]:
        text.append(f"accent {shape['accentColor']} with {shape['accentTextColor']} text")
    text.append(f"logo {shape['logoUrl']}" if shape["logoUrl"] else "no logo")
    emit(as_json, shape, ", ".join(text) + ".")


def _signing_secret(provider) -> str:
    endpoint = provider.primary_endpoint
    return endpoint.secret if endpoint else "— (set a webhook URL: each endpoint has its own)"
