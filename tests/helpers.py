"""Helpers the test modules share: requests made as a client would, and reading pages."""

import re


def open_order(client, key, **body):
    """POST create-payment-intent with a Bearer key; returns the response."""
    return client.post(
        "/api/v1/create-payment-intent", json=body, headers={"Authorization": f"Bearer {key}"}
    )


def notified(order_page: str) -> list[str]:
    """Event names in the admin order page's notifications table."""
    start, end = order_page.index("<h2>Notifications</h2>"), order_page.index("<h2>Timeline</h2>")
    return re.findall(r"<td>(payment_\w+)</td>", order_page[start:end])


def transitions(order_page: str) -> list[str]:
    """Status changes in the admin order page's timeline, oldest first."""
    return re.findall(r"(\w+ → \w+)", order_page[order_page.index("<h2>Timeline</h2>") :])


def webhook_secret(provider_page: str) -> str:
    """The signing secret on the admin's page of a provider."""
    return re.search(r'value="(whsec_[^"]+)" data-webhook-secret', provider_page)[1]


def new_order(client, key, **body) -> str:
    """Open an order through the API; its id."""
    return open_order(client, key, **body).get_json()["orderId"]


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


def pay(client, key, external_id: str, **body) -> str:
    """Open an order through the API and press the sandbox's success button; its id."""
    order_id = new_order(client, key, externalId=external_id, **body)
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
