"""An admin brands a provider in Chromium; the customer's checkout shows its logo, loaded,
and a pay button in its accent colour."""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.test_branding import png_bytes, svg_bytes

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.parametrize(
    ("logo", "accent", "background", "ink"),
    [
        (("logo.png", "image/png", png_bytes(120, 40)), "#0b5fff", "rgb(11, 95, 255)", "white"),
        # White fails AA on #00a250 (3.34:1): the button's text turns black.
        (("logo.svg", "image/svg+xml", svg_bytes()), "#00a250", "rgb(0, 162, 80)", "black"),
    ],
)
def test_branded_checkout_shows_the_logo_and_the_accent(
    page: Page, live_server, make, tmp_path, logo, accent, background, ink
):
    email, password = make.admin()
    provider = make.provider(name="Bitloader")
    provider_id, key = provider.id, provider.api_key
    name, mime, data = logo
    _sign_in(page, live_server.url, email, password)

    page.goto(f"{live_server.url}/admin/providers/{provider_id}")
    page.get_by_role("link", name="Edit branding").click()
    page.get_by_label("Display name").fill("Bitloader Games")
    page.get_by_label("Accent colour", exact=True).fill(accent)
    page.get_by_label("Logo").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_role("button", name="Save branding").click()
    expect(page.get_by_text("Branding of Bitloader saved.")).to_be_visible()

    order = requests.post(
        live_server.url + "/api/v1/create-payment-intent", json={"apiKey": key}, timeout=10
    ).json()
    page.goto(order["checkoutUrl"])

    expect(page.locator("[data-brand-name]")).to_have_text("Bitloader Games")
    logo_image = page.locator("img[data-brand-logo]")
    expect(logo_image).to_have_attribute("src", re.compile(r"^/brand/prv_\w+/logo-\w{16}\."))
    assert logo_image.evaluate("img => img.complete && img.naturalWidth > 0")
    button = page.get_by_role("button", name="Simulate success")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == background
    expected_ink = "rgb(255, 255, 255)" if ink == "white" else "rgb(0, 0, 0)"
    assert button.evaluate("b => getComputedStyle(b).color") == expected_ink


def test_the_colour_picker_fills_the_accent_field(page: Page, live_server, make):
    email, password = make.admin()
    provider_id = make.provider(name="Bitloader").id
    _sign_in(page, live_server.url, email, password)
    page.goto(f"{live_server.url}/admin/providers/{provider_id}/branding")

    page.get_by_label("Pick the accent colour").fill("#123abc")

    expect(page.get_by_label("Accent colour", exact=True)).to_have_value("#123abc")
