"""Signed provider notifications, delivered by a real worker to a real receiver process."""

import json
import re
import time

import pytest

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_paid_order,
    csrf_token,
    one_webhook_id_per_order,
    webhook_secret,
)
from tests.plugins.servers import wait_until

PAYLOAD_FIELDS = {
    "event",
    "orderId",
    "externalId",
    "providerId",
    "providerName",
    "serviceId",
    "serviceName",
    "amount",
    "quantity",
    "currency",
    "status",
    "stripePaymentIntentId",
    "timestamp",
}


def deliveries_page(admin_client, **filters) -> str:
    return admin_client.get("/admin/deliveries", query_string=filters).text


def notification_ids(page: str) -> list[str]:
    return re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', page)


def all_delivered(admin_client, count: int) -> bool:
    return len(notification_ids(deliveries_page(admin_client, status="delivered"))) == count


def test_each_notification_is_accepted_once_after_failures(
    client, admin_client, receiver, hooked, worker
):
    key = hooked.api_key
    receiver.control(failFirst=2)
    orders = [api_paid_order(client, key, f"EXT-{n}", amount=10) for n in range(3)]

    wait_until(lambda: len(receiver.accepted()) == 3, 30, message="3 notifications accepted")
    wait_until(lambda: all_delivered(admin_client, 3), 15, message="Kassa marks all delivered")
    time.sleep(1.5)  # room for any stray extra delivery to show up
    log = receiver.log()
    by_id: dict[str, list[dict]] = {}
    for entry in log:
        by_id.setdefault(entry["webhookId"], []).append(entry)
    assert len(by_id) == 3
    for entries in by_id.values():
        assert [entry["outcome"] for entry in entries] == ["rejected", "rejected", "accepted"]
        assert all(entry["signatureOk"] for entry in entries)
        assert all(entry["kassaHeader"] == "payment-notification" for entry in entries)
        assert all(entry["contentType"] == "application/json" for entry in entries)
        assert {entry["orderId"] for entry in entries} < set(orders) | {None}
    accepted = receiver.accepted()
    assert sorted(entry["orderId"] for entry in accepted) == sorted(orders)
    assert {entry["event"] for entry in accepted} == {"payment_succeeded"}
    assert set(accepted[0]["payload"]) >= PAYLOAD_FIELDS
    assert accepted[0]["payload"]["status"] == "paid"

    detail = admin_client.get(f"/admin/deliveries/{next(iter(by_id))}").text
    attempts = detail[detail.index("data-attempts") :]
    assert re.findall(r"<td[^>]*>(\d{3}|—)</td>", attempts) == ["500", "500", "200"]
    assert "badge-delivered" in detail


def test_killed_worker_loses_nothing(client, admin_client, receiver, hooked, worker):
    key = hooked.api_key
    receiver.control(delaySeconds=2)
    orders = [api_paid_order(client, key, f"K-{n}", amount=10) for n in range(3)]
    wait_until(lambda: len(receiver.log()) >= 1, 15, message="a delivery is in flight")
    worker.kill()
    receiver.control(delaySeconds=0)
    time.sleep(7)  # the killed worker's leases (6 s) run out
    worker.start()

    wait_until(lambda: all_delivered(admin_client, 3), 45, message="all delivered after restart")
    accepted = receiver.accepted()
    assert {entry["orderId"] for entry in accepted} == set(orders)
    # A redelivery after the crash reuses the webhook-id, so the provider can drop it.
    one_webhook_id_per_order(receiver.log())


def test_gone_disables_the_endpoint_until_enabled(client, admin_client, receiver, hooked, worker):
    provider_id, key = hooked.id, hooked.api_key
    receiver.control(mode="gone")
    api_paid_order(client, key, "G-1", amount=10)
    wait_until(lambda: len(notification_ids(deliveries_page(admin_client, status="failed"))) == 1)
    provider_page = admin_client.get(f"/admin/providers/{provider_id}").text
    assert "Endpoint disabled" in provider_page

    api_paid_order(client, key, "G-2", amount=10)
    wait_until(lambda: len(notification_ids(deliveries_page(admin_client, status="failed"))) == 2)
    assert len(receiver.log()) == 1, "nothing is sent to a disabled endpoint"

    receiver.control(mode="ok")
    token = csrf_token(provider_page)
    admin_client.post(f"/admin/providers/{provider_id}/enable-endpoint", data={"csrf_token": token})
    response = admin_client.post(
        "/admin/deliveries/resend-failed",
        data={"since": "2000-01-01T00:00", "csrf_token": token},
    )
    assert response.status_code == 302
    wait_until(lambda: all_delivered(admin_client, 2), 20, message="both resent and delivered")
    assert len(receiver.accepted()) == 2


def test_exhausted_retries_fail_visibly_and_can_be_resent(
    client, admin_client, receiver, hooked, worker
):
    key = hooked.api_key
    receiver.control(mode="fail")
    api_paid_order(client, key, "F-1", amount=10)
    failed = wait_until(
        lambda: notification_ids(deliveries_page(admin_client, status="failed")), 40
    )
    assert len(receiver.log()) == 6, "the first attempt and five retries"
    dashboard = admin_client.get("/admin/").text
    assert re.search(r"data-failed-deliveries>1<", dashboard)
    assert "1 notification failed" in dashboard

    receiver.control(mode="ok")
    detail = admin_client.get(f"/admin/deliveries/{failed[0]}").text
    admin_client.post(
        f"/admin/deliveries/{failed[0]}/resend", data={"csrf_token": csrf_token(detail)}
    )
    wait_until(lambda: all_delivered(admin_client, 1), 15)
    assert receiver.accepted()[0]["webhookId"] == failed[0]


