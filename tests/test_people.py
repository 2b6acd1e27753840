"""Money and time for people, and the customer pages' loose ends (issue 13): amounts in the
viewer's locale, typed amounts with a decimal comma, <time> elements, a link's own title on
its checkout, the password and closed-link pages, the receipt, partial refunds, refused
quantities and error pages with a way back."""

import re

import pytest
from babel.numbers import get_currency_precision

from checkout import audit, money, payment_links
from checkout.payment_links import LinkFields
from tests.helpers import (
    api_new_order,
    api_open_order,
    create_link,
    csrf_token,
    order_from,
    pay_link,
    simulate,
)

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
JAPANESE = {"Accept-Language": "ja"}
NBSP = "\xa0"


def link_of(app, service_id, **fields) -> str:
    with app.app_context():
        fields = {"service_id": service_id, "title": "Spring sale", **fields}
        return payment_links.create_link(LinkFields(**fields), actor=audit.SYSTEM).id


def post_form(client, page_url: str, data: dict, post_url: str | None = None, headers=None):
    """Submit a form as a browser with these headers does."""
    token = csrf_token(client.get(page_url, headers=headers).text)
    return client.post(post_url or page_url, data={**data, "csrf_token": token}, headers=headers)


# Amounts in the viewer's locale


def test_amounts_follow_accept_language(client, make):
    key = make.provider(make.service(price="12.50", currency="eur")).api_key
    order_id = api_new_order(client, key, externalId="E-1", amount=12.5)
    # The English page first: the cached page must not be served to a German reader.
    english = client.get(f"/checkout?orderId={order_id}")
    assert "€12.50" in english.text
    german = client.get(f"/checkout?orderId={order_id}", headers=GERMAN)
    assert f"12,50{NBSP}€" in german.text
    assert "€12.50" not in german.text


def test_english_is_the_fallback(client, make):
    key = make.provider(make.service(price="12.50")).api_key
    order_id = api_new_order(client, key, externalId="E-1", amount=12.5)
    for headers in ({}, {"Accept-Language": "xx-YY"}, {"Accept-Language": "*"}):
        assert "$12.50" in client.get(f"/checkout?orderId={order_id}", headers=headers).text


def test_yen_has_no_decimals_in_japanese(client, make):
    key = make.provider(make.service(price="1500", currency="jpy")).api_key
    order_id = api_new_order(client, key, externalId="E-1", amount=1500)
    page = client.get(f"/checkout?orderId={order_id}", headers=JAPANESE)
    assert "￥1,500" in page.text
    assert "1,500.00" not in page.text


def test_every_currency_gets_as_many_decimals_as_it_has_minor_units():
    # Babel formats with CLDR's digits; an exponent that differs would round or pad.
    for currency, digits in money.EXPONENTS.items():
        assert get_currency_precision(currency.upper()) == digits, currency
    assert money.format_money_for(123456789, "kwd", "en") == f"KWD{NBSP}123,456.789"


# Typed amounts


@pytest.mark.parametrize(
    ("headers", "typed", "shown"),
    [
        (GERMAN, "12,50", f"12,50{NBSP}$"),
        (GERMAN, "12.50", f"12,50{NBSP}$"),
        (GERMAN, "1.234,50", f"1.234,50{NBSP}$"),
        ({}, "1,234.50", "$1,234.50"),
    ],
)
def test_admin_price_accepts_the_locales_decimal_comma(admin_client, headers, typed, shown):
    form = {"title": "Gold", "price": typed, "currency": "usd", "active": "y"}
    response = post_form(admin_client, "/admin/services/new", form, headers=headers)
    assert response.status_code == 302, response.text
    assert shown in admin_client.get("/admin/services", headers=headers).text


@pytest.mark.parametrize(
    ("headers", "typed"), [(GERMAN, "1,234,5"), ({}, "12,50"), (GERMAN, "1e3"), (GERMAN, "12,5x")]
)
def test_admin_price_refuses_numbers_the_locale_does_not_write(admin_client, headers, typed):
    form = {"title": "Gold", "price": typed, "currency": "usd", "active": "y"}
    response = post_form(admin_client, "/admin/services/new", form, headers=headers)
    assert response.status_code == 422
    assert "Amount must be a number" in response.text
    assert "Gold" not in admin_client.get("/admin/services").text


