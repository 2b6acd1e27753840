"""POST /webhooks/stripe: signed events move orders once, in order, and queue notifications."""

import json
import os
import re
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.stripe_events import HANDLERS
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_open_order,
    api_order_json,
    csrf_token,
    notified,
    order_page,
    short_lock_waits,
    simulate,
    transitions,
)
from tests.plugins import signed_events
from tests.stripe_signing import (
    WEBHOOK_SECRET,
    event,
    payment_intent,
    post_event,
    queued_event_ids,
    run_event_task,
    signature,
)

# The app and the order each test here starts from, as in tests/test_money_states.py.
app_config = signed_events.app_config
order = signed_events.order


def alert_check(runner) -> dict:
    return json.loads(runner.invoke(args=["alerts", "check", "--json"]).output)


def alert_list(runner) -> list[dict]:
    return json.loads(runner.invoke(args=["alerts", "list", "--json"]).output)


def intent_event(kind, order, status, intent_id="pi_1", **extra):
    amount = extra.pop("amount", 1500)
    return event(kind, payment_intent(order["orderId"], amount, status, intent_id, **extra))


def test_payment_succeeded_marks_paid_and_queues_one_notification(app, client, provider_key, order):
    response = post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    applied = run_event_task(client, response)
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "result": "queued"}
    assert applied == "applied"
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "paid"
    assert body["stripePaymentIntentId"] == "pi_1"
    assert body["paidAmount"] == body["amount"]
    assert notified(app, order["orderId"]) == ["payment_succeeded"]


