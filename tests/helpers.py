"""Helpers the test modules share: requests made as a client would, reading pages, and
reading what the database holds about an order."""

import base64
import hashlib
import hmac
import os
import re
import time

import sqlalchemy as sa

# Every API key scope, as the admin's key form posts them.
ALL_SCOPES = [
    "orders:write",
    "orders:read",
    "links:write",
    "links:read",
    "refunds:write",
    "webhooks:write",
    "webhooks:read",
]

# A provider webhook URL where nothing listens: notifications are queued and never arrive.
UNREACHABLE_HOOK = "http://127.0.0.1:9/hook"

# A change in an order's timeline: "pending → paid (…)", "…: 1 → 3 bought".
CHANGE = re.compile(r"(\w+ → \w+)")


def error_body(message: str, code: str, param: str | None = None) -> dict:
    """The body of an API error: the message, its code, and the field it is about."""
    return {"error": message, "code": code, "param": param}


def bearer(key: str) -> dict:
    """The Authorization header that carries a provider's API key."""
    return {"Authorization": f"Bearer {key}"}


def timestamped_signature(
    secret: str, method: str, target: str, body: bytes = b"", at: int | None = None
) -> dict:
    """The Signature header of a request signed the timestamped way: t and the base64
    HMAC-SHA256 of "t.METHOD.path?query.body"."""
    at = int(time.time()) if at is None else at
    message = f"{at}.{method}.{target}.".encode() + body
    mac = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return {"Signature": f"t={at},v1={mac}"}


def api_open_order(client, key, **body):
    """POST create-payment-intent with a Bearer key; returns the response."""
    return client.post("/api/v1/create-payment-intent", json=body, headers=bearer(key))


def api_order_json(client, key, order_id: str) -> dict:
    """The order as the provider's API shows it."""
    return client.get(f"/api/v1/orders/{order_id}", headers=bearer(key)).get_json()


def order_page(admin_client, order_id: str) -> str:
    """The admin's page of an order."""
    return admin_client.get(f"/admin/orders/{order_id}").text


def notified(app, order_id: str) -> list[str]:
    """The events of the notifications Kassa queued about an order, oldest first."""
    from checkout.extensions import db
    from checkout.models import Notification

    with app.app_context():
        query = (
            sa.select(Notification.event)
            .where(Notification.order_id == order_id)
            .order_by(Notification.created_at)
        )
        return list(db.session.scalars(query))


def transitions(app, order_id: str) -> list[str]:
    """The "before → after" changes in an order's timeline, oldest first: of its status,
    its quantity and its dispute."""
    from checkout.extensions import db
    from checkout.models import OrderEvent

    with app.app_context():
        query = (
            sa.select(OrderEvent.message)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.id)
        )
        return [change for note in db.session.scalars(query) for change in CHANGE.findall(note)]


def webhook_secret(provider_page: str) -> str:
    """The signing secret on the admin's page of a provider."""
    return re.search(r'value="(whsec_[^"]+)" data-webhook-secret', provider_page)[1]


def api_new_order(client, key, **body) -> str:
    """Open an order through the API; its id."""
    return api_open_order(client, key, **body).get_json()["orderId"]


def simulate(client, order_id: str, outcome: str = "succeeded", **extra):
    """Press a sandbox button of an order's checkout page; returns the response.

    The form token belongs to the order, so the client reads it from the page once, while
    the page still shows the buttons, and reuses it for later presses (a paid page has no
    form). The client keeps it, so no token outlives the test.
    """
    tokens = vars(client).setdefault("sandbox_tokens", {})
    if order_id not in tokens:
        tokens[order_id] = csrf_token(client.get(f"/checkout?orderId={order_id}").text)
    data = {"orderId": order_id, "outcome": outcome, "csrf_token": tokens[order_id]}
    return client.post("/checkout/sandbox", data=data, **extra)


def api_paid_order(client, key, external_id: str, **body) -> str:
    """Open an order through the API and press the sandbox's success button; its id."""
    order_id = api_new_order(client, key, externalId=external_id, **body)
    assert simulate(client, order_id).status_code == 303
    return order_id


