"""Cash App checkout with Stripe keys: the real stripe SDK against a local Stripe stand-in."""

import re
from decimal import Decimal

import pytest
import stripe

from tests.helpers import (
    api_open_order,
    api_order_json,
    create_link,
    csrf_token,
    order_from,
    pay_link,
    pay_with_card,
)

PUBLISHABLE = "pk_test_kassa"


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": "sk_test_kassa",
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE,
        "STRIPE_API_BASE": stripe_standin,
        # Every return from Cash App asks Stripe (tests/test_stripe_calls.py tests the interval).
        "STRIPE_REFRESH_SECONDS": 0,
    }


def test_checkout_creates_one_payment_intent_with_metadata(client, api_key, stripe_client):
    order_id = api_open_order(client, api_key, externalId="EXT-9", amount=15).get_json()["orderId"]
    page = client.get(f"/checkout?orderId={order_id}")
    assert page.status_code == 200
    assert '<script src="https://js.stripe.com/v3/"></script>' in page.text
    assert f'data-publishable-key="{PUBLISHABLE}"' in page.text
    assert "Sandbox" not in page.text
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    assert intent_id.startswith("pi_")
    assert f'data-client-secret="{intent_id}_secret_' in page.text
    assert f'data-return-url="http://localhost/checkout?orderId={order_id}"' in page.text

    intent = stripe_client.v1.payment_intents.retrieve(intent_id)
    assert intent.amount == 1500
    assert intent.currency == "usd"
    assert intent.description == "Premium Credits | Direct (Bitloader)"
    assert intent.metadata.to_dict() == {
        "serviceId": intent.metadata["serviceId"],
        "serviceName": "Premium Credits",
        "quantity": "3",
        "providerId": intent.metadata["providerId"],
        "providerName": "Bitloader",
        "externalId": "EXT-9",
        "orderId": order_id,
    }
    assert intent.metadata["serviceId"].startswith("svc_")
    assert intent.metadata["providerId"].startswith("prv_")

    client.get(f"/checkout?orderId={order_id}")
    assert api_order_json(client, api_key, order_id)["stripePaymentIntentId"] == intent_id


def test_return_trusts_the_payment_intent_not_the_query(client, api_key, stripe_client):
    order_id = api_open_order(client, api_key, externalId="EXT-1").get_json()["orderId"]
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]

    lying = client.get(
        f"/checkout?orderId={order_id}&payment_intent={intent_id}&redirect_status=succeeded"
    )
    assert "Payment received" not in lying.text
    assert api_order_json(client, api_key, order_id)["status"] == "pending"

    pay_with_card(stripe_client, intent_id, "4242424242424242")
    page = client.get(
        f"/checkout?orderId={order_id}&payment_intent={intent_id}&redirect_status=failed"
    )
    assert "Payment received" in page.text
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "paid"
    assert body["paidAmount"] == body["amount"]
    assert body["amountMismatch"] is False


def test_declined_payment_shows_try_again(client, api_key, stripe_client):
    order_id = api_open_order(client, api_key, externalId="EXT-2").get_json()["orderId"]
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    with pytest.raises(stripe.CardError):
        pay_with_card(stripe_client, intent_id, "4000000000000341")
    page = client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert "Payment failed" in page.text
    assert "Try again with Cash App Pay" in page.text
    assert api_order_json(client, api_key, order_id)["status"] == "failed"


def test_status_poll_of_a_customer_back_from_cash_app_asks_stripe(client, api_key, stripe_client):
    order_id = api_open_order(client, api_key, externalId="EXT-3").get_json()["orderId"]
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    status = client.get(f"/checkout/status?orderId={order_id}").get_json()
    assert status == {"orderId": order_id, "status": "pending", "final": False, "held": False}
    status = client.get(f"/checkout/status?orderId={order_id}&returned=1").get_json()
    assert status == {"orderId": order_id, "status": "paid", "final": True, "held": False}


def test_reconciliation_applies_a_missed_webhook(client, runner, api_key, stripe_client):
    order_id = api_open_order(client, api_key, externalId="EXT-R").get_json()["orderId"]
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")

    young = runner.invoke(args=["reconcile", "--json"])
    assert young.exit_code == 0
    assert '"checked": 0' in young.output
    assert api_order_json(client, api_key, order_id)["status"] == "pending"

    result = runner.invoke(args=["reconcile", "--older-than", "0", "--json"])
    assert '"checked": 1' in result.output
    assert api_order_json(client, api_key, order_id)["status"] == "paid"
    again = runner.invoke(args=["reconcile", "--older-than", "0", "--json"])
    assert '"checked": 0' in again.output


def test_admin_refund_goes_through_stripe(client, admin_client, api_key, stripe_client, app):
    from tests.stripe_signing import WEBHOOK_SECRET, event, post_event, run_event_task

    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    order_id = api_open_order(client, api_key, externalId="EXT-RF", amount=15).get_json()["orderId"]
    client.get(f"/checkout?orderId={order_id}")
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert api_order_json(client, api_key, order_id)["status"] == "paid"

    url = f"/admin/orders/{order_id}"
    token = csrf_token(admin_client.get(url).text)
    response = admin_client.post(f"{url}/refund", data={"amount": "5", "csrf_token": token})
    assert response.status_code == 302
    page = admin_client.get(url).text
    refund_id = re.search(r"Refund (re_\w+) requested from Stripe", page)[1]
    assert stripe_client.v1.refunds.retrieve(refund_id).amount == 500
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "partially_refunded" and body["refundedAmount"] == Decimal("5.00")

    # Stripe now sends charge.refunded (localstripe does not, so sign its own charge here);
    # it lists the same refund: nothing changes again.
    latest = stripe_client.v1.payment_intents.retrieve(intent_id).latest_charge
    charge_id = latest if isinstance(latest, str) else latest.id  # localstripe expands it
    charge = stripe_client.v1.charges.retrieve(charge_id).to_dict()
    charge["payment_intent"] = intent_id
    response = post_event(client, event("charge.refunded", charge))
    applied = run_event_task(client, response)
    assert response.status_code == 200 and applied == "no change"
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "partially_refunded"
    assert body["refundedAmount"] == Decimal("5.00")


def test_link_orders_describe_the_link_to_stripe(client, admin_client, make, stripe_client):
    service_id = make.service(title="Gold", price="5", slug="gold")
    link_id = create_link(
        admin_client, service_id, title="Gold rush", quantity="2", metadata_text="campaign=rush"
    )
    customer = client.application.test_client()
    order_id = order_from(pay_link(customer, link_id))
    checkout = customer.get(f"/checkout?orderId={order_id}")
    intent_id = re.search(r'data-client-secret="(pi_[A-Za-z0-9]+)_secret_', checkout.text)[1]
    intent = stripe_client.v1.payment_intents.retrieve(intent_id)
    assert intent.amount == 1000
    assert intent.description == f"Gold | PaymentLink: {link_id}"
    assert intent.metadata["paymentLinkId"] == link_id
    assert intent.metadata["campaign"] == "rush"
    assert intent.metadata["orderId"] == order_id
    assert intent.metadata["providerId"] == ""
