"""Provider API: the events feed, every notification Kassa wrote for the provider."""

from flask import jsonify, request

from checkout import event_feed, notifications, schemas
from checkout.api.common import ApiError, authenticated_key, bp, check_fields, page_limit
from checkout.models import ApiScope


@bp.get("/events")
def list_events():
    """The provider's notifications of the last 30 days, newest first, as they were sent."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    check_fields("listEvents")
    event_name = request.args.get("type")
    if event_name is not None and event_name not in notifications.EVENTS:
        raise ApiError(
            f"type must be one of {', '.join(notifications.EVENTS)}",
            422,
            "validation_error",
            "type",
        )
    limit = page_limit()
    after = None
    if "startingAfter" in request.args:
        after = event_feed.find_for_provider(provider.id, request.args["startingAfter"])
        if after is None:
            raise ApiError(
                "startingAfter must be the id of one of your events",
                422,
                "validation_error",
                "startingAfter",
            )
    rows = event_feed.feed(
        provider.id,
        limit + 1,
        after=after,
        event_name=event_name,
        order_id=request.args.get("orderId"),
    )
    return jsonify(
        data=[schemas.feed_event(row) for row in rows[:limit]], hasMore=len(rows) > limit
    )
