"""A delivery attempt is over within NOTIFICATION_TIMEOUT_SECONDS whatever the endpoint
does (connects slowly, drips its TLS handshake, its answer's head or its body), and the
lease it holds outlasts it, so one notification is never in flight twice; Stripe events
are applied while slow endpoints hold every delivery thread; an attempt whose answer could
not be recorded still shows in the delivery log.

The endpoints are real socket servers in the test (tests/slow_endpoint.py) that send ten
bytes every 0.3 s. The in-process tests deliver in a thread as a worker does; the
multi-process ones run `huey_consumer` workers against them.
"""

import re
import socket
import threading
import time

import certifi
import pytest
import trustme
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from checkout import tasks
from checkout.extensions import db
from checkout.models import UNRECORDED, DeliveryAttempt, Notification, Order, OrderStatus
from tests.helpers import api_new_order, api_paid_order, csrf_token, short_lock_waits
from tests.plugins.servers import WORKER_ENV, wait_until
from tests.slow_endpoint import SlowEndpoint, endless_headers, http_head
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, post_event
from tests.test_webhook_addresses import FakeNetwork, TlsEndpoint

TIMEOUT = 1.5
# What may come on top of the deadline: reading the clock, closing, a busy machine.
SLACK = 0.7


@pytest.fixture
def app_config():
    return {"NOTIFICATION_TIMEOUT_SECONDS": TIMEOUT}


@pytest.fixture
def slow_endpoints():
    started = []

    def start(answer: bytes = b"", **options) -> SlowEndpoint:
        started.append(SlowEndpoint(answer, **options))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.close()


def queue_test_event(admin_client, provider_id: str) -> str:
    """Press "Send test event" on the provider's page; the notification's id."""
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    admin_client.post(
        f"/admin/providers/{provider_id}/test-event", data={"csrf_token": csrf_token(page)}
    )
    deliveries = admin_client.get("/admin/deliveries", query_string={"provider": provider_id})
    return re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', deliveries.text)[0]


def deliver_in_a_thread(app, message: str, wait: float = 20) -> tuple[str, float]:
    """Run the delivery task as a worker thread does; its result and how long it took."""
    outcome = []

    def deliver():
        with app.app_context():
            try:
                outcome.append(tasks.deliver_notification.call_local(message))
            except Exception as error:
                outcome.append(error)

    started = time.monotonic()
    worker = threading.Thread(target=deliver, daemon=True)
    worker.start()
    worker.join(wait)
    assert outcome, f"the attempt was still running after {wait} s"
    return outcome[0], time.monotonic() - started


def logged_attempts(app, message: str) -> list:
    with app.app_context():
        return db.session.execute(
            select(
                DeliveryAttempt.response_status,
                DeliveryAttempt.latency_ms,
                DeliveryAttempt.error,
                DeliveryAttempt.response_body,
            )
            .where(DeliveryAttempt.notification_id == message)
            .order_by(DeliveryAttempt.id)
        ).all()


def test_an_answer_whose_head_drips_is_cut_off_at_the_deadline(
    app, admin_client, make, slow_endpoints
):
    endpoint = slow_endpoints(endless_headers(), step=10, pause=0.3)
    provider_id = make.provider(webhook_url=endpoint.url).id
    message = queue_test_event(admin_client, provider_id)

    outcome, took = deliver_in_a_thread(app, message)

    assert outcome == "pending"
    assert took < TIMEOUT + SLACK
    [(status, latency, error, _)] = logged_attempts(app, message)
    assert status is None
    assert error.startswith(f"AttemptTimeout: no answer within {TIMEOUT:g} s")
    assert latency <= (TIMEOUT + SLACK) * 1000
    [connection] = endpoint.connections
    wait_until(lambda: connection.closed, 5, message="Kassa hangs up at the deadline")
    assert connection.closed - connection.opened < TIMEOUT + SLACK


def test_a_body_that_drips_keeps_its_status_and_the_part_read_in_time(
    app, admin_client, make, slow_endpoints
):
    head = http_head(**{"Content-Type": "text/plain", "Content-Length": "100000"})
    endpoint = slow_endpoints(b"a" * 100_000, fast=head, step=10, pause=0.3)
    provider_id = make.provider(webhook_url=endpoint.url).id
    message = queue_test_event(admin_client, provider_id)

    outcome, took = deliver_in_a_thread(app, message)

    assert outcome == "delivered", "the 200 came before the deadline"
    assert took < TIMEOUT + SLACK
    [(status, latency, error, body)] = logged_attempts(app, message)
    assert (status, error) == (200, None)
    assert latency <= (TIMEOUT + SLACK) * 1000
    assert 0 < len(body) < 100, "what came before the deadline: about 50 bytes"


