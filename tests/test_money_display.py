"""One rule for showing an amount Stripe reported in a currency Kassa does not know, and
refunds shown in the currency the order was paid in, on pages as in the timeline."""

from checkout import money, orders
from checkout.models import Order


def test_an_unknown_currency_shows_its_minor_units_on_pages_and_in_the_timeline(app):
    with app.test_request_context():
        assert money.display_reported(1500, "xyz") == "1500 XYZ (minor units)"
        assert money.format_reported(1500, "xyz") == "1500 XYZ (minor units)"
        assert money.format_reported(1500, "usd") == "$15.00"


def test_paid_and_refunded_amounts_read_in_the_currency_paid(app):
    order = Order(
        currency="usd",
        amount_minor=1500,
        paid_currency="jpy",
        paid_amount_minor=1500,
        refunded_amount_minor=500,
    )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert order.paid_amount_display == money.display(1500, "jpy")
        assert order.refunded_amount_display == money.display(500, "jpy")
        assert orders.order_display(order, 500) == money.format_money(500, "jpy") == "¥500"
    unknown = Order(
        currency="usd", paid_currency="xyz", paid_amount_minor=7, refunded_amount_minor=3
    )
    with app.test_request_context():
        assert unknown.paid_amount_display == "7 XYZ (minor units)"
        assert unknown.refunded_amount_display == "3 XYZ (minor units)"
        assert orders.order_display(unknown, 3) == "3 XYZ (minor units)"
