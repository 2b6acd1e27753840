"""The dashboard: paid volume per currency, its trend, conversion, and what needs attention."""

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from checkout import notifications
from checkout.extensions import db
from checkout.models import Notification, NotificationStatus, Order, utcnow
from tests.helpers import UNREACHABLE_HOOK, api_new_order, api_paid_order


def shift(app, order_id: str, days: int) -> None:
    """Move an order's opening and payment back in time by whole days."""
    with app.app_context():
        moment = utcnow() - timedelta(days=days)
        db.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(created_at=moment, paid_at=moment, updated_at=moment)
        )
        db.session.commit()


def tile(html: str, days: int) -> str:
    return html.split(f'data-window="{days}"')[1].split("</div>")[0]


def volumes(html: str, days: int) -> dict[str, str]:
    return dict(re.findall(r'data-volume="(\w+)">([^<]+)<', tile(html, days)))


def test_paid_volume_per_currency_for_today_7_and_30_days(app, admin_client, client, make):
    dollars = make.provider(service_id=make.service(currency="usd", price="2.50")).api_key
    euro_service = make.service(currency="eur", title="Euro credits", price="9.99")
    euros = make.provider(service_id=euro_service, name="Euro shop").api_key
    api_paid_order(client, dollars, "D-1", amount=12.5)
    api_paid_order(client, dollars, "D-2", amount=2.5)
    shift(app, api_paid_order(client, dollars, "D-3", amount=100), days=3)
    shift(app, api_paid_order(client, dollars, "D-4", amount=1000), days=20)
    shift(app, api_paid_order(client, dollars, "D-5", amount=7.5), days=40)
    api_paid_order(client, euros, "E-1", amount=9.99)
    api_new_order(client, dollars, externalId="D-6", amount=5)  # opened today, not paid

    html = admin_client.get("/admin/").text
    assert volumes(html, 1) == {"eur": "€9.99", "usd": "$15.00"}
    assert volumes(html, 7) == {"eur": "€9.99", "usd": "$115.00"}
    assert volumes(html, 30) == {"eur": "€9.99", "usd": "$1,115.00"}
    assert "data-paid-count>3<" in tile(html, 1)
    assert "data-paid-count>5<" in tile(html, 30)
    # Today: 3 of 4 opened orders were paid.
    assert "data-conversion>75.0%<" in tile(html, 1)
    assert "data-conversion>83.3%<" in tile(html, 30)


def test_no_orders_shows_zero_and_no_conversion(admin_client):
    html = admin_client.get("/admin/").text
    assert 'data-volume="none">0<' in tile(html, 30)
    assert "data-conversion>—<" in tile(html, 30)
    assert "data-trend=" not in html


def test_the_trend_chart_is_one_accessible_svg_per_currency(app, admin_client, client, make):
    dollars = make.provider(service_id=make.service(currency="usd")).api_key
    euro_service = make.service(currency="eur", title="Euro credits", price="7")
    euros = make.provider(service_id=euro_service, name="Euro shop").api_key
    api_paid_order(client, dollars, "D-1", amount=5)
    shift(app, api_paid_order(client, dollars, "D-2", amount=20), days=2)
    api_paid_order(client, euros, "E-1", amount=7)

    html = admin_client.get("/admin/").text
    usd = html.split('data-trend="usd"')[1].split("</figure>")[0]
    assert 'role="img"' in usd and "aria-labelledby=" in usd
    assert '<title id="trend-usd-title">Paid volume per day in USD, last 30 days</title>' in usd
    assert "$25.00 from 2 orders" in usd and "busiest day took $20.00" in usd
    bars = re.findall(r'<rect class="bar-paid"[^>]*height="(\d+)" data-day="([\d-]+)"', usd)
    assert len(bars) == 30
    heights = [int(height) for height, _ in bars]
    assert heights[-1] == 30 and heights[-3] == 120 and sum(heights) == 150
    assert usd.count("<tr><td>") == 30
    eur = html.split('data-trend="eur"')[1].split("</figure>")[0]
    assert "€7.00 from 1 order " in eur and "$" not in eur


def test_deliveries_and_stuck_orders_needing_attention_link_to_them(
    app, admin_client, client, make
):
    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    api_paid_order(client, key, "P-1", amount=5)
    api_paid_order(client, key, "P-2", amount=5)
    stuck = api_new_order(client, key, externalId="S-1", amount=5)
    fresh = api_new_order(client, key, externalId="S-2", amount=5)
    with app.app_context():
        first, second = db.session.scalars(db.select(Notification.id)).all()[:2]
        db.session.execute(
            update(Notification)
            .where(Notification.id == first)
            .values(status=NotificationStatus.FAILED)
        )
        db.session.execute(update(Notification).where(Notification.id == second).values(attempts=2))
        db.session.execute(
            update(Order)
            .where(Order.id == stuck)
            .values(created_at=utcnow() - timedelta(seconds=901))
        )
        db.session.commit()

    html = admin_client.get("/admin/").text
    deliveries = html.split("data-attention-deliveries>")[1].split("</p>")[0]
    assert "1 notification failed" in deliveries and "1 is being retried" in deliveries
    assert 'href="/admin/deliveries?status=failed"' in deliveries
    assert 'href="/admin/deliveries?status=pending"' in deliveries
    stuck_block = html.split('data-stuck="1"')[1].split("</div>")[0]
    assert f'href="/admin/orders/{stuck}"' in stuck_block
    assert fresh not in stuck_block


class _Refuses(BaseHTTPRequestHandler):
    """A provider endpoint that answers every notification 400."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_hook():
    """The URL of an endpoint, in a thread of this process, that refuses every notification."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def delivery_tiles(admin_client) -> dict[str, int]:
    """The dashboard's notification tiles: being delivered, retrying, failed."""
    html = admin_client.get("/admin/").text
    return {
        name: int(count) for name, count in re.findall(r'data-deliveries="(\w+)"[^>]*>(\d+)<', html)
    }


def test_a_notification_its_endpoint_refuses_shows_as_retrying_not_being_delivered(
    app, admin_client, client, make, refusing_hook
):
    key = make.provider(webhook_url=refusing_hook).api_key
    api_paid_order(client, key, "R-1", amount=5)
    assert delivery_tiles(admin_client) == {"sending": 1, "retrying": 0, "failed": 0}
    with app.app_context():
        [message] = db.session.scalars(db.select(Notification.id)).all()
        notifications.deliver(message)  # the worker's first attempt: 400

    assert delivery_tiles(admin_client) == {"sending": 0, "retrying": 1, "failed": 0}
    html = admin_client.get("/admin/").text
    assert "0 notifications failed</strong>\n  and 1 is being retried" in html
    listed = admin_client.get("/admin/deliveries").text
    assert '<span class="badge badge-retrying">Retrying</span>' in listed
    assert "400" in listed.split("badge-retrying")[1].split("</td>")[0]

    with app.app_context():  # every retry failed
        db.session.execute(
            update(Notification)
            .where(Notification.id == message)
            .values(status=NotificationStatus.FAILED)
        )
        db.session.commit()
    assert delivery_tiles(admin_client) == {"sending": 0, "retrying": 0, "failed": 1}
