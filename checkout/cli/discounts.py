"""`flask discounts …`: discount codes (issue 21), as the admin and the API manage them."""

from decimal import Decimal, InvalidOperation

import click
from flask.cli import AppGroup

from checkout import audit, discounts, payment_links, schemas
from checkout.cli.common import emit, fail, json_option, provider_or_fail, refuse, service_or_fail
from checkout.errors import ValidationError

discounts_cli = AppGroup("discounts", help="Manage discount codes.")


def _decimal(option: str, text: str | None, as_json: bool) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        fail(as_json, f"{option}: give a number, e.g. 12.50")
    if not value.is_finite():
        fail(as_json, f"{option}: give a number, e.g. 12.50")
    return value


@discounts_cli.command("create")
@click.option("--provider", "provider_slug", required=True, help="Slug of the code's provider.")
@click.option("--code", required=True, help="What customers type (matched in any case).")
@click.option("--percent-off", help="Percent off, e.g. 15 or 12.5.")
@click.option("--amount-off", help="A fixed amount off in major units, with --currency.")
@click.option("--currency", help="The currency of --amount-off, e.g. usd.")
@click.option("--starts-at", help="ISO 8601 (no offset: UTC).")
@click.option("--expires-at", help="ISO 8601 (no offset: UTC).")
@click.option("--max-redemptions", type=int, help="Paid orders; default: unlimited.")
@click.option("--link", "link_ids", multiple=True, help="Only this payment link; repeatable.")
@click.option("--service", "service_slugs", multiple=True, help="Only this service; repeatable.")
@click.option("--inactive", is_flag=True, help="Create it turned off.")
@json_option
def create_discount_command(
    provider_slug,
    code,
    percent_off,
    amount_off,
    currency,
    starts_at,
    expires_at,
    max_redemptions,
    link_ids,
    service_slugs,
    inactive,
    as_json,
) -> None:
    """Create a discount code for a provider and print it."""
    provider = provider_or_fail(provider_slug, as_json, "--provider")
    services = [service_or_fail(slug, as_json, "--service").id for slug in service_slugs]
    try:
        row = discounts.create_code(
            provider,
            discounts.DiscountFields(
                code=code,
                percent_off=_decimal("--percent-off", percent_off, as_json),
                amount_off=_decimal("--amount-off", amount_off, as_json),
                currency=currency,
                starts_at=_time("--starts-at", starts_at, as_json),
                expires_at=_time("--expires-at", expires_at, as_json),
                max_redemptions=max_redemptions,
                link_ids=list(link_ids),
                service_ids=services,
                active=not inactive,
            ),
            actor=audit.CLI,
        )
    except ValidationError as error:
        refuse(
            as_json,
            ValidationError("link", error.message) if error.field == "applies_to" else error,
        )
    emit(as_json, _code_json(row), f"Discount code {row.code} ({row.id}): {row.value_display}")


def _time(option: str, text: str | None, as_json: bool):
    try:
        return payment_links.parse_expiry(text)
    except ValidationError as error:
        fail(as_json, f"{option}: {error.message}")


@discounts_cli.command("list")
@click.option("--provider", "provider_slug", help="Only this provider's codes.")
@json_option
def list_discounts_command(provider_slug, as_json: bool) -> None:
    """List discount codes, newest first, with their redemptions so far."""
    rows = discounts.all_codes()
    if provider_slug:
        provider = provider_or_fail(provider_slug, as_json, "--provider")
        rows = [row for row in rows if row.provider_id == provider.id]
    redeemed = discounts.times_redeemed_of([row.id for row in rows])
    shown = [schemas.discount_code(row, redeemed[row.id]).dump() for row in rows]
    lines = [
        f"{row.code:20} {row.value_display:14} {redeemed[row.id]:>4}/"
        f"{row.max_redemptions or '∞'} redeemed  {'active' if row.active else 'off':6} "
        f"{row.provider.slug}"
        for row in rows
    ]
    emit(as_json, shown, "\n".join(lines) or "No discount codes yet.")


def _code_json(row) -> dict:
    return schemas.discount_code(row, discounts.times_redeemed(row.id)).dump()
