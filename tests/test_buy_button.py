"""Buy Button orders: settled only by their own Payment Link's sessions, for what was bought.

The real stripe SDK talks to the stand-in (tests/standin/checkout.py), where each test plays
the merchant's dashboard (a Payment Link) and the customer (a completed Checkout Session);
then Stripe's signed event is posted to Kassa and a worker's task applies it.
"""

import html
import json
import re
from decimal import Decimal

import pytest
import requests

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_open_order,
    api_order_json,
    create_link,
    notified,
    order_from,
    order_page,
    pay_link,
    transitions,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, post_event, run_event_task

SECRET_KEY = "sk_test_kassa"


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
        "STRIPE_API_BASE": stripe_standin,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


class StripeDashboard:
    """What a merchant and their customers do at Stripe, through the stand-in's controls."""

    def __init__(self, base: str):
        self.base = base

    def _post(self, path: str, body: dict) -> dict:
        response = requests.post(
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def payment_link(self, unit_amount: int = 500, currency: str = "usd", **fields) -> str:
        """A Payment Link selling one product; its id."""
        body = {"unit_amount": unit_amount, "currency": currency, **fields}
        return self._post("/_kassa/payment_links", body)["id"]

    def checkout(self, payment_link: str | None, order_id: str, quantity: int = 1, **fields):
        """A customer finishes Stripe's page for an order; the session, with its line items."""
        body = {
            "payment_link": payment_link,
            "client_reference_id": order_id,
            "quantity": quantity,
            **fields,
        }
        return self._post("/_kassa/checkout_sessions", body)

    def update_session(self, session_id: str, **fields) -> dict:
        return self._post(f"/_kassa/checkout_sessions/{session_id}", fields)


@pytest.fixture
def dashboard(stripe_standin):
    return StripeDashboard(stripe_standin)


class Shop:
    """A $5 service sold through a Buy Button, its Payment Link, and a provider's key."""

    def __init__(self, make, dashboard):
        self.payment_link = dashboard.payment_link(unit_amount=500)
        self.service_id = make.service(
            title="Credits",
            price="5",
            slug="credits",
            buy_button_id="buy_btn_1Credits",
            stripe_payment_link_id=self.payment_link,
        )
        self.key = make.provider(
            service_id=self.service_id, use_stripe_checkout=True, webhook_url=UNREACHABLE_HOOK
        ).api_key


@pytest.fixture
def shop(make, dashboard):
    return Shop(make, dashboard)


def session_event(event_type: str, session: dict) -> dict:
    """Stripe's signed event for a session: without line_items, which events never carry."""
    return event(event_type, {k: v for k, v in session.items() if k != "line_items"})


def event_result(admin_client, event_id: str) -> str:
    """The result the admin's Stripe events page shows for one event."""
    page = admin_client.get("/admin/stripe-events").text
    row = re.search(rf'<tr data-stripe-event="{event_id}">(.*?)</tr>', page, re.S)[1]
    return html.unescape(re.search(r"<td[^>]*data-result>(.*?)</td>", row, re.S)[1])


def notification_payloads(admin_client, order_id: str) -> list[dict]:
    """The bodies of the order's notifications, as the admin's delivery pages show them."""
    page = order_page(admin_client, order_id)
    payloads = []
    for notification_id in dict.fromkeys(re.findall(r"/admin/deliveries/(msg_\w+)", page)):
        delivery = admin_client.get(f"/admin/deliveries/{notification_id}").text
        body = re.search(r'<pre class="payload">(.*?)</pre>', delivery, re.S)[1]
        payloads.append(json.loads(html.unescape(body)))
    return payloads


# Stripe check: each Buy Button's Payment Link exists, is active, in the service's currency


def link_problems(runner) -> list[str]:
    """The Payment Link problems `flask --app app stripe check --json` reports."""
    result = runner.invoke(args=["stripe", "check", "--json"])
    report = json.loads(result.output)
    found = [
        line.removeprefix("payment_links: ")
        for line in report["problems"]
        if line.startswith("payment_links: ")
    ]
    assert result.exit_code == (1 if report["problems"] else 0)
    return found


def test_stripe_check_names_each_services_payment_link_problem(app, runner, make, dashboard):
    from checkout.extensions import db
    from checkout.models import Service

    def service(slug, link_id, **fields):
        return make.service(
            title=slug,
            slug=slug,
            buy_button_id="buy_btn_1" + slug.replace("-", ""),
            stripe_payment_link_id=link_id,
            **fields,
        )

    paused, euro = dashboard.payment_link(active=False), dashboard.payment_link(currency="eur")
    service("fine", dashboard.payment_link())
    service("paused", paused)
    service("euro", euro)
    service("gone", "plink_1Gone")
    service("retired", "plink_1Retired", active=False)  # not sold: not checked
    make.service(title="Cash only", slug="cash-only")
    legacy = service("legacy", "plink_1Legacy")
    with app.app_context():  # saved before a Buy Button needed its Payment Link
        db.session.get(Service, legacy).stripe_payment_link_id = None
        db.session.commit()
    assert link_problems(runner) == [
        f"Service euro: Payment Link {euro} charges EUR, the service is priced in USD",
        "Service gone: Stripe has no Payment Link plink_1Gone",
        "Service legacy: its Buy Button has no Stripe Payment Link ID (plink_…)",
        f"Service paused: Payment Link {paused} is not active",
    ]


class TestPaymentLinksUnreachable:
    @pytest.fixture
    def app_config(self):
        return {
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": "http://127.0.0.1:9",
        }

    def test_payment_link_that_cannot_be_checked_is_a_problem(self, runner, make):
        make.service(slug="pro", buy_button_id="buy_btn_1P", stripe_payment_link_id="plink_1P")
        [problem] = link_problems(runner)
        assert problem.startswith("Service pro: Payment Link plink_1P could not be checked (")


# Settlement: the quantity and amount Stripe says were bought


def test_three_units_bought_on_stripe_are_the_quantity_reported(
    app, client, admin_client, shop, dashboard
):
    order_id = api_open_order(client, shop.key, externalId="B-3").get_json()["orderId"]
    assert api_order_json(client, shop.key, order_id)["quantity"] == 1
    session = dashboard.checkout(shop.payment_link, order_id, quantity=3)
    assert session["amount_total"] == 1500

    response = post_event(client, session_event("checkout.session.completed", session))
    applied = run_event_task(client, response)
    assert applied == "applied"
    body = api_order_json(client, shop.key, order_id)
    assert body["status"] == "paid"
    assert body["quantity"] == 3
    assert body["amount"] == Decimal("15.00")
    assert body["paidAmount"] == Decimal("15.00")
    assert body["amountMismatch"] is False
    assert body["stripePaymentIntentId"] == session["payment_intent"]

    [payload] = notification_payloads(admin_client, order_id)
    assert payload["event"] == "payment_succeeded"
    assert (payload["quantity"], payload["amount"], payload["paidAmount"]) == (3, 15, 15)
    page = order_page(admin_client, order_id)
    assert "Stripe checkout.session.completed: 1 → 3 bought" in page
    assert transitions(app, order_id) == ["1 → 3", "pending → paid"]  # the quantity first


def test_paid_amount_is_what_was_charged_and_amount_is_quantity_times_price(
    client, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    taxed = dashboard.checkout(shop.payment_link, order_id, quantity=2, amount_tax=85)
    run_event_task(client, post_event(client, session_event("checkout.session.completed", taxed)))
    body = api_order_json(client, shop.key, order_id)
    assert body["quantity"] == 2
    assert body["amount"] == Decimal("10.00")
    assert body["paidAmount"] == Decimal("10.85")
    assert body["status"] == "paid"
    assert body["amountMismatch"] is True


def test_a_hundred_percent_promotion_code_pays_the_order(client, shop, dashboard):
    # Stripe's answer for a session with nothing to charge (a 100% promotion code the
    # merchant made in Stripe): the discount is the merchant's, not an underpayment.
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    free = dashboard.checkout(
        shop.payment_link, order_id, amount_discount=500, payment_status="no_payment_required"
    )
    assert free["amount_total"] == 0 and free["total_details"]["amount_discount"] == 500
    response = post_event(client, session_event("checkout.session.completed", free))
    applied = run_event_task(client, response)
    assert applied == "applied"
    body = api_order_json(client, shop.key, order_id)
    assert body["status"] == "paid"
    assert body["amount"] == Decimal("0.00") and body["discountAmount"] == Decimal("5.00")
    assert body["discountCode"] is None
    assert body["paidAmount"] == Decimal("0.00")
    assert body["stripePaymentIntentId"] is None


def test_a_promotion_code_on_stripes_page_is_the_discount_not_an_underpayment(
    client, admin_client, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id, quantity=3, amount_discount=300)
    assert session["amount_total"] == 1200
    run_event_task(client, post_event(client, session_event("checkout.session.completed", session)))
    body = api_order_json(client, shop.key, order_id)
    assert body["status"] == "paid" and body["amountMismatch"] is False
    assert body["quantity"] == 3
    assert body["amount"] == Decimal("12.00") and body["discountAmount"] == Decimal("3.00")
    assert "Stripe took $3.00 off" in order_page(admin_client, order_id)
    [payload] = notification_payloads(admin_client, order_id)
    assert (payload["amount"], payload["discountAmount"], payload["discountCode"]) == (12, 3, None)


def test_anything_else_below_the_amount_stays_underpaid(client, shop, dashboard):
    # The same Payment Link's page charging less with no discount (its price was lowered
    # in Stripe): the order is underpaid, and an admin decides.
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    cheaper = dashboard.checkout(shop.payment_link, order_id, unit_amount=300)
    assert cheaper["total_details"]["amount_discount"] == 0
    run_event_task(client, post_event(client, session_event("checkout.session.completed", cheaper)))
    body = api_order_json(client, shop.key, order_id)
    assert body["status"] == "underpaid"
    assert body["amount"] == Decimal("5.00") and body["discountAmount"] is None
    assert body["paidAmount"] == Decimal("3.00")


def test_unpaid_session_is_processing_until_the_async_payment_succeeds(
    app, client, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id, quantity=2, payment_status="unpaid")
    completed = session_event("checkout.session.completed", session)
    assert run_event_task(client, post_event(client, completed)) == "applied"
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["quantity"], body["amount"]) == ("processing", 2, Decimal(10))

    paid = dashboard.update_session(session["id"], payment_status="paid")
    response = post_event(client, session_event("checkout.session.async_payment_succeeded", paid))
    applied = run_event_task(client, response)
    assert applied == "applied"
    assert api_order_json(client, shop.key, order_id)["status"] == "paid"
    # Stripe sends completed again (a redelivery with a new id, or late): Stripe now says
    # paid, and nothing moves twice.
    late = post_event(client, session_event("checkout.session.completed", session))
    late_applied = run_event_task(client, late)
    assert late_applied == "no change"
    assert transitions(app, order_id) == ["1 → 2", "pending → processing", "processing → paid"]
    assert notified(app, order_id) == ["payment_succeeded"]


def test_unpaid_session_whose_async_payment_fails_fails_the_order(app, client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id, payment_status="unpaid")
    run_event_task(client, post_event(client, session_event("checkout.session.completed", session)))
    response = post_event(client, session_event("checkout.session.async_payment_failed", session))
    applied = run_event_task(client, response)
    assert applied == "applied"
    assert api_order_json(client, shop.key, order_id)["status"] == "failed"
    assert notified(app, order_id) == ["payment_failed"]


# Verification: only the order's own Payment Link, mode and currency settle it


def test_session_of_another_payment_link_changes_nothing(
    app, client, admin_client, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    cheap = dashboard.payment_link(unit_amount=100)
    session = dashboard.checkout(cheap, order_id, quantity=1)
    payload = session_event("checkout.session.completed", session)
    response = post_event(client, payload)
    applied = run_event_task(client, response)
    reason = (
        f"ignored: the session is from Payment Link {cheap}, not the service's {shop.payment_link}"
    )
    assert applied == reason
    assert event_result(admin_client, payload["id"]) == reason
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["quantity"], body["paidAmount"]) == ("pending", 1, None)
    assert body["stripePaymentIntentId"] is None
    assert notified(app, order_id) == []


def test_session_from_no_payment_link_changes_nothing(client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(None, order_id, unit_amount=500)
    response = post_event(client, session_event("checkout.session.completed", session))
    applied = run_event_task(client, response)
    assert applied == (
        f"ignored: the session is from no Payment Link, not the service's {shop.payment_link}"
    )
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"


def test_cash_app_order_named_by_a_session_changes_nothing(
    app, client, admin_client, make, shop, dashboard
):
    cash_key = make.provider(
        service_id=shop.service_id, name="Cash shop", webhook_url=UNREACHABLE_HOOK
    ).api_key
    order_id = api_open_order(client, cash_key, amount=5).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id)
    payload = session_event("checkout.session.completed", session)
    response = post_event(client, payload)
    applied = run_event_task(client, response)
    reason = f"ignored: {order_id} is a Cash App order, not a Buy Button order"
    assert applied == reason
    assert event_result(admin_client, payload["id"]) == reason
    body = api_order_json(client, cash_key, order_id)
    assert (body["status"], body["stripePaymentIntentId"]) == ("pending", None)
    assert notified(app, order_id) == []


def test_session_in_another_currency_changes_nothing(client, admin_client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id, quantity=3, currency="eur")
    payload = session_event("checkout.session.completed", session)
    response = post_event(client, payload)
    applied = run_event_task(client, response)
    assert applied == "ignored: the session is in EUR, the order in USD"
    assert event_result(admin_client, payload["id"]) == applied
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["quantity"]) == ("pending", 1)


