"""Cancelling an order from the provider's API: POST /api/v1/orders/{orderId}/cancel.

An order nobody has paid or is paying becomes canceled, its PaymentIntent is canceled with
Stripe, and the provider hears payment_canceled once; an order being paid or paid is 409.
"""

import json
from datetime import timedelta

import pytest

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_order_json,
    api_paid_order,
    bearer,
    csrf_token,
    error_body,
    notified,
    pay_with_card,
    simulate,
    transitions,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, post_event, run_event_task
from tests.test_buy_button import Shop, StripeDashboard, session_event


def cancel(client, key, order_id, headers=None, **kwargs):
    headers = {**bearer(key), **(headers or {})}
    return client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers, **kwargs)


def test_a_pending_order_is_canceled_once(app, client, provider_key):
    order_id = api_new_order(client, provider_key, externalId="C-1", amount=5)
    token = csrf_token(client.get(f"/checkout?orderId={order_id}").text)  # a page left open
    response = cancel(client, provider_key, order_id)
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    assert response.get_json()["orderId"] == order_id
    assert api_order_json(client, provider_key, order_id)["status"] == "canceled"
    assert notified(app, order_id) == ["payment_canceled"]

    again = cancel(client, provider_key, order_id, json={})
    assert again.status_code == 200 and again.get_json()["status"] == "canceled"
    assert notified(app, order_id) == ["payment_canceled"]
    assert transitions(app, order_id) == ["pending → canceled"]

    page = client.get(f"/checkout?orderId={order_id}")
    assert 'name="outcome"' not in page.text  # no sandbox buttons: nothing can pay it
    pressed = {"orderId": order_id, "outcome": "succeeded", "csrf_token": token}
    client.post("/checkout/sandbox", data=pressed)  # the page left open before the cancel
    assert api_order_json(client, provider_key, order_id)["status"] == "canceled"
    assert notified(app, order_id) == ["payment_canceled"]


def test_a_failed_order_can_be_canceled(client, provider_key):
    order_id = api_new_order(client, provider_key, externalId="C-2", amount=5)
    simulate(client, order_id, "failed")
    assert cancel(client, provider_key, order_id).get_json()["status"] == "canceled"


def test_an_expired_order_can_be_canceled(app, client, runner, provider_key):
    from checkout.extensions import db
    from checkout.models import Order

    order_id = api_new_order(client, provider_key, externalId="C-3", amount=5)
    with app.app_context():
        db.session.get(Order, order_id).created_at -= timedelta(days=2)
        db.session.commit()
    result = runner.invoke(args=["retire-old", "--json"])
    assert json.loads(result.output)["expiredOrders"] == 1
    assert cancel(client, provider_key, order_id).get_json()["status"] == "canceled"
    assert notified(app, order_id) == ["order_expired", "payment_canceled"]


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("processing", "A payment of this order is under way, so it cannot be canceled"),
        ("succeeded", "This order is paid, so it cannot be canceled: refund it instead"),
    ],
)
def test_an_order_being_paid_or_paid_is_409(app, client, provider_key, outcome, message):
    order_id = api_new_order(client, provider_key, externalId="C-4", amount=5)
    simulate(client, order_id, outcome)
    before = api_order_json(client, provider_key, order_id)
    response = cancel(client, provider_key, order_id)
    assert response.status_code == 409
    assert response.get_json() == error_body(message, "cancel_refused")
    assert api_order_json(client, provider_key, order_id) == before
    assert "payment_canceled" not in notified(app, order_id)


def test_a_refunded_order_is_409(client, provider_key):
    order_id = api_paid_order(client, provider_key, "C-5", amount=5)
    refunded = client.post(
        f"/api/v1/orders/{order_id}/refunds", json={}, headers=bearer(provider_key)
    )
    assert refunded.status_code == 201
    response = cancel(client, provider_key, order_id)
    assert response.status_code == 409
    assert response.get_json() == error_body(
        "This order is refunded, so it cannot be canceled", "cancel_refused"
    )


