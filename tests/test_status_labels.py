"""People read statuses in words ("Partially refunded"); the API, the CSV export and the
CLI's JSON keep the values (`partially_refunded`)."""

import re

import pytest

from checkout import web
from checkout.models import NotificationStatus, OrderStatus, PaymentMode
from tests.helpers import api_order_json, api_paid_order, csrf_token


def shown(html: str) -> str:
    """A page's text as a person reads it: no tags, attributes or URLs."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def partially_refunded(admin_client, client, api_key) -> str:
    order_id = api_paid_order(client, api_key, "L-1", amount=15)
    page = admin_client.get(f"/admin/orders/{order_id}/refund").text  # the confirmation
    key = re.search(r'name="request_key" value="([^"]+)"', page)[1]
    form = {"amount": "10", "csrf_token": csrf_token(page), "request_key": key}
    assert admin_client.post(f"/admin/orders/{order_id}/refund", data=form).status_code == 302
    return order_id


def test_admin_and_customer_pages_name_statuses_in_words(admin_client, client, api_key, runner):
    order_id = partially_refunded(admin_client, client, api_key)

    order = admin_client.get(f"/admin/orders/{order_id}").text
    # The timeline is Kassa's log of state-machine moves, kept as it was written.
    order = order[: order.index("<h2>Timeline</h2>")]
    pages = {
        "order": order,
        "orders": admin_client.get("/admin/orders").text,
        "filtered": admin_client.get("/admin/orders?status=partially_refunded").text,
        "dashboard": admin_client.get("/admin/").text,
        "checkout": client.get(f"/checkout?orderId={order_id}").text,
    }
    for name, html in pages.items():
        assert "partially_refunded" not in shown(html), name
    badge = '<span class="badge badge-partially_refunded">Partially refunded</span>'
    for name in ("order", "orders", "filtered", "dashboard"):  # the dashboard's latest orders
        assert badge in pages[name], name
    tile = r'tile-count">1</span>\s*<span class="tile-label">Partially refunded<'
    assert re.search(tile, pages["dashboard"])
    option = '<option selected value="partially_refunded">Partially refunded</option>'
    assert option in pages["filtered"]
    assert "<dt>Mode</dt><dd>Cash App Pay</dd>" in order
    assert "Payment partly refunded" in pages["checkout"]

    # Machines keep the values.
    assert api_order_json(client, api_key, order_id)["status"] == "partially_refunded"
    assert '"partially_refunded"' in admin_client.get("/admin/orders.csv").text


def test_notification_statuses_read_in_words(admin_client, client, make):
    make.provider(webhook_url="http://127.0.0.1:9/hook")
    listed = admin_client.get("/admin/deliveries").text
    assert '<option value="pending">Pending</option>' in listed
    assert '<option value="delivered">Delivered</option>' in listed
    assert "delivered" not in shown(listed)


@pytest.mark.parametrize("kind", [OrderStatus, NotificationStatus, PaymentMode])
def test_every_status_and_mode_has_its_label(kind):
    for value in kind:
        assert web.STATUS_LABELS[value.value][0].isupper(), value
        assert "_" not in web.STATUS_LABELS[value.value]
