"""GET /checkout in sandbox mode: what the customer sees in each state, and where they go."""

import re

import pytest

from tests.helpers import (
    api_new_order,
    api_open_order,
    csrf_token,
    error_body,
    form_post,
    provider_form,
    simulate,
)


def status_of(client, order_id: str) -> str:
    return client.get(f"/checkout/status?orderId={order_id}").get_json()["status"]


def test_page_shows_the_order(client, api_key):
    order_id = api_new_order(client, api_key, externalId="E-1", amount=15)
    page = client.get(f"/checkout?orderId={order_id}")
    assert page.status_code == 200
    assert "Premium Credits" in page.text
    assert order_id in page.text
    assert "$15.00" in page.text
    assert re.search(r"data-quantity>3<", page.text)
    assert "Sandbox" in page.text and "no real money moves" in page.text
    assert 'name="viewport"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "query", ["", "?orderId=", "?orderId=ord_000000000000000000000000", "?orderId=" + "x" * 500]
)
def test_unknown_orders_get_a_404_page(client, query):
    page = client.get(f"/checkout{query}")
    assert page.status_code == 404
    assert "<html" in page.text
    assert "could not find this order" in page.text
    assert "Traceback" not in page.text


def test_success_shows_confirmation_and_countdown_to_the_success_url(client, api_key):
    order_id = api_new_order(client, api_key, externalId="E-1")
    response = simulate(client, order_id, "succeeded")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/checkout?orderId={order_id}")
    page = client.get(f"/checkout?orderId={order_id}")
    assert "Payment received" in page.text
    target = f"https://provider.example/success?orderId={order_id}"
    assert f'data-redirect-url="{target}"' in page.text
    assert 'data-seconds="5"' in page.text
    assert f'href="{target}" data-continue' in page.text
    assert f'<meta http-equiv="refresh" content="5;url={target}">' in page.text
    assert "Simulate" not in page.text
    assert "Cancel and return" not in page.text
    assert status_of(client, order_id) == "paid"


def test_order_id_is_url_encoded_into_every_placeholder(client, make):
    key = make.provider(success_url="https://p.example/done/{orderId}?again={orderId}&x=1").api_key
    order_id = api_new_order(client, key)
    simulate(client, order_id, "succeeded")
    page = client.get(f"/checkout?orderId={order_id}")
    assert f"https://p.example/done/{order_id}?again={order_id}&amp;x=1" in page.text


def test_no_success_url_means_no_countdown(client, make):
    key = make.provider(success_url=None).api_key
    order_id = api_new_order(client, key)
    simulate(client, order_id, "succeeded")
    page = client.get(f"/checkout?orderId={order_id}")
    assert "Payment received" in page.text
    assert "data-countdown" not in page.text
    assert "http-equiv" not in page.text


def test_redirect_targets_come_only_from_the_provider(client, api_key):
    order_id = api_new_order(client, api_key)
    simulate(client, order_id, "succeeded")
    evil = "https://evil.example/"
    page = client.get(
        f"/checkout?orderId={order_id}&return_url={evil}&success_url={evil}&redirect={evil}"
    )
    assert "evil.example" not in page.text


def test_failure_shows_try_again_and_a_retry_can_succeed(client, api_key):
    order_id = api_new_order(client, api_key)
    simulate(client, order_id, "failed")
    page = client.get(f"/checkout?orderId={order_id}")
    assert "Payment failed" in page.text
    assert "Try again" in page.text
    assert "Simulate success" in page.text
    simulate(client, order_id, "succeeded")
    assert status_of(client, order_id) == "paid"


def test_processing_polls_then_settles(client, api_key):
    order_id = api_new_order(client, api_key)
    simulate(client, order_id, "processing")
    page = client.get(f"/checkout?orderId={order_id}")
    assert "Payment processing" in page.text
    assert "data-poll" in page.text
    assert status_of(client, order_id) == "processing"
    simulate(client, order_id, "succeeded")
    assert status_of(client, order_id) == "paid"


def test_late_failure_never_downgrades_a_paid_order(client, api_key):
    order_id = api_new_order(client, api_key)
    simulate(client, order_id, "succeeded")
    simulate(client, order_id, "failed")
    simulate(client, order_id, "processing")
    assert status_of(client, order_id) == "paid"


def test_pending_page_offers_the_cancel_url(client, api_key):
    order_id = api_new_order(client, api_key)
    page = client.get(f"/checkout?orderId={order_id}")
    assert f'href="https://provider.example/cancelled?orderId={order_id}"' in page.text


def test_sandbox_post_needs_csrf_token(client, api_key):
    order_id = api_new_order(client, api_key)
    response = client.post("/checkout/sandbox", data={"orderId": order_id, "outcome": "succeeded"})
    assert response.status_code == 400
    assert status_of(client, order_id) == "pending"


