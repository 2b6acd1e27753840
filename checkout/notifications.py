"""Provider notifications: outbox rows written with the order change, signed, delivered, logged."""

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import urllib3
from flask import current_app
from sqlalchemy import Select, bindparam, insert, or_, select, update

from checkout import audit, database, jsonio, logs, metrics, outbound, schemas, urls
from checkout.audit import Action, Actor
from checkout.config import LEASE_MARGIN_SECONDS
from checkout.enums import ProviderEvent
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import (
    UNRECORDED,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Order,
    WebhookEndpoint,
    new_id,
    utcnow,
)
from checkout.signing import signature_header

log = logging.getLogger(__name__)

# Every event about an order, and every event at all (for filters and the API document).
ORDER_EVENTS = tuple(event.value for event in ProviderEvent if event is not ProviderEvent.TEST)
EVENTS = (*ORDER_EVENTS, ProviderEvent.TEST.value)


# Writing: in the same transaction as the change they report.


def _add(
    endpoint: WebhookEndpoint,
    event_name: str,
    payload: str,
    order: Order | None,
    message_id: str | None = None,
) -> Notification:
    """One endpoint's copy of a message; the first copy's id is the message's id."""
    notification_id = new_id("msg")
    notification = Notification(
        id=notification_id,
        message_id=message_id or notification_id,
        provider_id=endpoint.provider_id,
        endpoint=endpoint,
        order=order,
        event=event_name,
        payload=payload,
        stripe_received_at=db.session.info.get(_STRIPE_RECEIVED_AT),
    )
    db.session.add(notification)
    _deliver_after_commit(notification)
    return notification


_STRIPE_RECEIVED_AT = "kassa.stripe_received_at"


@contextmanager
def caused_by_stripe_event(received_at: datetime) -> Iterator[None]:
    """Notifications written inside were caused by the Stripe event Kassa acknowledged at
    `received_at`: each carries that time, for the Stripe-to-provider latency."""
    db.session.info[_STRIPE_RECEIVED_AT] = received_at
    try:
        yield
    finally:
        db.session.info.pop(_STRIPE_RECEIVED_AT, None)


def _deliver_after_commit(notification: Notification) -> None:
    database.after_commit("deliver_notification", notification.id)


def record_for_order(order: Order, event: ProviderEvent) -> list[Notification]:
    """Queue a notification of an order's change to each of its provider's endpoints that is
    on and takes the event: one message, one copy per endpoint; the caller commits."""
    if order.provider is None:
        return []
    endpoints = [e for e in order.provider.endpoints if e.active and e.takes(event.value)]
    if not endpoints:
        return []
    body = jsonio.dumps(schemas.order_notification(order, event.value))
    first = _add(endpoints[0], event.value, body, order)
    rest = [_add(endpoint, event.value, body, order, first.id) for endpoint in endpoints[1:]]
    return [first, *rest]


class NoWebhookUrl(DomainError):
    """The provider has nowhere to send notifications to."""


def send_test(endpoint: WebhookEndpoint | None, *, actor: Actor) -> Notification:
    """Queue a test event to one of a provider's endpoints (None: it has none)."""
    if endpoint is None:
        raise NoWebhookUrl("Set a webhook URL first.")
    body = jsonio.dumps(schemas.test_notification(endpoint.provider))
    notification = _add(endpoint, ProviderEvent.TEST, body, None)
    audit.record(
        actor,
        Action.TEST_EVENT_SENT,
        "provider",
        endpoint.provider_id,
        notification=notification.id,
        endpoint=endpoint.id,
    )
    db.session.commit()
    return notification


# Delivering: at least once, with a stable webhook-id.


def retry_delays() -> list[int]:
    """Seconds to wait after each failed attempt; their count bounds the attempts."""
    schedule = current_app.config["NOTIFICATION_RETRY_SCHEDULE"]
    return [int(part) for part in str(schedule).split(",") if part.strip()]


