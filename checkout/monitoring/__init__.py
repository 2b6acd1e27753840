"""Monitoring: `GET /metrics` for Prometheus, for METRICS_TOKEN or METRICS_ALLOW only, and
every request the app answers counted by route, method and status (checkout.metrics)."""

import hmac
import ipaddress
import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from checkout import metrics, queue, stripe_events, web
from checkout.extensions import csrf, db
from checkout.models import Notification, NotificationStatus, Order, OrderStatus

bp = Blueprint("monitoring", __name__)
csrf.exempt(bp)


class _DatabaseCollector:
    """What the database knows, read at each scrape: orders by status, notifications
    waiting per provider, Stripe events waiting and given up, and the queues' depth."""

    def collect(self):
        yield self._orders()
        yield self._waiting_notifications()
        events = stripe_events.unapplied_counts()
        yield GaugeMetricFamily(
            "kassa_stripe_events_waiting",
            "Stripe events recorded and not yet applied",
            value=events["waiting"],
        )
        yield GaugeMetricFamily(
            "kassa_stripe_events_given_up",
            "Stripe events that failed every attempt to apply them (shown to admins)",
            value=events["failed"],
        )
        depth = GaugeMetricFamily("kassa_queue_depth", "Tasks waiting in a queue", labels=["queue"])
        for name, instance in (("tasks", queue.huey), ("stripe_events", queue.stripe_huey)):
            depth.add_metric([name], instance.pending_count())
        yield depth
        db.session.rollback()

    @staticmethod
    def _orders():
        gauge = GaugeMetricFamily("kassa_orders", "Orders, by status", labels=["status"])
        counts = dict(
            db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
        for status in OrderStatus:
            gauge.add_metric([status.value], counts.get(status, 0))
        return gauge

    @staticmethod
    def _waiting_notifications():
        gauge = GaugeMetricFamily(
            "kassa_notifications_waiting",
            "Notifications not yet delivered (due or retrying), by provider",
            labels=["provider"],
        )
        pending = db.session.execute(
            select(Notification.provider_id, func.count())
            .where(Notification.status == NotificationStatus.PENDING)
            .group_by(Notification.provider_id)
        ).all()
        for provider_id, count in pending:
            gauge.add_metric([provider_id], count)
        return gauge


def _scrape() -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics.FOLDER))
    registry.register(_DatabaseCollector())
    return generate_latest(registry)


def _refusal() -> int | None:
    """Why the scrape is refused (its status), or None: METRICS_TOKEN sent as a Bearer
    token, or a request from a METRICS_ALLOW network, is answered."""
    token = current_app.config["METRICS_TOKEN"]
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer":
        return None if hmac.compare_digest(sent.strip().encode(), token.encode()) else 401
    address = ipaddress.ip_address(web.client_address())
    if any(address in network for network in current_app.config["METRICS_ALLOW"]):
        return None
    return 401 if token else 403


@bp.get("/metrics")
def scrape():
    """Prometheus' text format: every process's counts on this machine, and the database's."""
    refused = _refusal()
    if refused == 401:
        return Response(
            "Send METRICS_TOKEN as a Bearer token\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="kassa-metrics"', **web.NO_STORE},
            mimetype="text/plain",
        )
    if refused == 403:
        return Response(
            "Metrics are answered to METRICS_ALLOW networks, or with METRICS_TOKEN\n",
            403,
            web.NO_STORE,
            mimetype="text/plain",
        )
    return Response(_scrape(), 200, web.NO_STORE, content_type=CONTENT_TYPE_LATEST)


@bp.before_app_request
def _started():
    g.metrics_started = time.perf_counter()


@bp.after_app_request
def _answered(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
    return response
