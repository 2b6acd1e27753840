"""GET /metrics: Prometheus' text format, for METRICS_TOKEN or METRICS_ALLOW only, counting
what Kassa did across every process on the machine, parsed as Prometheus parses it."""

import ipaddress
import json
import os

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from checkout import config
from tests.helpers import api_open_order, bearer, csrf_token, simulate
from tests.plugins.servers import wait_until
from tests.stripe_signing import (
    WEBHOOK_SECRET,
    event,
    payment_intent,
    post_event,
    run_event_task,
    signature,
)

TOKEN = "metrics-token-for-tests-0123456789"


def samples(text: str) -> dict[tuple, float]:
    """Every sample: (name, sorted labels) → value, parsed by prometheus_client."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> dict:
    response = client.get("/metrics", headers=bearer(TOKEN))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    return samples(response.text)


@pytest.fixture
def app_config():
    return {"METRICS_TOKEN": TOKEN}


def test_nobody_may_scrape_without_a_token_or_a_network(client, app):
    app.config["METRICS_TOKEN"] = None
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "METRICS_ALLOW" in response.text and "kassa_" not in response.text


def test_the_token_is_a_bearer_token(client):
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 200
    for headers in ({}, bearer("wrong"), {"Authorization": "Basic " + TOKEN}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "kassa_" not in refused.text


def test_an_address_in_metrics_allow_needs_no_token(client, app):
    app.config["METRICS_ALLOW"] = config.load({"METRICS_ALLOW": "10.0.0.0/8, 127.0.0.1"})[
        "METRICS_ALLOW"
    ]
    assert app.config["METRICS_ALLOW"] == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert outside.status_code == 401  # a token is set: it would be let in with it


def test_names_follow_prometheus_naming(client, provider_key):
    api_open_order(client, provider_key)
    for family in text_string_to_metric_families(
        client.get("/metrics", headers=bearer(TOKEN)).text
    ):
        assert family.name.startswith("kassa_"), family.name
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(sample.name.endswith(("_total", "_created")) for sample in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


def test_payments_and_requests_are_counted_and_orders_gauged(client, provider_key):
    before = scrape(client)
    order_ids = [api_open_order(client, provider_key).get_json()["orderId"] for _ in range(3)]
    simulate(client, order_ids[0])
    simulate(client, order_ids[1], "failed")
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("kassa_payments_opened_total", mode="cashapp") == 3
    assert grew("kassa_payments_paid_total", mode="cashapp") == 1
    assert grew("kassa_payments_failed_total", mode="cashapp") == 1
    assert value(after, "kassa_orders", status="paid") == 1
    assert value(after, "kassa_orders", status="failed") == 1
    assert value(after, "kassa_orders", status="pending") == 1
    route = {"route": "/api/v1/create-payment-intent", "method": "POST"}
    assert grew("kassa_http_requests_total", **route, status="200") == 3
    assert grew("kassa_http_request_duration_seconds_count", **route) == 3
    # Written for the provider, not yet delivered: nothing ran the worker.
    waiting = [key for key in after if key[0] == "kassa_notifications_waiting"]
    assert len(waiting) == 1 and after[waiting[0]] == 2
    assert value(after, "kassa_queue_depth", queue="tasks") >= 0


def test_a_rolled_back_order_is_not_counted(client, provider_key):
    before = scrape(client)
    api_open_order(client, provider_key, externalId="E-1", amount=10)
    taken = api_open_order(client, provider_key, externalId="E-1", amount=15)
    assert taken.status_code == 409  # externalId used with another amount: nothing opened
    grown = value(scrape(client), "kassa_payments_opened_total", mode="cashapp") - value(
        before, "kassa_payments_opened_total", mode="cashapp"
    )
    assert grown == 1


class TestRateLimits:
    @pytest.fixture
    def app_config(self):
        return {"METRICS_TOKEN": TOKEN, "RATE_LIMIT_API": "2/minute"}

    def test_refusals_are_counted_by_limit(self, client, provider_key):
        before = scrape(client)
        answers = [api_open_order(client, provider_key).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        grown = value(scrape(client), "kassa_rate_limited_requests_total", limit="api")
        assert grown - value(before, "kassa_rate_limited_requests_total", limit="api") == 1


class TestStripeEvents:
    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "METRICS_TOKEN": TOKEN}

    def test_received_applied_and_waiting(self, client, provider_key):
        order = api_open_order(client, provider_key, amount=15).get_json()
        before = scrape(client)
        intent = payment_intent(order["orderId"], 1500, "succeeded", "pi_1")
        response = post_event(client, event("payment_intent.succeeded", intent))
        waiting = scrape(client)
        assert value(waiting, "kassa_stripe_events_waiting") == 1
        assert run_event_task(client, response) == "applied"
        post_event(client, event("payment_intent.succeeded", intent, response.event_id))
        after = scrape(client)
        kind = {"type": "payment_intent.succeeded"}
        for name, grown in (
            ("kassa_stripe_events_received_total", 1),  # the repeat is a duplicate
            ("kassa_stripe_events_applied_total", 1),
        ):
            assert value(after, name, **kind) - value(before, name, **kind) == grown, name
        assert value(after, "kassa_stripe_events_waiting") == 0


@pytest.mark.multiprocess
def test_every_process_is_counted_once(app, hooked, web_servers, workers, receiver, tmp_path):
    """Two gunicorn workers and a huey_consumer count into one folder; a scrape of either
    web process sums them: orders opened through both, notifications the worker delivered,
    by provider."""
    provider = hooked
    # Their own folder: no other test's processes, whose counts a starting worker drops.
    folder = tmp_path / "metrics"
    env = {"METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    web = web_servers(env, workers=2)
    workers(1, **env)
    session = requests.Session()

    def scraped() -> dict:
        answer = session.get(web.url + "/metrics", headers=bearer(TOKEN), timeout=10)
        assert answer.status_code == 200
        return samples(answer.text)

    before = scraped()
    opened = [
        session.post(
            web.url + "/api/v1/create-payment-intent", json={}, headers=bearer(provider.api_key)
        )
        for _ in range(6)
    ]
    assert [answer.status_code for answer in opened] == [200] * 6
    for answer in opened:
        order_id = answer.json()["orderId"]
        page = session.get(f"{web.url}/checkout?orderId={order_id}", timeout=10).text
        paid = session.post(
            web.url + "/checkout/sandbox",
            data={"orderId": order_id, "outcome": "succeeded", "csrf_token": csrf_token(page)},
            allow_redirects=False,
            timeout=10,
        )
        assert paid.status_code == 303
    wait_until(lambda: len(receiver.accepted()) == 6, message="six notifications delivered")
    label = {"provider": provider.id}
    # The worker counts a delivery once it has recorded it, just after the receiver took it.
    wait_until(
        lambda: value(scraped(), "kassa_notifications_delivered_total", **label) == 6,
        message="six deliveries counted",
    )
    after = scraped()
    assert (
        value(after, "kassa_payments_opened_total", mode="cashapp")
        - value(before, "kassa_payments_opened_total", mode="cashapp")
        == 6
    )
    assert value(after, "kassa_notifications_delivered_total", **label) == 6
    assert value(after, "kassa_notification_attempt_duration_seconds_count", **label) == 6
    processes = {name.rsplit("_", 1)[1] for name in os.listdir(folder)}
    assert len(processes) == 3, processes  # two gunicorn workers and the huey_consumer


@pytest.mark.multiprocess
def test_stripe_to_provider_latency_is_measured(hooked, web_servers, workers, receiver, tmp_path):
    """A Stripe event a worker applies and whose notification the provider takes: the time
    from Kassa's 200 to Stripe to the provider's 2xx is one histogram sample."""
    env = {
        "METRICS_TOKEN": TOKEN,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    web = web_servers(env, workers=1)
    workers(1, **env)
    session = requests.Session()

    def scraped() -> dict:
        return samples(session.get(web.url + "/metrics", headers=bearer(TOKEN), timeout=10).text)

    before = value(scraped(), "kassa_stripe_to_provider_seconds_count")
    opened = session.post(
        web.url + "/api/v1/create-payment-intent",
        json={"amount": 15},
        headers=bearer(hooked.api_key),
        timeout=10,
    ).json()
    intent = payment_intent(opened["orderId"], 1500, "succeeded", "pi_metrics")
    body = json.dumps(event("payment_intent.succeeded", intent)).encode()
    acknowledged = session.post(
        web.url + "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body), "Content-Type": "application/json"},
        timeout=10,
    )
    assert acknowledged.json()["result"] == "queued"
    wait_until(lambda: len(receiver.accepted()) == 1, message="the notification delivered")
    wait_until(
        lambda: value(scraped(), "kassa_stripe_to_provider_seconds_count") - before == 1,
        message="the delivery measured",
    )
    after = scraped()
    assert value(after, "kassa_stripe_to_provider_seconds_count") - before == 1
    assert value(after, "kassa_stripe_to_provider_seconds_bucket", le="+Inf") >= 1
