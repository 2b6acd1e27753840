"""Command-line tools for scripting and operations; every command prints JSON with --json.

One module per area, as the admin has: `services`, `providers` (and `endpoints`, its
webhook endpoint commands), `links`, `operations` (what the worker does on a schedule, and
`stripe check`), `mail` (a test mail, the outbox), `alerts` (check, list), `first_run`
(create-admin, demo, banner, dev-receiver), `backup` (create and restore), `discounts`
(create, list); `common` holds what they share.
"""

from flask import Flask

from checkout.cli import endpoints  # noqa: F401 -- adds `providers …-endpoint` commands
from checkout.cli.alerts import alerts_cli
from checkout.cli.backup import backup_cli
from checkout.cli.common import MigrationCommands, option_for
from checkout.cli.discounts import discounts_cli
from checkout.cli.first_run import (
    banner_command,
    create_admin_command,
    demo_command,
    dev_receiver_command,
)
from checkout.cli.links import links_cli
from checkout.cli.mail import mail_cli
from checkout.cli.operations import reconcile_command, retire_command, stripe_cli, sweep_command
from checkout.cli.providers import providers_cli
from checkout.cli.services import services_cli

__all__ = ["option_for", "register_cli"]


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
        mail_cli,
        backup_cli,
        alerts_cli,
        discounts_cli,
        MigrationCommands(),
    )
    for command in commands:
        app.cli.add_command(command)
