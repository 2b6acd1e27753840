"""`livemode` on every order and notification: true only for orders opened with live keys,
so a provider can refuse sandbox and test payments in production."""

import html
import json
import re

import pytest

from tests.helpers import (
    LIVE_SETTINGS,
    TEST_KEYS,
    api_new_order,
    api_order_json,
    pay_with_card,
    simulate,
)


@pytest.fixture
def app_config(request):
    """Sandbox, or the keys a test names: 'test', or 'live' against the Stripe stand-in."""
    keys = getattr(request, "param", "sandbox")
    if keys == "live":
        return {**LIVE_SETTINGS, "STRIPE_API_BASE": request.getfixturevalue("stripe_standin")}
    return TEST_KEYS if keys == "test" else {}


def notification_payloads(admin_client) -> list[dict]:
    """The bodies of the notifications Kassa wrote, from the admin's deliveries pages."""
    page = admin_client.get("/admin/deliveries").text
    payloads = []
    for message_id in re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', page):
        detail = admin_client.get(f"/admin/deliveries/{message_id}").text
        body = re.search(r'<pre class="payload">(.*?)</pre>', detail, re.S)[1]
        payloads.append(json.loads(html.unescape(body)))
    return payloads


def test_sandbox_orders_and_their_notifications_are_not_live(client, admin_client, provider_key):
    order_id = api_new_order(client, provider_key, externalId="SANDBOX-1")
    assert api_order_json(client, provider_key, order_id)["livemode"] is False
    assert simulate(client, order_id).status_code == 303
    [payload] = notification_payloads(admin_client)
    assert payload["event"] == "payment_succeeded"
    assert payload["livemode"] is False


@pytest.mark.parametrize("app_config", ["test"], indirect=True)
def test_stripe_test_mode_orders_are_not_live(client, provider_key):
    answer = client.post(
        "/api/v1/create-payment-intent",
        json={"externalId": "TEST-1"},
        headers={"Authorization": f"Bearer {provider_key}"},
    )
    assert answer.get_json()["livemode"] is False


@pytest.mark.parametrize("app_config", ["live"], indirect=True)
def test_live_orders_are_live_from_opening_to_notification(
    client, admin_client, provider_key, stripe_standin, stripe_client
):
    order_id = api_new_order(client, provider_key, externalId="LIVE-1", amount=10)
    assert api_order_json(client, provider_key, order_id)["livemode"] is True

    page = client.get(f"/checkout?orderId={order_id}")
    assert page.status_code == 200
    assert 'data-publishable-key="pk_live_kassa"' in page.text
    assert "Sandbox" not in page.text
    intent_id = api_order_json(client, provider_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    back = client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert "Payment received" in back.text

    body = api_order_json(client, provider_key, order_id)
    assert (body["status"], body["livemode"]) == ("paid", True)
    assert body["checkoutUrl"].startswith("https://pay.example.com/checkout?orderId=")
    [payload] = notification_payloads(admin_client)
    assert (payload["event"], payload["livemode"]) == ("payment_succeeded", True)
