"""Selling with links in Chromium (issue 21): a chosen amount, and a discount code from the
link's URL, from the link page to the paid receipt."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from checkout import audit, discounts, payment_links
from checkout.extensions import db
from checkout.models import Provider
from checkout.payment_links import LinkFields
from tests.helpers import api_order_json

pytestmark = pytest.mark.browser


def make_link(app, service_id, provider_id, **fields) -> str:
    with app.app_context():
        return payment_links.create_link(
            LinkFields(
                service_id=service_id, provider_id=provider_id, title="Support us", **fields
            ),
            actor=audit.SYSTEM,
        ).id


def make_code(app, provider_id: str, **fields) -> None:
    with app.app_context():
        discounts.create_code(
            db.session.get(Provider, provider_id),
            discounts.DiscountFields(**fields),
            actor=audit.SYSTEM,
        )


def test_a_customer_chooses_the_amount_and_a_wrong_one_is_named(
    page: Page, app, client, live_server, make
):
    service_id = make.service(title="Donation", price="1")
    provider = make.provider(service_id)
    link_id = make_link(
        app,
        service_id,
        provider.id,
        min_amount=Decimal(5),
        max_amount=Decimal(200),
        preset_amount=Decimal(20),
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/l/{link_id}")
    amount = page.get_by_label(re.compile("Amount"))
    expect(amount).to_have_value("20.00")
    expect(page.get_by_label("Quantity")).to_have_count(0)
    amount.fill("2.5")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_text("Enter an amount from $5.00 to $200.00")).to_be_visible()
    expect(page.get_by_label(re.compile("Amount"))).to_have_value("2.5")
    expect(page.get_by_label(re.compile("Amount"))).to_have_attribute("aria-invalid", "true")
    page.get_by_label(re.compile("Amount")).fill("42.50")
    page.get_by_role("button", name="Pay").click()

    expect(page.locator("[data-amount]")).to_have_text("$42.50")
    order_id = re.search(r"orderId=(ord_[0-9a-f]{24})", page.url)[1]
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    body = api_order_json(client, provider.api_key, order_id)
    assert (body["status"], body["amount"], body["quantity"]) == ("paid", Decimal("42.50"), 1)


def test_a_code_in_the_link_url_is_filled_in_and_discounts_the_order(
    page: Page, app, client, live_server, make
):
    service_id = make.service(title="Ticket", price="12.50")
    provider = make.provider(service_id)
    link_id = make_link(app, service_id, provider.id)
    make_code(app, provider.id, code="FRIENDS", percent_off=Decimal(20), max_redemptions=5)
    page.goto(f"{live_server.url}/l/{link_id}?code=NOPE")
    code = page.get_by_label(re.compile("Discount code"))
    expect(code).to_have_value("NOPE")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_text("There is no such discount code")).to_be_visible()
    expect(page.get_by_label(re.compile("Discount code"))).to_have_value("NOPE")

    page.goto(f"{live_server.url}/l/{link_id}?code=friends")
    page.get_by_role("button", name="Pay").click()
    expect(page.locator("[data-amount]")).to_have_text("$10.00")
    expect(page.locator("[data-discount]")).to_have_text("FRIENDS −$2.50")
    order_id = re.search(r"orderId=(ord_[0-9a-f]{24})", page.url)[1]
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    body = api_order_json(client, provider.api_key, order_id)
    assert (body["amount"], body["discountCode"], body["discountAmount"]) == (
        Decimal("10.00"),
        "FRIENDS",
        Decimal("2.50"),
    )
