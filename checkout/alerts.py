"""Operator alerts: mail to ALERT_EMAIL, and Slack-compatible JSON to ALERT_WEBHOOK_URL,
before money or notifications go astray.

Two kinds of condition. Some happen once, in the transaction of the change (an underpaid
order, a dispute opened, a payment only reconciliation found, Stripe refusing Cash App):
`happened` records them. Others last, and the minute check (`check`) finds them and sees
them clear (a provider endpoint failing longer than ALERT_ENDPOINT_FAILING_MINUTES, an
endpoint disabled after 410, Stripe events given up or waiting longer than
ALERT_STRIPE_WAITING_MINUTES): each gets a "resolved" alert when it clears.

At most one alert per condition and subject an hour: one that comes back sooner is
recorded (the admin and `alerts list` show it) without a second mail. Mails go through
the e-mail outbox; a webhook post that fails is tried again by each minute's check.
"""

import json
import logging
from datetime import timedelta

import urllib3
from flask import current_app
from sqlalchemy import func, select

from checkout import branding, database, mail, outbound, urls
from checkout.enums import NotificationStatus, OrderStatus
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Notification, Order, WebhookEndpoint, utcnow
from checkout.records import Alert

log = logging.getLogger(__name__)

# At most one alert per condition and subject this often.
QUIET = timedelta(hours=1)
WEBHOOK_TIMEOUT_SECONDS = 10

TITLES = {
    "endpoint_failing": "A provider's webhook endpoint keeps failing",
    "endpoint_disabled": "A provider's webhook endpoint was disabled (410 Gone)",
    "stripe_events_failing": "Stripe events failed every attempt to apply them",
    "stripe_events_waiting": "Stripe events are waiting to be applied",
    "order_underpaid": "An order was underpaid",
    "dispute_opened": "A customer disputed a payment",
    "payment_found_by_reconciliation": "Reconciliation found a payment the webhooks missed",
    "cashapp_refused": "Stripe refuses Cash App Pay",
}


# The source of the changes reconciliation makes (payments.reconcile, orders._move).
RECONCILIATION = "reconciliation"


def order_moved(order: Order, target: OrderStatus, source: str) -> None:
    """Tell the operator of an order change that needs a person: an underpayment, a
    dispute, a payment only reconciliation found."""
    amount = order.amount_display
    if target is OrderStatus.UNDERPAID:
        happened(
            "order_underpaid",
            order.id,
            f"Order {order.id} ({amount}) was paid less than it costs: accept or refund it.",
        )
    elif target is OrderStatus.DISPUTED:
        happened(
            "dispute_opened",
            order.id,
            f"The customer disputed order {order.id} ({amount}) with their bank: answer "
            "the dispute in Stripe before its evidence is due.",
        )
    elif target is OrderStatus.PAID and source == RECONCILIATION:
        happened(
            "payment_found_by_reconciliation",
            order.id,
            f"Order {order.id} ({amount}) was paid, but no Stripe webhook said so: check the "
            "webhook endpoint in Stripe's dashboard and STRIPE_WEBHOOK_SECRET.",
        )


def happened(condition: str, subject: str, detail: str) -> Alert | None:
    """Record a condition that happened now, in the caller's transaction, and alert of it
    unless the same one was alerted of within the hour."""
    return _open(condition, subject, detail)


def _open(condition: str, subject: str, detail: str) -> Alert | None:
    """An alert for the condition, unless one is open already (None then)."""
    if _open_alert(condition, subject) is not None:
        return None
    last = db.session.scalar(
        select(func.max(Alert.opened_at)).where(
            Alert.condition == condition, Alert.subject == subject, Alert.notified.is_(True)
        )
    )
    alert = Alert(
        condition=condition,
        subject=subject,
        detail=detail[:500],
        notified=last is None or last <= utcnow() - QUIET,
    )
    db.session.add(alert)
    if alert.notified:
        _tell(alert, resolved=False)
    return alert


def _open_alert(condition: str, subject: str) -> Alert | None:
    return db.session.scalar(
        select(Alert).where(
            Alert.condition == condition, Alert.subject == subject, Alert.resolved_at.is_(None)
        )
    )


def _resolve(alert: Alert) -> None:
    alert.resolved_at = utcnow()
    if alert.notified:
        _tell(alert, resolved=True)


def _tell(alert: Alert, *, resolved: bool) -> None:
    title = TITLES.get(alert.condition, alert.condition)
    subject = f"Resolved: {title}" if resolved else title
    config = current_app.config
    if config["ALERT_EMAIL"]:
        mail.queue(
            config["ALERT_EMAIL"],
            "alert",
            kind=alert.condition,
            title=subject,
            detail=alert.detail,
            resolved=resolved,
            opened_at=alert.opened_at or utcnow(),
            base_url=urls.base_url(),
        )
    if alert.condition in PROVIDER_TOLD:
        _tell_provider(alert, resolved)
    if config["ALERT_WEBHOOK_URL"]:
        alert.webhook_text = json.dumps(
            {"text": f"{'✅' if resolved else '⚠️'} Kassa: {subject}. {alert.detail}"}
        )
        db.session.flush()
        database.after_commit("send_alert_webhook", alert.id)


# Conditions the provider's contact address hears of too, with what to say.
PROVIDER_TOLD = {
    "endpoint_failing": "Your webhook endpoint {url} has not accepted Kassa's notifications "
    "for over {minutes} minutes. They are sent again on a schedule: once it answers 2xx, "
    "they arrive, each with its first webhook-id.",
    "endpoint_disabled": "Your webhook endpoint {url} answered 410 Gone, so Kassa stopped "
    "sending to it. Ask the operator to enable it again once it takes notifications.",
}


