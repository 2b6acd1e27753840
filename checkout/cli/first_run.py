"""A first run on one machine: create-admin, demo, banner and dev-receiver."""

import secrets
import signal
import socket
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from checkout import (
    accounts,
    audit,
    catalog,
    credentials,
    dev_receiver,
    money,
    notifications,
    schemas,
    signing,
    stripe_gateway,
    urls,
)
from checkout.catalog import ProviderFields, ServiceFields
from checkout.cli.common import emit, fail, json_option, provider_or_fail, refuse
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Admin, Notification, Provider, Service


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
        refuse(as_json, error)
    emit(as_json, {"id": admin.id, "email": admin.email}, f"Admin {admin.email} created.")


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


def _demo_catalog() -> tuple[Service, Provider, bool]:
    """The demo service and provider, and whether either was created now."""
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
    return service, provider, created


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
    service, provider, created = _demo_catalog()
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
    emit(as_json, data, text)


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
        fail(False, "dev-receiver is for sandbox and Stripe test mode, not live keys")
    provider = provider_or_fail(slug, False, "--provider")
    provider_id, app = provider.id, current_app._get_current_object()

    def secrets() -> list[str]:
        with app.app_context():
            endpoint = db.session.get(Provider, provider_id).primary_endpoint
            return signing.secrets_in_use(endpoint) if endpoint else []

    try:
        receiver = dev_receiver.Receiver(port, secrets, click.echo, show_body)
    except OSError as error:
        fail(False, f"--port {port}: {error.strerror}")
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
    test = notifications.send_test(provider.primary_endpoint, actor=audit.CLI)
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
