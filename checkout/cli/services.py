"""`flask services …`: services, what providers sell."""

import click
from flask.cli import AppGroup

from checkout import audit, catalog, money, schemas
from checkout.catalog import ServiceFields
from checkout.cli.common import emit, json_option, refuse, service_or_fail, with_given
from checkout.errors import ValidationError

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
        refuse(as_json, error)
    emit(
        as_json,
        schemas.service(service),
        f"Service {service.slug} created: {service.title} at "
        f"{money.format_money(service.price_minor, service.currency)}.",
    )


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
    service = service_or_fail(slug, as_json)
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
        fields = with_given(catalog.service_fields(service), given)
        catalog.update_service(service, fields, actor=audit.CLI)
    except ValidationError as error:
        refuse(as_json, error)
    emit(
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
    emit(as_json, [schemas.service(row) for row in rows], "\n".join(lines) or "No services yet.")