# Delivery's statements, built once: building them per attempt cost more than running them.
_CLAIM = (
    update(Notification)
    .where(
        Notification.id == bindparam("notification_id"),
        Notification.status == NotificationStatus.PENDING,
        Notification.next_attempt_at <= bindparam("due_by"),
        or_(Notification.lease_until.is_(None), Notification.lease_until < bindparam("now")),
    )
    .values(lease_until=bindparam("lease_until"))
)
_SETTLE = (
    update(Notification)
    .where(Notification.id == bindparam("notification_id"))
    .values(
        {
            column: bindparam(f"new_{column}")
            for column in (
                "status",
                "attempts",
                "next_attempt_at",
                "lease_until",
                "last_error",
                "delivered_at",
            )
        }
    )
)
_LOG_ATTEMPT = insert(DeliveryAttempt).returning(DeliveryAttempt.id)
_RECORD_ATTEMPT = (
    update(DeliveryAttempt)
    .where(DeliveryAttempt.id == bindparam("attempt_id"))
    .values(
        {
            column: bindparam(f"new_{column}")
            for column in ("response_status", "response_body", "latency_ms", "error")
        }
    )
)
# An attempt begun under an earlier lease whose answer was never recorded (its worker or
# the database stopped mid-attempt): the provider may have it, so the log says so.
_CLOSE_UNRECORDED = (
    update(DeliveryAttempt)
    .where(
        DeliveryAttempt.notification_id == bindparam("of_notification"),
        DeliveryAttempt.response_status.is_(None),
        DeliveryAttempt.error.is_(None),
    )
    .values(error=UNRECORDED)
)
_COUNT_UNRECORDED = (
    update(Notification)
    .where(Notification.id == bindparam("notification_id"))
    .values(attempts=Notification.attempts + bindparam("unrecorded"))
)


# What one delivery reads, with the claim held: a Core row, no ORM objects to track.
_TO_DELIVER = (
    select(
        Notification.payload,
        Notification.message_id,
        Notification.attempts,
        Notification.schedule_start,
        Notification.next_attempt_at,
        Notification.delivered_at,
        Notification.endpoint_id,
        Notification.provider_id,
        Notification.order_id,
        Notification.stripe_received_at,
        WebhookEndpoint.url,
        WebhookEndpoint.active,
        WebhookEndpoint.secret,
        WebhookEndpoint.previous_secret,
        WebhookEndpoint.secret_rotated_at,
        WebhookEndpoint.disabled_at,
    )
    .outerjoin(WebhookEndpoint, WebhookEndpoint.id == Notification.endpoint_id)
    .where(Notification.id == bindparam("notification_id"))
)


@dataclass(frozen=True)
class _Claim:
    """A notification this worker holds: its row, its attempt's log row, when it was taken."""

    row: object
    attempt_id: int
    taken: float  # time.monotonic() before the claim


def _claim(notification_id: str) -> _Claim | None:
    """Lease the notification and log its attempt as begun, in one transaction.

    The attempt's row is written before anything is sent: if the worker or the database
    stops after the endpoint received the notification, the log still shows the attempt.
    """
    taken = time.monotonic()
    now = utcnow()
    lease = timedelta(seconds=current_app.config["NOTIFICATION_LEASE_SECONDS"])
    connection = db.session.connection()
    claimed = connection.execute(
        _CLAIM,
        {
            "notification_id": notification_id,
            "due_by": now + timedelta(seconds=1),
            "now": now,
            "lease_until": now + lease,
        },
    ).rowcount
    if claimed != 1:
        db.session.commit()
        return None
    unrecorded = connection.execute(
        _CLOSE_UNRECORDED, {"of_notification": notification_id}
    ).rowcount
    if unrecorded:
        connection.execute(
            _COUNT_UNRECORDED, {"notification_id": notification_id, "unrecorded": unrecorded}
        )
    row = connection.execute(_TO_DELIVER, {"notification_id": notification_id}).one()
    attempt_id = connection.execute(
        _LOG_ATTEMPT,
        {
            "notification_id": notification_id,
            "attempted_at": now,
            "url": row.url or "",
            "request_body": row.payload,
            "response_status": None,
            "response_body": None,
            "latency_ms": None,
            "error": None,
        },
    ).scalar_one()
    db.session.commit()
    return _Claim(row, attempt_id, taken)