def csrf_token(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


def form_post(client, page_url: str, data: dict, post_url: str | None = None):
    """Submit a form as a browser does: read the page's CSRF token, then POST."""
    token = csrf_token(client.get(page_url).text)
    return client.post(post_url or page_url, data={**data, "csrf_token": token})


def shown_once(client, response):
    """Follow the redirect after a POST that made a secret; the page that shows it once."""
    assert response.status_code == 303, response.text
    assert "kassa_" not in response.headers["Location"]
    assert "ksig_" not in response.headers["Location"]
    return client.get(response.headers["Location"])


def sign_in(client, email: str, password: str):
    """Submit the admin sign-in form; returns the response."""
    return form_post(client, "/admin/login", {"email": email, "password": password})


def provider_form(service: str, **fields) -> dict:
    """The admin's provider form, filled in; fields override."""
    return {
        "name": "Bitloader",
        "service_id": service,
        "active": "y",
        "webhook_url": "https://hooks.example/kassa",
        "success_url": "https://bitloader.example/success?orderId={orderId}",
        "cancel_url": "https://bitloader.example/cancelled",
        **fields,
    }


def create_link(admin_client, service_id: str, **fields) -> str:
    """Create a payment link through the admin form; returns its id."""
    data = {"title": "Spring sale", "service_id": service_id, "quantity": "1", "active": "y"}
    response = form_post(admin_client, "/admin/links/new", {**data, **fields})
    assert response.status_code == 302, response.text
    return re.search(r"/admin/links/(plink_[0-9a-f]{24})", response.headers["Location"])[1]


def pay_link(client, link_id: str, quantity=None):
    """Press Pay on a payment link's page; returns the response."""
    page = client.get(f"/l/{link_id}")
    token = csrf_token(page.text)
    data = {"csrf_token": token}
    if quantity is not None:
        data["quantity"] = str(quantity)
    return client.post(f"/l/{link_id}/pay", data=data)


def order_from(response) -> str:
    """The id of the order a payment link's Pay button redirected to."""
    assert response.status_code == 303, response.text
    return re.search(r"orderId=(ord_[0-9a-f]{24})", response.headers["Location"])[1]


def one_webhook_id_per_order(log: list[dict]) -> dict[str, set[str]]:
    """The receiver's webhook ids per order; asserts each order kept a single id."""
    ids: dict[str, set[str]] = {}
    for entry in log:
        ids.setdefault(entry["orderId"], set()).add(entry["webhookId"])
    assert all(len(found) == 1 for found in ids.values()), "a notification changed its id"
    return ids


def pay_with_card(stripe_client, payment_intent_id: str, number: str) -> None:
    """Pay a PaymentIntent at the Stripe stand-in with a test card, as a customer's wallet does."""
    method = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    stripe_client.v1.payment_intents.update(payment_intent_id, params={"payment_method": method.id})
    stripe_client.v1.payment_intents.confirm(payment_intent_id)


# Complete Stripe settings of each mode: test keys alone start (with warnings); live keys
# need the webhook secret and an https public URL.
TEST_KEYS = {"STRIPE_SECRET_KEY": "sk_test_kassa", "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa"}
LIVE_SETTINGS = {
    "STRIPE_SECRET_KEY": "sk_live_kassa",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_kassa",
    "STRIPE_WEBHOOK_SECRET": "whsec_live_kassa",
    "PUBLIC_BASE_URL": "https://pay.example.com",
}


def browser_at(app, address: str):
    """A browser of its own (it keeps its cookies) whose requests come from this address."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def link_stat(admin_client, link_id: str, name: str) -> str:
    """One number of the admin's page of a link (views, visitors, started, paid)."""
    page = admin_client.get(f"/admin/links/{link_id}").text
    return re.search(rf'data-stat="{name}">([^<]*)<', page)[1]


def short_lock_waits() -> dict:
    """Engine options under which a locked row or database fails within 0.3 s, not 30."""
    if os.environ.get("DATABASE_URL"):
        return {"connect_args": {"options": "-c lock_timeout=300"}, "pool_pre_ping": True}
    return {"connect_args": {"timeout": 0.3}}
