"""A customer pays in sandbox mode in Chromium and lands back on the provider's site."""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_provider_order_to_success_redirect(page: Page, live_server, provider_site, make):
    key = make.provider(
        success_url=provider_site + "/success?orderId={orderId}",
        cancel_url=provider_site + "/cancelled",
    ).api_key
    response = requests.post(
        live_server.url + "/api/v1/create-payment-intent",
        json={"apiKey": key, "externalId": "BROWSER-1", "amount": 20},
        timeout=10,
    )
    assert response.status_code == 200
    order = response.json()

    page.set_viewport_size(PHONE)
    page.goto(order["checkoutUrl"])
    expect(page.get_by_text("Sandbox")).to_be_visible()
    expect(page.locator("[data-amount]")).to_have_text("$20.00")
    expect(page.locator("[data-quantity]")).to_have_text("4")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the checkout page scrolls sideways on a phone"

    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    seconds = page.locator("[data-seconds-left]")
    expect(seconds).to_have_text(re.compile("^[1-4]$"), timeout=4000)
    page.wait_for_url(f"{provider_site}/success?orderId={order['orderId']}", timeout=10_000)
    expect(page.get_by_role("heading", name="Back at the provider")).to_be_visible()


def test_processing_page_updates_itself(page: Page, live_server, make, app):
    key = make.provider(success_url=None).api_key
    order = requests.post(
        live_server.url + "/api/v1/create-payment-intent", json={"apiKey": key}, timeout=10
    ).json()
    page.goto(order["checkoutUrl"])
    page.get_by_role("button", name="Simulate processing").click()
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()

    from checkout import payments
    from checkout.orders import Outcome

    with app.app_context():
        payments.simulate(order["orderId"], Outcome.SUCCEEDED)
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible(timeout=10_000)
    expect(page.locator("[data-countdown]")).to_have_count(0)


def test_failed_payment_can_be_retried(page: Page, live_server, make):
    key = make.provider().api_key
    order = requests.post(
        live_server.url + "/api/v1/create-payment-intent", json={"apiKey": key}, timeout=10
    ).json()
    page.goto(order["checkoutUrl"])
    page.get_by_role("button", name="Simulate failure").click()
    expect(page.get_by_role("heading", name="Payment failed")).to_be_visible()
    expect(page.get_by_text("Try again:")).to_be_visible()
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()


def test_polling_stops_once_the_order_is_final(page: Page, live_server, make, app):
    key = make.provider(success_url=None).api_key
    order = requests.post(
        live_server.url + "/api/v1/create-payment-intent", json={"apiKey": key}, timeout=10
    ).json()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/checkout/status" in r.url else None)
    page.clock.install()
    page.goto(order["checkoutUrl"])
    page.get_by_role("button", name="Simulate processing").click()
    expect(page.get_by_role("heading", name="Payment processing")).to_be_visible()

    from checkout import payments
    from checkout.orders import Outcome

    with app.app_context():
        payments.simulate(order["orderId"], Outcome.SUCCEEDED)
    with page.expect_navigation():
        page.clock.run_for(2500)
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    asked = len(polls)
    page.clock.run_for(120_000)
    page.wait_for_timeout(500)
    assert len(polls) == asked
