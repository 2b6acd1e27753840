"""Money to the end: underpayments held for an admin, refunds kept per Stripe refund (and
taken back when they fail), disputes, and events arriving out of order."""

import re
import time
from decimal import Decimal

import pytest

from tests.helpers import (
    api_open_order,
    api_order_json,
    csrf_token,
    notified,
    order_page,
    pay_with_card,
    transitions,
)
from tests.plugins import signed_events
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, post_event, run_event_task

# The app and the order each test here starts from, as in tests/test_stripe_webhooks.py.
app_config = signed_events.app_config
order = signed_events.order


def succeeded(order, amount=1500, intent_id="pi_1", currency="usd", **extra):
    intent = payment_intent(order["orderId"], amount, "succeeded", intent_id, currency=currency)
    return event("payment_intent.succeeded", intent, **extra)


def refund_form(admin_client, order_id: str) -> dict:
    """The fields of the refund form on the admin's order page, as the browser sends them."""
    page = admin_client.get(f"/admin/orders/{order_id}/refund").text  # the confirmation
    key = re.search(r'name="request_key" value="([^"]+)"', page)
    return {"csrf_token": csrf_token(page), "request_key": key[1]}


# Underpaid is not paid.


def test_underpaid_order_waits_for_an_admin_who_accepts_it(
    app, client, admin_client, provider_key, order
):
    run_event_task(client, post_event(client, succeeded(order, amount=1000)))
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "underpaid"
    assert body["paidAmount"] == Decimal("10.00") and body["amount"] == Decimal("15.00")
    dashboard = admin_client.get("/admin/").text
    assert 'data-attention="underpaid"' in dashboard
    page = order_page(admin_client, order["orderId"])
    assert notified(app, order["orderId"]) == ["payment_underpaid"]
    assert "data-underpaid" in page

    accept = f"/admin/orders/{order['orderId']}/accept"
    assert admin_client.post(accept).status_code == 400  # no form token
    response = admin_client.post(accept, data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "paid" and body["paidAmount"] == Decimal("10.00")
    page = order_page(admin_client, order["orderId"])
    assert notified(app, order["orderId"]) == ["payment_underpaid", "payment_succeeded"]
    assert admin_client.post(accept, data={"csrf_token": csrf_token(page)}).status_code == 409
    assert notified(app, order["orderId"]) == [
        "payment_underpaid",
        "payment_succeeded",
    ]
    assert 'data-attention="underpaid"' not in admin_client.get("/admin/").text


def test_payment_in_another_currency_is_underpaid(client, provider_key, order):
    run_event_task(client, post_event(client, succeeded(order, amount=150000, currency="jpy")))
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "underpaid"
    assert body["paidCurrency"] == "jpy" and body["paidAmount"] == Decimal("150000")


def test_underpaid_order_is_refunded_in_full_or_not_at_all(
    app, client, admin_client, provider_key, order
):
    run_event_task(client, post_event(client, succeeded(order, amount=1000)))
    url = f"/admin/orders/{order['orderId']}/refund"
    part = admin_client.post(
        url, data={"amount": "4", **refund_form(admin_client, order["orderId"])}
    )
    assert part.status_code == 422 and "refunded in full, or accepted" in part.text
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "underpaid"
    whole = admin_client.post(
        url, data={"amount": "", **refund_form(admin_client, order["orderId"])}
    )
    assert whole.status_code == 302
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "refunded" and body["refundedAmount"] == Decimal("10.00")
    assert body["fullyRefunded"] is True
    assert notified(app, order["orderId"]) == [
        "payment_underpaid",
        "payment_refunded",
    ]


def test_accept_of_an_unknown_order_is_404(admin_client):
    page = admin_client.get("/admin/").text
    response = admin_client.post(
        "/admin/orders/ord_" + "0" * 24 + "/accept", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 404


# Disputes.


def dispute(status="needs_response", intent_id="pi_1", due_by=1_900_000_000, **extra):
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1500,
        "currency": "usd",
        "charge": "ch_1",
        "payment_intent": intent_id,
        "reason": "fraudulent",
        "status": status,
        "evidence_details": {"due_by": due_by, "has_evidence": False, "past_due": False},
        **extra,
    }


def test_dispute_won_goes_back_to_paid(app, client, admin_client, provider_key, order):
    run_event_task(client, post_event(client, succeeded(order)))
    run_event_task(client, post_event(client, event("charge.dispute.created", dispute())))
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "disputed"
    assert body["dispute"] == {
        "id": "dp_1",
        "status": "needs_response",
        "reason": "fraudulent",
        "amount": Decimal("15.00"),
        "evidenceDueBy": "2030-03-17T17:46:40.000Z",
    }
    page = order_page(admin_client, order["orderId"])
    assert "data-dispute" in page and "2030-03-17 17:46 UTC" in page
    assert 'data-attention="disputed"' in admin_client.get("/admin/").text
    url = f"/admin/orders/{order['orderId']}/refund"
    assert "request_key" not in page  # no refund form on a disputed order
    form = {"csrf_token": csrf_token(page), "request_key": "k" * 20}
    refused = admin_client.post(url, data=form)
    assert refused.status_code == 422 and "Only a paid order" in refused.text

    run_event_task(
        client, post_event(client, event("charge.dispute.updated", dispute("under_review")))
    )
    assert (
        api_order_json(client, provider_key, order["orderId"])["dispute"]["status"]
        == "under_review"
    )
    run_event_task(client, post_event(client, event("charge.dispute.closed", dispute("won"))))
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "paid" and body["dispute"]["status"] == "won"
    assert notified(app, order["orderId"]) == [
        "payment_succeeded",
        "payment_disputed",
        "dispute_won",
    ]


def test_dispute_lost_is_final(app, client, provider_key, order):
    run_event_task(client, post_event(client, succeeded(order)))
    run_event_task(client, post_event(client, event("charge.dispute.created", dispute())))
    run_event_task(client, post_event(client, event("charge.dispute.closed", dispute("lost"))))
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "dispute_lost"
    run_event_task(client, post_event(client, succeeded(order)))
    run_event_task(client, post_event(client, event("charge.dispute.closed", dispute("won"))))
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "dispute_lost"
    assert notified(app, order["orderId"]) == [
        "payment_succeeded",
        "payment_disputed",
        "dispute_lost",
    ]


def test_dispute_of_an_unknown_payment_changes_nothing(client, provider_key, order):
    run_event_task(client, post_event(client, succeeded(order)))
    response = post_event(client, event("charge.dispute.created", dispute(intent_id="pi_other")))
    applied = run_event_task(client, response)
    assert applied == "ignored: no order for this dispute"
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"


# Events out of order.


def intent_event(kind, order, status, created, intent_id="pi_1"):
    intent = payment_intent(order["orderId"], 1500, status, intent_id)
    return {**event(kind, intent), "created": created}


def test_late_processing_never_moves_a_failed_order_back(
    app, client, admin_client, provider_key, order
):
    now = int(time.time())
    run_event_task(
        client,
        post_event(client, intent_event("payment_intent.payment_failed", order, "failed", now)),
    )
    stale = post_event(
        client, intent_event("payment_intent.processing", order, "processing", now - 5)
    )
    assert run_event_task(client, stale) == "no change"
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "failed"
    retry = post_event(
        client, intent_event("payment_intent.processing", order, "processing", now + 5)
    )
    assert run_event_task(client, retry) == "applied"
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "processing"
    page = order_page(admin_client, order["orderId"])
    assert transitions(app, order["orderId"]) == ["pending → failed", "failed → processing"]
    assert "processing ignored, older than the last change" in page


def test_late_failure_never_moves_a_retry_back(client, provider_key, order):
    now = int(time.time())
    run_event_task(
        client,
        post_event(client, intent_event("payment_intent.processing", order, "processing", now)),
    )
    run_event_task(
        client,
        post_event(client, intent_event("payment_intent.payment_failed", order, "failed", now - 5)),
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "processing"


# Refunds against the Stripe stand-in: each refund kept by id, with Stripe's status.


class TestRefundsWithStripe:
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
        order_id = api_open_order(client, provider_key, amount=15).get_json()["orderId"]
        client.get(f"/checkout?orderId={order_id}")
        intent_id = api_order_json(client, provider_key, order_id)["stripePaymentIntentId"]
        pay_with_card(stripe_client, intent_id, "4242424242424242")
        client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")  # back from Cash App
        assert api_order_json(client, provider_key, order_id)["status"] == "paid"
        return order_id, intent_id

    def refunds_at_stripe(self, stripe_client, intent_id):
        listed = stripe_client.v1.refunds.list(params={"payment_intent": intent_id})
        return [refund.amount for refund in listed.data]

    def test_double_click_is_one_refund_and_two_forms_are_two(
        self, app, client, admin_client, provider_key, stripe_client, paid
    ):
        order_id, intent_id = paid
        url = f"/admin/orders/{order_id}/refund"
        form = {"amount": "2", **refund_form(admin_client, order_id)}
        first, second = admin_client.post(url, data=form), admin_client.post(url, data=form)
        assert first.status_code == second.status_code == 302
        assert self.refunds_at_stripe(stripe_client, intent_id) == [200]
        assert api_order_json(client, provider_key, order_id)["refundedAmount"] == Decimal("2.00")

        admin_client.post(url, data={"amount": "2", **refund_form(admin_client, order_id)})
        assert self.refunds_at_stripe(stripe_client, intent_id) == [200, 200]
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "partially_refunded"
        assert body["refundedAmount"] == Decimal("4.00")
        assert notified(app, order_id) == [
            "payment_succeeded",
            "payment_refunded",
            "payment_refunded",
        ]

    def test_failed_refund_is_taken_back_out(
        self, app, client, admin_client, provider_key, stripe_client, stripe_standin, paid
    ):
        import requests

        order_id, intent_id = paid
        admin_client.post(
            f"/admin/orders/{order_id}/refund",
            data={"amount": "", **refund_form(admin_client, order_id)},
        )
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "refunded" and body["fullyRefunded"] is True
        refund_id = stripe_client.v1.refunds.list(params={"payment_intent": intent_id}).data[0].id

        failed = requests.post(
            f"{stripe_standin}/_kassa/refunds/{refund_id}", json={"status": "failed"}, timeout=5
        ).json()
        assert (
            run_event_task(client, post_event(client, event("refund.failed", failed))) == "applied"
        )
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "paid" and body["refundedAmount"] is None
        page = order_page(admin_client, order_id)
        assert notified(app, order_id) == [
            "payment_succeeded",
            "payment_refunded",
            "payment_refund_failed",
        ]
        assert "refunded → paid" in page
        # A late success report of the same refund does not bring it back.
        late = {**failed, "status": "succeeded"}
        assert (
            run_event_task(client, post_event(client, event("refund.updated", late))) == "no change"
        )
        assert api_order_json(client, provider_key, order_id)["status"] == "paid"

    def test_refund_made_in_stripe_before_the_payment_event_is_kept(
        self, app, client, provider_key, stripe_client
    ):
        order_id = api_open_order(client, provider_key, amount=15).get_json()["orderId"]
        client.get(f"/checkout?orderId={order_id}")
        intent_id = api_order_json(client, provider_key, order_id)["stripePaymentIntentId"]
        pay_with_card(stripe_client, intent_id, "4242424242424242")
        refund = stripe_client.v1.refunds.create(
            params={"payment_intent": intent_id, "amount": 600}
        )
        created = post_event(client, event("refund.created", refund.to_dict()))
        created_applied = run_event_task(client, created)
        assert created_applied == "kept: order not paid yet"
        assert api_order_json(client, provider_key, order_id)["status"] == "pending"

        intent = stripe_client.v1.payment_intents.retrieve(intent_id).to_dict()
        run_event_task(client, post_event(client, event("payment_intent.succeeded", intent)))
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "partially_refunded"
        assert body["refundedAmount"] == Decimal("6.00")
        assert transitions(app, order_id) == [
            "pending → paid",
            "paid → partially_refunded",
        ]

    def test_charge_refunded_lists_the_refunds_from_stripe(
        self, app, client, provider_key, stripe_client, paid
    ):
        order_id, intent_id = paid
        for amount in (500, 1000):  # refunded in Stripe's dashboard
            stripe_client.v1.refunds.create(params={"payment_intent": intent_id, "amount": amount})
        latest = stripe_client.v1.payment_intents.retrieve(intent_id).latest_charge
        charge_id = latest if isinstance(latest, str) else latest.id
        charge = {
            **stripe_client.v1.charges.retrieve(charge_id).to_dict(),
            "payment_intent": intent_id,
        }
        assert (
            run_event_task(client, post_event(client, event("charge.refunded", charge)))
            == "applied"
        )
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "refunded" and body["refundedAmount"] == Decimal("15.00")
        assert notified(app, order_id) == [
            "payment_succeeded",
            "payment_refunded",
        ]

    def test_refunds_never_add_up_to_more_than_was_paid(
        self, client, admin_client, provider_key, paid
    ):
        order_id, intent_id = paid
        for number, amount in enumerate((1000, 1000)):
            refund = {
                "id": f"re_over{number}",
                "object": "refund",
                "amount": amount,
                "currency": "usd",
                "payment_intent": intent_id,
                "status": "succeeded",
            }
            run_event_task(client, post_event(client, event("refund.created", refund)))
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "refunded" and body["refundedAmount"] == Decimal("15.00")
        assert "more than the $15.00 paid" in order_page(admin_client, order_id)

    def test_stripe_refuses_a_refund_beyond_what_is_left_and_nothing_is_recorded(
        self, app, client, admin_client, provider_key, stripe_client, paid
    ):
        order_id, intent_id = paid
        # Refunded in Stripe's dashboard; Kassa has not heard of it yet.
        stripe_client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 1000})
        response = admin_client.post(
            f"/admin/orders/{order_id}/refund",
            data={"amount": "15", **refund_form(admin_client, order_id)},
            follow_redirects=True,
        )
        assert "greater than unrefunded amount on charge ($5.00)" in response.text
        assert self.refunds_at_stripe(stripe_client, intent_id) == [1000]
        body = api_order_json(client, provider_key, order_id)
        assert body["status"] == "paid" and body["refundedAmount"] is None
        assert notified(app, order_id) == ["payment_succeeded"]

    def test_a_dispute_naming_only_its_charge_is_found_through_stripe(
        self, client, provider_key, stripe_client, paid
    ):
        order_id, intent_id = paid
        latest = stripe_client.v1.payment_intents.retrieve(intent_id).latest_charge
        charge_id = latest if isinstance(latest, str) else latest.id
        opened = dispute(intent_id=None, charge=charge_id)
        assert (
            run_event_task(client, post_event(client, event("charge.dispute.created", opened)))
            == "applied"
        )
        assert api_order_json(client, provider_key, order_id)["status"] == "disputed"
