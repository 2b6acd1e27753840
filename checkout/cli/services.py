"""`flask services …`: services, what providers sell."""

import click
from flask.cli import AppGroup

from checkout import audit, catalog, jsonio, money, schemas
from checkout.catalog import ServiceFields
from checkout.cli.common import emit, fail, json_option, refuse, service_or_fail, with_given
from checkout.errors import ValidationError

services_cli = AppGroup("services", help="Manage services (what providers sell).")

custom_fields_option = click.option(
    "--custom-fields",
    "custom_fields_text",
    help="What the checkout of orders opened by API asks: a JSON list as the API's "
    '"customFields", e.g. \'[{"key": "size", "label": "Size", "type": "dropdown", '
    '"required": true, "options": [{"value": "m", "label": "M"}]}]\'; "[]" asks none.',
)
collect_email_option = click.option(
    "--collect-email",
    type=click.Choice(["off", "optional", "required"]),
    help="Whether that checkout asks the customer's e-mail (for a receipt).",
)


def _custom_fields(text: str | None, as_json: bool) -> list | None:
    """The --custom-fields JSON, or None when not given."""
    if text is None:
        return None
    try:
        return jsonio.loads(text)
    except ValueError:
        fail(as_json, "--custom-fields: give a JSON list, e.g. '[]'")


@services_cli.command("create")
@click.option("--title", required=True)
@click.option("--price", required=True, help="Unit price in major units, e.g. 5 or 12.50.")
@click.option("--currency", default="usd", show_default=True)
@click.option("--slug")
@click.option("--buy-button-id", help="Stripe Buy Button ID (buy_btn_…).")
@click.option("--payment-link-id", help="The Stripe Payment Link (plink_…) behind the Buy Button.")
@custom_fields_option
@collect_email_option
@json_option
def create_service_command(
    title,
    price,
    currency,
    slug,
    buy_button_id,
    payment_link_id,
    custom_fields_text,
    collect_email,
    as_json,
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
                custom_fields=_custom_fields(custom_fields_text, as_json),
                collect_email=collect_email or "off",
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
@custom_fields_option
@collect_email_option
@json_option
def update_service_command(
    slug,
    title,
    price,
    currency,
    new_slug,
    buy_button_id,
    payment_link_id,
    active,
    custom_fields_text,
    collect_email,
    as_json,
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
            "custom_fields": _custom_fields(custom_fields_text, as_json),
            "collect_email": collect_email,
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
