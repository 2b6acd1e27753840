"""Background tasks, on top of the services: each takes ids, runs one service in an app
context, and queues what the service says comes next.

Views, the CLI and the worker call these; services never import this module. A service
that needs work done after its transaction commits names the task with
`database.after_commit`, and the listener below hands it to the queue.

A task is queued with the id of the request that caused it (`request_id`, from
`logs.current()`), and runs `logs.bound` to it, so the worker's lines about a delivery name
the API call or Stripe webhook behind it, and so do its retries.
"""

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta

from flask import Flask, current_app, has_app_context
from huey import crontab
from huey.api import TaskWrapper
from sqlalchemy import event
from sqlalchemy.orm import Session

from checkout import (
    alerts,
    api_access,
    database,
    idempotency,
    link_analytics,
    logs,
    mail,
    notifications,
    orders,
    payments,
    stripe_events,
    throttle,
)
from checkout.models import utcnow
from checkout.queue import huey, outage, stripe_huey

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


def use_app(app: Flask) -> None:
    """The app tasks run in when no app context is active (worker.py gives it once)."""
    global _worker_app
    _worker_app = app


def app_context():
    """The caller's app context, or one of the worker's app."""
    if has_app_context():
        return nullcontext()
    if _worker_app is None:
        raise RuntimeError("No app for tasks: run them through checkout.worker")
    return _worker_app.app_context()


def enqueue(task: TaskWrapper, *args: str, at: datetime | None = None) -> None:
    """Queue a task, at once or at a moment; if the queue is down, the sweep queues it later.

    Everything queued is already committed to the database, which the minute sweep reads,
    so a failure here loses nothing and must not fail the caller's request. The outage is
    logged once, then once a minute while it lasts.
    """
    caused_by = {"request_id": logs.current().get("request_id")}
    try:
        if at is None:
            task(*args, **caused_by)
        else:
            delay = max((at - utcnow()).total_seconds(), 0)
            task.schedule(args=args, kwargs=caused_by, delay=delay)
    except Exception as error:
        outage.failed(f"queueing {task.func.__name__}{args}", error)


@event.listens_for(Session, "after_commit")
def _hand_off(session: Session) -> None:
    """Queue the tasks the committed transaction asked for."""
    for name, args in database.take_after_commit(session):
        enqueue(BY_NAME[name], *args)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    database.take_after_commit(session)


@huey.task()
def deliver_notification(notification_id: str, request_id: str | None = None) -> str | None:
    """Make one delivery attempt; after a failed one, queue the next at its time."""
    with logs.bound(request_id=request_id):
        with app_context():
            attempted = notifications.deliver(notification_id)
        if attempted is None:
            return None
        log.info("Delivery of notification %s: %s", notification_id, attempted.status.value)
        if attempted.retry_at is not None:
            enqueue(deliver_notification, notification_id, at=attempted.retry_at)
        return attempted.status.value


# On a queue of its own: a delivery thread held by a slow endpoint never delays a payment.
@stripe_huey.task()
def apply_stripe_event(event_id: str, request_id: str | None = None) -> str | None:
    """Apply a recorded Stripe event to its order; a failure is retried by the sweep."""
    with logs.bound(request_id=request_id, event_id=event_id), app_context():
        return stripe_events.apply_recorded(event_id)


@huey.task()
def send_mail(mail_id: str, request_id: str | None = None) -> str | None:
    """Make one attempt to send a mail; after a failed one, queue the next at its time."""
    with logs.bound(request_id=request_id):
        with app_context():
            sent = mail.send(mail_id)
        if sent is None:
            return None
        log.info("Mail %s: %s", mail_id, sent.status.value)
        if sent.retry_at is not None:
            enqueue(send_mail, mail_id, at=sent.retry_at)
        return sent.status.value


@huey.task()
def send_alert_webhook(alert_id: str, request_id: str | None = None) -> bool | None:
    """Post an alert to ALERT_WEBHOOK_URL; one that fails goes again with the minute check."""
    with logs.bound(request_id=request_id), app_context():
        return alerts.send_webhook(alert_id)


BY_NAME: dict[str, TaskWrapper] = {
    "deliver_notification": deliver_notification,
    "send_mail": send_mail,
    "send_alert_webhook": send_alert_webhook,
    "apply_stripe_event": apply_stripe_event,
}


def requeue_lost() -> dict[str, int]:
    """Queue again Stripe events, due notifications and due mails whose task was lost; how
    many of each."""
    counts = {"stripeEvents": 0, "notifications": 0, "mails": 0}
    for event_id in stripe_events.lost():
        enqueue(apply_stripe_event, event_id)
        counts["stripeEvents"] += 1
    for notification_id in notifications.lost():
        enqueue(deliver_notification, notification_id)
        counts["notifications"] += 1
    for mail_id in mail.lost(timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE_SECONDS"])):
        enqueue(send_mail, mail_id)
        counts["mails"] += 1
    return counts


def retire_old() -> dict[str, int]:
    """Expire abandoned unpaid orders, roll up link views past the analytics window, forget
    idempotency keys past theirs, and what delivery attempts and mails older than
    DELIVERY_LOG_DAYS sent and heard. The audit log is never deleted."""
    config = current_app.config
    return {
        "expiredOrders": orders.expire_abandoned(timedelta(seconds=config["ORDER_EXPIRY_SECONDS"])),
        "rolledUpViews": link_analytics.roll_up(),
        "expiredIdempotencyKeys": idempotency.forget_expired(
            timedelta(hours=config["IDEMPOTENCY_KEY_HOURS"])
        ),
        "forgottenAttemptBodies": notifications.forget_old_attempt_bodies(
            timedelta(days=config["DELIVERY_LOG_DAYS"])
        ),
        "forgottenMailBodies": mail.forget_old_bodies(timedelta(days=config["DELIVERY_LOG_DAYS"])),
    }


@huey.periodic_task(crontab(minute="*"))
def requeue_lost_work() -> int:
    """Every minute: queue again the Stripe events and notifications whose task was lost."""
    with app_context():
        return sum(requeue_lost().values())


@huey.periodic_task(crontab(minute="*"))
def retire_old_rows() -> int:
    """Every minute: expire abandoned unpaid orders, roll up old link views and forget old
    idempotency keys (retire_old)."""
    with app_context():
        return sum(retire_old().values())


def check_alerts() -> dict[str, int]:
    """Open or resolve the operator's lasting alerts (alerts.check)."""
    waiting = timedelta(minutes=current_app.config["ALERT_STRIPE_WAITING_MINUTES"])
    failed = stripe_events.unapplied_counts()["failed"]
    return alerts.check(failed, stripe_events.waiting_longer_than(waiting))


@huey.periodic_task(crontab(minute="*"))
def watch_for_trouble() -> int:
    """Every minute: the operator's alerts of what lasts (check_alerts)."""
    with app_context():
        return sum(check_alerts().values())


@huey.periodic_task(crontab(minute="*/5"))
def reconcile_payments() -> int:
    """Apply what missed Stripe webhooks would have."""
    with app_context():
        after = timedelta(seconds=current_app.config["RECONCILE_AFTER_SECONDS"])
        return payments.reconcile(after)


@huey.periodic_task(crontab(minute="17"))
def purge_throttle_hits() -> int:
    """Forget failed-attempt records older than a day."""
    with app_context():
        return throttle.purge(timedelta(days=1))


@huey.periodic_task(crontab(minute="*/5"))
def forget_seen_signatures() -> int:
    """Forget used request signatures whose time is past the window they were valid in."""
    with app_context():
        return api_access.forget_seen_signatures()
