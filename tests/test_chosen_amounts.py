"""Customer-chosen amounts on payment links (issue 21, item 2).

A link with minAmount and maxAmount lets the customer enter the amount on its page, within
the range and exact in the service's currency; that amount is the order's (quantity 1), and
a payment below it is underpaid. Buy Button mode does not offer it.
"""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from checkout.extensions import db
from checkout.models import Order
from tests.helpers import (
    api_order_json,
    bearer,
    create_link,
    csrf_token,
    error_body,
    form_post,
    order_from,
    simulate,
)
from tests.plugins import signed_events
from tests.stripe_signing import event, payment_intent, post_event, run_event_task

# Signed Stripe events are read (the underpayment test), as tests/test_stripe_webhooks.py.
app_config = signed_events.app_config


@pytest.fixture
def stripe_webhook_event(client):
    """Stripe tells Kassa an order's PaymentIntent succeeded with this many cents."""

    def send(order_id: str, amount: int) -> None:
        intent = payment_intent(order_id, amount, "succeeded", f"pi_{order_id[-12:]}")
        run_event_task(client, post_event(client, event("payment_intent.succeeded", intent)))

    return send


def orders_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


def api_chosen_link(client, key, **body) -> dict:
    answer = client.post(
        "/api/v1/payment-links",
        json={"title": "Donate", "minAmount": 5, "maxAmount": 500, **body},
        headers=bearer(key),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def pay_amount(client, link_id: str, amount: str, **extra):
    """Type an amount on the link's page and press Pay."""
    token = csrf_token(client.get(f"/l/{link_id}").text)
    return client.post(f"/l/{link_id}/pay", data={"csrf_token": token, "amount": amount, **extra})


def test_a_link_takes_a_range_and_its_page_asks_the_amount(client, api_key):
    link = api_chosen_link(client, api_key, presetAmount=Decimal("25.00"))
    assert (link["minAmount"], link["maxAmount"], link["presetAmount"]) == (5, 500, 25)
    assert link["quantity"] == 1 and link["adjustableQuantity"] is False
    page = client.get(f"/l/{link['id']}").text
    assert re.search(
        r'<label for="amount">Amount <small class="help">\(\$5\.00 to \$500\.00\)', page
    )
    assert 'name="amount"' in page and 'value="25.00"' in page
    assert 'name="quantity"' not in page


def test_the_chosen_amount_is_the_orders_amount(client, api_key):
    link = api_chosen_link(client, api_key)
    order_id = order_from(pay_amount(client, link["id"], "12.50"))
    body = api_order_json(client, api_key, order_id)
    assert (body["amount"], body["quantity"], body["paymentLinkId"]) == (
        Decimal("12.50"),
        1,
        link["id"],
    )
    assert body["discountCode"] is None and body["discountAmount"] is None
    assert simulate(client, order_id).status_code == 303
    paid = api_order_json(client, api_key, order_id)
    assert paid["status"] == "paid" and paid["paidAmount"] == Decimal("12.50")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("4.99", "Enter an amount from $5.00 to $500.00"),
        ("500.01", "Enter an amount from $5.00 to $500.00"),
        ("12.505", "Amount has more than 2 decimal places for USD"),
        ("", "Enter an amount from $5.00 to $500.00"),
        ("twelve", "Amount must be a number, such as 12.50"),
    ],
)
def test_an_amount_out_of_range_or_inexact_is_refused_on_the_page(
    app, client, api_key, typed, message
):
    link = api_chosen_link(client, api_key)
    before = orders_count(app)
    refused = pay_amount(client, link["id"], typed)
    assert refused.status_code == 422
    assert f'<p id="amount-error" class="error">{message}</p>' in refused.text
    assert f'value="{typed}"' in refused.text  # the form kept what was typed
    assert orders_count(app) == before


