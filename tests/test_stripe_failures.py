"""When Stripe fails: transient errors get a new idempotency key, a refused Cash App Pay is
remembered until Stripe takes it again. The real SDK against the stand-in, failing on demand."""

import re

import pytest

from tests.helpers import api_new_order, api_open_order, api_order_json, error_body, order_page
from tests.stripe_faults import CASHAPP_TYPE_INVALID, CASHAPP_UNACTIVATED

INTENTS = "/v1/payment_intents"
REFUSED = error_body("Cash App payments are not available", "cash_app_unavailable")


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": "sk_test_kassa",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
        "STRIPE_API_BASE": stripe_standin,
    }


def client_secret(page: str) -> str | None:
    match = re.search(r'data-client-secret="(pi_\w+_secret_\w+)"', page)
    return match and match[1]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, None),
        (503, None),
        (429, None),
        (502, {"type": "api_error", "message": "Bad gateway"}),
    ],
)
def test_after_a_transient_error_a_reload_uses_a_new_key_and_works(
    client, admin_client, api_key, stripe_faults, status, error
):
    order_id = api_new_order(client, api_key, externalId="T-1")
    stripe_faults.add(INTENTS, status, error)

    first = client.get(f"/checkout?orderId={order_id}")
    assert first.status_code == 503
    assert "Payments are unavailable right now" in first.text
    assert "Nothing was charged" in first.text
    assert client_secret(first.text) is None

    # Stripe keeps a 5xx under its idempotency key: the same key would get it again.
    second = client.get(f"/checkout?orderId={order_id}")
    assert second.status_code == 200
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    assert client_secret(second.text).startswith(f"{intent_id}_secret_")
    assert stripe_faults.answered() == [
        {
            "method": "POST",
            "path": INTENTS,
            "status": status,
            "idempotencyKey": f"kassa-{order_id}-payment-intent",
            "replayed": False,
        }
    ]
    assert "the next try is attempt 1" in order_page(admin_client, order_id)


def test_after_no_answer_a_reload_uses_a_new_key_and_works(
    client, admin_client, app, api_key, stripe_standin
):
    order_id = api_new_order(client, api_key, externalId="T-0")
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens: no answer
    first = client.get(f"/checkout?orderId={order_id}")
    assert first.status_code == 503
    assert "Payments are unavailable right now" in first.text
    assert "(no answer); the next try is attempt 1" in order_page(admin_client, order_id)

    app.config["STRIPE_API_BASE"] = stripe_standin
    second = client.get(f"/checkout?orderId={order_id}")
    assert second.status_code == 200
    assert client_secret(second.text)


def test_a_refused_request_keeps_its_key(client, admin_client, api_key, stripe_faults):
    order_id = api_new_order(client, api_key, externalId="T-2")
    refused = {"type": "invalid_request_error", "message": "Invalid integer", "param": "amount"}
    stripe_faults.add(INTENTS, 400, refused, replay=True)

    for _ in range(2):
        page = client.get(f"/checkout?orderId={order_id}")
        assert page.status_code == 503
        assert "Payments are unavailable right now" in page.text
    key = f"kassa-{order_id}-payment-intent"
    assert [(a["idempotencyKey"], a["replayed"]) for a in stripe_faults.answered()] == [
        (key, False),
        (key, True),
    ]
    assert "next try" not in order_page(admin_client, order_id)
    # Not a refusal of Cash App Pay: new orders are still opened.
    assert api_open_order(client, api_key, externalId="T-3").status_code == 200


@pytest.mark.parametrize("refusal", [CASHAPP_TYPE_INVALID, CASHAPP_UNACTIVATED])
def test_cash_app_refused_is_remembered_until_stripe_takes_it_again(
    client, app, make, api_key, stripe_faults, refusal
):
    earlier = api_new_order(client, api_key, externalId="C-1")
    stripe_faults.add(INTENTS, 400, refusal)

    page = client.get(f"/checkout?orderId={earlier}")
    assert page.status_code == 503
    assert "Cash App Pay is not available" in page.text
    assert "Please contact Bitloader to pay another way" in page.text
    assert "Nothing was charged" in page.text
    assert "Payments are unavailable right now" not in page.text
    assert client_secret(page.text) is None

    response = api_open_order(client, api_key, externalId="C-2", amount=10)
    assert response.status_code == 400
    assert response.get_json() == REFUSED
    assert api_order_json(client, api_key, earlier)["stripePaymentIntentId"] is None
    # A Buy Button provider does not take Cash App Pay, and still opens orders.
    button = make.service(
        title="Pro",
        price="300",
        buy_button_id="buy_btn_1Abc",
        stripe_payment_link_id="plink_1A",
        slug="pro",
    )
    button_key = make.provider(service_id=button, name="Buttons", use_stripe_checkout=True).api_key
    assert api_open_order(client, button_key, externalId="B-1").status_code == 200

    # Stripe takes Cash App Pay again: the earlier order's page creates its PaymentIntent.
    again = client.get(f"/checkout?orderId={earlier}")
    assert again.status_code == 200
    assert client_secret(again.text)
    response = api_open_order(client, api_key, externalId="C-2", amount=10)
    assert response.status_code == 200
    later = response.get_json()["orderId"]
    assert client.get(f"/checkout?orderId={later}").status_code == 200


def test_a_refusal_belongs_to_the_secret_key_it_came_with(client, app, api_key, stripe_faults):
    earlier = api_new_order(client, api_key, externalId="K-1")
    stripe_faults.add(INTENTS, 400, CASHAPP_UNACTIVATED)
    assert client.get(f"/checkout?orderId={earlier}").status_code == 503
    assert api_open_order(client, api_key, externalId="K-2").get_json() == REFUSED

    app.config["STRIPE_SECRET_KEY"] = "sk_test_another_account"
    assert api_open_order(client, api_key, externalId="K-2").status_code == 200


def test_the_stand_in_refuses_bad_fault_requests(stripe_standin):
    import requests

    url = stripe_standin + "/_kassa/faults"
    for body in [[], {"path": "/x", "status": 500}, {"path": INTENTS, "status": 200}]:
        response = requests.post(url, json=body, timeout=5)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
