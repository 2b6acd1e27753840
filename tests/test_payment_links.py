"""Payment links: sharing, rules (expiry, limits, passwords), orders, QR codes and analytics."""

import re
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from tests.helpers import (
    api_order_json,
    bearer,
    create_link,
    csrf_token,
    form_post,
    order_from,
    pay_link,
    simulate,
)

ZBARIMG = "/usr/bin/zbarimg"


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one local source address (all of 127.0.0.0/8 is this machine)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


def utc_input(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def service_id(make):
    return make.service(title="Premium Credits", price="5")


def test_link_page_shows_its_title_price_and_quantity(admin_client, client, service_id):
    link_id = create_link(
        admin_client,
        service_id,
        description="Credits for the spring",
        adjustable_quantity="y",
        min_quantity="2",
        max_quantity="6",
    )
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 200
    for text in ("Spring sale", "Credits for the spring", "$5.00", "$10.00"):
        assert text in page.text
    # The customer sees the product's title above its price, never the service behind it.
    assert "Premium Credits" not in page.text
    assert page.text.index("Spring sale</h1>") < page.text.index("$5.00")
    assert 'min="2" max="6"' in page.text
    moved = client.get(f"/checkout?paymentLinkId={link_id}")
    assert moved.status_code == 302 and moved.headers["Location"] == f"/l/{link_id}"
    same = client.get(f"/checkout?paymentLinkId={link_id}", follow_redirects=True)
    assert same.status_code == 200 and "Spring sale" in same.text


def test_fixed_quantity_link_opens_an_order_and_pays(admin_client, client, service_id):
    link_id = create_link(
        admin_client, service_id, quantity="3", confirmation_message="See you at the fair!"
    )
    order_id = order_from(pay_link(client, link_id, quantity=9))
    checkout = client.get(f"/checkout?orderId={order_id}")
    assert "$15.00" in checkout.text
    assert re.search(r"data-quantity>3<", checkout.text)
    assert "Back to the payment link" in checkout.text
    simulate(client, order_id)
    paid = client.get(f"/checkout?orderId={order_id}").text
    assert "Payment received" in paid and "See you at the fair!" in paid
    assert "data-countdown" not in paid


def test_a_link_showing_its_message_never_redirects_to_its_providers_success_url(
    admin_client, client, make, service_id
):
    provider_id = make.provider(service_id=service_id).id
    message_link = create_link(
        admin_client,
        service_id,
        provider_id=provider_id,
        after_payment="message",
        confirmation_message="Your tickets are on their way.",
    )
    redirect_link = create_link(
        admin_client,
        service_id,
        provider_id=provider_id,
        after_payment="redirect",
        redirect_url="https://fair.example/thanks?order={orderId}",
    )
    paid = {}
    for link_id in (message_link, redirect_link):
        order_id = order_from(pay_link(client, link_id))
        simulate(client, order_id)
        paid[link_id] = (order_id, client.get(f"/checkout?orderId={order_id}").text)

    order_id, page = paid[message_link]
    assert "Your tickets are on their way." in page
    assert "data-countdown" not in page and "http-equiv" not in page
    assert "provider.example/success" not in page
    order_id, page = paid[redirect_link]
    assert f'data-redirect-url="https://fair.example/thanks?order={order_id}"' in page
    assert f'content="5;url=https://fair.example/thanks?order={order_id}"' in page


def test_adjustable_quantity_is_bounded(admin_client, client, app, service_id):
    link_id = create_link(
        admin_client, service_id, adjustable_quantity="y", min_quantity="2", max_quantity="4"
    )
    for bad in (1, 5, "abc"):
        response = pay_link(client, link_id, quantity=bad)
        assert response.status_code == 422
    order_id = order_from(pay_link(client, link_id, quantity=4))
    assert "$20.00" in client.get(f"/checkout?orderId={order_id}").text


def test_unknown_links_are_404(client):
    assert client.get("/l/plink_" + "0" * 24).status_code == 404
    assert client.get("/l/nonsense").status_code == 404
    assert client.get("/checkout?paymentLinkId=nope").status_code == 404


def test_expiry_boundary(admin_client, client, app, service_id):
    from checkout.extensions import db
    from checkout.models import PaymentLink, utcnow

    link_id = create_link(admin_client, service_id)
    with app.app_context():
        db.session.get(PaymentLink, link_id).expires_at = utcnow() + timedelta(seconds=1.5)
        db.session.commit()
    assert client.get(f"/l/{link_id}").status_code == 200
    form_page = client.get(f"/l/{link_id}").text
    time.sleep(1.6)
    expired = client.get(f"/l/{link_id}")
    assert expired.status_code == 410
    assert "This payment link has expired" in expired.text
    response = client.post(f"/l/{link_id}/pay", data={"csrf_token": csrf_token(form_page)})
    assert response.status_code == 410
    with app.app_context():
        link = db.session.get(PaymentLink, link_id)
        link.expires_at = utcnow()  # exactly now: already expired
        db.session.commit()
    assert client.get(f"/l/{link_id}").status_code == 410
    assert "0 orders" in admin_client.get("/admin/orders").text


def test_deactivated_link_is_410_until_turned_on(admin_client, client, service_id):
    link_id = create_link(admin_client, service_id)
    token = csrf_token(admin_client.get(f"/admin/links/{link_id}").text)
    admin_client.post(f"/admin/links/{link_id}/deactivate", data={"csrf_token": token})
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 410
    assert "turned off" in page.text
    assert "Pay" not in re.sub(r"<title>.*?</title>", "", page.text)
    admin_client.post(f"/admin/links/{link_id}/activate", data={"csrf_token": token})
    assert client.get(f"/l/{link_id}").status_code == 200


def test_used_up_after_max_completed_payments(admin_client, client, service_id):
    link_id = create_link(admin_client, service_id, max_uses="2")
    for _ in range(2):
        simulate(client, order_from(pay_link(client, link_id)))
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 410
    assert "reached its number of payments" in page.text


def test_a_payment_under_way_holds_the_last_use(admin_client, client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="1")
    first = order_from(pay_link(client, link_id))
    simulate(client, first, "processing")
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"  # another customer
    response = pay_link(other, link_id)
    assert response.status_code == 409
    assert "being made right now" in response.text
    simulate(client, first, "failed")
    simulate(client, first)
    assert client.get(f"/l/{link_id}").status_code == 410


def test_checkout_of_a_used_up_link_offers_no_payment(admin_client, client, app, service_id):
    from checkout.extensions import db
    from checkout.models import Order

    link_id = create_link(admin_client, service_id, max_uses="1")
    stale = order_from(pay_link(client, link_id))
    with app.app_context():  # the hold ran out and someone else paid
        db.session.get(Order, stale).created_at -= timedelta(hours=1)
        db.session.commit()
    simulate(client, order_from(pay_link(app.test_client(), link_id)))
    page = client.get(f"/checkout?orderId={stale}")
    assert page.status_code == 410
    assert "Simulate" not in page.text


def test_max_uses_hold_under_concurrent_customers(admin_client, live_server, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    url = f"{live_server.url}/l/{link_id}"
    customers = []
    for number in range(10):
        session = requests.Session()
        # Ten customers, each from an address of its own, each with an order and its page.
        session.mount("http://", FromAddress(f"127.0.0.{number + 1}"))
        token = csrf_token(session.get(url, timeout=10).text)
        opened = session.post(
            url + "/pay", data={"csrf_token": token}, allow_redirects=False, timeout=30
        )
        order_id = order_from(opened)
        page = session.get(f"{live_server.url}/checkout?orderId={order_id}", timeout=10).text
        customers.append((session, order_id, csrf_token(page)))
    barrier = threading.Barrier(len(customers))
    results = []

    def press_success(session, order_id, token):
        barrier.wait()
        response = session.post(
            f"{live_server.url}/checkout/sandbox",
            data={"orderId": order_id, "outcome": "succeeded", "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        results.append(response)

    threads = [threading.Thread(target=press_success, args=one) for one in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Starting to pay takes a use: three of the ten get one; the others are told to wait
    # (409), or, once the three have paid, that the link is used up (410).
    statuses = sorted(response.status_code for response in results)
    assert statuses[:3] == [303] * 3 and set(statuses[3:]) <= {409, 410}
    assert requests.get(url, timeout=10).status_code == 410
    page = admin_client.get(f"/admin/links/{link_id}").text
    assert re.search(r'data-stat="paid">3<', page)


class TestPassword:
    @pytest.fixture
    def customer(self, app):
        """A customer's browser, apart from the admin's."""
        return app.test_client()

    @pytest.fixture
    def link_id(self, admin_client, service_id):
        return create_link(
            admin_client, service_id, password="open sesame", description="Members only"
        )

    def test_content_is_not_sent_before_unlocking(self, customer, link_id):
        page = customer.get(f"/l/{link_id}")
        assert page.status_code == 200
        assert "This payment link is protected" in page.text
        # The title says what the password is for (issue 13); the rest waits for it.
        assert "<h1>Spring sale</h1>" in page.text
        for secret in ("Members only", "Premium Credits", "$5.00"):
            assert secret not in page.text
        response = customer.post(f"/l/{link_id}/pay", data={"csrf_token": csrf_token(page.text)})
        assert response.status_code == 403

    def test_correct_password_unlocks_this_browser_session_only(self, customer, app, link_id):
        token = csrf_token(customer.get(f"/l/{link_id}").text)
        response = customer.post(
            f"/l/{link_id}/unlock", data={"password": "open sesame", "csrf_token": token}
        )
        assert response.status_code == 303
        assert "Members only" in customer.get(f"/l/{link_id}").text
        assert order_from(pay_link(customer, link_id))
        stranger = app.test_client()
        assert "Members only" not in stranger.get(f"/l/{link_id}").text

    def test_wrong_passwords_lock_out_after_five(self, customer, app, link_id):
        token = csrf_token(customer.get(f"/l/{link_id}").text)
        for _ in range(5):
            response = customer.post(
                f"/l/{link_id}/unlock", data={"password": "guess", "csrf_token": token}
            )
            assert response.status_code == 401
            assert "not right" in response.text
        locked = customer.post(
            f"/l/{link_id}/unlock", data={"password": "open sesame", "csrf_token": token}
        )
        assert locked.status_code == 429
        assert "Try again in 15 minutes" in locked.text
        assert "Members only" not in customer.get(f"/l/{link_id}").text

        elsewhere = app.test_client()
        environ = {"REMOTE_ADDR": "10.9.8.7"}
        page = elsewhere.get(f"/l/{link_id}", environ_base=environ)
        response = elsewhere.post(
            f"/l/{link_id}/unlock",
            data={"password": "open sesame", "csrf_token": csrf_token(page.text)},
            environ_base=environ,
        )
        assert response.status_code == 303

    def test_new_password_locks_unlocked_sessions(
        self, customer, admin_client, link_id, service_id
    ):
        token = csrf_token(customer.get(f"/l/{link_id}").text)
        customer.post(f"/l/{link_id}/unlock", data={"password": "open sesame", "csrf_token": token})
        assert "Members only" in customer.get(f"/l/{link_id}").text
        edit = f"/admin/links/{link_id}/edit"
        fields = {
            "title": "Spring sale",
            "service_id": service_id,
            "quantity": "1",
            "active": "y",
            "description": "Members only",
            "password": "new secret",
            "csrf_token": csrf_token(admin_client.get(edit).text),
        }
        assert admin_client.post(edit, data=fields).status_code == 302
        assert "Members only" not in customer.get(f"/l/{link_id}").text


@pytest.mark.multiprocess  # zbarimg reads the PNG
def test_qr_code_decodes_to_the_link_url(admin_client, client, app, service_id, tmp_path):
    app.config["PUBLIC_BASE_URL"] = "https://pay.example.com"
    link_id = create_link(admin_client, service_id)
    png = client.get(f"/l/{link_id}/qr.png?download=1")
    assert png.headers["Content-Type"] == "image/png"
    assert f'filename="{link_id}.png"' in png.headers["Content-Disposition"]
    path = tmp_path / "qr.png"
    path.write_bytes(png.data)
    decoded = subprocess.run(
        [ZBARIMG, "--raw", "-q", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == f"https://pay.example.com/l/{link_id}"
    svg = client.get(f"/l/{link_id}/qr.svg")
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.data.startswith(b"<svg") or b"<svg" in svg.data[:200]
    assert "<svg" in admin_client.get(f"/admin/links/{link_id}").text


def test_analytics_count_views_visitors_orders_and_revenue(admin_client, app, service_id):
    from sqlalchemy import select

    from checkout.extensions import db
    from checkout.models import LinkView

    link_id = create_link(admin_client, service_id, quantity="2")
    alice, bob = app.test_client(), app.test_client()
    alice.get(f"/l/{link_id}", headers={"User-Agent": "Alice"})
    alice.get(f"/l/{link_id}", headers={"User-Agent": "Alice"})
    bob.get(f"/l/{link_id}", headers={"User-Agent": "Bob"})
    order_id = order_from(pay_link(alice, link_id))  # a fourth view, still Alice's browser
    pay_link(bob, link_id)
    simulate(alice, order_id)

    page = admin_client.get(f"/admin/links/{link_id}").text
    stat = dict(re.findall(r'data-stat="(\w+)">([^<]+)<', page))
    assert stat["views"] == "5"
    assert stat["visitors"] == "2"  # a browser is one visitor, whatever agent it names
    assert stat["started"] == "2"
    assert stat["paid"] == "1"
    assert stat["revenue"] == "$10.00"
    assert stat["conversion"] == "50.0%"
    today = datetime.now(UTC).date().isoformat()
    assert re.search(rf'data-day="{today}" data-views="5" data-paid="1"', page)
    dashboard = admin_client.get("/admin/").text
    assert re.search(r'data-links-total="revenue">\$10.00<', dashboard)
    with app.app_context():
        stored = db.session.scalars(select(LinkView.visitor_hash)).all()
    assert stored and not any("127.0.0.1" in value for value in stored)


def test_admin_copy_and_edit(admin_client, service_id):
    link_id = create_link(admin_client, service_id, max_uses="7", metadata_text="campaign=spring")
    detail = admin_client.get(f"/admin/links/{link_id}").text
    assert "campaign" in detail and "spring" in detail
    response = admin_client.post(
        f"/admin/links/{link_id}/copy", data={"csrf_token": csrf_token(detail)}
    )
    assert response.status_code == 302
    twin = re.search(r"/admin/links/(plink_[0-9a-f]{24})/edit", response.headers["Location"])[1]
    assert twin != link_id
    edit = admin_client.get(f"/admin/links/{twin}/edit").text
    assert "Spring sale (copy)" in edit and "campaign=spring" in edit and 'value="7"' in edit


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "0"}, "Number must be between 1 and 10000"),
        ({"adjustable_quantity": "y", "min_quantity": "5", "max_quantity": "2"}, "below"),
        ({"after_payment": "redirect"}, "Give the URL"),
        ({"after_payment": "redirect", "redirect_url": "javascript:alert(1)"}, "absolute"),
        ({"metadata_text": "no equals sign"}, "not key=value"),
        ({"password": "abcdefg"}, "between 8 and 200"),
        ({"quantity": "100000000"}, "between 1 and 10000"),
    ],
)
def test_bad_link_input_is_422(admin_client, service_id, fields, message):
    data = {"title": "Sale", "service_id": service_id, "quantity": "1", **fields}
    response = form_post(admin_client, "/admin/links/new", data)
    assert response.status_code == 422
    assert message in response.text
    assert "No payment links yet" in admin_client.get("/admin/links").text


def test_total_over_the_ceiling_is_refused(admin_client, make):
    pricey = make.service(title="Yacht", price="500000", slug="yacht")
    data = {"title": "Yachts", "service_id": pricey, "quantity": "3"}
    response = form_post(admin_client, "/admin/links/new", data)
    assert response.status_code == 422
    assert "would exceed" in response.text


def test_links_from_the_command_line(runner, make, client):
    make.service(title="Premium Credits", price="5", slug="credits")
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    result = runner.invoke(
        args=[
            "links", "create", "--service", "credits", "--password", "let me in",
            "--expires-at", expires, "--max-uses", "4", "--quantity", "2", "--json",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    body = json.loads(result.output)
    assert body["id"].startswith("plink_")
    assert body["url"] == f"http://localhost:8000/l/{body['id']}"
    assert body["passwordProtected"] is True
    assert body["maxUses"] == 4 and body["quantity"] == 2 and body["status"] == "active"
    assert body["expiresAt"].startswith(expires[:16])
    assert "protected" in client.get(f"/l/{body['id']}").text
    bad = runner.invoke(args=["links", "create", "--service", "credits", "--expires-at", "soon"])
    assert bad.exit_code == 1
    past = runner.invoke(
        args=["links", "create", "--service", "credits", "--expires-at", "2000-01-01", "--json"]
    )
    assert "future" in json.loads(past.output)["error"]


class TestApi:
    @pytest.fixture
    def provider(self, make, receiver_url="http://127.0.0.1:9/hook"):
        service = make.service(title="Premium Credits", price="5")
        return make.provider(
            service_id=service,
            webhook_url=receiver_url,
            success_url="https://shop.example/thanks?o={orderId}",
        )

    def post(self, client, key, **body):
        return client.post("/api/v1/payment-links", json=body, headers=bearer(key))

    def test_create_and_fetch(self, client, make, provider):
        key = provider.api_key
        expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = self.post(
            client, key, title="VIP", minQuantity=1, maxQuantity=5, expiresAt=expires,
            maxUses=10, metadata={"campaign": "vip"}, password="hunter22",
        )  # fmt: skip
        assert response.status_code == 201
        body = response.get_json()
        assert body["adjustableQuantity"] is True
        assert body["unitAmount"] == Decimal("5.00")
        assert body["metadata"] == {"campaign": "vip"}
        assert "password" not in body and body["passwordProtected"] is True
        fetched = client.get(f"/api/v1/payment-links/{body['id']}", headers=bearer(key))
        assert fetched.get_json() == body
        other_key = make.provider(
            service_id=make.service(title="Other", slug="o"), name="O"
        ).api_key
        other = client.get(f"/api/v1/payment-links/{body['id']}", headers=bearer(other_key))
        assert other.status_code == 404

    @pytest.mark.parametrize(
        "body",
        [
            {"quantity": "2"},
            {"quantity": 0},
            {"maxUses": True},
            {"metadata": {"a": 1}},
            {"metadata": []},
            {"expiresAt": "tomorrow"},
            {"expiresAt": "2001-01-01T00:00:00Z"},
            {"title": 5},
            {"redirectUrl": "ftp://x"},
            {"minQuantity": 4, "maxQuantity": 2},
        ],
    )
    def test_bad_input_is_422(self, client, provider, body):
        response = self.post(client, provider.api_key, **body)
        assert response.status_code == 422
        assert "error" in response.get_json()

    def test_provider_settings_apply_to_link_orders(self, client, admin_client, provider):
        key = provider.api_key
        link_id = self.post(client, key, quantity=2).get_json()["id"]
        order_id = order_from(pay_link(client, link_id))
        order = api_order_json(client, key, order_id)
        assert order["paymentLinkId"] == link_id and order["quantity"] == 2
        simulate(client, order_id)
        page = client.get(f"/checkout?orderId={order_id}").text
        # Without a redirectUrl the link shows its message: the provider's success URL is
        # not where its customers go (issue 17), its site is only linked.
        assert f"https://shop.example/thanks?o={order_id}" not in page
        assert "data-countdown" not in page and "data-back-to-seller" in page
        detail = admin_client.get(f"/admin/orders/{order_id}").text
        assert "payment_succeeded" in detail

    def test_link_redirect_wins_over_the_provider(self, client, provider):
        key = provider.api_key
        link_id = self.post(client, key, redirectUrl="https://promo.example/{orderId}").get_json()[
            "id"
        ]
        order_id = order_from(pay_link(client, link_id))
        simulate(client, order_id)
        assert (
            f"https://promo.example/{order_id}" in client.get(f"/checkout?orderId={order_id}").text
        )


def embed_snippet(admin_client, link_id: str) -> str:
    """The pay-button snippet the link's admin page offers to copy."""
    page = admin_client.get(f"/admin/links/{link_id}").text
    return re.search(r'<textarea id="embed"[^>]*>([^<]+)</textarea>', page)[1]


def test_the_embed_snippet_claims_only_the_total_the_customer_pays(admin_client, make, service_id):
    choose = create_link(
        admin_client, service_id, adjustable_quantity="y", min_quantity="1", max_quantity="5"
    )
    assert 'data-label="Pay from $5.00"' in embed_snippet(admin_client, choose)
    from_two = create_link(
        admin_client, service_id, adjustable_quantity="y", min_quantity="2", max_quantity="5"
    )
    assert 'data-label="Pay from $10.00"' in embed_snippet(admin_client, from_two)
    three = create_link(admin_client, service_id, quantity="3")
    assert 'data-label="Pay $15.00"' in embed_snippet(admin_client, three)
    one = create_link(admin_client, service_id)
    assert 'data-label="Pay $5.00"' in embed_snippet(admin_client, one)
    # With a Buy Button provider Stripe's page asks the quantity: no amount is promised.
    button = make.service(
        title="Pro", price="300", buy_button_id="buy_btn_1A", stripe_payment_link_id="plink_1A"
    )
    provider_id = make.provider(
        service_id=button, use_stripe_checkout=True, name="Shop", slug="shop"
    ).id
    on_stripe = create_link(admin_client, button, provider_id=provider_id, quantity="2")
    assert 'data-label="Pay"' in embed_snippet(admin_client, on_stripe)


def test_embed_script_is_small():
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "static" / "kassa.js"
    assert script.stat().st_size < 7 * 1024
