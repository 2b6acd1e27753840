"""What every command shares: --json and --scope, printing, failing with the option to fix."""

import dataclasses
import sys
from typing import NoReturn

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import select

from checkout import catalog, config, jsonio
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import ApiScope, Provider, Service

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
scope_option = click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice([scope.value for scope in ApiScope]),
    help="What the key may do; repeat for several. Default: every scope.",
)


def bind_migrations(app: Flask) -> click.Group:
    """Bind Flask-Migrate to app (once) and return its `db` command group.

    Imported here, not at the top: Flask-Migrate imports Alembic, about a tenth of every
    Kassa process's start, and only the `db` commands and `backup restore` migrate.
    """
    from flask_migrate import Migrate
    from flask_migrate.cli import db as migration_commands

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(config.PROJECT_ROOT / "migrations"))
    return migration_commands


class MigrationCommands(click.Group):
    """`flask db …`: Flask-Migrate's group, bound and loaded when a `db` command runs."""

    def __init__(self):
        super().__init__("db", help="Perform database migrations.")

    def _commands(self, ctx: click.Context) -> click.Group:
        return bind_migrations(ctx.ensure_object(ScriptInfo).load_app())

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        # The context, and so the command run, is Flask-Migrate's own group's.
        return self._commands(parent).make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._commands(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._commands(ctx).get_command(ctx, name)


def emit(as_json: bool, data: dict | list, text: str) -> None:
    """Print the JSON shape with --json, else the text for a person."""
    click.echo(jsonio.dumps(data, indent=2) if as_json else text)


def fail(as_json: bool, message: str) -> NoReturn:
    """Print the error (as JSON with --json) and exit 1."""
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
    "events": "--event",
}


def option_for(field: str) -> str:
    """The option that sets a service's field: 'webhook_url' -> '--webhook-url'."""
    return FIELD_OPTIONS.get(field, "--" + field.replace("_", "-"))


def refuse(as_json: bool, error: ValidationError) -> NoReturn:
    """Fail naming the option whose value the service refused."""
    fail(as_json, f"{option_for(error.field)}: {error.message}")


def with_given(fields, given: dict):
    """An update's fields: each option's value where it was given, else the row's own."""
    return dataclasses.replace(fields, **{name: v for name, v in given.items() if v is not None})


def service_or_fail(slug: str, as_json: bool, option: str | None = None) -> Service:
    """The service with this slug, or fail naming the option that gave it."""
    service = catalog.service_by_slug(slug)
    if service is None:
        prefix = f"{option}: " if option else ""
        fail(as_json, f"{prefix}no service with slug {slug!r}")
    return service


def provider_or_fail(slug: str, as_json: bool, option: str | None = None) -> Provider:
    """The provider with this slug, or fail naming the option that gave it."""
    provider = db.session.scalar(select(Provider).where(Provider.slug == slug))
    if provider is None:
        prefix = f"{option}: " if option else ""
        fail(as_json, f"{prefix}no provider with slug {slug!r}")
    return provider