def test_api_amounts_stay_json_numbers(client, api_key):
    response = api_open_order(client, api_key, externalId="E-1", amount="12,50")
    assert response.status_code in (400, 422)


# Partial refunds


def refund(admin_client, order_id: str, amount: str, headers=None):
    """Refund as the admin does: the order page's form, then its confirmation page."""
    url = f"/admin/orders/{order_id}/refund"
    html = admin_client.get(url, query_string={"amount": amount}, headers=headers).text
    key = re.search(r'name="request_key" value="([^"]+)"', html)[1]
    fields = {"amount": amount, "request_key": key, "csrf_token": csrf_token(html)}
    return admin_client.post(url, data=fields, headers=headers)


def test_partial_refund_says_how_much_of_what_was_paid(admin_client, app, make):
    key = make.provider(make.service(price="25", currency="eur")).api_key
    customer = app.test_client()
    order_id = api_new_order(customer, key, externalId="E-1", amount=25)
    assert simulate(customer, order_id).status_code == 303
    assert refund(admin_client, order_id, "5,00", headers=GERMAN).status_code == 302

    page = customer.get(f"/checkout?orderId={order_id}").text
    assert "Partially refunded: €5.00 of €25.00" in page
    assert "Payment refunded" not in page
    assert (
        "Partially refunded: €5.00 of €25.00" in admin_client.get(f"/admin/orders/{order_id}").text
    )
    assert "Partially refunded: €5.00 of €25.00" in admin_client.get("/admin/orders").text


# Times


def test_times_are_time_elements_with_the_utc_value(admin_client, app, make):
    key = make.provider(make.service(), success_url="").api_key
    customer = app.test_client()
    order_id = api_new_order(customer, key, externalId="E-1", amount=5)
    simulate(customer, order_id)
    stamp = (
        r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)" '
        r'title="(\d{4}-\d\d-\d\d \d\d:\d\d) UTC" data-local-time>\2 UTC</time>'
    )
    receipt = customer.get(f"/checkout?orderId={order_id}").text
    moment, shown = re.search(stamp, receipt).groups()
    assert moment[:16].replace("T", " ") == shown
    admin_page = admin_client.get(f"/admin/orders/{order_id}").text
    assert len(re.findall(stamp, admin_page)) >= 3  # created, paid, the timeline
    assert "<time><time" not in admin_page
    assert re.search(stamp, admin_client.get("/admin/orders").text)
    assert 'src="/static/localtime.js"' in receipt


# A payment link's checkout, password page and closed pages


def test_link_checkout_shows_the_links_title_and_description(client, admin_client, make):
    service_id = make.service(title="Premium Credits")
    link_id = create_link(admin_client, service_id, description="Members get two for one")
    order_id = order_from(pay_link(client, link_id))
    page = client.get(f"/checkout?orderId={order_id}").text
    assert '<h1 id="checkout-title">Spring sale</h1>' in page
    assert "Members get two for one" in page


def test_password_page_names_seller_product_and_sandbox(client, app, make):
    service_id = make.service(title="Premium Credits")
    provider_id = make.provider(service_id, key=False, name="Bitloader").id
    link_id = link_of(
        app, service_id, provider_id=provider_id, password="open sesame", description="Secret"
    )
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 200
    assert '<p class="merchant" data-brand-name>Bitloader</p>' in page.text
    assert "<h1>Spring sale</h1>" in page.text
    assert "Sandbox" in page.text and "no real money moves" in page.text
    assert "$5.00" not in page.text and "Secret" not in page.text