def test_slow_endpoint_times_out_and_is_retried(client, admin_client, receiver, hooked, worker):
    key = hooked.api_key
    receiver.control(delaySeconds=3)
    api_paid_order(client, key, "T-1", amount=10)
    message_id = wait_until(lambda: notification_ids(deliveries_page(admin_client)), 10)[0]
    wait_until(
        lambda: "Timeout" in admin_client.get(f"/admin/deliveries/{message_id}").text,
        15,
        message="a timed-out attempt is logged",
    )
    receiver.control(delaySeconds=0)
    wait_until(lambda: all_delivered(admin_client, 1), 20)


class TestStrictWorker:
    @pytest.fixture
    def worker_env(self):
        from tests.plugins.servers import WORKER_ENV

        return {**WORKER_ENV, "ALLOW_PRIVATE_WEBHOOK_URLS": "0"}

    def test_private_urls_are_refused_at_delivery_time(
        self, client, admin_client, receiver, hooked, worker
    ):
        key = hooked.api_key
        api_paid_order(client, key, "P-1", amount=10)
        message_id = wait_until(lambda: notification_ids(deliveries_page(admin_client)), 10)[0]
        wait_until(
            lambda: "Refused" in admin_client.get(f"/admin/deliveries/{message_id}").text, 10
        )
        assert receiver.log() == []


def test_test_event_and_secret_rotation(client, admin_client, receiver, hooked, worker):
    provider_id, old_secret = hooked.id, hooked.webhook_secret
    page_url = f"/admin/providers/{provider_id}"
    token = csrf_token(admin_client.get(page_url).text)
    response = admin_client.post(f"{page_url}/test-event", data={"csrf_token": token})
    assert response.status_code == 302
    wait_until(lambda: len(receiver.accepted()) == 1, 15)
    assert receiver.accepted()[0]["event"] == "test"

    admin_client.post(f"{page_url}/rotate-secret", data={"csrf_token": token})
    new_secret = webhook_secret(admin_client.get(page_url).text)
    assert new_secret != old_secret
    # A receiver still on the old secret keeps verifying during the overlap…
    admin_client.post(f"{page_url}/test-event", data={"csrf_token": token})
    wait_until(lambda: len(receiver.accepted()) == 2, 15)
    # …and one already on the new secret verifies too.
    receiver.control(secret=new_secret)
    admin_client.post(f"{page_url}/test-event", data={"csrf_token": token})
    wait_until(lambda: len(receiver.accepted()) == 3, 15)
    assert all(entry["signatureOk"] for entry in receiver.log())


class TestSweep:
    @pytest.fixture
    def app_config(self):
        return {"OUTBOX_SWEEP_GRACE_SECONDS": 0}

    def test_sweep_queues_every_lost_notification_once(self, app, make, runner):
        """After an outage the sweep queues all due rows at once, a batch per query."""
        from checkout import audit, notifications
        from checkout.database import BATCH
        from checkout.extensions import db
        from checkout.models import Provider
        from checkout.queue import huey

        provider_id = make.provider(webhook_url=UNREACHABLE_HOOK).id
        count = 2 * BATCH + 1
        with app.app_context():
            provider = db.session.get(Provider, provider_id)
            for _ in range(count):
                notifications.send_test(provider.primary_endpoint, actor=audit.SYSTEM)
            huey.flush()  # the queue lost every task
        result = runner.invoke(args=["sweep-outbox", "--json"])
        assert json.loads(result.output) == {"stripeEvents": 0, "notifications": count, "mails": 0}
        with app.app_context():
            queued = [task.args[0] for task in iter(huey.dequeue, None)]
        assert len(queued) == len(set(queued)) == count


def test_a_failed_resend_keeps_the_earlier_delivery_time(app, admin_client, receiver, hooked):
    """The first delivery happened; a later failed attempt does not erase when."""
    from checkout import tasks

    provider_id = hooked.id
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    admin_client.post(
        f"/admin/providers/{provider_id}/test-event", data={"csrf_token": csrf_token(page)}
    )
    [message] = notification_ids(deliveries_page(admin_client))
    with app.app_context():
        assert tasks.deliver_notification.call_local(message) == "delivered"
    detail = admin_client.get(f"/admin/deliveries/{message}").text
    delivered = re.search(r"<dt>Delivered</dt><dd><time datetime=\"([^\"]+)\"", detail)[1]

    receiver.control(mode="fail")
    admin_client.post(
        f"/admin/deliveries/{message}/resend", data={"csrf_token": csrf_token(detail)}
    )
    with app.app_context():
        assert tasks.deliver_notification.call_local(message) == "pending"
    detail = admin_client.get(f"/admin/deliveries/{message}").text
    assert "HTTP 500" in detail
    assert re.search(r"<dt>Delivered</dt><dd><time datetime=\"([^\"]+)\"", detail)[1] == delivered
