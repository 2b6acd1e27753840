"""What a checkout asks, in Chromium (issue 21): a link's custom fields, e-mail and terms
checkbox are labelled, refused answers come back named with the form kept, and the paid
order holds the answers and queues the customer's receipt; an order opened by API asks
them on its checkout page before any way to pay is shown."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from checkout import audit, payment_links
from checkout.extensions import db
from checkout.models import Order
from checkout.payment_links import LinkFields
from checkout.records import Mail
from tests.helpers import bearer

pytestmark = pytest.mark.browser

FIELDS = [
    {"key": "holder", "label": "Ticket holder", "type": "text", "required": True},
    {
        "key": "size",
        "label": "Shirt size",
        "type": "dropdown",
        "required": True,
        "options": [{"value": "s", "label": "Small"}, {"value": "m", "label": "Medium"}],
    },
    {"key": "seats", "label": "Seats wanted", "type": "number"},
]


@pytest.fixture
def shop(make):
    service_id = make.service(title="Concert ticket", price="5")
    provider = make.provider(
        service_id,
        name="Demo Shop",
        success_url=None,
        cancel_url=None,
        terms_url="https://shop.example/terms",
        privacy_url="https://shop.example/privacy",
    )
    return service_id, provider


def test_a_customer_answers_a_links_questions_and_gets_a_receipt(
    page: Page, app, live_server, shop
):
    service_id, provider = shop
    with app.app_context():
        link_id = payment_links.create_link(
            LinkFields(
                service_id=service_id,
                provider_id=provider.id,
                title="Spring concert",
                quantity=2,
                custom_fields=FIELDS,
                collect_email="required",
            ),
            actor=audit.SYSTEM,
        ).id
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/l/{link_id}")
    page.get_by_label("Ticket holder").fill("Ada Lovelace")
    page.get_by_label("Seats wanted").fill("two")
    page.get_by_role("button", name="Pay").click()

    # Refused: every problem is named under its field, and what was typed is kept.
    expect(page.get_by_text("Shirt size: this field is required")).to_be_visible()
    expect(page.get_by_text("Seats wanted: enter a number, such as 42 or 3.5")).to_be_visible()
    expect(page.get_by_text("Email: this field is required")).to_be_visible()
    expect(page.get_by_text("Tick the box to agree to Demo Shop's terms")).to_be_visible()
    expect(page.get_by_label("Ticket holder")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Seats wanted")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Shirt size").select_option(label="Medium")
    page.get_by_label("Seats wanted").fill("2")
    page.get_by_label("Email").fill("ada@example.com")
    expect(page.get_by_role("link", name="Read the terms")).to_have_attribute(
        "href", "https://shop.example/terms"
    )
    page.get_by_label("I agree to Demo Shop's terms").check()
    page.get_by_role("button", name="Pay").click()

    expect(page.locator("[data-amount]")).to_have_text("$10.00")
    order_id = re.search(r"orderId=(ord_[0-9a-f]{24})", page.url)[1]
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert [answer["value"] for answer in order.custom_field_values] == [
            "Ada Lovelace",
            "m",
            "2",
        ]
        assert order.terms_accepted_at is not None
        [receipt] = db.session.scalars(select(Mail).where(Mail.kind == "receipt")).all()
        assert receipt.to_address == "ada@example.com"
        assert receipt.subject == "Receipt from Demo Shop: $10.00"
        assert receipt.sandbox  # a sandbox order: the mail stays a file


def test_an_api_order_asks_its_questions_on_the_checkout_page(page: Page, app, live_server, make):
    service_id = make.service(
        title="Shirt", price="5", custom_fields=FIELDS[1:], collect_email="optional"
    )
    provider = make.provider(service_id, name="Demo Shop", success_url=None, cancel_url=None)
    client = app.test_client()
    opened = client.post(
        "/api/v1/create-payment-intent", json={}, headers=bearer(provider.api_key)
    ).get_json()
    page.goto(opened["checkoutUrl"].replace("http://localhost", live_server.url))
    expect(page.get_by_role("heading", name="Before you pay")).to_be_visible()
    expect(page.get_by_role("button", name="Simulate success")).to_have_count(0)
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_text("Shirt size: this field is required")).to_be_visible()
    page.get_by_label("Shirt size").select_option("s")
    page.get_by_label("Email").fill("bo@example.com")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name="Simulate success").click()
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    answer = client.get(
        f"/api/v1/orders/{opened['orderId']}", headers=bearer(provider.api_key)
    ).get_json()
    assert answer["customFields"][0] == {"key": "size", "label": "Shirt size", "value": "s"}
    assert answer["customerEmail"] == "bo@example.com"
