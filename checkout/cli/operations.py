"""The worker's scheduled jobs run by hand (reconcile, sweep-outbox, retire-old); stripe check."""

import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from checkout import payments, schemas, stripe_gateway, stripe_setup, tasks
from checkout.cli.common import emit, json_option


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
    emit(as_json, {"checked": checked}, f"Checked {checked} order(s) with Stripe.")


@click.command("sweep-outbox")
@with_appcontext
@json_option
def sweep_command(as_json: bool) -> None:
    """Queue Stripe events and due notifications whose task was lost, as the worker does
    every minute."""
    queued = tasks.requeue_lost()
    emit(
        as_json,
        queued,
        f"Queued {queued['stripeEvents']} Stripe event(s), "
        f"{queued['notifications']} notification(s) and {queued['mails']} mail(s).",
    )


@click.command("retire-old")
@with_appcontext
@json_option
def retire_command(as_json: bool) -> None:
    """Expire abandoned unpaid orders, roll up old link views, forget old idempotency keys
    and old delivery attempts' bodies, as the worker does every minute."""
    retired = tasks.retire_old()
    emit(
        as_json,
        retired,
        f"Expired {retired['expiredOrders']} order(s); "
        f"rolled up {retired['rolledUpViews']} link view(s); "
        f"forgot {retired['expiredIdempotencyKeys']} idempotency key(s) and the bodies of "
        f"{retired['forgottenAttemptBodies']} old delivery attempt(s) and "
        f"{retired['forgottenMailBodies']} old mail(s).",
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
    emit(as_json, data, "\n".join(lines))
    if not report.ok:
        sys.exit(1)
