"""An admin signs in and sets up a service and a provider through the forms in Chromium."""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.helpers import bearer

pytestmark = pytest.mark.browser


def test_admin_creates_service_and_provider(page: Page, live_server, make):
    email, password = make.admin()
    page.goto(live_server.url + "/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="create a service").click()
    page.get_by_label("Title").fill("Premium Credits")
    page.get_by_label("Unit price").fill("5")
    page.get_by_label("Currency").select_option("usd")
    page.get_by_role("button", name="Create service").click()
    expect(page.get_by_role("cell", name="Premium Credits")).to_be_visible()
    expect(page.get_by_role("cell", name="$5.00")).to_be_visible()

    page.get_by_role("link", name="Providers").click()
    page.get_by_role("link", name="New provider").click()
    page.get_by_label("Provider name").fill("Bitloader")
    page.get_by_label("Linked service").select_option(label="Premium Credits ($5.00)")
    page.get_by_label("Webhook URL").fill("https://hooks.example/kassa")
    page.get_by_label("Success redirect URL").fill("https://bitloader.example/ok?orderId={orderId}")
    page.get_by_label("Cancel redirect URL").fill("https://bitloader.example/cancel")
    page.get_by_role("button", name="Create provider").click()

    expect(page.get_by_text("Copy this key now")).to_be_visible()
    key = page.locator("[data-new-key]").input_value()
    assert key.startswith("kassa_")

    response = requests.post(
        live_server.url + "/api/v1/create-payment-intent",
        headers=bearer(key),
        json={"externalId": "FROM-ADMIN", "amount": 10},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["quantity"] == 2

    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", name="Bitloader")).to_be_visible()
    expect(page.get_by_text(key)).to_have_count(0)


def test_admin_sees_form_errors(page: Page, live_server, make):
    email, password = make.admin()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/admin/services/new")
    page.get_by_label("Title").fill("Gold")
    page.get_by_label("Unit price").fill("5.001")
    page.get_by_role("button", name="Create service").click()
    expect(page.get_by_text("Amount has more than 2 decimal places for USD")).to_be_visible()
    expect(page.get_by_label("Unit price")).to_have_attribute("aria-invalid", "true")
