"""Refunds from the provider's API: POST/GET /api/v1/orders/{orderId}/refunds.

The API refunds through the same service as the admin's form, so the same rules hold: never
more than is left, an underpaid order in full only, once per request (Idempotency-Key), a
failed refund taken back out.
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.helpers import (
    api_new_order,
    api_order_json,
    api_paid_order,
    bearer,
    error_body,
    notified,
    pay_with_card,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, post_event, run_event_task


def refund(client, key, order_id, body=None, **headers):
    return client.post(
        f"/api/v1/orders/{order_id}/refunds", json=body or {}, headers={**bearer(key), **headers}
    )


def refunds(client, key, order_id) -> list[dict]:
    response = client.get(f"/api/v1/orders/{order_id}/refunds", headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["hasMore"] is False
    return response.get_json()["data"]


def test_a_refund_without_an_amount_refunds_everything(app, client, provider_key):
    api_key = provider_key
    order_id = api_paid_order(client, api_key, "R-1", amount=50)
    response = refund(client, api_key, order_id)
    assert response.status_code == 201
    made = response.get_json()
    assert made["id"].startswith("sandbox_re_")
    assert made["orderId"] == order_id
    assert made["amount"] == Decimal("50.00") and made["currency"] == "usd"
    assert made["status"] == "succeeded" and made["reason"] is None
    assert made["createdAt"].endswith("Z")
    assert "Idempotent-Replayed" not in response.headers
    order = api_order_json(client, api_key, order_id)
    assert order["status"] == "refunded" and order["refundedAmount"] == Decimal("50.00")
    assert notified(app, order_id) == ["payment_succeeded", "payment_refunded"]
    assert refunds(client, api_key, order_id) == [made]


def test_partial_refunds_add_up_to_what_was_paid_and_no_further(client, api_key):
    order_id = api_paid_order(client, api_key, "R-2", amount=50)
    first = refund(client, api_key, order_id, {"amount": 20, "reason": "requested_by_customer"})
    assert first.status_code == 201 and first.get_json()["amount"] == Decimal("20.00")
    assert first.get_json()["reason"] == "requested_by_customer"
    assert api_order_json(client, api_key, order_id)["status"] == "partially_refunded"

    over = refund(client, api_key, order_id, {"amount": "30.01"})
    assert over.status_code == 422 and over.get_json()["param"] == "amount"
    over = refund(client, api_key, order_id, {"amount": Decimal("30.01")})
    assert over.status_code == 422
    assert over.get_json() == error_body(
        "The refund must be more than zero and at most what is left to refund ($30.00)",
        "refund_error",
        "amount",
    )
    assert len(refunds(client, api_key, order_id)) == 1

    assert refund(client, api_key, order_id, {"amount": 30}).status_code == 201
    order = api_order_json(client, api_key, order_id)
    assert order["status"] == "refunded" and order["refundedAmount"] == Decimal("50.00")
    done = refund(client, api_key, order_id)
    assert done.status_code == 409
    assert done.get_json() == error_body(
        "This order is already fully refunded", "refund_not_allowed", None
    )
    assert [row["amount"] for row in refunds(client, api_key, order_id)] == [
        Decimal("20.00"),
        Decimal("30.00"),
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"amount": "5"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": Decimal("1.001")}, "amount"),
        ({"amount": Decimal("1e13")}, "amount"),
        ({"reason": "changed_my_mind"}, "reason"),
        ({"reason": 7}, "reason"),
        ({"currency": "eur"}, "currency"),
    ],
)
def test_a_bad_field_is_422_naming_it_and_refunds_nothing(client, api_key, body, param):
    order_id = api_paid_order(client, api_key, "R-3", amount=50)
    response = refund(client, api_key, order_id, body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["param"] == param
    assert refunds(client, api_key, order_id) == []
    assert api_order_json(client, api_key, order_id)["status"] == "paid"


def test_an_unpaid_order_cannot_be_refunded(client, api_key):
    order_id = api_new_order(client, api_key, externalId="R-4", amount=5)
    response = refund(client, api_key, order_id)
    assert response.status_code == 409
    assert response.get_json() == error_body(
        "Only a paid order can be refunded: this one is pending", "refund_not_allowed", None
    )
    assert refunds(client, api_key, order_id) == []


def test_another_providers_order_is_not_found(client, make, api_key):
    order_id = api_paid_order(client, api_key, "R-5", amount=5)
    stranger = make.provider(make.service(slug="other"), name="Stranger").api_key
    for response in (
        refund(client, stranger, order_id),
        client.get(f"/api/v1/orders/{order_id}/refunds", headers=bearer(stranger)),
        refund(client, api_key, "ord_" + "0" * 24),
        refund(client, api_key, "not-an-order"),
    ):
        assert response.status_code == 404
        assert response.get_json() == error_body("Order not found", "not_found")
    assert refunds(client, api_key, order_id) == []


def test_a_body_that_is_not_json_is_refused(client, api_key):
    order_id = api_paid_order(client, api_key, "R-6", amount=5)
    url = f"/api/v1/orders/{order_id}/refunds"
    wrong_type = client.post(url, data="amount=5", headers=bearer(api_key))
    assert wrong_type.status_code == 415
    broken = client.post(
        url, data="{", headers={**bearer(api_key), "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.get_json()["code"] == "malformed_json"
    assert refunds(client, api_key, order_id) == []


class TestIdempotencyKey:
    def test_the_same_key_is_one_refund(self, app, client, provider_key):
        api_key = provider_key
        order_id = api_paid_order(client, api_key, "R-7", amount=50)
        first = refund(client, api_key, order_id, {"amount": 5}, **{"Idempotency-Key": "k-1"})
        again = refund(client, api_key, order_id, {"amount": 5}, **{"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        assert api_order_json(client, api_key, order_id)["refundedAmount"] == Decimal("5.00")
        assert notified(app, order_id) == ["payment_succeeded", "payment_refunded"]

        other = refund(client, api_key, order_id, {"amount": 5}, **{"Idempotency-Key": "k-2"})
        assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
        assert api_order_json(client, api_key, order_id)["refundedAmount"] == Decimal("10.00")

    def test_requests_without_a_key_are_refunds_of_their_own(self, client, api_key):
        order_id = api_paid_order(client, api_key, "R-8", amount=50)
        assert refund(client, api_key, order_id, {"amount": 5}).status_code == 201
        assert refund(client, api_key, order_id, {"amount": 5}).status_code == 201
        assert len(refunds(client, api_key, order_id)) == 2

    def test_the_same_key_with_another_amount_is_refused(self, client, api_key):
        order_id = api_paid_order(client, api_key, "R-9", amount=50)
        assert refund(client, api_key, order_id, {"amount": 5}, **{"Idempotency-Key": "k"})
        response = refund(client, api_key, order_id, {"amount": 6}, **{"Idempotency-Key": "k"})
        assert response.status_code == 422
        assert response.get_json()["code"] == "idempotency_key_reused"
        assert len(refunds(client, api_key, order_id)) == 1

    def test_one_key_on_two_orders_makes_two_refunds(self, client, api_key):
        orders = [api_paid_order(client, api_key, f"R-10-{n}", amount=5) for n in (1, 2)]
        for order_id in orders:
            response = refund(client, api_key, order_id, **{"Idempotency-Key": "same"})
            assert response.status_code == 201
            assert "Idempotent-Replayed" not in response.headers
        for order_id in orders:
            assert api_order_json(client, api_key, order_id)["status"] == "refunded"

    @pytest.mark.parametrize("key", ["x" * 256, "tab\there", ""])
    def test_a_malformed_key_is_400(self, client, api_key, key):
        order_id = api_paid_order(client, api_key, "R-11", amount=5)
        response = refund(client, api_key, order_id, **{"Idempotency-Key": key})
        assert response.status_code == 400
        assert response.get_json()["code"] == "invalid_idempotency_key"
        assert refunds(client, api_key, order_id) == []


def test_the_audit_log_names_the_key_that_refunded(app, client, make):
    from checkout.extensions import db
    from checkout.models import AuditEntry

    provider = make.provider()
    order_id = api_paid_order(client, provider.api_key, "R-12", amount=5)
    assert refund(client, provider.api_key, order_id).status_code == 201
    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "order.refunded")
        )
        assert entry.subject_id == order_id
        assert entry.actor_kind == "api-key"
        assert provider.api_key.startswith(entry.actor_label)


class TestUnderpaid:
    """An underpaid order is refunded in full, never in part (sandbox mode, Stripe's signed
    event reporting less than the order costs)."""

    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def test_only_a_full_refund(self, app, client, api_key):
        order_id = api_new_order(client, api_key, externalId="R-13", amount=15)
        intent = payment_intent(order_id, 1000, "succeeded", "pi_under")
        run_event_task(client, post_event(client, event("payment_intent.succeeded", intent)))
        assert api_order_json(client, api_key, order_id)["status"] == "underpaid"

        part = refund(client, api_key, order_id, {"amount": 5})
        assert part.status_code == 422
        assert part.get_json() == error_body(
            "An underpaid payment is refunded in full, or accepted", "refund_error", "amount"
        )
        whole = refund(client, api_key, order_id)
        assert whole.status_code == 201 and whole.get_json()["amount"] == Decimal("10.00")
        assert api_order_json(client, api_key, order_id)["status"] == "refunded"


class TestWithStripe:
    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def paid(self, client, provider_key, stripe_client):
        """A $15 Cash App order paid at the stand-in; (order id, PaymentIntent id)."""
        order_id = api_new_order(client, provider_key, amount=15)
        client.get(f"/checkout?orderId={order_id}")
        intent_id = api_order_json(client, provider_key, order_id)["stripePaymentIntentId"]
        pay_with_card(stripe_client, intent_id, "4242424242424242")
        client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
        assert api_order_json(client, provider_key, order_id)["status"] == "paid"
        return order_id, intent_id

    def test_the_refund_is_made_at_stripe_once_per_key(
        self, client, provider_key, stripe_client, paid
    ):
        order_id, intent_id = paid
        body = {"amount": Decimal("2.50"), "reason": "duplicate"}
        first = refund(client, provider_key, order_id, body, **{"Idempotency-Key": "once"})
        again = refund(client, provider_key, order_id, body, **{"Idempotency-Key": "once"})
        assert first.status_code == again.status_code == 201
        made = first.get_json()
        assert made["id"].startswith("re_") and again.get_json() == made
        at_stripe = stripe_client.v1.refunds.list(params={"payment_intent": intent_id}).data
        assert [(row.id, row.amount, row.reason) for row in at_stripe] == [
            (made["id"], 250, "duplicate")
        ]
        order = api_order_json(client, provider_key, order_id)
        assert order["status"] == "partially_refunded"
        assert order["refundedAmount"] == Decimal("2.50")