def _post(target: urls.WebhookTarget, headers: dict, body: str):
    """POST once; returns (status, an excerpt of the body, latency ms, error)."""
    started = time.monotonic()
    timeout = current_app.config["NOTIFICATION_TIMEOUT_SECONDS"]
    try:
        answer = outbound.post(target, headers, body.encode(), timeout)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        latency = int((time.monotonic() - started) * 1000)
        return None, None, latency, f"{type(error).__name__}: {error}"[:500]
    latency = int((time.monotonic() - started) * 1000)
    return answer.status, answer.excerpt, latency, None


def _lease_left_too_short(claim: _Claim) -> str | None:
    """Why the attempt must not start: it could outlast the lease (the address took long
    to resolve), and another worker could then send the notification at the same time."""
    held = time.monotonic() - claim.taken
    timeout = current_app.config["NOTIFICATION_TIMEOUT_SECONDS"]
    lease = current_app.config["NOTIFICATION_LEASE_SECONDS"]
    if held + timeout + LEASE_MARGIN_SECONDS <= lease:
        return None
    return (
        f"Not sent: {held:.1f} s of the {lease} s lease went on resolving the address, and "
        f"the attempt ({timeout:g} s) could outlast it"
    )


@dataclass(frozen=True)
class Attempted:
    """How one delivery attempt left its notification, and when to try again if at all."""

    status: NotificationStatus
    retry_at: datetime | None


def deliver(notification_id: str) -> Attempted | None:
    """Make one attempt if the notification is due and not being sent elsewhere; None when
    it was not (delivered already, not due, or leased by another worker)."""
    claim = _claim(notification_id)
    if claim is None:
        return None
    row = claim.row
    logs.bind(order_id=row.order_id, provider_id=row.provider_id)
    url = row.url or ""
    status = body_kept = latency = None
    error = _undeliverable(row)
    if error is None:
        # Checked again at delivery: a host can resolve elsewhere since the URL was saved.
        try:
            target, error = urls.webhook_target("webhook_url", url), None
        except ValidationError as refusal:
            error = f"Refused: {refusal.message}"
    if error is None:
        error = _lease_left_too_short(claim)
    if error is None:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Kassa-Webhooks/1",
            "X-Kassa-Webhook": "payment-notification",
            "webhook-id": row.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(row, row.message_id, timestamp, row.payload),
        }
        status, body_kept, latency, error = _post(target, headers, row.payload)
        if error is None and not 200 <= status < 300:
            error = f"HTTP {status}"
    connection = db.session.connection()
    connection.execute(
        _RECORD_ATTEMPT,
        {
            "attempt_id": claim.attempt_id,
            "new_response_status": status,
            "new_response_body": body_kept,
            "new_latency_ms": latency,
            "new_error": error,
        },
    )
    settled = _settle(row, status, error)
    connection.execute(
        _SETTLE,
        {"notification_id": notification_id}
        | {f"new_{column}": value for column, value in settled.items()},
    )
    if status == 410:
        connection.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == row.endpoint_id)
            .values(disabled_at=utcnow())
        )
    db.session.commit()
    metrics.delivery_attempted(row, error, latency)
    pending = settled["status"] is NotificationStatus.PENDING
    return Attempted(settled["status"], settled["next_attempt_at"] if pending else None)


def _undeliverable(row) -> str | None:
    """Why nothing is sent to the notification's endpoint now, if anything."""
    if row.endpoint_id is None:
        return "Its webhook endpoint was deleted; a resend goes to the provider's first endpoint"
    if row.disabled_at is not None:
        return "Endpoint disabled after it answered 410 Gone; re-enable it on the provider page"
    if not row.active:
        return "Endpoint turned off by the provider"
    return None


def _gives_up(row) -> bool:
    """Whether the endpoint can take nothing for now, so retrying is pointless."""
    return row.endpoint_id is None or row.disabled_at is not None or not row.active