def test_refusals_change_nothing(app, client, make, provider_key):
    order_id = api_new_order(client, provider_key, externalId="C-6", amount=5)
    stranger = make.provider(make.service(slug="other"), name="Stranger").api_key
    assert cancel(client, stranger, order_id).status_code == 404
    assert cancel(client, provider_key, "ord_" + "f" * 24).status_code == 404
    unknown = cancel(client, provider_key, order_id, json={"reason": "changed my mind"})
    assert unknown.status_code == 422
    assert unknown.get_json()["code"] == "unknown_field"
    assert unknown.get_json()["param"] == "reason"
    query = client.post(f"/api/v1/orders/{order_id}/cancel?now=1", headers=bearer(provider_key))
    assert query.status_code == 422 and query.get_json()["param"] == "now"
    broken = cancel(
        client, provider_key, order_id, data="{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.get_json()["code"] == "malformed_json"
    assert api_order_json(client, provider_key, order_id)["status"] == "pending"
    assert notified(app, order_id) == []


def test_the_audit_log_names_the_key(app, client, make):
    import sqlalchemy as sa

    from checkout.extensions import db
    from checkout.models import AuditEntry

    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    order_id = api_new_order(client, provider.api_key, externalId="C-7", amount=5)
    assert cancel(client, provider.api_key, order_id).status_code == 200
    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "order.canceled")
        )
        assert entry.subject_id == order_id and entry.actor_kind == "api-key"


class TestWithStripe:
    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def opened(self, client, key) -> tuple[str, str]:
        """A $15 Cash App order whose page made its PaymentIntent; (order id, intent id)."""
        order_id = api_new_order(client, key, amount=15)
        client.get(f"/checkout?orderId={order_id}")
        return order_id, api_order_json(client, key, order_id)["stripePaymentIntentId"]

    def test_the_payment_intent_is_canceled_with_stripe(
        self, app, client, provider_key, stripe_client
    ):
        order_id, intent_id = self.opened(client, provider_key)
        response = cancel(client, provider_key, order_id)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == "canceled"
        assert stripe_client.v1.payment_intents.retrieve(intent_id).status == "canceled"
        # Stripe's own event about it changes nothing more.
        intent = stripe_client.v1.payment_intents.retrieve(intent_id)
        run_event_task(
            client, post_event(client, event("payment_intent.canceled", intent.to_dict()))
        )
        assert notified(app, order_id) == ["payment_canceled"]

    def test_a_payment_stripe_already_took_is_409_and_recorded(
        self, app, client, provider_key, stripe_client
    ):
        order_id, intent_id = self.opened(client, provider_key)
        pay_with_card(stripe_client, intent_id, "4242424242424242")  # no event yet
        response = cancel(client, provider_key, order_id)
        assert response.status_code == 409
        assert response.get_json() == error_body(
            "Stripe's payment of this order is succeeded, so it cannot be canceled",
            "cancel_refused",
        )
        assert api_order_json(client, provider_key, order_id)["status"] == "paid"
        assert notified(app, order_id) == ["payment_succeeded"]

    def test_an_order_without_a_payment_intent_needs_no_stripe_call(
        self, client, provider_key, stripe_client
    ):
        order_id = api_new_order(client, provider_key, amount=15)
        assert cancel(client, provider_key, order_id).get_json()["status"] == "canceled"
        assert api_order_json(client, provider_key, order_id)["stripePaymentIntentId"] is None


class TestBuyButton:
    """A Buy Button customer already on Stripe's page can still pay after the cancel: the
    payment is recorded and the provider hears it, for them to refund."""

    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def test_a_late_payment_is_recorded(self, app, client, admin_client, make, stripe_standin):
        dashboard = StripeDashboard(stripe_standin)
        shop = Shop(make, dashboard)
        order_id = api_new_order(client, shop.key, externalId="B-C")
        assert cancel(client, shop.key, order_id).get_json()["status"] == "canceled"

        session = dashboard.checkout(shop.payment_link, order_id)
        run_event_task(
            client, post_event(client, session_event("checkout.session.completed", session))
        )
        assert api_order_json(client, shop.key, order_id)["status"] == "paid"
        assert notified(app, order_id) == ["payment_canceled", "payment_succeeded"]
        page = admin_client.get(f"/admin/orders/{order_id}").text
        assert "paid after the order was canceled" in page
