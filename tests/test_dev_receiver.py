"""`flask dev-receiver`: a developer sees each verified notification on their own machine,
with the worker `make run` starts, in two commands."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from tests.helpers import api_paid_order
from tests.plugins.servers import ROOT, free_port, wait_until

# The command runs in its own process; what it proves does not depend on the database.
pytestmark = [pytest.mark.multiprocess, pytest.mark.once]

FLASK = [sys.executable, "-m", "flask", "--app", "app"]


class DevReceiver:
    """`.venv/bin/flask --app app dev-receiver` in its own process, its output read as it comes."""

    def __init__(self, *args: str):
        self.port = free_port()
        environ = dict(os.environ)
        # The command needs no ALLOW_PRIVATE_WEBHOOK_URLS of its own; only the worker does.
        environ.pop("ALLOW_PRIVATE_WEBHOOK_URLS", None)
        self.process = subprocess.Popen(
            [*FLASK, "dev-receiver", "--port", str(self.port), *args],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str, timeout: float = 30) -> str:
        """The first line holding text, once it is printed."""
        found = lambda: next((line for line in self.lines if text in line), None)  # noqa: E731
        return wait_until(
            found, timeout=timeout, message=f"{text!r} in {self.lines}, {self.process.poll()}"
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(15)


@pytest.fixture
def dev_receiver():
    started = []

    def start(*args: str) -> DevReceiver:
        started.append(DevReceiver(*args))
        return started[-1]

    yield start
    for receiver in started:
        if receiver.process.poll() is None:
            receiver.process.kill()
            receiver.process.wait(10)


def demo_key(runner) -> str:
    result = runner.invoke(args=["demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["provider"]["apiKey"]


def webhook_url(runner) -> str | None:
    shown = runner.invoke(args=["providers", "show", "demo-shop", "--json"])
    return json.loads(shown.output)["webhookUrl"]


def test_it_prints_each_verified_notification_and_refuses_a_forged_one(
    runner, client, worker, dev_receiver
):
    key = demo_key(runner)
    receiver = dev_receiver()
    receiver.said("✓ test: A test notification from Kassa")
    url = receiver.said("Receiving Demo Shop's notifications on ").rsplit(" ", 1)[1]
    assert webhook_url(runner) == url

    order_id = api_paid_order(client, key, "dev-1", amount=15)

    line = receiver.said(f"✓ payment_succeeded  {order_id}  paid  15.00 USD  externalId dev-1")
    assert "signature verified" in line
    forged = requests.post(
        url,
        data=b'{"event": "payment_succeeded"}',
        headers={
            "webhook-id": "msg_forged",
            "webhook-timestamp": "1700000000",
            "webhook-signature": "v1,Zm9yZ2Vk",
        },
        timeout=5,
    )
    assert forged.status_code == 401
    receiver.said("✗ refused (msg_forged): the signature does not verify")

    assert receiver.stop() == 0
    receiver.said("Stopped; Demo Shop's webhook URL is not set again.")
    assert webhook_url(runner) is None


class TestWithoutPrivateUrlsInTheWorker:
    @pytest.fixture
    def worker_env(self, worker_env):
        return {**worker_env, "ALLOW_PRIVATE_WEBHOOK_URLS": "0"}

    def test_it_says_what_the_worker_needs(self, runner, worker, dev_receiver):
        demo_key(runner)
        receiver = dev_receiver()
        line = receiver.said("The worker could not deliver the test event")
        assert "start Kassa with `ALLOW_PRIVATE_WEBHOOK_URLS=1 make run`" in line


def test_without_a_worker_it_says_so(runner, dev_receiver):
    demo_key(runner)
    receiver = dev_receiver("--wait", "1")
    receiver.said("The test event was not delivered within 1 s: is Kassa's worker running?")


def test_a_provider_that_does_not_exist_is_named(runner, dev_receiver):
    receiver = dev_receiver("--provider", "nobody")
    assert receiver.process.wait(30) == 1
    receiver.said("Error: --provider: no provider with slug 'nobody'")
