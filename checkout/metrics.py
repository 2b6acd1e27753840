"""Prometheus metrics: what Kassa counts as it works (checkout.monitoring serves them, with
what the database knows, at `GET /metrics`).

Every process on a machine (the gunicorn workers, each huey_consumer, a CLI command) counts
into its own files in one folder, `PROMETHEUS_MULTIPROC_DIR` (default: the instance folder's
`metrics/`), and a scrape of any web process sums them all: prometheus_client's
multiprocess mode. The counts of a process that ended stay counted; a new process removes
the files of processes gone since
(`forget_ended_processes`). What the database knows (orders by status, what waits for
delivery or for a worker) is read at the scrape (checkout.monitoring), by one process, so it
is never summed twice. Counts made inside a transaction wait until it commits
(`count_after_commit`), so a rolled-back payment is never counted.
"""

import logging
import os
import re
from pathlib import Path

from checkout import config

FOLDER = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or config.instance_path(os.environ) / "metrics"
)
# Private, as the instance folder is (config.secure_storage): counts name providers.
FOLDER.parent.mkdir(mode=config.PRIVATE_FOLDER, parents=True, exist_ok=True)
FOLDER.mkdir(mode=config.PRIVATE_FOLDER, exist_ok=True)
# prometheus_client chooses its multiprocess values when it is first imported.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(FOLDER)

from prometheus_client import Counter, Histogram  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from checkout.extensions import db  # noqa: E402
from checkout.models import utcnow  # noqa: E402

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

PAYMENTS_OPENED = Counter(
    "kassa_payments_opened", "Orders opened for payment, by payment mode", ["mode"]
)
PAYMENTS_PAID = Counter("kassa_payments_paid", "Orders paid in full, by payment mode", ["mode"])
PAYMENTS_FAILED = Counter(
    "kassa_payments_failed", "Payments that failed, by payment mode", ["mode"]
)
STRIPE_EVENTS_RECEIVED = Counter(
    "kassa_stripe_events_received", "Verified Stripe events recorded, by event type", ["type"]
)
STRIPE_EVENTS_APPLIED = Counter(
    "kassa_stripe_events_applied", "Stripe events applied to their order, by event type", ["type"]
)
STRIPE_EVENTS_FAILED = Counter(
    "kassa_stripe_events_failed", "Attempts to apply a Stripe event that failed"
)
NOTIFICATIONS_DELIVERED = Counter(
    "kassa_notifications_delivered",
    "Notifications a provider's endpoint answered 2xx, by provider",
    ["provider"],
)
NOTIFICATIONS_FAILED = Counter(
    "kassa_notifications_failed_attempts",
    "Delivery attempts that failed (an error or an answer other than 2xx), by provider",
    ["provider"],
)
DELIVERY_SECONDS = Histogram(
    "kassa_notification_attempt_duration_seconds",
    "How long one delivery attempt took, by provider",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
STRIPE_TO_PROVIDER_SECONDS = Histogram(
    "kassa_stripe_to_provider_seconds",
    "From Kassa's 200 to Stripe for an event to the provider's 2xx for the notification it caused",
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "kassa_rate_limited_requests", "Requests refused with 429, by the limit they reached", ["limit"]
)
HTTP_REQUESTS = Counter(
    "kassa_http_requests",
    "HTTP requests answered, by route, method and status",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "kassa_http_request_duration_seconds",
    "How long requests took to answer, by route and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

_PENDING = "kassa_metrics_after_commit"


def count_after_commit(counter: Counter, *labels: str) -> None:
    """Count once the current transaction commits; forgotten on rollback."""
    db.session.info.setdefault(_PENDING, []).append((counter, labels))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for counter, labels in session.info.pop(_PENDING, ()):
        (counter.labels(*labels) if labels else counter).inc()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def delivery_attempted(row, error: str | None, latency_ms: int | None) -> None:
    """A delivery attempt (`row` as notifications.deliver read it), once it is committed:
    delivered or failed, how long it took, and for the first delivery of a notification a
    Stripe event caused, how long since Kassa acknowledged that event."""
    if latency_ms is not None:
        DELIVERY_SECONDS.labels(row.provider_id).observe(latency_ms / 1000)
    if error is not None:
        NOTIFICATIONS_FAILED.labels(row.provider_id).inc()
        return
    NOTIFICATIONS_DELIVERED.labels(row.provider_id).inc()
    if row.stripe_received_at is not None and row.delivered_at is None:
        STRIPE_TO_PROVIDER_SECONDS.observe((utcnow() - row.stripe_received_at).total_seconds())


def forget_ended_processes() -> None:
    """Remove the counts of processes that no longer run (a pid in each file's name): the
    web's master and each worker do it as they start, so their restart is a counter reset
    to Prometheus, as any restarted target's is; a CLI command leaves them."""
    for path in FOLDER.glob("*.db"):
        match = re.search(r"_(\d+)\.db$", path.name)
        if match and not _running(int(match.group(1))):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