def _tell_provider(alert: Alert, resolved: bool) -> None:
    """The provider's own mail about one of its endpoints, in its branding's name."""
    endpoint = db.session.get(WebhookEndpoint, alert.subject)
    provider = endpoint.provider if endpoint is not None else None
    if provider is None or not provider.contact_email:
        return
    title = (
        "Your webhook endpoint takes notifications again"
        if resolved
        else (
            "Your webhook endpoint keeps failing"
            if alert.condition == "endpoint_failing"
            else "Your webhook endpoint was disabled"
        )
    )
    minutes = current_app.config["ALERT_ENDPOINT_FAILING_MINUTES"]
    mail.queue(
        provider.contact_email,
        "endpoint",
        kind=f"provider_{alert.condition}",
        title=title,
        detail=PROVIDER_TOLD[alert.condition].format(url=endpoint.url, minutes=minutes),
        resolved=resolved,
        **branding.in_mail(provider),
    )


def send_webhook(alert_id: str) -> bool | None:
    """POST an alert's pending webhook text; whether it went (None: nothing pending)."""
    alert = db.session.get(Alert, alert_id)
    url = current_app.config["ALERT_WEBHOOK_URL"]
    if alert is None or alert.webhook_text is None or not url:
        db.session.rollback()
        return None
    body = alert.webhook_text.encode()
    try:
        target = urls.webhook_target("ALERT_WEBHOOK_URL", url)
        answer = outbound.post(
            target, {"Content-Type": "application/json"}, body, WEBHOOK_TIMEOUT_SECONDS
        )
        sent = 200 <= answer.status < 300
    except (ValidationError, urllib3.exceptions.HTTPError, OSError) as error:
        log.warning("Could not post alert %s to ALERT_WEBHOOK_URL: %s", alert.id, error)
        sent = False
    if sent:
        alert.webhook_text = None
    db.session.commit()
    return sent


def check(stripe_failed: int, stripe_waiting: int) -> dict[str, int]:
    """The lasting conditions, opened or resolved as they now stand, and webhook posts that
    failed sent again; how many alerts opened and resolved. The caller counts the Stripe
    events given up and those waiting longer than ALERT_STRIPE_WAITING_MINUTES."""
    now = utcnow()
    counts = {"opened": 0, "resolved": 0}
    for condition, found in (
        ("endpoint_failing", _failing_endpoints(now)),
        ("endpoint_disabled", _disabled_endpoints()),
        ("stripe_events_failing", _stripe_events_failing(stripe_failed)),
        ("stripe_events_waiting", _stripe_events_waiting(stripe_waiting)),
    ):
        open_now = {
            alert.subject: alert
            for alert in db.session.scalars(
                select(Alert).where(Alert.condition == condition, Alert.resolved_at.is_(None))
            )
        }
        for subject, detail in found.items():
            if subject not in open_now and _open(condition, subject, detail) is not None:
                counts["opened"] += 1
        for subject, alert in open_now.items():
            if subject not in found:
                _resolve(alert)
                counts["resolved"] += 1
    db.session.commit()
    for alert_id in db.session.scalars(select(Alert.id).where(Alert.webhook_text.is_not(None))):
        send_webhook(alert_id)
    return counts


def _failing_endpoints(now) -> dict[str, str]:
    """Endpoints with a notification failing for longer than ALERT_ENDPOINT_FAILING_MINUTES."""
    since = now - timedelta(minutes=current_app.config["ALERT_ENDPOINT_FAILING_MINUTES"])
    rows = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.provider_id, func.count())
        .join(Notification, Notification.endpoint_id == WebhookEndpoint.id)
        .where(
            Notification.status == NotificationStatus.PENDING,
            Notification.attempts > 0,
            Notification.created_at <= since,
            WebhookEndpoint.disabled_at.is_(None),
        )
        .group_by(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.provider_id)
    ).all()
    return {
        endpoint_id: f"Endpoint {endpoint_id} of provider {provider_id} ({url}) has {count} "
        f"notification(s) failing for over "
        f"{current_app.config['ALERT_ENDPOINT_FAILING_MINUTES']} minutes; they are retried "
        "until the schedule ends."
        for endpoint_id, url, provider_id, count in rows
    }


def _disabled_endpoints() -> dict[str, str]:
    rows = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.provider_id).where(
            WebhookEndpoint.disabled_at.is_not(None)
        )
    ).all()
    return {
        endpoint_id: f"Endpoint {endpoint_id} of provider {provider_id} ({url}) answered "
        "410 Gone: nothing is sent to it until an admin enables it on the provider's page."
        for endpoint_id, url, provider_id in rows
    }


def _stripe_events_failing(failed: int) -> dict[str, str]:
    if not failed:
        return {}
    return {
        "stripe": f"{failed} Stripe event(s) failed every attempt to apply them: see the "
        "admin's Stripe events page and retry them."
    }


def _stripe_events_waiting(waiting: int) -> dict[str, str]:
    if not waiting:
        return {}
    minutes = current_app.config["ALERT_STRIPE_WAITING_MINUTES"]
    return {
        "stripe": f"{waiting} Stripe event(s) have waited over {minutes} minutes for a worker: "
        "is the worker running, and the queue reachable?"
    }
