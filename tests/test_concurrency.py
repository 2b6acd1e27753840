"""Concurrency and faults across real processes: gunicorn web processes and huey workers."""

import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import (
    api_paid_order,
    bearer,
    error_body,
    notified,
    one_webhook_id_per_order,
    order_page,
    transitions,
)
from tests.plugins.servers import wait_until
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, signature

WEB_ENV = {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
REDIS = os.environ.get("REDIS_URL")
POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def post_signed(base_url: str, payload: dict, session=requests) -> requests.Response:
    body = json.dumps(payload).encode()
    return session.post(
        base_url + "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body), "Content-Type": "application/json"},
        timeout=60,
    )


def create_order(base_url: str, key: str, external_id: str, session=requests) -> dict:
    response = session.post(
        base_url + "/api/v1/create-payment-intent",
        json={"externalId": external_id, "amount": 10},
        headers=bearer(key),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def order_status(base_url: str, key: str, order_id: str) -> str:
    response = requests.get(f"{base_url}/api/v1/orders/{order_id}", headers=bearer(key), timeout=30)
    return response.json()["status"]


def no_event_waiting(admin_client) -> bool:
    return 'data-stripe-events="waiting">0<' in admin_client.get("/admin/").text


def test_fifty_copies_of_one_event_change_once(
    app, web_servers, workers, admin_client, provider_key
):
    server = web_servers(WEB_ENV)
    workers(2)
    order = create_order(server.url, provider_key, "DUP-1")
    payload = event(
        "payment_intent.succeeded", payment_intent(order["orderId"], 1000, "succeeded", "pi_d")
    )
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: post_signed(server.url, payload), range(50)))
    assert all(response.status_code == 200 for response in responses)
    results = sorted(response.json()["result"] for response in responses)
    assert results == ["duplicate"] * 49 + ["queued"]
    wait_until(lambda: no_event_waiting(admin_client), 30, message="a worker applies the event")
    assert transitions(app, order["orderId"]) == ["pending → paid"]
    assert notified(app, order["orderId"]) == ["payment_succeeded"]


def test_no_web_process_serves_a_stale_checkout_page(web_servers, workers, provider_key):
    """Every process caches the pages it served; a change made elsewhere shows at once."""
    server = web_servers(WEB_ENV)
    order = create_order(server.url, provider_key, "PAGE-1")
    url = f"{server.url}/checkout?orderId={order['orderId']}"
    # Forty fresh connections spread over the four processes, each caching the pending page.
    before = [requests.get(url, timeout=30).text for _ in range(40)]
    assert all("Simulate success" in page for page in before)
    payload = event(
        "payment_intent.succeeded", payment_intent(order["orderId"], 1000, "succeeded", "pi_p")
    )
    assert post_signed(server.url, payload).json()["result"] == "queued"
    workers(1)
    wait_until(
        lambda: order_status(server.url, provider_key, order["orderId"]) == "paid",
        30,
        message="a worker applies the event",
    )
    after = [requests.get(url, timeout=30).text for _ in range(40)]
    assert all("Payment received" in page and "Simulate" not in page for page in after)


def test_success_and_failure_racing_end_paid(app, web_servers, workers, admin_client, provider_key):
    server = web_servers(WEB_ENV)
    workers(2)  # eight threads in two processes apply the events as they arrive
    orders = [create_order(server.url, provider_key, f"RACE-{n}") for n in range(10)]
    payloads = []
    for number, order in enumerate(orders):
        intent = f"pi_race_{number}"
        for _ in range(5):
            payloads.append(
                event("payment_intent.succeeded",
                      payment_intent(order["orderId"], 1000, "succeeded", intent))
            )  # fmt: skip
            payloads.append(
                event("payment_intent.payment_failed",
                      payment_intent(order["orderId"], 1000, "requires_payment_method", intent))
            )  # fmt: skip
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda p: post_signed(server.url, p).status_code, payloads))
    assert set(statuses) == {200}
    wait_until(lambda: no_event_waiting(admin_client), 60, message="workers apply every event")
    for order in orders:
        page = order_page(admin_client, order["orderId"])
        assert re.search(r"badge-paid", page)
        assert notified(app, order["orderId"]).count("payment_succeeded") == 1
        assert transitions(app, order["orderId"])[-1].endswith("→ paid")


