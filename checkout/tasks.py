"""Background tasks: thin wrappers that take ids, open an app context and call a service."""

from contextlib import nullcontext
from datetime import timedelta

from flask import has_app_context
from huey import crontab

from checkout import throttle
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
