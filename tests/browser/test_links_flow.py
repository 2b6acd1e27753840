"""Payment links in Chromium: a protected link, the quantity picker, and the embed button."""

import re

import pytest
from playwright.sync_api import Page, expect

from checkout import audit, payment_links
from checkout.pay.routes import REDIRECT_SECONDS
from checkout.payment_links import LinkFields

pytestmark = pytest.mark.browser


def make_link(app, service_id, **fields) -> str:
    with app.app_context():
        return payment_links.create_link(
            LinkFields(service_id=service_id, title="Festival tickets", **fields),
            actor=audit.SYSTEM,
        ).id


def test_unlock_choose_quantity_pay_and_redirect(page: Page, app, live_server, site, make):
    service_id = make.service(title="Ticket", price="12.50")
    link_id = make_link(
        app,
        service_id,
        password="backstage",
        adjustable_quantity=True,
        min_quantity=1,
        max_quantity=4,
        after_payment="redirect",
        redirect_url=site.url + "/welcome?order={orderId}",
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/l/{link_id}")
    expect(page.get_by_text("This payment link is protected")).to_be_visible()
    # The title says what the password is for; the price waits for it.
    expect(page.get_by_role("heading", name="Festival tickets")).to_be_visible()
    expect(page.get_by_text("$12.50")).to_have_count(0)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("That password is not right.")).to_be_visible()
    page.get_by_label("Password").fill("backstage")
    page.get_by_role("button", name="Unlock").click()

    expect(page.get_by_role("heading", name="Festival tickets")).to_be_visible()
    expect(page.locator("[data-total]")).to_have_text("$12.50")
    page.get_by_role("button", name="One more").click()
    page.get_by_role("button", name="One more").click()
    expect(page.get_by_label("Quantity")).to_have_value("3")
    expect(page.locator("[data-total]")).to_have_text("$37.50")
    page.get_by_role("button", name="Pay").click()

    expect(page.locator("[data-amount]")).to_have_text("$37.50")
    order_id = re.search(r"orderId=(ord_[0-9a-f]{24})", page.url)[1]
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    page.wait_for_url(f"{site.url}/welcome?order={order_id}", timeout=10_000)


def test_a_link_showing_its_message_stays_on_the_receipt(page: Page, app, live_server, site, make):
    service_id = make.service(title="Ticket", price="12.50")
    provider_id = make.provider(
        service_id, success_url=site.url + "/success?orderId={orderId}", cancel_url=None
    ).id
    link_id = make_link(
        app,
        service_id,
        provider_id=provider_id,
        after_payment="message",
        confirmation_message="Your tickets are on their way.",
    )
    left = []
    page.on(
        "framenavigated", lambda frame: left.append(frame.url) if site.url in frame.url else None
    )
    page.goto(f"{live_server.url}/l/{link_id}")
    page.get_by_role("button", name="Pay").click()
    page.get_by_role("button", name="Simulate success").click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("Your tickets are on their way.")).to_be_visible()
    receipt = page.url
    # Longer than the countdown a redirect would have run.
    page.wait_for_timeout((REDIRECT_SECONDS + 2) * 1000)
    assert page.url == receipt and left == []
    expect(page.locator("[data-countdown]")).to_have_count(0)
    expect(page.get_by_role("link", name="Back to Bitloader")).to_have_attribute(
        "href", site.url + "/"
    )


def test_embedded_button_opens_the_checkout(page: Page, app, live_server, site, make):
    service_id = make.service(title="Coffee", price="3")
    link_id = make_link(app, service_id)
    site.pages["/shop.html"] = f"""<!doctype html>
<html lang="en"><head><title>Cafe</title></head><body>
<h1>Our cafe</h1>
<script src="{live_server.url}/static/kassa.js" data-payment-link="{link_id}"
        data-label="Buy a coffee for $3" data-color="#6f4e37" data-text-color="#ffffff"></script>
</body></html>"""
    page.goto(site.url + "/shop.html")
    button = page.get_by_role("button", name="Buy a coffee for $3")
    expect(button).to_be_visible()
    expect(button).to_have_css("background-color", "rgb(111, 78, 55)")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/l/{link_id}")
    expect(page.get_by_role("heading", name="Festival tickets")).to_be_visible()
    expect(page.get_by_text("$3.00").first).to_be_visible()


def test_buy_button_link_leaves_the_quantity_to_stripe(page: Page, app, live_server, make):
    service_id = make.service(
        title="Credits", price="5", buy_button_id="buy_btn_1C", stripe_payment_link_id="plink_1C"
    )
    provider_id = make.provider(service_id=service_id, use_stripe_checkout=True, key=False).id
    link_id = make_link(
        app,
        service_id,
        provider_id=provider_id,
        adjustable_quantity=True,
        min_quantity=2,
        max_quantity=5,
    )
    page.goto(f"{live_server.url}/l/{link_id}")
    expect(page.get_by_role("heading", name="Festival tickets")).to_be_visible()
    expect(page.get_by_role("spinbutton")).to_have_count(0)
    expect(page.get_by_text("Chosen on Stripe's checkout page")).to_be_visible()
    expect(page.locator("[data-total]")).to_have_text("$5.00")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/checkout\?orderId=ord_"))
    expect(page.locator("[data-amount]")).to_have_text("$5.00")