def _settle(row, status: int | None, error: str | None) -> dict:
    """The notification's new values after an attempt that answered status (or error)."""
    now = utcnow()
    attempts = row.attempts + 1
    settled = {
        "attempts": attempts,
        "lease_until": None,
        "last_error": error,
        "next_attempt_at": row.next_attempt_at,
        "delivered_at": row.delivered_at,
    }
    if error is None:
        return settled | {"status": NotificationStatus.DELIVERED, "delivered_at": now}
    if status == 410:
        return settled | {
            "status": NotificationStatus.FAILED,
            "last_error": "410 Gone: endpoint disabled",
        }
    delays = retry_delays()
    in_schedule = attempts - row.schedule_start
    if in_schedule > len(delays) or _gives_up(row):
        return settled | {"status": NotificationStatus.FAILED}
    delay = delays[in_schedule - 1] * random.uniform(0.9, 1.1)
    return settled | {
        "status": NotificationStatus.PENDING,
        "next_attempt_at": now + timedelta(seconds=delay),
    }


def lost() -> Iterator[str]:
    """Due notifications whose task was lost, oldest first, for the sweep to queue again.

    A row whose lease ran out was being sent by a worker that died. A row never leased
    and due for longer than the grace period lost its queued task (Redis or the queue
    died). Enqueueing a row twice is harmless: only one worker can hold its lease. After
    a long outage every such row is found, in batches.
    """
    now = utcnow()
    grace = timedelta(seconds=current_app.config["OUTBOX_SWEEP_GRACE_SECONDS"])
    due = (Notification.status == NotificationStatus.PENDING) & or_(
        Notification.lease_until < now,
        (Notification.lease_until.is_(None)) & (Notification.next_attempt_at <= now - grace),
    )
    return database.ids_in_batches(due, Notification.next_attempt_at, Notification.id)


class Resent(StrEnum):
    """What a resend did: never a second copy of a notification in flight."""

    QUEUED = "queued"  # delivered or failed: queued again, with a fresh retry schedule
    BROUGHT_FORWARD = "brought_forward"  # a retry was waiting: it is due now instead
    ALREADY_SENDING = "already_sending"  # a worker holds its lease: nothing more to do


def _lease_free(now: datetime):
    return or_(Notification.lease_until.is_(None), Notification.lease_until < now)


def _resend_one(notification_id: str, settled: tuple[NotificationStatus, ...]) -> Resent:
    """Make one notification due now unless a worker is sending it; the caller commits.

    Each change is one conditional UPDATE, so a worker's claim and a resend cannot both
    win: a leased row is left alone, a waiting retry keeps its count and is brought
    forward, a settled row starts a fresh schedule after the attempts it already had.
    """
    now = utcnow()
    connection = db.session.connection()
    # One whose endpoint was deleted goes to the provider's first endpoint now.
    first_endpoint = (
        select(WebhookEndpoint.id)
        .where(WebhookEndpoint.provider_id == Notification.provider_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        .limit(1)
        .scalar_subquery()
    )
    connection.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.endpoint_id.is_(None))
        .values(endpoint_id=first_endpoint)
    )
    brought_forward = connection.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == NotificationStatus.PENDING,
            _lease_free(now),
        )
        .values(next_attempt_at=now, lease_until=None)
    ).rowcount
    if brought_forward:
        database.after_commit("deliver_notification", notification_id)
        return Resent.BROUGHT_FORWARD
    requeued = connection.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status.in_(settled),
            _lease_free(now),
        )
        .values(
            status=NotificationStatus.PENDING,
            schedule_start=Notification.attempts,
            next_attempt_at=now,
            lease_until=None,
        )
    ).rowcount
    if requeued:
        database.after_commit("deliver_notification", notification_id)
        return Resent.QUEUED
    return Resent.ALREADY_SENDING