@pytest.fixture
def network(monkeypatch):
    fake = FakeNetwork(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def tls_endpoint(tmp_path, monkeypatch):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setattr(certifi, "where", lambda: str(ca_file))
    started = []
    yield lambda name: started.append(TlsEndpoint(ca, name)) or started[-1]
    for endpoint in started:
        endpoint.close()


def test_a_tls_handshake_that_drips_is_cut_off_at_the_deadline(
    app, admin_client, make, network, tls_endpoint, slow_endpoints
):
    receiver = tls_endpoint("receiver.test")
    relay = slow_endpoints(relay_to=("127.0.0.1", receiver.port), step=10, pause=0.3)
    network.answers["receiver.test"] = [("127.0.0.1", relay.port)]
    provider_id = make.provider(webhook_url=f"https://receiver.test:{relay.port}/hook").id
    message = queue_test_event(admin_client, provider_id)

    outcome, took = deliver_in_a_thread(app, message)

    assert outcome == "pending"
    assert took < TIMEOUT + SLACK
    [(_, latency, error, _)] = logged_attempts(app, message)
    assert error.startswith("AttemptTimeout"), error
    assert latency <= (TIMEOUT + SLACK) * 1000
    assert receiver.headers == [], "the handshake never finished"


def test_a_connection_nobody_accepts_ends_at_the_deadline(app, admin_client, make):
    # A listener whose one-place backlog is full: further connections wait for the SYN.
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    waiting = [socket.create_connection(("127.0.0.1", port))]
    try:
        provider_id = make.provider(webhook_url=f"http://127.0.0.1:{port}/hook").id
        message = queue_test_event(admin_client, provider_id)

        outcome, took = deliver_in_a_thread(app, message)

        assert outcome == "pending"
        assert took < TIMEOUT + SLACK
        [(_, latency, error, _)] = logged_attempts(app, message)
        assert "Timeout" in error
        assert latency <= (TIMEOUT + SLACK) * 1000
    finally:
        for sock in [*waiting, listener]:
            sock.close()


class TestSlowResolver:
    """The attempt starts only while the lease still outlasts it by the margin."""

    @pytest.fixture
    def app_config(self):
        return {"NOTIFICATION_TIMEOUT_SECONDS": 2, "NOTIFICATION_LEASE_SECONDS": 5}

    def test_an_address_that_took_most_of_the_lease_to_resolve_is_not_sent_to(
        self, app, admin_client, make, network, slow_endpoints, monkeypatch
    ):
        endpoint = slow_endpoints(http_head("200 OK", **{"Content-Length": "0"}))
        network.answers["slow-dns.test"] = [("127.0.0.1", endpoint.port)]
        provider_id = make.provider(webhook_url=f"http://slow-dns.test:{endpoint.port}/h").id
        message = queue_test_event(admin_client, provider_id)
        resolve = socket.getaddrinfo

        def slow_resolver(host, *args, **kwargs):
            if host == "slow-dns.test":
                time.sleep(1.5)  # 5 s lease - 2 s attempt - 2 s margin leaves 1 s
            return resolve(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)

        outcome, _ = deliver_in_a_thread(app, message)

        assert outcome == "pending"
        [(_, _, error, _)] = logged_attempts(app, message)
        assert re.match(r"Not sent: 1\.\d s of the 5 s lease went on resolving", error), error
        assert endpoint.connections == []


class TestDatabaseLostMidAttempt:
    """The endpoint took the notification, then the database refused the attempt's result."""

    @pytest.fixture
    def app_config(self):
        return {
            "NOTIFICATION_TIMEOUT_SECONDS": 1,
            "NOTIFICATION_LEASE_SECONDS": 4,
            "SQLALCHEMY_ENGINE_OPTIONS": short_lock_waits(),
        }

    def test_an_attempt_whose_answer_was_not_recorded_shows_before_the_repeat(
        self, app, admin_client, make, slow_endpoints
    ):
        blockers = []

        def lock_the_database():  # as the endpoint answers 200
            if blockers:
                return
            with app.app_context():
                blocker = db.engine.connect()
                if db.engine.dialect.name == "postgresql":
                    blocker.execute(text("LOCK TABLE delivery_attempts IN EXCLUSIVE MODE"))
                else:
                    blocker.exec_driver_sql("BEGIN IMMEDIATE")
                blockers.append(blocker)

        endpoint = slow_endpoints(
            http_head("200 OK", **{"Content-Length": "0"}), on_request=lock_the_database
        )
        provider_id = make.provider(webhook_url=endpoint.url).id
        message = queue_test_event(admin_client, provider_id)

        outcome, _ = deliver_in_a_thread(app, message)
        for blocker in blockers:
            blocker.rollback()
            blocker.close()
        assert isinstance(outcome, OperationalError), "the result could not be written"
        page = admin_client.get(f"/admin/deliveries/{message}").text
        assert attempt_notes(page) == ["Sending; no answer yet"]  # its lease still holds

        time.sleep(4)  # the lease runs out; the sweep would queue it now
        page = admin_client.get(f"/admin/deliveries/{message}").text
        assert attempt_notes(page) == [UNRECORDED]

        outcome, _ = deliver_in_a_thread(app, message)
        assert outcome == "delivered"
        assert [c.webhook_id for c in endpoint.connections] == [message, message]
        page = admin_client.get(f"/admin/deliveries/{message}").text
        assert attempt_notes(page) == [UNRECORDED, ""]
        assert re.search(r"data-attempt-count>2<", page)
        with app.app_context():
            assert db.session.get(Notification, message).attempts == 2


def attempt_notes(page: str) -> list[str]:
    """The Error column of the delivery page's attempts table."""
    return re.findall(r'<td data-label="Error">([^<]*)</td>', page)


# Multi-process: workers as the Procfile runs them.


class TestStripeEventsBesideSlowDeliveries:
    """Two slow endpoints hold both delivery threads; a payment is applied meanwhile."""

    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    @pytest.fixture
    def worker_env(self):
        return {
            **WORKER_ENV,
            "WORKER_THREADS": "2",
            "NOTIFICATION_TIMEOUT_SECONDS": "8",
            "NOTIFICATION_LEASE_SECONDS": "15",
        }

    def test_a_stripe_event_is_applied_while_slow_endpoints_hold_every_delivery_thread(
        self, app, client, make, slow_endpoints, workers
    ):
        slow = [slow_endpoints(endless_headers(), step=10, pause=0.3) for _ in range(2)]
        service_id = make.service()
        keys = [
            make.provider(service_id, name=f"Slow {n}", webhook_url=e.url).api_key
            for n, e in enumerate(slow)
        ]
        other_key = make.provider(service_id, name="Prompt").api_key
        workers(1)
        for number, key in enumerate(keys):
            api_paid_order(client, key, f"SLOW-{number}", amount=10)
        wait_until(
            lambda: all(endpoint.open_count() == 1 for endpoint in slow),
            15,
            message="both delivery threads are sending to a slow endpoint",
        )

        order_id = api_new_order(client, other_key, externalId="PROMPT-1", amount=10)
        intent = payment_intent(order_id, 1000, "succeeded", "pi_prompt")
        response = post_event(client, event("payment_intent.succeeded", intent))
        assert response.get_json()["result"] == "queued"
        started = time.monotonic()

        def paid() -> bool:
            with app.app_context():
                return db.session.get(Order, order_id).status is OrderStatus.PAID

        wait_until(paid, 5, interval=0.1, message="the event waited behind the deliveries")
        assert time.monotonic() - started < 5
        assert all(endpoint.open_count() == 1 for endpoint in slow), "still in flight"

        # The worker holds the deadline too: each slow attempt ends at 8 s.
        for endpoint in slow:
            first = endpoint.connections[0]
            wait_until(lambda first=first: first.closed, 15, message="the attempt ends")
            assert first.closed - first.opened < 8 + SLACK + 0.5


def test_a_slow_endpoint_never_has_two_copies_of_a_notification_in_flight(
    app, client, make, runner, slow_endpoints, workers
):
    """1 byte a second; the 2 s attempt ends long before the 6 s lease, so the sweep that
    runs after the lease finds nothing being sent to give a second worker thread."""
    endpoint = slow_endpoints(endless_headers(), step=1, pause=1.0)
    key = make.provider(webhook_url=endpoint.url).api_key
    workers(1)
    api_paid_order(client, key, "DRIP-1", amount=10)
    wait_until(lambda: endpoint.connections, 15, message="the first attempt is in flight")
    message = wait_until(lambda: endpoint.connections[0].webhook_id, 5)

    time.sleep(7)  # past the 6 s lease of the first attempt
    assert runner.invoke(args=["sweep-outbox"]).exit_code == 0
    time.sleep(4)  # room for a second copy to go out

    assert endpoint.most_open_at_once(message) == 1
    closed = [c for c in endpoint.connections if c.closed is not None]
    assert len(closed) >= 2, "attempts ended and were retried"
    assert all(c.closed - c.opened < 2 + SLACK for c in closed)
