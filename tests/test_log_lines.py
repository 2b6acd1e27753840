"""LOG_FORMAT=json: web, worker and CLI write one JSON object per line, naming the request
(X-Request-Id) and the order, provider or event a line is about; the worker's lines about a
delivery name the request that caused it. No line carries a key or a secret."""

import json
import sys
from datetime import datetime

import pytest
import requests

from tests.helpers import TEST_KEYS, bearer
from tests.plugins.servers import wait_until
from tests.test_startup import run

JSON_LOGS = {"LOG_FORMAT": "json"}
# One proxy in front: its X-Request-Id is believed when it forwarded the request.
PROXY_ENV = {**JSON_LOGS, "TRUSTED_PROXIES": "1"}


def through_proxy(request_id: str) -> dict:
    return {"X-Request-Id": request_id, "X-Forwarded-For": "203.0.113.7"}


def json_lines(text: str) -> list[dict]:
    """Every line of a log, each parsed as JSON (a line that is not fails the test)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_well_formed(line: dict) -> None:
    assert {"time", "level", "logger", "message"} <= line.keys(), line
    assert line["time"].endswith("Z")
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0


@pytest.mark.multiprocess
def test_a_command_writes_json_lines():
    finished = run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"], {**TEST_KEYS, **JSON_LOGS}
    )
    assert finished.returncode == 0, finished.stderr
    lines = json_lines(finished.stderr)
    for line in lines:
        assert_well_formed(line)
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert warnings[0]["logger"] == "checkout"
    assert warnings[0]["message"].startswith("Stripe test mode: STRIPE_WEBHOOK_SECRET is not set")
    assert "/checkout" in finished.stdout  # the command's own output stays as it was


@pytest.mark.multiprocess
def test_gunicorn_lines_name_the_request_and_never_the_key(web_servers, tmp_path, api_key):
    server = web_servers(
        {**PROXY_ENV, "RATE_LIMIT_CHECKOUT": "1/minute"},
        workers=1,
        args=("--config", "python:checkout.gunicorn_config", "--access-logfile", "-"),
    )
    url = f"{server.url}/checkout?orderId=ord_{'0' * 24}"
    assert requests.get(url, headers=through_proxy("lb-first"), timeout=30).status_code == 404
    refused = requests.get(url, headers=through_proxy("lb-limited"), timeout=30)
    assert (refused.status_code, refused.headers["X-Request-Id"]) == (429, "lb-limited")
    listed = requests.get(server.url + "/api/v1/orders", headers=bearer(api_key), timeout=30)
    assert listed.status_code == 200
    own_id = listed.headers["X-Request-Id"]

    log = tmp_path / "web.log"
    wait_until(lambda: own_id in log.read_text(), message="the access line of the API call")
    lines = json_lines(log.read_text())
    for line in lines:
        assert_well_formed(line)
    [limited] = [line for line in lines if line["message"].startswith("Rate limit")]
    assert (limited["logger"], limited["request_id"]) == ("checkout", "lb-limited")
    accessed = {line["request_id"] for line in lines if line["logger"] == "gunicorn.access"}
    assert {"lb-first", "lb-limited", own_id} <= accessed
    assert any(
        line["message"] == "Starting gunicorn" or "Booting worker" in line["message"]
        for line in lines
    )
    assert api_key not in log.read_text()


@pytest.mark.multiprocess
def test_the_workers_delivery_line_names_the_api_request_that_caused_it(
    web_servers, workers, receiver, hooked, tmp_path
):
    server = web_servers(PROXY_ENV, workers=1)
    workers(1, **JSON_LOGS)
    opened = requests.post(
        server.url + "/api/v1/create-payment-intent",
        json={"externalId": "LOG-1", "amount": 10},
        headers=bearer(hooked.api_key),
        timeout=30,
    )
    assert opened.status_code == 200, opened.text
    order_id = opened.json()["orderId"]
    canceled = requests.post(
        f"{server.url}/api/v1/orders/{order_id}/cancel",
        headers={**bearer(hooked.api_key), **through_proxy("lb-cancel-1")},
        timeout=30,
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.headers["X-Request-Id"] == "lb-cancel-1"
    wait_until(lambda: receiver.accepted(), message="the payment_canceled notification")

    log = tmp_path / "worker.log"

    def delivery_lines() -> list[dict]:
        return [
            line
            for line in json_lines(log.read_text())
            if line["message"].startswith("Delivery of notification")
        ]

    [delivered] = wait_until(delivery_lines, message="the worker's delivery line")
    assert delivered["message"].endswith(": delivered")
    assert delivered["logger"] == "checkout.tasks"
    assert delivered["request_id"] == "lb-cancel-1"
    assert (delivered["order_id"], delivered["provider_id"]) == (order_id, hooked.id)
    for line in json_lines(log.read_text()):
        assert_well_formed(line)  # huey's own lines too
    assert hooked.api_key not in log.read_text()
    assert hooked.webhook_secret not in log.read_text()