def test_closed_link_pages_say_whom_to_contact(client, app, make):
    service_id = make.service()
    provider_id = make.provider(service_id, key=False, name="Bitloader").id
    turned_off = link_of(app, service_id, provider_id=provider_id, active=False)
    page = client.get(f"/l/{turned_off}")
    assert page.status_code == 410
    assert "contact Bitloader" in page.text
    assert '<a href="https://provider.example/">provider.example</a>' in page.text

    used_up = link_of(app, service_id, provider_id=provider_id, max_uses=1)
    simulate(client, order_from(pay_link(client, used_up)))
    page = client.get(f"/l/{used_up}")
    assert page.status_code == 410 and "contact Bitloader" in page.text

    without_provider = link_of(app, service_id, active=False)
    assert "contact the seller" in client.get(f"/l/{without_provider}").text


# The paid page is a receipt


def test_paid_without_success_url_is_a_receipt_with_a_way_back(client, make):
    key = make.provider(make.service(title="Premium Credits"), success_url="").api_key
    order_id = api_new_order(client, key, externalId="E-1", amount=5)
    simulate(client, order_id)
    page = client.get(f"/checkout?orderId={order_id}").text
    assert "<title>Receipt · Premium Credits</title>" in page
    assert "data-receipt" in page and "Bitloader" in page and "$5.00" in page
    assert re.search(r"<dt>Paid</dt><dd data-paid-at><time ", page)
    assert '<a class="button" href="https://provider.example/" data-back-to-seller>' in page
    assert "Back to Bitloader" in page
    assert 'href="/static/print.css" media="print"' in page


def test_receipt_without_any_seller_site_says_the_page_can_be_closed(client, make):
    key = make.provider(make.service(), success_url="", cancel_url="").api_key
    order_id = api_new_order(client, key, externalId="E-1", amount=5)
    simulate(client, order_id)
    page = client.get(f"/checkout?orderId={order_id}").text
    assert "You can close this page." in page
    assert "data-back-to-seller" not in page


def test_paid_sandbox_page_has_no_button_hint_and_shows_the_order_id_once(client, api_key):
    order_id = api_new_order(client, api_key, externalId="E-1", amount=5)
    assert "Use the buttons below" in client.get(f"/checkout?orderId={order_id}").text
    simulate(client, order_id)
    page = client.get(f"/checkout?orderId={order_id}").text
    assert "Payment received" in page
    assert "Sandbox" in page and "Use the buttons below" not in page
    assert len(re.findall(rf">{order_id}<", page)) == 1


# Quantities


def test_refused_quantity_shows_no_total_for_it(client, app, make):
    service_id = make.service(price="12.50", currency="eur")
    link_id = link_of(app, service_id, adjustable_quantity=True, min_quantity=1, max_quantity=4)
    response = pay_link(client, link_id, quantity=9)
    assert response.status_code == 422
    assert 'id="quantity-error"' in response.text
    assert "€112.50" not in response.text
    assert "Total <span data-total>—</span>" in response.text


def test_link_page_tells_its_script_the_locales_number_format(client, app, make):
    link_id = link_of(app, make.service(price="12.50", currency="eur"))
    page = client.get(f"/l/{link_id}", headers=GERMAN).text
    assert f'data-money-example="0,00{NBSP}€"' in page
    assert 'data-decimal="," data-group="."' in page
    assert f"12,50{NBSP}€" in page


# Error pages


def test_unknown_address_gets_kassas_page_with_a_way_back(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "<html" in page.text
    assert "not found on the server" not in page.text  # Werkzeug's sentence
    assert "There is nothing at this address" in page.text
    assert '<a href="/" data-way-back>' in page.text


def test_admin_404_without_description_leads_back_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/services/svc_nope/edit")
    assert page.status_code == 404
    assert "not found on the server" not in page.text
    assert '<a href="/admin/" data-way-back>Back to the admin dashboard</a>' in page.text


def test_refused_link_action_leads_back_to_the_link(client, app, make):
    link_id = link_of(app, make.service(), password="open sesame")
    page = client.get(f"/l/{link_id}")
    response = client.post(f"/l/{link_id}/pay", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 403
    assert f'<a href="/l/{link_id}" data-way-back>Back to the payment link</a>' in response.text
