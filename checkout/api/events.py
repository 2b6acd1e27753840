"""Provider API: the events feed, every notification Kassa wrote for the provider."""

from checkout import event_feed, schemas, shapes
from checkout.api import queries
from checkout.api.common import answer, authenticated_key, bp, page_start, parse_query
from checkout.models import ApiScope


@bp.get("/events")
def list_events():
    """The provider's notifications of the last 30 days, newest first, as they were sent."""
    provider = authenticated_key(ApiScope.ORDERS_READ).provider
    asked = parse_query(queries.ListEvents)
    after = page_start(
        asked.starting_after,
        lambda event_id: event_feed.find_for_provider(provider.id, event_id),
        "the id of one of your events",
    )
    rows = event_feed.feed(
        provider.id,
        asked.limit + 1,
        after=after,
        event_name=asked.type,
        order_id=asked.order_id,
    )
    return answer(
        shapes.EventList(
            data=[schemas.feed_event(row) for row in rows[: asked.limit]],
            has_more=len(rows) > asked.limit,
        )
    )
