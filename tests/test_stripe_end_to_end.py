"""The whole path with the real stripe SDK and localstripe's real signed webhooks.

Order by API → checkout page creates the PaymentIntent → the payment succeeds at Stripe →
Stripe's webhook reaches Kassa → Kassa notifies the provider, through a worker.
"""

import re

import pytest
import requests

from tests.helpers import bearer, pay_with_card
from tests.plugins.servers import wait_until
from tests.stripe_signing import WEBHOOK_SECRET


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": "sk_test_kassa",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
        "STRIPE_API_BASE": stripe_standin,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def stripe_sends_webhooks_to(stripe_standin):
    """Register Kassa's endpoint with localstripe, and silence it afterwards."""

    def register(url: str) -> None:
        requests.post(
            f"{stripe_standin}/_config/webhooks/kassa",
            json={"url": url, "secret": WEBHOOK_SECRET},
            timeout=5,
        ).raise_for_status()

    yield register
    requests.post(
        f"{stripe_standin}/_config/webhooks/kassa",
        json={"url": "http://127.0.0.1:9/", "secret": WEBHOOK_SECRET, "events": ["none"]},
        timeout=5,
    )


def test_paid_at_stripe_reaches_the_provider(
    stripe_sends_webhooks_to, live_server, stripe_client, admin_client, receiver, worker, hooked
):
    key = hooked.api_key
    stripe_sends_webhooks_to(live_server.url + "/webhooks/stripe")

    order = requests.post(
        live_server.url + "/api/v1/create-payment-intent",
        headers=bearer(key),
        json={"externalId": "E2E-1", "amount": 25},
        timeout=10,
    ).json()
    checkout = requests.get(order["checkoutUrl"], timeout=10)
    assert checkout.status_code == 200
    intent_id = re.search(r'data-client-secret="(pi_[A-Za-z0-9]+)_secret_', checkout.text)[1]

    pay_with_card(stripe_client, intent_id, "4242424242424242")

    accepted = wait_until(receiver.accepted, 30, message="the provider is notified")
    assert accepted[0]["event"] == "payment_succeeded"
    assert accepted[0]["orderId"] == order["orderId"]
    assert accepted[0]["signatureOk"] is True
    payload = accepted[0]["payload"]
    assert payload["externalId"] == "E2E-1"
    assert payload["stripePaymentIntentId"] == intent_id
    assert payload["amount"] == 25
    assert payload["quantity"] == 5

    timeline = admin_client.get(f"/admin/orders/{order['orderId']}").text
    assert "pending → paid (Stripe payment_intent.succeeded)" in timeline
