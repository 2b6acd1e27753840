"""`flask links …`: payment links."""

import click
from flask.cli import AppGroup

from checkout import audit, payment_links, schemas, urls
from checkout.cli.common import emit, fail, json_option, provider_or_fail, refuse, service_or_fail
from checkout.errors import ValidationError
from checkout.models import PaymentLink

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
    service = service_or_fail(service_slug, as_json, "--service")
    provider = provider_or_fail(provider_slug, as_json, "--provider") if provider_slug else None
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
        refuse(as_json, error)
    data = _link_json(link)
    emit(as_json, data, f"Payment link {link.id}: {data['url']}")


def _link_or_fail(link_id: str, as_json: bool) -> PaymentLink:
    link = payment_links.find_link(link_id)
    if link is None:
        fail(as_json, f"no payment link {link_id!r}")
    return link


@links_cli.command("turn-off")
@click.argument("link_id")
@json_option
def turn_off_link_command(link_id: str, as_json: bool) -> None:
    """Turn a payment link off, as its admin page does: customers who open it are told it is
    no longer available, and nobody can pay through it until it is turned on."""
    link = _link_or_fail(link_id, as_json)
    payment_links.set_active(link, False, actor=audit.CLI)
    emit(as_json, _link_json(link), f"Payment link {link.id} turned off.")


@links_cli.command("turn-on")
@click.argument("link_id")
@json_option
def turn_on_link_command(link_id: str, as_json: bool) -> None:
    """Turn a payment link back on."""
    link = _link_or_fail(link_id, as_json)
    payment_links.set_active(link, True, actor=audit.CLI)
    problem = payment_links.unavailability(link)
    still = f" Customers still cannot pay: {problem.message}" if problem else ""
    emit(as_json, _link_json(link), f"Payment link {link.id} turned on.{still}")


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
    emit(as_json, rows, "\n".join(lines) or "No payment links yet.")


def _link_json(link: PaymentLink) -> dict:
    usage = payment_links.usage(link)
    return schemas.payment_link(link, urls.base_url(), usage.completed, usage.status).dump()