def test_sandbox_rejects_unknown_outcomes_and_orders(client, api_key):
    order_id = api_new_order(client, api_key)
    assert simulate(client, order_id, "refunded").status_code == 400
    assert simulate(client, order_id, "").status_code == 400
    page = client.get(f"/checkout?orderId={order_id}")
    response = client.post(
        "/checkout/sandbox",
        data={"orderId": "ord_nope", "outcome": "succeeded", "csrf_token": csrf_token(page.text)},
    )
    assert response.status_code == 404
    assert status_of(client, order_id) == "pending"


def test_sandbox_token_of_one_order_does_not_work_for_another(client, api_key):
    first, second = api_new_order(client, api_key), api_new_order(client, api_key)
    token = csrf_token(client.get(f"/checkout?orderId={first}").text)
    response = client.post(
        "/checkout/sandbox", data={"orderId": second, "outcome": "succeeded", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "form expired" in response.text
    assert status_of(client, second) == "pending"


def test_page_sets_no_cookie_for_a_customer(client, api_key):
    order_id = api_new_order(client, api_key)
    page = client.get(f"/checkout?orderId={order_id}")
    assert "Set-Cookie" not in page.headers


def test_a_viewed_page_follows_every_change_to_what_it_shows(client, admin_client, make):
    """Pages are cached per process; any change to the order, service or provider shows."""
    service_id = make.service(title="Gold Pack", price="5")
    provider = make.provider(service_id=service_id, name="Old Shop")
    provider_id, key = provider.id, provider.api_key
    order_id = api_new_order(client, key, amount=10)
    url = f"/checkout?orderId={order_id}"
    for _ in range(2):
        page = client.get(url).text
        assert "Gold Pack" in page and "Old Shop" in page and "$10.00" in page

    form_post(
        admin_client,
        f"/admin/services/{service_id}/edit",
        {"title": "Platinum Pack", "price": "5", "currency": "usd", "active": "y"},
    )
    assert "Platinum Pack" in client.get(url).text
    fields = provider_form(service_id, name="New Shop")
    form_post(admin_client, f"/admin/providers/{provider_id}/edit", fields)
    assert "New Shop" in client.get(url).text
    simulate(client, order_id, "succeeded")
    assert "Payment received" in client.get(url).text
    admin_client.get(f"/admin/orders/{order_id}")  # the admin view changes nothing
    assert "Payment received" in client.get(url).text


def test_status_endpoint_404s_unknown_orders(client):
    response = client.get("/checkout/status?orderId=ord_nope")
    assert response.status_code == 404
    assert response.get_json() == {"error": "Order not found"}


class TestLiveMode:
    @pytest.fixture
    def app_config(self):
        return {
            "STRIPE_SECRET_KEY": "sk_test_12345",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_12345",
            "STRIPE_API_BASE": "http://127.0.0.1:9",
        }

    def test_buy_button_page_renders_stripe_buy_button(self, client, make):
        service_id = make.service(
            title="Pro",
            price="300",
            buy_button_id="buy_btn_1Xyz",
            stripe_payment_link_id="plink_1X",
        )
        key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
        order_id = api_new_order(client, key, externalId="B-1")
        page = client.get(f"/checkout?orderId={order_id}")
        assert page.status_code == 200
        assert 'data-buy-button-script="https://js.stripe.com/v3/buy-button.js"' in page.text
        assert re.search(
            r'<stripe-buy-button buy-button-id="buy_btn_1Xyz"\s+publishable-key="pk_test_12345"'
            rf'\s+client-reference-id="{order_id}"',
            page.text,
        )
        assert "Sandbox" not in page.text
        assert "data-poll" in page.text

    def test_sandbox_buttons_are_gone(self, client, make):
        service_id = make.service(buy_button_id="buy_btn_1Xyz", stripe_payment_link_id="plink_1X")
        key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
        order_id = api_new_order(client, key)
        response = client.post(
            "/checkout/sandbox", data={"orderId": order_id, "outcome": "succeeded"}
        )
        assert response.status_code in (400, 404)
        page = client.get(f"/checkout?orderId={order_id}")
        assert "Simulate" not in page.text

    def test_stripe_outage_shows_a_friendly_503(self, client, api_key):
        order_id = api_new_order(client, api_key)
        page = client.get(f"/checkout?orderId={order_id}")
        assert page.status_code == 503
        assert "Payments are unavailable right now" in page.text
        assert "Traceback" not in page.text

    def test_cash_app_needs_usd(self, client, make):
        key = make.provider(service_id=make.service(currency="eur")).api_key
        response = api_open_order(client, key)
        assert response.status_code == 400
        assert response.get_json() == error_body(
            "Cash App payments are not available in EUR", "payment_not_configured"
        )