def test_a_currency_without_decimals_takes_whole_amounts(app, client, make):
    key = make.provider(make.service(title="Yen", price="500", currency="jpy")).api_key
    link = api_chosen_link(client, key, minAmount=100, maxAmount=10000)
    refused = pay_amount(client, link["id"], "150.5")
    assert refused.status_code == 422
    assert "Amount must be a whole number for JPY" in refused.text
    order_id = order_from(pay_amount(client, link["id"], "1500"))
    assert api_order_json(client, key, order_id)["amount"] == 1500


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"minAmount": Decimal("5.001")}, "minAmount", "Amount has more than 2 decimal places"),
        ({"minAmount": Decimal("0.30")}, "minAmount", "below Stripe's minimum charge of $0.50"),
        ({"maxAmount": 4}, "maxAmount", "The largest amount is below the smallest"),
        ({"presetAmount": 600}, "presetAmount", "The preset amount must be between the two"),
        ({"maxAmount": None}, "maxAmount", "Give both the smallest and the largest amount"),
        ({"quantity": 2}, "quantity", "sells a quantity of 1"),
        ({"minQuantity": 1, "maxQuantity": 3}, "quantity", "sells a quantity of 1"),
        ({"minAmount": "5"}, "minAmount", "Give a number, e.g. 12.50"),
    ],
)
def test_the_api_refuses_a_bad_range_naming_the_field(client, api_key, body, param, message):
    sent = {"title": "Donate", "minAmount": 5, "maxAmount": 500, **body}
    refused = client.post("/api/v1/payment-links", json=sent, headers=bearer(api_key))
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["param"] == param
    assert message in refused.get_json()["error"]
    assert client.get("/api/v1/payment-links", headers=bearer(api_key)).get_json()["data"] == []


def test_a_preset_alone_is_refused(client, api_key):
    refused = client.post(
        "/api/v1/payment-links", json={"presetAmount": 5}, headers=bearer(api_key)
    )
    assert refused.get_json() == error_body(
        "presetAmount: Set minAmount and maxAmount first", "validation_error", "presetAmount"
    )


def test_buy_button_mode_does_not_offer_a_chosen_amount(client, make):
    service = make.service(buy_button_id="buy_btn_1", stripe_payment_link_id="plink_1")
    key = make.provider(service, use_stripe_checkout=True).api_key
    refused = client.post(
        "/api/v1/payment-links", json={"minAmount": 5, "maxAmount": 50}, headers=bearer(key)
    )
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["param"] == "minAmount"
    assert "Buy Button mode: Stripe's Payment Link charges its own price" in body["error"]


def test_patch_turns_a_link_into_a_chosen_amount_and_back(client, api_key):
    link = client.post("/api/v1/payment-links", json={}, headers=bearer(api_key)).get_json()
    url = f"/api/v1/payment-links/{link['id']}"
    chosen = client.patch(url, json={"minAmount": 1, "maxAmount": 9}, headers=bearer(api_key))
    assert (chosen.get_json()["minAmount"], chosen.get_json()["maxAmount"]) == (1, 9)
    half = client.patch(url, json={"minAmount": None}, headers=bearer(api_key))
    assert half.status_code == 422 and half.get_json()["param"] == "minAmount"
    priced = client.patch(url, json={"minAmount": None, "maxAmount": None}, headers=bearer(api_key))
    assert priced.get_json()["minAmount"] is None
    assert 'name="amount"' not in client.get(f"/l/{link['id']}").text


def test_the_admin_form_sets_a_range_and_names_a_bad_field(admin_client, make):
    service_id = make.service()
    link_id = create_link(admin_client, service_id, min_amount="2", max_amount="20")
    edit = admin_client.get(f"/admin/links/{link_id}/edit").text
    assert 'name="min_amount"' in edit and 'value="2.00"' in edit
    refused = form_post(
        admin_client,
        "/admin/links/new",
        {"title": "Tips", "service_id": service_id, "quantity": "1", "min_amount": "3"},
    )
    assert refused.status_code == 422
    assert "Give both the smallest and the largest amount" in refused.text


def test_underpayment_is_measured_against_the_chosen_amount(client, api_key, stripe_webhook_event):
    link = api_chosen_link(client, api_key)
    order_id = order_from(pay_amount(client, link["id"], "40"))
    stripe_webhook_event(order_id, 3999)
    body = api_order_json(client, api_key, order_id)
    assert body["status"] == "underpaid" and body["amount"] == 40
    other = order_from(pay_amount(client.application.test_client(), link["id"], "40"))
    stripe_webhook_event(other, 4000)
    assert api_order_json(client, api_key, other)["status"] == "paid"


def test_the_embed_snippet_says_pay_for_a_chosen_amount(admin_client, make):
    link_id = create_link(admin_client, make.service(), min_amount="2", max_amount="20")
    assert 'data-label="Pay"' in admin_client.get(f"/admin/links/{link_id}").text