def test_processing_then_succeeded(client, provider_key, order):
    run_event_task(
        client, post_event(client, intent_event("payment_intent.processing", order, "processing"))
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "processing"
    run_event_task(
        client, post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"


def test_failed_then_retry_succeeds(app, client, provider_key, order):
    failed = post_event(
        client, intent_event("payment_intent.payment_failed", order, "requires_payment_method")
    )
    run_event_task(client, failed)
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "failed"
    run_event_task(
        client, post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"
    assert notified(app, order["orderId"]) == ["payment_failed", "payment_succeeded"]
    assert transitions(app, order["orderId"]) == ["pending → failed", "failed → paid"]


def test_canceled_is_final_and_notified(app, client, provider_key, order):
    run_event_task(
        client, post_event(client, intent_event("payment_intent.canceled", order, "canceled"))
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "canceled"
    run_event_task(
        client, post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    )
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "canceled"
    assert notified(app, order["orderId"]) == ["payment_canceled"]


def test_same_event_twenty_times_changes_once_and_notifies_once(app, client, provider_key, order):
    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    responses = [post_event(client, payload) for _ in range(20)]
    assert [response.get_json()["result"] for response in responses] == (
        ["queued"] + ["duplicate"] * 19
    )
    assert [run_event_task(client, response) for response in responses] == (
        ["applied"] + [None] * 19
    )
    assert transitions(app, order["orderId"]) == ["pending → paid"]
    assert notified(app, order["orderId"]) == ["payment_succeeded"]


def test_late_failure_after_success_never_downgrades(app, client, provider_key, order):
    run_event_task(
        client, post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    )
    response = post_event(
        client, intent_event("payment_intent.payment_failed", order, "requires_payment_method")
    )
    run_event_task(client, response)
    assert response.status_code == 200
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"
    assert notified(app, order["orderId"]) == ["payment_succeeded"]


def test_paid_amount_below_the_order_is_underpaid_not_paid(
    app, client, admin_client, provider_key, order
):
    run_event_task(
        client,
        post_event(
            client, intent_event("payment_intent.succeeded", order, "succeeded", amount=1000)
        ),
    )
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "underpaid"
    assert body["amountMismatch"] is True
    assert body["paidAmount"] == Decimal("10.00") and body["amount"] == Decimal("15.00")
    page = order_page(admin_client, order["orderId"])
    assert "Paid $10.00, expected $15.00" in page
    assert notified(app, order["orderId"]) == ["payment_underpaid"]


def test_paid_amount_above_the_order_is_paid_and_flagged(client, provider_key, order):
    run_event_task(
        client,
        post_event(
            client, intent_event("payment_intent.succeeded", order, "succeeded", amount=2000)
        ),
    )
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "paid" and body["amountMismatch"] is True
    assert body["paidAmount"] == Decimal("20.00")


def test_intent_found_by_id_without_metadata(client, provider_key, order):
    run_event_task(
        client,
        post_event(client, intent_event("payment_intent.processing", order, "processing", "pi_77")),
    )
    bare = payment_intent(None, 1500, "succeeded", "pi_77")
    run_event_task(client, post_event(client, event("payment_intent.succeeded", bare)))
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"


@pytest.fixture
def button_order(client, make):
    service_id = make.service(
        title="Pro", price="300", buy_button_id="buy_btn_1A", stripe_payment_link_id="plink_1A"
    )
    key = make.provider(
        service_id=service_id, use_stripe_checkout=True, webhook_url=UNREACHABLE_HOOK
    ).api_key
    created = api_open_order(client, key, externalId="B-1").get_json()
    return key, created["orderId"]


def session(order_id, payment_status="paid", amount_total=30000, intent="pi_cs"):
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "client_reference_id": order_id,
        "payment_status": payment_status,
        "payment_intent": intent,
        "amount_total": amount_total,
        "currency": "usd",
    }


# Completed and async-payment sessions are verified with Stripe: tests/test_buy_button.py.


def test_expired_session_after_a_failure_changes_nothing(app, client, button_order):
    key, order_id = button_order
    assert simulate(client, order_id, "failed").status_code == 303
    run_event_task(
        client, post_event(client, event("checkout.session.expired", session(order_id, "unpaid")))
    )
    assert api_order_json(client, key, order_id)["status"] == "failed"
    assert notified(app, order_id) == ["payment_failed"]


def test_expired_session_leaves_the_order_payable(app, client, admin_client, button_order):
    key, order_id = button_order
    response = post_event(client, event("checkout.session.expired", session(order_id, "unpaid")))
    applied = run_event_task(client, response)
    assert response.status_code == 200 and applied == "no change"
    assert api_order_json(client, key, order_id)["status"] == "pending"
    page = order_page(admin_client, order_id)
    assert "A Checkout Session expired unpaid; it can still be paid" in page
    assert notified(app, order_id) == []


def test_unknown_type_is_acknowledged_and_ignored(client, provider_key, order):
    response = post_event(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200
    assert response.get_json()["result"] == "ignored: unhandled type"


def test_unknown_order_is_acknowledged_and_changes_nothing(client, provider_key, order):
    stranger = {"orderId": "ord_" + "0" * 24}
    unknown = payment_intent(None, 1500, "succeeded", "pi_unknown", metadata=stranger)
    response = post_event(client, event("payment_intent.succeeded", unknown))
    applied = run_event_task(client, response)
    assert response.status_code == 200
    assert response.get_json()["result"] == "queued"
    assert applied == "ignored: no order for this PaymentIntent"
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


def test_stale_signature_is_refused(client, provider_key, order):
    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    response = post_event(client, payload, timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


def test_replayed_request_with_old_signature_is_refused(client, provider_key, order):
    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    body = json.dumps(payload).encode()
    old = signature(body, timestamp=int(time.time()) - 3600)
    response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": old})
    assert response.status_code == 400
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


BAD_DATA = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": [1]}'
THIN_EVENT = b'{"id": "evt_2", "object": "v2.core.event", "type": "v1.billing.meter.error"}'


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, sig: (body.replace(b"succeeded", b"succeedex"), sig),
        lambda body, sig: (body, sig.replace("v1=", "v1=0")),
        lambda body, sig: (body, signature(body, secret="whsec_other")),
        lambda body, sig: (body, ""),
        lambda body, sig: (body, "garbage"),
        lambda body, sig: (b"not json", signature(b"not json")),
        lambda body, sig: (b"[1, 2]", signature(b"[1, 2]")),
        lambda body, sig: (b'{"id": 5}', signature(b'{"id": 5}')),
        lambda body, sig: (BAD_DATA, signature(BAD_DATA)),
        lambda body, sig: (THIN_EVENT, signature(THIN_EVENT)),
        lambda body, sig: (b"\xff\xfe{}", sig),
    ],
)
def test_bad_requests_are_400_and_change_nothing(client, provider_key, order, tamper):
    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    body = json.dumps(payload).encode()
    body, sig = tamper(body, signature(body))
    headers = {"Stripe-Signature": sig} if sig else {}
    response = client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


def test_oversized_event_is_413(client, provider_key, order):
    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    payload["data"]["object"]["padding"] = "x" * 300_000
    response = post_event(client, payload)
    assert response.status_code == 413
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


class TestWithoutSecret:
    @pytest.fixture
    def app_config(self):
        return {}

    def test_unconfigured_webhooks_answer_503_so_stripe_retries(self, client, provider_key, order):
        payload = intent_event("payment_intent.succeeded", order, "succeeded")
        assert post_event(client, payload).status_code == 503
        assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"


def test_admin_can_refund_in_sandbox(client, admin_client, provider_key, order):
    run_event_task(
        client, post_event(client, intent_event("payment_intent.succeeded", order, "succeeded"))
    )
    url = f"/admin/orders/{order['orderId']}"
    token = csrf_token(admin_client.get(url).text)
    too_much = admin_client.post(f"{url}/refund", data={"amount": "20", "csrf_token": token})
    assert too_much.status_code == 422
    assert "at most what is left" in too_much.text
    response = admin_client.post(f"{url}/refund", data={"amount": "5", "csrf_token": token})
    assert response.status_code == 302
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "partially_refunded" and body["refundedAmount"] == Decimal("5.00")
    assert body["fullyRefunded"] is False
    admin_client.post(f"{url}/refund", data={"amount": "", "csrf_token": token})
    body = api_order_json(client, provider_key, order["orderId"])
    assert body["status"] == "refunded" and body["refundedAmount"] == Decimal("15.00")
    assert body["fullyRefunded"] is True
    again = admin_client.post(f"{url}/refund", data={"amount": "", "csrf_token": token})
    assert again.status_code == 422


def test_unpaid_order_cannot_be_refunded(admin_client, order):
    url = f"/admin/orders/{order['orderId']}"
    token = csrf_token(admin_client.get("/admin/services/new").text)
    response = admin_client.post(f"{url}/refund", data={"amount": "", "csrf_token": token})
    assert response.status_code == 422
    assert "Only a paid order" in response.text


def test_stripe_hears_200_once_the_event_is_recorded_and_a_worker_applies_it(
    app, client, admin_client, provider_key, order
):
    from checkout import tasks

    payload = intent_event("payment_intent.succeeded", order, "succeeded")
    response = post_event(client, payload)
    assert response.get_json() == {"received": True, "result": "queued"}
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"
    waiting = admin_client.get("/admin/stripe-events?state=waiting").text
    assert payload["id"] in waiting
    assert 'data-stripe-events="waiting">1<' in admin_client.get("/admin/").text

    assert payload["id"] in queued_event_ids(app)
    with app.app_context():
        assert tasks.apply_stripe_event.call_local(payload["id"]) == "applied"
        assert tasks.apply_stripe_event.call_local(payload["id"]) is None  # a second copy
    assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"
    assert notified(app, order["orderId"]) == ["payment_succeeded"]
    events = admin_client.get("/admin/stripe-events").text
    assert payload["id"] in events and ">applied<" in events
    assert payload["id"] not in admin_client.get("/admin/stripe-events?state=waiting").text


def test_unknown_filter_of_stripe_events_is_422(admin_client):
    assert admin_client.get("/admin/stripe-events?state=lost").status_code == 422


class TestApplyFailures:
    """A worker that cannot apply an event rolls back, counts the attempt and tries again."""

    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "OUTBOX_SWEEP_GRACE_SECONDS": 0}

    @pytest.fixture
    def refusing_orders(self, app):
        """A database trigger that refuses every change to an order: a real fault, no mock."""
        from sqlalchemy import text

        from checkout.extensions import db

        postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
        with app.app_context(), db.engine.begin() as connection:
            if postgres:
                connection.execute(text(
                    "CREATE FUNCTION kassa_refuse() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$"
                ))  # fmt: skip
                connection.execute(text(
                    "CREATE TRIGGER kassa_refuse BEFORE UPDATE ON orders"
                    " FOR EACH ROW EXECUTE FUNCTION kassa_refuse()"
                ))  # fmt: skip
            else:
                connection.execute(text(
                    "CREATE TRIGGER kassa_refuse BEFORE UPDATE ON orders"
                    " BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
                ))  # fmt: skip

        def lift():
            with app.app_context(), db.engine.begin() as connection:
                connection.execute(
                    text(
                        "DROP TRIGGER IF EXISTS kassa_refuse ON orders"
                        if postgres
                        else "DROP TRIGGER IF EXISTS kassa_refuse"
                    )
                )
                if postgres:
                    connection.execute(text("DROP FUNCTION IF EXISTS kassa_refuse()"))

        try:
            yield lift
        finally:
            lift()

    def test_failed_attempts_are_retried_then_shown_and_retried_by_an_admin(
        self, app, client, admin_client, runner, provider_key, order, refusing_orders
    ):
        from checkout import tasks
        from checkout.stripe_events import MAX_APPLY_ATTEMPTS

        payload = intent_event("payment_intent.succeeded", order, "succeeded")
        assert post_event(client, payload).get_json()["result"] == "queued"
        queued_event_ids(app)
        for attempt in range(1, MAX_APPLY_ATTEMPTS + 1):
            with app.app_context(), pytest.raises(Exception, match="refused by test trigger"):
                tasks.apply_stripe_event.call_local(payload["id"])
            page = admin_client.get("/admin/stripe-events").text
            assert re.search(rf"failed: \w+</td>\s*<td[^>]*class=\"num\">{attempt}<", page)
            assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"
            assert notified(app, order["orderId"]) == []
            # The sweep queues it again until the attempts run out.
            swept = json.loads(runner.invoke(args=["sweep-outbox", "--json"]).output)
            assert swept["stripeEvents"] == (1 if attempt < MAX_APPLY_ATTEMPTS else 0)
            assert (payload["id"] in queued_event_ids(app)) == (attempt < MAX_APPLY_ATTEMPTS)

        dashboard = admin_client.get("/admin/").text
        assert "1 Stripe event could not be applied" in dashboard
        assert 'data-stripe-events="failed">1<' in dashboard
        failed = admin_client.get("/admin/stripe-events?state=failed").text
        assert payload["id"] in failed and "Retry" in failed
        # The operator is alerted of it (checkout.alerts), and told when it clears.
        assert alert_check(runner) == {"opened": 1, "resolved": 0}
        assert [row["condition"] for row in alert_list(runner)] == ["stripe_events_failing"]

        refusing_orders()  # the cause is fixed
        retry_url = f"/admin/stripe-events/{payload['id']}/retry"
        assert admin_client.post(retry_url).status_code == 400  # no form token
        response = admin_client.post(retry_url, data={"csrf_token": csrf_token(failed)})
        assert response.status_code == 302
        assert queued_event_ids(app) == [payload["id"]]
        with app.app_context():
            assert tasks.apply_stripe_event.call_local(payload["id"]) == "applied"
        assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"
        assert notified(app, order["orderId"]) == ["payment_succeeded"]
        assert 'data-stripe-events="failed">0<' in admin_client.get("/admin/").text
        assert alert_check(runner) == {"opened": 0, "resolved": 1}
        again = admin_client.post(retry_url, data={"csrf_token": csrf_token(failed)})
        assert again.status_code == 409
        assert (
            admin_client.post(
                "/admin/stripe-events/evt_missing/retry", data={"csrf_token": csrf_token(failed)}
            ).status_code
            == 404
        )


class TestDatabaseTrouble:
    """A webhook that cannot be committed answers 5xx, so Stripe's retry still applies it."""

    @pytest.fixture
    def app_config(self):
        return {
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SQLALCHEMY_ENGINE_OPTIONS": short_lock_waits(),
        }

    def test_locked_database_means_503_then_the_retry_applies(self, app, client, provider_key):
        from sqlalchemy import text

        from checkout.extensions import db

        order = api_open_order(client, provider_key, externalId="LOCK").get_json()
        payload = intent_event("payment_intent.succeeded", order, "succeeded")
        with app.app_context():
            blocker = db.engine.connect()
            if db.engine.dialect.name == "postgresql":
                blocker.execute(text("LOCK TABLE stripe_events IN ACCESS EXCLUSIVE MODE"))
            else:
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                response = post_event(client, payload)
            finally:
                blocker.rollback()
                blocker.close()
        # A lock that outlasts the wait is an outage to Stripe too: it retries later.
        assert (response.status_code, response.headers["Retry-After"]) == (503, "5")
        assert api_order_json(client, provider_key, order["orderId"])["status"] == "pending"
        retry = post_event(client, payload)
        retry_applied = run_event_task(client, retry)
        assert retry.status_code == 200
        assert retry.get_json()["result"] == "queued"
        assert retry_applied == "applied"
        assert api_order_json(client, provider_key, order["orderId"])["status"] == "paid"


fuzzed_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(sorted(HANDLERS)) | st.text(max_size=30),
    fields=st.dictionaries(
        st.sampled_from(
            ["id", "metadata", "amount_received", "amount_total", "amount_refunded", "currency",
             "payment_intent", "client_reference_id", "payment_status"]
        ),
        fuzzed_values,
    ),
    use_order=st.booleans(),
    data=fuzzed_values,
    use_data=st.booleans(),
)  # fmt: skip
def test_signed_events_of_any_shape_never_error(
    client, provider_key, kind, fields, use_order, data, use_data
):
    """Stripe's signature proves who sent an event, not that it has the fields we expect."""
    order = api_open_order(client, provider_key).get_json()  # a fresh pending order each time
    data_object = dict(fields)
    if use_order:
        data_object.setdefault("metadata", {"orderId": order["orderId"]})
        data_object.setdefault("client_reference_id", order["orderId"])
    payload = event(kind, data_object)
    if use_data:
        payload["data"] = data
    response = post_event(client, payload)
    run_event_task(client, response)
    assert response.status_code in {200, 400}, response.data
    assert response.is_json


def test_an_event_naming_another_orders_payment_intent_still_applies(
    client, admin_client, provider_key, order
):
    run_event_task(
        client,
        post_event(client, intent_event("payment_intent.succeeded", order, "succeeded", "pi_1")),
    )
    other = api_open_order(client, provider_key, externalId="EXT-2", amount=15).get_json()
    response = post_event(
        client, intent_event("payment_intent.payment_failed", other, "failed", "pi_1")
    )
    assert run_event_task(client, response) == "applied"
    body = api_order_json(client, provider_key, other["orderId"])
    assert body["status"] == "failed" and body["stripePaymentIntentId"] is None
    assert f"PaymentIntent pi_1 pays order {order['orderId']}" in order_page(
        admin_client, other["orderId"]
    )


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}),
        ("charge.dispute.created", {"id": "dp_1", "object": "dispute", "charge": "ch_1"}),
        ("checkout.session.completed", {"id": "cs_1", "object": "checkout.session"}),
    ],
)
def test_events_that_would_ask_stripe_apply_without_it_in_sandbox_mode(client, kind, data):
    # Found by test_signed_events_of_any_shape_never_error: without Stripe keys, a signed
    # charge.refunded made the worker ask Stripe for the charge's refunds, with no key.
    applied = run_event_task(client, post_event(client, event(kind, data)))
    assert applied is not None and not applied.startswith("failed"), applied
