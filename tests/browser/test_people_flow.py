"""Money and time for people in Chromium: the link total follows a typed quantity in the
viewer's locale, and times show in the viewer's time zone with the UTC value kept."""

import re

import pytest
from playwright.sync_api import Browser, expect

from checkout import audit, payment_links
from checkout.payment_links import LinkFields
from tests.helpers import api_new_order, simulate

pytestmark = pytest.mark.browser


@pytest.fixture
def german_in_tokyo(browser: Browser):
    """A German-speaking customer whose clock is set to Tokyo (UTC+9, no summer time)."""
    context = browser.new_context(locale="de-DE", timezone_id="Asia/Tokyo")
    yield context.new_page()
    context.close()


def test_link_total_follows_the_typed_quantity(german_in_tokyo, app, live_server, make):
    page = german_in_tokyo
    service_id = make.service(title="Ticket", price="12.50", currency="eur")
    with app.app_context():
        link_id = payment_links.create_link(
            LinkFields(
                service_id=service_id,
                title="Festival tickets",
                adjustable_quantity=True,
                min_quantity=1,
                max_quantity=20,
            ),
            actor=audit.SYSTEM,
        ).id
    page.goto(f"{live_server.url}/l/{link_id}")
    total = page.locator("[data-total]")
    expect(total).to_have_text("12,50\xa0€")
    quantity = page.get_by_label("Quantity")
    quantity.fill("9")
    expect(total).to_have_text("112,50\xa0€")
    quantity.fill("12")
    expect(total).to_have_text("150,00\xa0€")
    quantity.fill("25")  # above the largest quantity: no total for it
    expect(total).to_have_text("—")
    quantity.fill("")
    expect(total).to_have_text("—")
    quantity.fill("3")
    expect(total).to_have_text("37,50\xa0€")


def test_times_show_in_the_viewers_time_zone(german_in_tokyo, app, live_server, make):
    page = german_in_tokyo
    key = make.provider(make.service(), success_url="").api_key
    client = app.test_client()
    order_id = api_new_order(client, key, externalId="E-1", amount=5)
    simulate(client, order_id)
    page.goto(f"{live_server.url}/checkout?orderId={order_id}")
    paid = page.locator("[data-paid-at] time")
    expect(paid).to_have_attribute("data-localised", "")
    utc = paid.get_attribute("title")
    moment = paid.get_attribute("datetime")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", utc)
    expected = page.evaluate(
        """moment => new Intl.DateTimeFormat(undefined, {year: "numeric", month: "short",
        day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short"})
        .format(new Date(moment))""",
        moment,
    )
    assert paid.text_content() == expected
    assert paid.text_content() != utc
    # Tokyo is nine hours ahead of UTC: the shown hour is the UTC hour plus nine.
    hour = (int(moment[11:13]) + 9) % 24
    assert re.search(rf"\b0?{hour}:{moment[14:16]}\b", expected), expected