def resend(notification: Notification, *, actor: Actor) -> Resent:
    """Send a notification again with the same webhook-id, unless it is being sent now."""
    notification_id = notification.id
    outcome = _resend_one(
        notification_id, (NotificationStatus.DELIVERED, NotificationStatus.FAILED)
    )
    if outcome is not Resent.ALREADY_SENDING:
        audit.record(
            actor,
            Action.NOTIFICATION_RESENT,
            "notification",
            notification_id,
            event=notification.event,
            provider=notification.provider_id,
            outcome=outcome.value,
        )
    db.session.commit()
    db.session.expire_all()
    return outcome


def resend_failed_since(
    moment: datetime,
    provider_id: str | None = None,
    *,
    actor: Actor,
    endpoint_id: str | None = None,
) -> int:
    """Resend every failed notification created at or after a moment (of a provider, to
    one of its endpoints); returns how many. One being sent is left alone."""
    query = select(Notification.id).where(
        Notification.status == NotificationStatus.FAILED, Notification.created_at >= moment
    )
    if provider_id:
        query = query.where(Notification.provider_id == provider_id)
    if endpoint_id:
        query = query.where(Notification.endpoint_id == endpoint_id)
    candidates = db.session.scalars(query).all()
    # A row another resend took meanwhile is pending now, and is left to it.
    count = sum(
        _resend_one(notification_id, (NotificationStatus.FAILED,)) is Resent.QUEUED
        for notification_id in candidates
    )
    audit.record(
        actor,
        Action.FAILED_NOTIFICATIONS_RESENT,
        "provider" if provider_id else "notification",
        provider_id or "*",
        since=moment,
        count=count,
        **({"endpoint": endpoint_id} if endpoint_id else {}),
    )
    db.session.commit()
    return count


# An endpoint's deliveries, for the API


def find_delivery(endpoint_id: str, notification_id: object) -> Notification | None:
    """One of the endpoint's notifications, or None."""
    if not isinstance(notification_id, str) or not notification_id.startswith("msg_"):
        return None
    found = db.session.get(Notification, notification_id)
    return found if found is not None and found.endpoint_id == endpoint_id else None


def deliveries(
    endpoint_id: str, limit: int, *, after: Notification | None = None
) -> list[Notification]:
    """Up to `limit` of the endpoint's notifications, newest first, older than `after`."""
    query = select(Notification).where(Notification.endpoint_id == endpoint_id)
    return list(db.session.scalars(database.newest_first(query, Notification, after).limit(limit)))


# Queries for the admin pages


def latest_for_provider(provider_id: str, limit: int) -> list[Notification]:
    """A provider's most recent notifications, newest first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.provider_id == provider_id)
            .order_by(Notification.created_at.desc())
            .limit(limit)
        )
    )


def for_order(order_id: str) -> list[Notification]:
    """Every notification about an order, oldest first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.order_id == order_id)
            .order_by(Notification.created_at)
        )
    )


def select_notifications(
    status: NotificationStatus | None = None,
    provider_id: str | None = None,
    event_name: str | None = None,
) -> Select[tuple[Notification]]:
    """Notifications with a status, to a provider, for an event; newest first."""
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == status)
    if provider_id is not None:
        query = query.where(Notification.provider_id == provider_id)
    if event_name is not None:
        query = query.where(Notification.event == event_name)
    return query.order_by(Notification.created_at.desc(), Notification.id.desc())


# Forgotten per sweep at most, so one run never holds SQLite's write lock for long.
FORGET_BATCH = 1000


def forget_old_attempt_bodies(older_than: timedelta) -> int:
    """Empty what delivery attempts older than `older_than` sent and heard (the body and the
    answer's excerpt); the attempt itself, its status, error and time stay in the log, and
    the notification keeps its body for a resend."""
    cutoff = utcnow() - older_than
    old = (
        select(DeliveryAttempt.id)
        .where(
            DeliveryAttempt.attempted_at < cutoff,
            or_(DeliveryAttempt.request_body != "", DeliveryAttempt.response_body.is_not(None)),
        )
        .limit(FORGET_BATCH)
        .scalar_subquery()
    )
    forgotten = db.session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.id.in_(old))
        .values(request_body="", response_body=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return forgotten