def test_async_events_are_verified_too(client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    other = dashboard.checkout(dashboard.payment_link(), order_id, payment_status="paid")
    for kind in ("async_payment_succeeded", "async_payment_failed"):
        response = post_event(client, session_event(f"checkout.session.{kind}", other))
        applied = run_event_task(client, response)
        assert applied.startswith("ignored: the session is from Payment Link")
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"


def test_session_with_several_line_items_leaves_the_quantity(client, admin_client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    mixed = dashboard.checkout(
        shop.payment_link,
        order_id,
        line_items=[{"quantity": 2, "unit_amount": 500}, {"quantity": 1, "unit_amount": 700}],
    )
    run_event_task(client, post_event(client, session_event("checkout.session.completed", mixed)))
    body = api_order_json(client, shop.key, order_id)
    assert (body["quantity"], body["amount"], body["paidAmount"]) == (1, 5, Decimal("17.00"))
    assert "2 line items, not one; quantity left at 1" in order_page(admin_client, order_id)


@pytest.mark.parametrize(
    "data_object",
    [
        {"object": "checkout.session"},
        {"id": 5, "client_reference_id": "ord_" + "0" * 24},
        {"id": "../v1/payment_intents", "client_reference_id": "ord_" + "0" * 24},
        {"id": "pi_123", "payment_status": "paid"},
    ],
)
def test_event_without_a_session_id_is_ignored(client, shop, data_object):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    response = post_event(client, event("checkout.session.completed", data_object))
    applied = run_event_task(client, response)
    assert response.status_code == 200
    assert applied == "ignored: the event names no Checkout Session"
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"


def test_session_stripe_does_not_know_fails_the_attempt_and_changes_nothing(
    client, admin_client, shop
):
    import stripe

    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    forged = {
        "id": "cs_test_unknown",
        "object": "checkout.session",
        "client_reference_id": order_id,
        "payment_link": shop.payment_link,
        "payment_status": "paid",
        "currency": "usd",
        "amount_total": 500,
    }
    payload = event("checkout.session.completed", forged)
    with pytest.raises(stripe.InvalidRequestError):
        run_event_task(client, post_event(client, payload))
    assert event_result(admin_client, payload["id"]) == "failed: InvalidRequestError"
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"


class TestWithoutStripeKeys:
    """Sandbox mode with a webhook secret: no session can be retrieved, so none settles."""

    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def test_session_events_are_ignored_with_the_reason(self, client, admin_client, make):
        service_id = make.service(buy_button_id="buy_btn_1A", stripe_payment_link_id="plink_1A")
        key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
        order_id = api_open_order(client, key).get_json()["orderId"]
        session = {
            "id": "cs_test_1",
            "object": "checkout.session",
            "client_reference_id": order_id,
            "payment_link": "plink_1A",
            "payment_status": "paid",
            "currency": "usd",
            "amount_total": 500,
        }
        payload = event("checkout.session.completed", session)
        response = post_event(client, payload)
        applied = run_event_task(client, response)
        reason = "ignored: without Stripe keys a Checkout Session cannot be verified"
        assert applied == reason
        assert event_result(admin_client, payload["id"]) == reason
        assert api_order_json(client, key, order_id)["status"] == "pending"


# Payment links of Kassa whose provider pays by Buy Button


def test_buy_button_link_leaves_the_quantity_to_stripes_page(
    client, admin_client, make, shop, dashboard
):
    provider = make.provider(
        service_id=shop.service_id,
        name="Button shop",
        use_stripe_checkout=True,
        webhook_url=UNREACHABLE_HOOK,
    )
    provider_id, key = provider.id, provider.api_key
    link_id = create_link(
        admin_client,
        shop.service_id,
        provider_id=provider_id,
        adjustable_quantity="y",
        min_quantity="2",
        max_quantity="5",
    )
    customer = client.application.test_client()
    page = customer.get(f"/l/{link_id}").text
    assert 'name="quantity"' not in page
    assert "Chosen on Stripe's checkout page" in page

    order_id = order_from(pay_link(customer, link_id))
    body = api_order_json(client, key, order_id)
    assert (body["quantity"], body["amount"], body["paymentLinkId"]) == (1, 5, link_id)
    checkout = customer.get(f"/checkout?orderId={order_id}").text
    assert f'client-reference-id="{order_id}"' in checkout
    # A quantity sent anyway, even outside the link's range, is not the link page's to set.
    other = order_from(pay_link(customer, link_id, quantity=9))
    assert api_order_json(client, key, other)["quantity"] == 1

    session = dashboard.checkout(shop.payment_link, order_id, quantity=4)
    run_event_task(client, post_event(client, session_event("checkout.session.completed", session)))
    body = api_order_json(client, key, order_id)
    assert (body["status"], body["quantity"], body["amount"]) == ("paid", 4, Decimal("20.00"))
    assert api_order_json(client, key, other)["status"] == "pending"


# Reconciliation: a completed session whose webhook never came


def reconcile(runner, older_than: int = 0) -> int:
    result = runner.invoke(args=["reconcile", "--older-than", str(older_than), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["checked"]


def test_reconciliation_finds_a_completed_session_whose_webhook_never_came(
    client, admin_client, runner, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    dashboard.checkout(shop.payment_link, order_id, quantity=2)

    assert reconcile(runner, older_than=900) == 0  # too young to be suspicious
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"

    assert reconcile(runner) == 1
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["quantity"], body["amount"]) == ("paid", 2, Decimal("10.00"))
    assert body["paidAmount"] == Decimal("10.00")
    page = order_page(admin_client, order_id)
    assert "pending → paid (reconciliation)" in page
    assert "reconciliation: 1 → 2 bought" in page
    [payload] = notification_payloads(admin_client, order_id)
    assert (payload["event"], payload["quantity"]) == ("payment_succeeded", 2)
    assert reconcile(runner) == 0  # paid: nothing left to ask


def test_reconciliation_pages_through_a_busy_payment_link(client, runner, shop, dashboard):
    waiting = api_open_order(client, shop.key).get_json()["orderId"]
    processing = api_open_order(client, shop.key).get_json()["orderId"]
    forgotten = api_open_order(client, shop.key).get_json()["orderId"]
    dashboard.checkout(shop.payment_link, waiting, quantity=3)
    dashboard.checkout(shop.payment_link, processing, payment_status="unpaid")
    # Another Payment Link's session naming an order is not the order's payment.
    dashboard.checkout(dashboard.payment_link(), forgotten)
    for number in range(150):  # newer sessions of other customers: more than a page
        dashboard.checkout(shop.payment_link, f"someone-else-{number}")

    assert reconcile(runner) == 3
    assert api_order_json(client, shop.key, waiting)["status"] == "paid"
    assert api_order_json(client, shop.key, waiting)["quantity"] == 3
    assert api_order_json(client, shop.key, processing)["status"] == "processing"
    assert api_order_json(client, shop.key, forgotten)["status"] == "pending"


def test_reconciliation_prefers_the_paid_session_of_an_order(client, runner, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    dashboard.checkout(shop.payment_link, order_id, quantity=2)
    dashboard.checkout(shop.payment_link, order_id, payment_status="unpaid")  # a newer try
    assert reconcile(runner) == 1
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["quantity"]) == ("paid", 2)


def test_reconciliation_checks_only_sessions_in_the_orders_currency(
    client, runner, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    dashboard.checkout(shop.payment_link, order_id, currency="eur")
    assert reconcile(runner) == 1
    assert api_order_json(client, shop.key, order_id)["status"] == "pending"


class TestSessionsUnreachable:
    @pytest.fixture
    def app_config(self):
        return {
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": "http://127.0.0.1:9",
        }

    def test_reconciliation_skips_a_payment_link_it_cannot_list(self, client, runner, make):
        service_id = make.service(buy_button_id="buy_btn_1P", stripe_payment_link_id="plink_1P")
        key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
        order_id = api_open_order(client, key).get_json()["orderId"]
        assert reconcile(runner) == 1
        assert api_order_json(client, key, order_id)["status"] == "pending"


# What Stripe's page asked (issue 21): the Payment Link's own custom fields and the e-mail


def test_stripes_custom_fields_and_email_are_recorded_and_the_receipt_queued(
    client, admin_client, runner, shop, dashboard
):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    asked = [
        {"key": "company", "label": "Company", "type": "text", "value": "Analytical Engines"},
        {"key": "seats", "label": "Seats", "type": "numeric", "value": "12"},
        {
            "key": "plan",
            "label": "Plan",
            "type": "dropdown",
            "value": "team",
            "options": [{"label": "Team", "value": "team"}, {"label": "Solo", "value": "solo"}],
        },
    ]
    session = dashboard.checkout(
        shop.payment_link, order_id, email="ada@example.com", custom_fields=asked
    )
    assert session["custom_fields"][0]["label"] == {"custom": "Company", "type": "custom"}
    assert session["custom_fields"][1]["numeric"]["value"] == "12"
    run_event_task(client, post_event(client, session_event("checkout.session.completed", session)))
    body = api_order_json(client, shop.key, order_id)
    assert body["status"] == "paid"
    assert body["customFields"] == [
        {"key": "company", "label": "Company", "value": "Analytical Engines"},
        {"key": "seats", "label": "Seats", "value": "12"},
        {"key": "plan", "label": "Plan", "value": "team"},
    ]
    assert body["customerEmail"] == "ada@example.com"
    [payload] = notification_payloads(admin_client, order_id)
    assert payload["customFields"] == body["customFields"]
    assert payload["customerEmail"] == "ada@example.com"
    mails = json.loads(runner.invoke(args=["mail", "list", "--json"]).output)
    assert [(row["kind"], row["to"]) for row in mails] == [("receipt", "ada@example.com")]
    assert "Analytical Engines" in order_page(admin_client, order_id)


def test_a_session_without_an_email_or_fields_records_none(client, shop, dashboard):
    order_id = api_open_order(client, shop.key).get_json()["orderId"]
    session = dashboard.checkout(shop.payment_link, order_id, email=None)
    run_event_task(client, post_event(client, session_event("checkout.session.completed", session)))
    body = api_order_json(client, shop.key, order_id)
    assert (body["status"], body["customFields"], body["customerEmail"]) == ("paid", [], None)