def test_hundred_concurrent_requests_with_one_external_id_make_one_order(
    web_servers, admin_client, provider_key
):
    server = web_servers(WEB_ENV)
    with ThreadPoolExecutor(100) as pool:
        bodies = list(
            pool.map(lambda _: create_order(server.url, provider_key, "SAME-ID"), range(100))
        )
    assert len({body["orderId"] for body in bodies}) == 1
    assert "1 order<" in admin_client.get("/admin/orders").text


def test_unavailable_database_answers_503_to_stripe(web_servers):
    """Stripe sends the event again later; Retry-After says when the database may be back."""
    dead = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    server = web_servers({**WEB_ENV, "DATABASE_URL": dead}, workers=1)
    payload = event(
        "payment_intent.succeeded", payment_intent("ord_" + "a" * 24, 1000, "succeeded", "pi_x")
    )
    response = post_signed(server.url, payload)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
    assert response.json() == error_body(
        "The database is unavailable: try again in a few seconds", "database_unavailable"
    )


REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def redis_up() -> bool:
    result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True)
    return result.stdout.strip() == b"PONG"


@pytest.mark.serial  # stops the Redis every other test process uses
@pytest.mark.skipif(not REDIS, reason="needs REDIS_URL (the PostgreSQL + Redis pass)")
def test_redis_restart_loses_no_notification(client, admin_client, receiver, workers, hooked):
    key = hooked.api_key
    queued = [api_paid_order(client, key, f"R-{n}") for n in range(5)]
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
    try:
        wait_until(lambda: not redis_up(), 10, message="Redis stopped")
        # Orders still get paid while Redis is down; their notifications wait in the outbox.
        during = [api_paid_order(client, key, f"D-{n}") for n in range(3)]
    finally:
        subprocess.run(REDIS_START, check=True, capture_output=True)
        wait_until(redis_up, 15, message="Redis is back")
    time.sleep(1.5)  # let the outbox grace period pass, so the start-up sweep takes every row
    workers(2)
    expected = set(queued + during)
    wait_until(
        lambda: {entry["orderId"] for entry in receiver.accepted()} == expected,
        60,
        message="every notification delivered after the restart",
    )
    one_webhook_id_per_order(receiver.log())


@pytest.mark.serial  # a load test: 2,000 orders through two gunicorns and two workers
@pytest.mark.skipif(
    not (REDIS and POSTGRES), reason="the soak runs on PostgreSQL + Redis (second CI pass)"
)
def test_soak_two_thousand_orders(web_servers, workers, admin_client, receiver, hooked):
    key = hooked.api_key
    receiver.control(failRate=0.2)
    servers = [web_servers(WEB_ENV, workers=3), web_servers(WEB_ENV, workers=3)]
    # Twelve quick retries: at a 20% failure rate, giving up on any of 2,000 is ~1e-6 likely.
    workers(2, NOTIFICATION_RETRY_SCHEDULE=",".join(["1"] * 12))
    total = 2000
    started = time.monotonic()

    def one(number: int) -> str:
        base = servers[number % 2].url
        order = create_order(base, key, f"SOAK-{number}")
        intent = payment_intent(order["orderId"], 1000, "succeeded", f"pi_soak_{number}")
        response = post_signed(base, event("payment_intent.succeeded", intent))
        assert response.status_code == 200
        return order["orderId"]

    with ThreadPoolExecutor(16) as pool:
        order_ids = set(pool.map(one, range(total)))
    assert len(order_ids) == total

    def delivered() -> bool:
        missing = order_ids - {entry["orderId"] for entry in receiver.accepted()}
        print(f"soak: {len(missing)} not yet delivered", flush=True)
        return not missing

    wait_until(delivered, 240, interval=5, message="all 2,000 notifications delivered")
    log = receiver.log()
    ids = one_webhook_id_per_order(log)
    assert set(ids) == order_ids
    rejected = sum(entry["outcome"] == "rejected" for entry in log)
    assert rejected > total * 0.1, "the receiver really did fail about a fifth of attempts"
    print(f"soak: {total} orders, {len(log)} attempts, {time.monotonic() - started:.1f} s")
