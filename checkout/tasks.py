"""Background tasks: thin wrappers that take ids, open an app context and call a service."""

from contextlib import nullcontext
from datetime import timedelta

from flask import has_app_context
from huey import crontab

from checkout import notifications, payments, stripe_events, throttle
from checkout.queue import huey

_app = None


def app_context():
    """The caller's app context, or one of the worker's own app."""
    global _app
    if has_app_context():
        return nullcontext()
    if _app is None:
        from checkout import create_app

        _app = create_app()
    return _app.app_context()


@huey.periodic_task(crontab(minute="17"))
def purge_throttle_hits() -> int:
    """Forget failed-attempt records older than a day."""
    with app_context():
        return throttle.purge(timedelta(days=1))


@huey.task()
def deliver_notification(notification_id: str) -> str | None:
    """Make one delivery attempt; a failed one schedules the next itself."""
    with app_context():
        status = notifications.deliver(notification_id)
        return status.value if status else None


@huey.task()
def apply_stripe_event(event_id: str) -> str | None:
    """Apply a recorded Stripe event to its order; a failure is retried by the sweep."""
    with app_context():
        return stripe_events.apply_recorded(event_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    """Every minute, and at worker start: re-enqueue Stripe events and due notifications
    whose task was lost."""
    with app_context():
        return stripe_events.sweep() + notifications.sweep()


@huey.periodic_task(crontab(minute="*/5"))
def reconcile_payments() -> int:
    """Apply what missed Stripe webhooks would have."""
    with app_context():
        from flask import current_app

        after = timedelta(seconds=current_app.config["RECONCILE_AFTER_SECONDS"])
        return payments.reconcile(after)
