"""The events feed, GET /api/v1/events: every notification Kassa wrote for the provider in
the last 30 days, so a backend that missed deliveries can catch up by polling."""

from datetime import timedelta

import sqlalchemy as sa

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_paid_order,
    bearer,
    error_body,
    form_post,
    simulate,
)


def events(client, key, **query) -> dict:
    response = client.get("/api/v1/events", query_string=query, headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def written(app, order_id=None) -> list[tuple[str, str]]:
    """(id, event) of the notifications in the outbox, newest first."""
    from checkout.extensions import db
    from checkout.models import Notification

    query = sa.select(Notification.id, Notification.event)
    if order_id:
        query = query.where(Notification.order_id == order_id)
    order = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    with app.app_context():
        return [tuple(row) for row in db.session.execute(order)]


def test_each_notification_is_an_event_with_the_body_sent(app, client, provider_key):
    order_id = api_new_order(client, provider_key, externalId="E-1", amount=5)
    simulate(client, order_id, "failed")
    simulate(client, order_id, "succeeded")
    listed = events(client, provider_key)
    assert listed["hasMore"] is False
    assert [(event["id"], event["type"]) for event in listed["data"]] == written(app)
    assert [event["type"] for event in listed["data"]] == ["payment_succeeded", "payment_failed"]
    newest = listed["data"][0]
    assert newest["orderId"] == order_id and newest["createdAt"].endswith("Z")
    assert newest["data"]["event"] == "payment_succeeded"
    assert newest["data"]["orderId"] == order_id and newest["data"]["status"] == "paid"
    assert newest["id"].startswith("msg_")


def test_pages_go_back_in_time(client, provider_key):
    for n in range(3):
        api_paid_order(client, provider_key, f"E-2-{n}", amount=5)
    everything = [event["id"] for event in events(client, provider_key)["data"]]
    assert len(everything) == 3
    first = events(client, provider_key, limit=2)
    assert [event["id"] for event in first["data"]] == everything[:2] and first["hasMore"]
    rest = events(client, provider_key, limit=2, startingAfter=everything[1])
    assert [event["id"] for event in rest["data"]] == everything[2:]
    assert rest["hasMore"] is False


def test_filters_by_type_and_order(client, provider_key):
    paid = api_paid_order(client, provider_key, "E-3", amount=5)
    failed = api_new_order(client, provider_key, externalId="E-4", amount=5)
    simulate(client, failed, "failed")
    by_type = events(client, provider_key, type="payment_failed")["data"]
    assert [(event["type"], event["orderId"]) for event in by_type] == [("payment_failed", failed)]
    by_order = events(client, provider_key, orderId=paid)["data"]
    assert [event["type"] for event in by_order] == ["payment_succeeded"]
    assert events(client, provider_key, orderId="ord_" + "0" * 24)["data"] == []


def test_a_test_event_is_listed_without_an_order(client, admin_client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    page = f"/admin/providers/{provider.id}"
    assert form_post(admin_client, page, {}, f"{page}/test-event").status_code in (302, 303)
    [event] = events(client, provider.api_key)["data"]
    assert event["type"] == "test" and event["orderId"] is None
    assert event["data"]["event"] == "test"


def test_events_older_than_30_days_are_not_listed(app, client, provider_key):
    from checkout.extensions import db
    from checkout.models import Notification

    old = api_paid_order(client, provider_key, "E-5", amount=5)
    recent = api_paid_order(client, provider_key, "E-6", amount=5)
    with app.app_context():
        db.session.execute(
            sa.update(Notification)
            .where(Notification.order_id == old)
            .values(created_at=Notification.created_at - timedelta(days=30, seconds=1))
        )
        db.session.commit()
    assert [event["orderId"] for event in events(client, provider_key)["data"]] == [recent]


def test_only_the_providers_own_events(app, client, make, provider_key):
    api_paid_order(client, provider_key, "E-7", amount=5)
    stranger = make.provider(
        make.service(slug="other"), name="Stranger", webhook_url=UNREACHABLE_HOOK
    ).api_key
    assert events(client, stranger)["data"] == []
    [(theirs, _)] = written(app)
    refused = client.get(
        "/api/v1/events", query_string={"startingAfter": theirs}, headers=bearer(stranger)
    )
    assert refused.status_code == 422
    assert refused.get_json() == error_body(
        "startingAfter must be the id of one of your events", "validation_error", "startingAfter"
    )


def test_bad_queries_are_422_naming_them(client, provider_key):
    for query, param in (
        ({"type": "payment_made"}, "type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"startingAfter": "msg_nothing"}, "startingAfter"),
        ({"since": "2026-01-01"}, "since"),
    ):
        response = client.get("/api/v1/events", query_string=query, headers=bearer(provider_key))
        assert response.status_code == 422, query
        assert response.get_json()["param"] == param
