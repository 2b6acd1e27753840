"""Buy Button orders: settled only by their own Payment Link's sessions, for what was bought.

The real stripe SDK talks to the stand-in (tests/standin/checkout.py), where each test plays
the merchant's dashboard (a Payment Link) and the customer (a completed Checkout Session);
then Stripe's signed event is posted to Kassa and a worker's task applies it.
"""

import html
import json
import re

import pytest
import requests

from tests.helpers import (
    UNREACHABLE_HOOK,
    order_page,
)
from tests.stripe_signing import WEBHOOK_SECRET, event

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
        _, self.key = make.provider(
            service_id=self.service_id, use_stripe_checkout=True, webhook_url=UNREACHABLE_HOOK
        )


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
    return html.unescape(re.search(r"<td data-result>(.*?)</td>", row, re.S)[1])


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


def test_payment_link_problems_name_each_service(app, make, dashboard):
    from checkout import payments
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
    with app.app_context():
        db.session.get(Service, legacy).stripe_payment_link_id = None
        db.session.commit()
        problems = payments.payment_link_problems()
    assert problems == [
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

    def test_payment_link_that_cannot_be_checked_is_a_problem(self, app, make):
        from checkout import payments

        make.service(slug="pro", buy_button_id="buy_btn_1P", stripe_payment_link_id="plink_1P")
        with app.app_context():
            [problem] = payments.payment_link_problems()
        assert problem.startswith("Service pro: Payment Link plink_1P could not be checked (")
