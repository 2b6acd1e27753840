"""How often Kassa calls Stripe for a Cash App checkout (issue 12, finding 1).

Stripe is asked once per order, to create its PaymentIntent; views and polls read the order,
which webhooks and reconciliation keep current; a customer back from Cash App makes Kassa
ask Stripe about the order at most once per STRIPE_REFRESH_SECONDS.
"""

import logging
import re
import time

import pytest
import requests

from checkout.extensions import db
from checkout.models import Order
from tests.helpers import api_new_order, api_order_json, pay_with_card

SECRET_KEY = "sk_test_kassa"


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
        "STRIPE_API_BASE": stripe_standin,
        "STRIPE_REFRESH_SECONDS": 10,
    }


@pytest.fixture
def kassa_calls(stripe_standin):
    """Kassa's requests to the stand-in so far (the test's own wallet uses another key)."""

    def calls() -> list[str]:
        recorded = requests.get(f"{stripe_standin}/_kassa/requests", timeout=5).json()
        return [f"{r['method']} {r['path']}" for r in recorded if r["apiKey"] == SECRET_KEY]

    return calls


def client_secret(page: str) -> str:
    return re.search(r'data-client-secret="([^"]+)"', page)[1]


def test_thirty_views_create_one_payment_intent_and_ask_nothing_more(
    client, api_key, kassa_calls, caplog
):
    caplog.set_level(logging.DEBUG, logger="checkout")
    order_id = api_new_order(client, api_key)
    pages = [client.get(f"/checkout?orderId={order_id}") for _ in range(30)]
    assert {page.status_code for page in pages} == {200}
    secrets = {client_secret(page.text) for page in pages}
    assert len(secrets) == 1
    assert kassa_calls() == ["POST /v1/payment_intents"]
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    assert secrets.pop().startswith(f"{intent_id}_secret_")
    kassa_lines = [r.getMessage() for r in caplog.records if r.name.startswith("checkout")]
    assert not [line for line in kassa_lines if "_secret_" in line]


def test_status_polls_read_the_order_only(client, api_key, stripe_client, kassa_calls):
    order_id = api_new_order(client, api_key)
    client.get(f"/checkout?orderId={order_id}")
    pay_with_card(
        stripe_client,
        api_order_json(client, api_key, order_id)["stripePaymentIntentId"],
        "4242424242424242",
    )
    polls = [client.get(f"/checkout/status?orderId={order_id}").get_json() for _ in range(20)]
    assert {poll["status"] for poll in polls} == {"pending"}
    assert kassa_calls() == ["POST /v1/payment_intents"]


def test_a_customer_back_from_cash_app_makes_one_stripe_check_per_interval(
    client, app, api_key, kassa_calls
):
    app.config["STRIPE_REFRESH_SECONDS"] = 1
    order_id = api_new_order(client, api_key)
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    back = f"/checkout?orderId={order_id}&payment_intent={intent_id}&redirect_status=succeeded"
    page = client.get(back).text
    assert "data-poll" in page
    status_url = re.search(r'data-status-url="([^"]+)"', page)[1].replace("&amp;", "&")
    assert status_url == f"/checkout/status?orderId={order_id}&returned=1"
    for _ in range(5):
        client.get(back)
        assert client.get(status_url).get_json()["status"] == "pending"
    retrieve = f"GET /v1/payment_intents/{intent_id}"
    assert kassa_calls() == ["POST /v1/payment_intents", retrieve]

    time.sleep(1.1)
    for _ in range(5):
        client.get(status_url)
    assert kassa_calls() == ["POST /v1/payment_intents", retrieve, retrieve]


def test_the_return_shows_what_stripe_says(client, api_key, stripe_client, kassa_calls):
    order_id = api_new_order(client, api_key)
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    assert "Payment received" not in client.get(f"/checkout?orderId={order_id}").text
    back = client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert "Payment received" in back.text
    for _ in range(5):
        client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert kassa_calls() == ["POST /v1/payment_intents", f"GET /v1/payment_intents/{intent_id}"]


def test_an_order_opened_before_secrets_were_kept_asks_stripe_once(
    client, app, api_key, kassa_calls
):
    order_id = api_new_order(client, api_key)
    first = client_secret(client.get(f"/checkout?orderId={order_id}").text)
    with app.app_context():
        db.session.get(Order, order_id).stripe_client_secret = None
        db.session.commit()
    pages = [client.get(f"/checkout?orderId={order_id}").text for _ in range(5)]
    assert {client_secret(page) for page in pages} == {first}
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    assert kassa_calls() == ["POST /v1/payment_intents", f"GET /v1/payment_intents/{intent_id}"]


def test_stripe_failing_on_the_return_still_shows_the_pay_button(
    client, api_key, stripe_faults, kassa_calls
):
    order_id = api_new_order(client, api_key)
    first = client_secret(client.get(f"/checkout?orderId={order_id}").text)
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    stripe_faults.add(f"/v1/payment_intents/{intent_id}", 500, method="GET")
    back = client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert back.status_code == 200
    assert client_secret(back.text) == first
    assert [fault["status"] for fault in stripe_faults.answered()] == [500]
