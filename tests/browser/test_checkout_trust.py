"""The checkout looks like one to trust (issue 21, item 6), in Chromium, in sandbox mode:
the order's summary beside the payment on a desktop and folded above it on a phone, a pay
button naming the amount, the seller's terms in the footer, a receipt that leads with the
confirmation, and a link page that names the product above its price.

The Stripe side ("Payments by Stripe", the Cash App button after a code) is in
tests/browser/test_stripe_js_flow.py."""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def api_open_order(base_url: str, key: str, **body) -> dict:
    response = requests.post(
        base_url + "/api/v1/create-payment-intent", json={"apiKey": key, **body}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def api_create_code(base_url: str, key: str, **body) -> dict:
    response = requests.post(
        base_url + "/api/v1/discount-codes",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def api_create_link(base_url: str, key: str, **body) -> dict:
    response = requests.post(
        base_url + "/api/v1/payment-links",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def demo_shop(make, title: str = "Credits", name: str = "Demo Shop", **fields):
    """A seller named Demo Shop selling a 5 USD service, with no site to go back to."""
    service = make.service(title=title, price="5")
    return make.provider(service, name=name, success_url=None, cancel_url=None, **fields)


def test_desktop_puts_the_summary_beside_the_payment(page: Page, live_server, make):
    order = api_open_order(live_server.url, demo_shop(make).api_key, amount=15)
    page.set_viewport_size(DESKTOP)
    page.goto(order["checkoutUrl"])
    summary = page.locator("[data-summary]").bounding_box()
    panel = page.locator("[data-panel]").bounding_box()
    assert summary["x"] + summary["width"] <= panel["x"], (summary, panel)
    assert abs(summary["y"] - panel["y"]) < 40, "the two columns start side by side"
    # The whole summary is shown: seller, item, quantity, total; its toggle is not.
    expect(page.locator("[data-summary] [data-brand-name]")).to_have_text("Demo Shop")
    expect(page.locator("[data-quantity]")).to_be_visible()
    expect(page.locator("[data-total-due]")).to_have_text("$15.00")
    expect(page.locator("[data-summary-details] > summary")).to_be_hidden()


def test_phone_folds_the_summary_above_the_payment(page: Page, live_server, make):
    order = api_open_order(live_server.url, demo_shop(make).api_key, amount=15)
    page.set_viewport_size(PHONE)
    page.goto(order["checkoutUrl"])
    summary = page.locator("[data-summary]").bounding_box()
    panel = page.locator("[data-panel]").bounding_box()
    assert summary["y"] + summary["height"] <= panel["y"], (summary, panel)
    # The item and the total stay in sight; the details open and fold on a tap.
    expect(page.locator("[data-amount]")).to_have_text("$15.00")
    expect(page.locator("[data-quantity]")).to_be_hidden()
    toggle = page.get_by_text("Order details")
    toggle.click()
    expect(page.locator("[data-quantity]")).to_be_visible()
    toggle.click()
    expect(page.locator("[data-quantity]")).to_be_hidden()


def test_phone_summary_opens_without_script(browser, live_server, make):
    order = api_open_order(live_server.url, demo_shop(make).api_key, amount=15)
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(order["checkoutUrl"])
        expect(page.locator("[data-quantity]")).to_be_visible()
        page.get_by_text("Order details").click()
        expect(page.locator("[data-quantity]")).to_be_hidden()
    finally:
        context.close()


def test_pay_button_names_the_amount_before_and_after_a_code(page: Page, live_server, make):
    key = demo_shop(make).api_key
    api_create_code(live_server.url, key, code="TEN", percentOff=10)
    order = api_open_order(live_server.url, key, amount=15)
    page.goto(order["checkoutUrl"])
    pay = page.locator("[data-pay-button]")
    expect(pay).to_have_text(re.compile(r"^Pay \$15\.00\b"))
    page.get_by_label("Discount code").fill("TEN")
    page.get_by_role("button", name="Apply code").click()
    expect(page.locator("[data-discount]")).to_contain_text("$1.50")
    expect(pay).to_have_text(re.compile(r"^Pay \$13\.50\b"))
    # The sandbox keeps saying so, on the button itself and in its banner.
    expect(pay).to_contain_text("Simulate success")
    expect(page.get_by_role("note")).to_contain_text("Sandbox")


def test_footer_links_the_sellers_terms_only_when_set(page: Page, live_server, make):
    with_terms = demo_shop(
        make, terms_url="https://shop.example/terms", privacy_url="https://shop.example/privacy"
    )
    order = api_open_order(live_server.url, with_terms.api_key, amount=15)
    page.goto(order["checkoutUrl"])
    footer = page.locator("[data-trust-footer]")
    expect(footer.get_by_role("link", name="Terms")).to_have_attribute(
        "href", "https://shop.example/terms"
    )
    expect(footer.get_by_role("link", name="Privacy")).to_have_attribute(
        "href", "https://shop.example/privacy"
    )
    # No one takes a payment in the sandbox.
    expect(page.get_by_text("Payments by Stripe")).to_have_count(0)

    plain_shop = demo_shop(make, "Plain", "Plain Shop")
    plain = api_open_order(live_server.url, plain_shop.api_key, amount=15)
    page.goto(plain["checkoutUrl"])
    expect(page.locator("[data-trust-footer]")).to_have_count(0)
    expect(page.locator("[data-terms-link], [data-privacy-link]")).to_have_count(0)


def test_paid_page_leads_with_the_confirmation(page: Page, live_server, make):
    key = demo_shop(make).api_key
    order = api_open_order(live_server.url, key, amount=15, customerEmail="ada@example.com")
    page.goto(order["checkoutUrl"])
    page.get_by_role("button", name="Simulate success").click()

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Paid $15.00 to Demo Shop")
    expect(page.locator("[data-check-mark]")).to_be_visible()
    receipt_sent = page.locator("[data-receipt-sent]")
    expect(receipt_sent).to_have_text("A receipt was sent to a…@example.com")
    assert "ada@example.com" not in page.content()
    # The confirmation first, then the receipt's details, then the Print button.
    top = heading.bounding_box()["y"]
    details = page.locator("[data-quantity]").bounding_box()["y"]
    printing = page.get_by_role("button", name="Print receipt")
    expect(printing).to_be_visible()
    assert top < details < printing.bounding_box()["y"]
    expect(page.locator("[data-amount]")).to_have_text("$15.00")


def test_paid_page_without_an_email_names_no_receipt(page: Page, live_server, make):
    order = api_open_order(live_server.url, demo_shop(make).api_key, amount=15)
    page.goto(order["checkoutUrl"])
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paid $15.00 to Demo Shop")
    expect(page.locator("[data-receipt-sent]")).to_have_count(0)


def test_link_page_names_the_product_above_its_price_and_the_snippet_its_price(
    page: Page, live_server, make
):
    shop = demo_shop(make)
    fixed = api_create_link(live_server.url, shop.api_key, title="Festival pass", quantity=3)
    chosen = api_create_link(
        live_server.url, shop.api_key, title="Tip jar", minAmount=1, maxAmount=100
    )
    page.goto(fixed["url"])
    title = page.get_by_role("heading", name="Festival pass")
    price = page.locator("[data-unit-price]")
    expect(price).to_have_text("$5.00")
    assert title.bounding_box()["y"] < price.bounding_box()["y"]
    expect(page.get_by_text("Credits")).to_have_count(0)  # the service's own name

    email, password = make.admin()
    page.goto(live_server.url + "/admin/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/admin/")
    page.goto(f"{live_server.url}/admin/links/{fixed['id']}")
    expect(page.locator("#embed")).to_have_value(re.compile(r'data-label="Pay \$15\.00"'))
    page.goto(f"{live_server.url}/admin/links/{chosen['id']}")
    expect(page.locator("#embed")).to_have_value(re.compile(r'data-label="Pay"'))
