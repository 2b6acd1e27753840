"""Webhook endpoints from the provider's API: several per provider, each with its events, its
own secret (rotated without downtime), its deliveries, a test event and recovery."""

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_paid_order,
    bearer,
    error_body,
    simulate,
)
from tests.plugins.servers import Receiver, wait_until

URL = "/api/v1/webhook-endpoints"


def create(client, key, **body):
    return client.post(URL, json={"url": UNREACHABLE_HOOK, **body}, headers=bearer(key))


def endpoints(client, key) -> list[dict]:
    response = client.get(URL, headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def copies(app, order_id) -> list[tuple[str, str, str]]:
    """(event, endpoint id, webhook-id) of the notifications written about an order."""
    from checkout.extensions import db
    from checkout.models import Notification

    query = (
        sa.select(Notification.event, Notification.endpoint_id, Notification.message_id)
        .where(Notification.order_id == order_id)
        .order_by(Notification.created_at, Notification.id)
    )
    with app.app_context():
        return [tuple(row) for row in db.session.execute(query)]


def test_the_webhook_url_is_the_first_endpoint(client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    [first] = endpoints(client, provider.api_key)
    assert first["url"] == UNREACHABLE_HOOK and first["events"] == ["*"]
    assert first["active"] is True and first["disabledAt"] is None
    assert "secret" not in first
    assert client.get(f"{URL}/{first['id']}", headers=bearer(provider.api_key)).get_json() == (
        first
    )


def test_an_endpoint_is_made_with_its_secret_shown_once(app, client, api_key):
    response = create(
        client, api_key, description="Staging", events=["payment_succeeded", "payment_refunded"]
    )
    assert response.status_code == 201
    made = response.get_json()
    assert made["id"].startswith("we_") and made["secret"].startswith("whsec_")
    assert made["events"] == ["payment_succeeded", "payment_refunded"]
    assert made["description"] == "Staging"
    shown = client.get(f"{URL}/{made['id']}", headers=bearer(api_key)).get_json()
    assert "secret" not in shown and shown["url"] == UNREACHABLE_HOOK
    assert endpoints(client, api_key) == [shown]


def test_at_most_five(client, api_key):
    for n in range(5):
        assert create(client, api_key, description=f"E{n}").status_code == 201
    refused = create(client, api_key)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "endpoint_limit_reached"
    assert len(endpoints(client, api_key)) == 5


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "ftp://hooks.example/x"}, "url"),
        ({"url": ""}, "url"),
        ({"url": 5}, "url"),
        ({"events": ["payment_made"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "payment_succeeded"}, "events"),
        ({"events": [5]}, "events"),
        ({"active": "yes"}, "active"),
        ({"description": "x" * 256}, "description"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
def test_a_bad_field_is_422_naming_it(client, api_key, body, param):
    response = create(client, api_key, **body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["param"] == param
    assert endpoints(client, api_key) == []


def test_another_providers_endpoint_is_not_found(client, make, api_key):
    theirs = create(client, api_key).get_json()["id"]
    stranger = make.provider(make.service(slug="other"), name="Stranger").api_key
    for method, path in (
        ("get", f"{URL}/{theirs}"),
        ("patch", f"{URL}/{theirs}"),
        ("delete", f"{URL}/{theirs}"),
        ("post", f"{URL}/{theirs}/rotate-secret"),
        ("post", f"{URL}/{theirs}/test"),
        ("get", f"{URL}/{theirs}/deliveries"),
        ("get", f"{URL}/we_nothing"),
    ):
        kwargs = {"json": {}} if method in ("patch", "post") else {}
        response = getattr(client, method)(path, headers=bearer(stranger), **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.get_json() == error_body("Webhook endpoint not found", "not_found")
    assert len(endpoints(client, api_key)) == 1


def test_an_order_change_goes_once_to_each_endpoint_that_takes_it(app, client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    key = provider.api_key
    [first] = endpoints(client, key)
    only_paid = create(client, key, events=["payment_succeeded"]).get_json()["id"]
    turned_off = create(client, key, active=False).get_json()["id"]
    order_id = api_new_order(client, key, externalId="W-1", amount=5)
    simulate(client, order_id, "failed")
    simulate(client, order_id, "succeeded")
    written = copies(app, order_id)
    assert [(event, endpoint) for event, endpoint, _ in written] == [
        ("payment_failed", first["id"]),
        ("payment_succeeded", first["id"]),
        ("payment_succeeded", only_paid),
    ]
    # One change is one message: both copies carry the same webhook-id.
    assert written[1][2] == written[2][2] != written[0][2]
    assert turned_off not in {endpoint for _, endpoint, _ in written}
    # The events feed lists the message once.
    feed = client.get("/api/v1/events", headers=bearer(key)).get_json()["data"]
    assert [event["id"] for event in feed] == [written[1][2], written[0][2]]


def test_patch_changes_only_what_is_sent(client, api_key):
    made = create(client, api_key, description="A", events=["payment_failed"]).get_json()
    path = f"{URL}/{made['id']}"
    changed = client.patch(path, json={"events": ["*"]}, headers=bearer(api_key))
    assert changed.status_code == 200
    assert changed.get_json()["events"] == ["*"] and changed.get_json()["description"] == "A"
    off = client.patch(
        path, json={"active": False, "url": UNREACHABLE_HOOK + "/b"}, headers=bearer(api_key)
    )
    assert off.get_json()["active"] is False and off.get_json()["url"].endswith("/b")
    refused = client.patch(path, json={"events": ["nope"]}, headers=bearer(api_key))
    assert refused.status_code == 422 and refused.get_json()["param"] == "events"
    assert client.get(path, headers=bearer(api_key)).get_json()["events"] == ["*"]


def test_a_deleted_endpoint_gets_nothing_more_and_its_undelivered_fail(app, client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    key = provider.api_key
    extra = create(client, key).get_json()["id"]
    order_id = api_paid_order(client, key, "W-2", amount=5)
    deleted = client.delete(f"{URL}/{extra}", headers=bearer(key))
    assert deleted.status_code == 200 and deleted.get_json() == {"id": extra, "deleted": True}
    assert client.get(f"{URL}/{extra}", headers=bearer(key)).status_code == 404
    from checkout.extensions import db
    from checkout.models import Notification

    with app.app_context():
        rows = db.session.execute(
            sa.select(Notification.endpoint_id, Notification.status, Notification.last_error)
            .where(Notification.order_id == order_id)
            .order_by(Notification.id)
        ).all()
    orphaned = [row for row in rows if row.endpoint_id is None]
    assert len(rows) == 2 and len(orphaned) == 1
    assert orphaned[0].status == "failed"
    assert orphaned[0].last_error == "Its webhook endpoint was deleted"


def test_rotation_signs_with_both_secrets_for_the_overlap(app, client, make):
    from checkout import signing
    from checkout.extensions import db
    from checkout.models import WebhookEndpoint

    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    [first] = endpoints(client, provider.api_key)
    rotated = client.post(f"{URL}/{first['id']}/rotate-secret", headers=bearer(provider.api_key))
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["secret"]
    assert new_secret != provider.webhook_secret and rotated.get_json()["secretRotatedAt"]
    body = json.dumps({"event": "test"})
    now = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    with app.app_context():
        endpoint = db.session.get(WebhookEndpoint, first["id"])
        headers["webhook-signature"] = signing.signature_header(endpoint, "msg_1", now, body)
        assert len(headers["webhook-signature"].split(" ")) == 2
        for secret in (provider.webhook_secret, new_secret):
            Webhook(secret).verify(body, headers)
        endpoint.secret_rotated_at -= timedelta(seconds=86401)
        db.session.commit()
        headers["webhook-signature"] = signing.signature_header(endpoint, "msg_1", now, body)
    Webhook(new_secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(provider.webhook_secret).verify(body, headers)


def test_deliveries_and_a_test_event(client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    key = provider.api_key
    [first] = endpoints(client, key)
    order_id = api_paid_order(client, key, "W-3", amount=5)
    sent = client.post(f"{URL}/{first['id']}/test", headers=bearer(key))
    assert sent.status_code == 202 and sent.get_json()["type"] == "test"
    listed = client.get(f"{URL}/{first['id']}/deliveries", headers=bearer(key)).get_json()
    assert [row["type"] for row in listed["data"]] == ["test", "payment_succeeded"]
    paid = listed["data"][1]
    assert paid["orderId"] == order_id and paid["status"] == "pending"
    assert paid["webhookId"] == paid["id"] and paid["nextAttemptAt"]
    page = client.get(
        f"{URL}/{first['id']}/deliveries",
        query_string={"limit": 1, "startingAfter": listed["data"][0]["id"]},
        headers=bearer(key),
    ).get_json()
    assert [row["id"] for row in page["data"]] == [paid["id"]] and page["hasMore"] is False


def test_recover_needs_a_time(client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    [first] = endpoints(client, provider.api_key)
    path = f"{URL}/{first['id']}/recover"
    for body, param in (({}, "since"), ({"since": "yesterday"}, "since"), ({"from": 1}, "from")):
        response = client.post(path, json=body, headers=bearer(provider.api_key))
        assert response.status_code == 422 and response.get_json()["param"] == param


@pytest.mark.multiprocess
def test_fan_out_rotation_and_recover_with_real_workers(client, make, receiver, worker):
    """Two endpoints, each a receiver counting by webhook-id: every message arrives once at
    each endpoint that takes it, verified with its own secret; after a rotation with either
    secret; and a recover of failed ones sends each again once."""
    second = Receiver()
    try:
        provider = make.provider(webhook_url=receiver.hook_url)
        key = provider.api_key
        receiver.control(secret=provider.webhook_secret)
        made = client.post(
            URL, json={"url": second.hook_url, "events": ["payment_succeeded"]}, headers=bearer(key)
        ).get_json()
        second.control(secret=made["secret"], mode="fail")
        orders = [api_paid_order(client, key, f"W-R-{n}", amount=5) for n in range(3)]
        wait_until(lambda: len(receiver.accepted()) == 3, 30, message="3 at the first endpoint")
        time.sleep(1.0)
        assert sorted(entry["orderId"] for entry in receiver.accepted()) == sorted(orders)
        assert all(entry["signatureOk"] for entry in receiver.log())

        # The second endpoint failed every attempt; wait until they are given up.
        deliveries = f"{URL}/{made['id']}/deliveries"
        wait_until(
            lambda: all(
                row["status"] == "failed"
                for row in client.get(deliveries, headers=bearer(key)).get_json()["data"]
            ),
            40,
            message="the second endpoint's deliveries fail",
        )
        rotated = client.post(f"{URL}/{made['id']}/rotate-secret", headers=bearer(key))
        second.control(secret=rotated.get_json()["secret"], mode="ok")
        recovered = client.post(
            f"{URL}/{made['id']}/recover",
            json={"since": "2020-01-01T00:00:00Z"},
            headers=bearer(key),
        )
        assert recovered.status_code == 202 and recovered.get_json() == {"queued": 3}
        again = client.post(
            f"{URL}/{made['id']}/recover",
            json={"since": "2020-01-01T00:00:00Z"},
            headers=bearer(key),
        )
        assert again.get_json()["queued"] == 0  # already queued: never two copies in flight
        wait_until(lambda: len(second.accepted()) == 3, 30, message="3 recovered")
        time.sleep(1.0)
        accepted = second.accepted()
        assert sorted(entry["orderId"] for entry in accepted) == sorted(orders)
        assert len({entry["webhookId"] for entry in accepted}) == 3
        assert all(entry["signatureOk"] for entry in accepted)
        first_ids = {entry["webhookId"] for entry in receiver.accepted()}
        assert {entry["webhookId"] for entry in accepted} == first_ids  # one message, two copies
        assert len(receiver.accepted()) == 3  # nothing doubled at the first endpoint
    finally:
        second.close()
