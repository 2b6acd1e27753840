"""Resending never puts a second copy of a notification in flight: real workers, a real receiver."""

import re
import time

import pytest

from tests.helpers import csrf_token
from tests.plugins.servers import WORKER_ENV, wait_until


def send_test_event(admin_client, provider_id: str) -> str:
    """Queue a test event to the provider; its webhook-id."""
    page_url = f"/admin/providers/{provider_id}"
    token = csrf_token(admin_client.get(page_url).text)
    admin_client.post(f"{page_url}/test-event", data={"csrf_token": token})
    page = admin_client.get("/admin/deliveries").text
    return re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', page)[0]


def resend(admin_client, message: str) -> str:
    """Press Resend on the delivery page; the page it redirects to."""
    detail = admin_client.get(f"/admin/deliveries/{message}").text
    response = admin_client.post(
        f"/admin/deliveries/{message}/resend",
        data={"csrf_token": csrf_token(detail)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.text


def deliveries_of(receiver, message: str) -> list[str]:
    return [entry["outcome"] for entry in receiver.log() if entry["webhookId"] == message]


def attempts_shown(admin_client, message: str) -> tuple[int, int]:
    """The delivery page's Attempts count, and how many attempts it lists."""
    detail = admin_client.get(f"/admin/deliveries/{message}").text
    count = int(re.search(r"<dt>Attempts</dt><dd[^>]*>(\d+)</dd>", detail)[1])
    listed = detail[detail.index("data-attempts") :].count("<tr>") - 1
    return count, listed


def delivered(admin_client, message: str) -> bool:
    return "badge-delivered" in admin_client.get(f"/admin/deliveries/{message}").text


class TestPendingRetry:
    @pytest.fixture
    def worker_env(self):
        return {**WORKER_ENV, "NOTIFICATION_RETRY_SCHEDULE": "60,60"}

    def test_resend_brings_a_waiting_retry_forward_instead_of_doubling_it(
        self, admin_client, receiver, hooked, worker
    ):
        provider_id = hooked.id
        receiver.control(mode="fail")
        message = send_test_event(admin_client, provider_id)
        wait_until(lambda: deliveries_of(receiver, message) == ["rejected"], 15)
        # Kassa has recorded the attempt (and let go of its lease): a retry now waits.
        wait_until(lambda: attempts_shown(admin_client, message)[0] == 1, 15)
        assert "Next attempt" in admin_client.get(f"/admin/deliveries/{message}").text

        receiver.control(mode="ok")
        page = resend(admin_client, message)
        assert "being sent now" in page
        wait_until(lambda: delivered(admin_client, message), 15, message="resent and delivered")
        time.sleep(2)  # room for a doubled copy to show up
        assert deliveries_of(receiver, message) == ["rejected", "accepted"]
        assert attempts_shown(admin_client, message) == (2, 2)


def test_resend_while_in_flight_or_twice_quickly_sends_one_copy(
    admin_client, receiver, hooked, worker
):
    provider_id = hooked.id
    receiver.control(delaySeconds=1.2)  # under the 2 s timeout
    message = send_test_event(admin_client, provider_id)
    wait_until(lambda: receiver.seen(message) == 1, 15, message="the first attempt in flight")
    assert "Already being sent" in resend(admin_client, message)
    assert "Already being sent" in resend(admin_client, message)
    wait_until(lambda: delivered(admin_client, message), 15)
    time.sleep(1.5)
    assert deliveries_of(receiver, message) == ["accepted"]

    # A delivered notification resent twice in quick succession goes out once more.
    assert "Queued again" in resend(admin_client, message)
    wait_until(lambda: receiver.seen(message) == 2, 15, message="the resend in flight")
    assert "Already being sent" in resend(admin_client, message)
    wait_until(lambda: len(deliveries_of(receiver, message)) == 2, 15)
    time.sleep(2.5)
    assert receiver.seen(message) == 2
    assert deliveries_of(receiver, message) == ["accepted", "accepted"]
    assert attempts_shown(admin_client, message) == (2, 2)


def test_a_resent_failure_keeps_its_attempts_and_gets_a_fresh_schedule(
    admin_client, receiver, hooked, worker
):
    provider_id = hooked.id
    receiver.control(mode="fail")
    message = send_test_event(admin_client, provider_id)
    wait_until(lambda: "badge-failed" in admin_client.get(f"/admin/deliveries/{message}").text, 40)
    assert attempts_shown(admin_client, message) == (6, 6)

    page = resend(admin_client, message)
    assert "Queued again" in page
    wait_until(lambda: "badge-failed" in admin_client.get(f"/admin/deliveries/{message}").text, 40)
    assert len(deliveries_of(receiver, message)) == 12, "a full schedule again after the resend"
    assert attempts_shown(admin_client, message) == (12, 12)
