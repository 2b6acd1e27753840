"""A queue that cannot be reached (Redis down) is logged once when the outage starts, then
once a minute with what failed, and once when it ends: not a traceback per failed read,
and never a task named None."""

import json
import logging
import shutil
import subprocess
import time

import pytest
import requests

from checkout.queue import Outage
from tests.plugins.servers import free_port, wait_for_port, wait_until
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, signature


def test_an_outage_is_logged_when_it_starts_once_a_minute_and_when_it_ends(caplog):
    now = [0.0]
    outage = Outage(logging.getLogger("tests.outage"), clock=lambda: now[0])
    caplog.set_level(logging.INFO, "tests.outage")
    for tenth in range(1500):  # 150 s of a worker failing 10 times a second
        now[0] = tenth / 10
        outage.failed("queueing deliver_notification('msg_1',)", ConnectionError("refused"))
    outage.reached()
    outage.reached()

    lines = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert [level for level, _ in lines] == ["ERROR", "ERROR", "ERROR", "WARNING"]
    assert lines[0][1].startswith(
        "Queue unreachable: queueing deliver_notification('msg_1',) failed "
        "(ConnectionError: refused)."
    )
    assert lines[1][1] == (
        "Queue still unreachable after 60 s: 601 operations failed, the last queueing "
        "deliver_notification('msg_1',) (ConnectionError: refused)"
    )
    assert lines[2][1].startswith("Queue still unreachable after 120 s: 1201 operations")
    assert lines[3][1] == "Queue reachable again after 149 s; 1500 operations failed meanwhile"


def redis_on(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_worker_whose_redis_is_down_logs_it_once_and_logs_its_return(workers, tmp_path):
    port = free_port()  # nothing listens there yet: Redis is down
    workers(1, REDIS_URL=f"redis://127.0.0.1:{port}/4")
    log = tmp_path / "worker.log"
    wait_until(lambda: "Queue unreachable" in log.read_text(), 20, message="the outage")
    time.sleep(4)  # four delivery threads, two Stripe event threads and two schedulers fail
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("Queue unreachable") == 1
    assert "Connection refused" in text

    redis = redis_on(port)
    try:
        wait_until(lambda: "Queue reachable again" in log.read_text(), 20, message="the end")
        assert log.read_text().count("Queue reachable again") == 1
    finally:
        redis.terminate()
        redis.wait(10)


def test_the_web_names_the_task_it_could_not_queue_once_per_outage(web_servers, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/4"
    server = web_servers({"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "REDIS_URL": dead}, workers=1)
    ids = []
    for number in range(3):
        payload = event(
            "payment_intent.succeeded", payment_intent(None, 1000, "succeeded", f"pi_{number}")
        )
        body = json.dumps(payload).encode()
        response = requests.post(
            server.url + "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": signature(body), "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.json()["result"] == "queued", "recorded; the sweep queues it later"
        ids.append(payload["id"])

    text = (tmp_path / "web.log").read_text()
    [line] = [line for line in text.splitlines() if "Queue unreachable" in line]
    assert f"queueing apply_stripe_event('{ids[0]}',) failed (ConnectionError" in line
    assert "None(" not in text
    assert "Traceback" not in text
