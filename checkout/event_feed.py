"""The events feed: a provider's messages of the last 30 days, for its backend to poll and
catch up on deliveries it missed (GET /api/v1/events)."""

from datetime import timedelta

from sqlalchemy import select

from checkout import database
from checkout.extensions import db
from checkout.models import Notification, utcnow

FEED_WINDOW = timedelta(days=30)


def find_for_provider(provider_id: str, notification_id: object) -> Notification | None:
    """The provider's notification with this id (its webhook-id), or None."""
    if not isinstance(notification_id, str) or not notification_id.startswith("msg_"):
        return None
    found = db.session.get(Notification, notification_id)
    return found if found is not None and found.provider_id == provider_id else None


def feed(
    provider_id: str,
    limit: int,
    *,
    after: Notification | None = None,
    event_name: str | None = None,
    order_id: str | None = None,
) -> list[Notification]:
    """Up to `limit` of the provider's notifications of the last FEED_WINDOW, newest first,
    older than `after` when given; of one event type, about one order."""
    query = select(Notification).where(
        Notification.provider_id == provider_id,
        Notification.id == Notification.message_id,  # a message once, not once per endpoint
        Notification.created_at >= utcnow() - FEED_WINDOW,
    )
    if event_name is not None:
        query = query.where(Notification.event == event_name)
    if order_id is not None:
        query = query.where(Notification.order_id == order_id)
    page = database.newest_first(query, Notification, after).limit(limit)
    return list(db.session.scalars(page))
