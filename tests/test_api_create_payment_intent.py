"""POST /api/v1/create-payment-intent: the provider contract, its errors and idempotency."""

from decimal import Decimal

import pytest

from checkout import jsonio
from tests.helpers import api_open_order, bearer, error_body, form_post

URL = "/api/v1/create-payment-intent"


def order_count(app) -> int:
    from sqlalchemy import func, select

    from checkout.extensions import db
    from checkout.models import Order

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


def test_cash_app_amount_sets_quantity(client, api_key):
    response = api_open_order(client, api_key, externalId="ORDER-1", amount=100)
    assert response.status_code == 200
    body = jsonio.loads(response.data)
    assert body["externalId"] == "ORDER-1"
    assert body["amount"] == Decimal("100.00")
    assert body["quantity"] == 20
    assert body["currency"] == "usd"
    assert body["mode"] == "cashapp"
    assert body["status"] == "pending"
    assert body["orderId"].startswith("ord_")
    assert body["checkoutUrl"] == f"http://localhost/checkout?orderId={body['orderId']}"
    assert "stripeBuyButtonId" not in body


def test_amount_is_written_as_an_exact_json_number(client, api_key):
    response = api_open_order(client, api_key, externalId="ORDER-1", amount=15)
    assert b'"amount": 15.00' in response.data


def test_without_amount_quantity_is_one(client, api_key):
    body = api_open_order(client, api_key, externalId="ORDER-2").get_json()
    assert body["quantity"] == 1
    assert Decimal(str(body["amount"])) == Decimal("5")


def test_api_key_in_body_works(client, api_key):
    response = client.post(URL, json={"apiKey": api_key, "externalId": "A", "amount": 10})
    assert response.status_code == 200
    assert response.get_json()["quantity"] == 2


def test_decimal_amount_with_cents(client, make):
    key = make.provider(service_id=make.service(title="Half", price="2.50")).api_key
    response = client.post(
        URL, data=f'{{"apiKey": "{key}", "amount": 7.50}}', content_type="application/json"
    )
    assert response.status_code == 200
    assert response.get_json()["quantity"] == 3


def test_zero_decimal_currency(client, make):
    key = make.provider(service_id=make.service(title="Yen", price="500", currency="jpy")).api_key
    body = api_open_order(client, key, amount=1500).get_json()
    assert body["quantity"] == 3
    assert body["currency"] == "jpy"
    assert b'"amount": 1500,' in api_open_order(client, key, externalId="j", amount=1500).data
    response = api_open_order(client, key, amount=Decimal("500.5"))
    assert response.status_code == 422
    assert response.get_json() == error_body(
        "Amount must be a whole number for JPY", "amount_invalid", "amount"
    )


@pytest.mark.parametrize(
    ("raw_amount", "error"),
    [
        ("7", "Amount must be a multiple of 5"),
        ("3", "Amount cannot be less than service price"),
        ("5.01", "Amount must be a multiple of 5"),
        ("0", "Amount cannot be less than service price"),
        ("0.00", "Amount cannot be less than service price"),
        ("-0", "Amount cannot be less than service price"),
        ("-5", "Amount cannot be less than service price"),
        ("-1e400", "Amount cannot be less than service price"),
    ],
)
def test_amount_rules_answer_400(client, app, api_key, raw_amount, error):
    body = f'{{"apiKey": "{api_key}", "externalId": "X", "amount": {raw_amount}}}'
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == error_body(error, "amount_refused", "amount")
    assert order_count(app) == 0


def test_multiple_message_uses_the_exact_price(client, make):
    key = make.provider(service_id=make.service(title="Half", price="2.50")).api_key
    response = api_open_order(client, key, amount=6)
    assert response.get_json()["error"] == "Amount must be a multiple of 2.5"


@pytest.mark.parametrize(
    ("raw_amount", "error"),
    [
        ("5.001", "Amount has more than 2 decimal places for USD"),
        ("1e400", "Amount cannot exceed $999,999.99"),
        ("100000000", "Amount cannot exceed $999,999.99"),
        ('"100"', "amount must be a number"),
        ("true", "amount must be a number"),
        ("[5]", "amount must be a number"),
        ("{}", "amount must be a number"),
    ],
)
def test_bad_amounts_answer_422_and_change_nothing(client, app, api_key, raw_amount, error):
    response = client.post(
        URL,
        data=f'{{"apiKey": "{api_key}", "amount": {raw_amount}}}',
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.get_json() == error_body(error, "amount_invalid", "amount")
    assert order_count(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b"[1, 2]",
        b'"just a string"',
        b"\xff\xfe",
        b"1" * 5000,
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_bodies_answer_400(client, app, api_key, body):
    response = client.post(URL, data=body, headers=bearer(api_key), content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert order_count(app) == 0


def test_oversized_body_answers_413(client, api_key):
    body = b'{"externalId": "' + b"x" * 70_000 + b'"}'
    response = client.post(URL, data=body, headers=bearer(api_key))
    assert response.status_code == 413
    assert "error" in response.get_json()


@pytest.mark.parametrize(
    ("external_id", "error"),
    [
        (12345, "externalId must be a string"),
        ("", "externalId must not be empty"),
        ("x" * 256, "externalId must be at most 255 characters"),
        ("a\x01b", "externalId must not contain control characters"),
    ],
)
def test_bad_external_ids_answer_422(client, app, api_key, external_id, error):
    response = api_open_order(client, api_key, externalId=external_id)
    assert response.status_code == 422
    assert response.get_json() == error_body(error, "validation_error", "externalId")
    assert order_count(app) == 0


def test_longest_external_id_is_accepted(client, api_key):
    assert api_open_order(client, api_key, externalId="x" * 255).status_code == 200


@pytest.mark.parametrize(
    "headers_and_body",
    [
        ({}, {"externalId": "A"}),
        ({"Authorization": "Bearer kassa_wrong"}, {}),
        ({}, {"apiKey": "kassa_wrong"}),
        ({}, {"apiKey": 42}),
        ({"Authorization": "Basic abc"}, {}),
        ({"Authorization": "Bearer " + "kassa_" + "x" * 500}, {}),
    ],
)
def test_invalid_keys_answer_401(client, app, api_key, headers_and_body):
    headers, body = headers_and_body
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == error_body("Invalid or inactive API key", "invalid_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert order_count(app) == 0


def test_inactive_provider_key_answers_401(client, app, make):
    from checkout.extensions import db
    from checkout.models import Provider

    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    with app.app_context():
        db.session.get(Provider, provider_id).active = False
        db.session.commit()
    assert api_open_order(client, key).status_code == 401


def test_same_external_id_returns_the_same_order(client, app, api_key):
    first = api_open_order(client, api_key, externalId="ORDER-1", amount=100).get_json()
    second = api_open_order(client, api_key, externalId="ORDER-1", amount=100).get_json()
    assert second == first
    assert order_count(app) == 1


def test_same_external_id_with_another_amount_is_409(client, app, api_key):
    first = api_open_order(client, api_key, externalId="ORDER-1", amount=100).get_json()
    response = api_open_order(client, api_key, externalId="ORDER-1", amount=50)
    assert response.status_code == 409
    assert first["orderId"] in response.get_json()["error"]
    omitted = api_open_order(client, api_key, externalId="ORDER-1")
    assert omitted.status_code == 409
    assert order_count(app) == 1


def test_a_repeated_request_gets_its_order_back_after_the_service_is_turned_off(
    client, app, admin_client, make
):
    service_id = make.service()
    key = make.provider(service_id=service_id).api_key
    first = api_open_order(client, key, externalId="ORDER-1", amount=10).get_json()
    edit = f"/admin/services/{service_id}/edit"
    fields = {"title": "Premium Credits", "price": "5", "currency": "usd", "slug": "premium"}
    assert form_post(admin_client, edit, fields).status_code == 302  # "active" unticked
    again = api_open_order(client, key, externalId="ORDER-1", amount=10)
    assert again.status_code == 200 and again.get_json()["orderId"] == first["orderId"]
    assert api_open_order(client, key, externalId="ORDER-2", amount=10).status_code == 409
    assert api_open_order(client, key, externalId="ORDER-1", amount=5).status_code == 409


def test_external_ids_are_scoped_per_provider(client, make):
    service_id = make.service()
    key_a = make.provider(service_id=service_id, name="A").api_key
    key_b = make.provider(service_id=service_id, name="B").api_key
    order_a = api_open_order(client, key_a, externalId="SAME").get_json()["orderId"]
    order_b = api_open_order(client, key_b, externalId="SAME").get_json()["orderId"]
    assert order_a != order_b


def test_orders_without_external_id_are_each_new(client, app, api_key):
    first = api_open_order(client, api_key).get_json()["orderId"]
    second = api_open_order(client, api_key).get_json()["orderId"]
    assert first != second


def test_buy_button_mode_ignores_amount(client, make):
    service_id = make.service(
        title="Pro", price="300", buy_button_id="buy_btn_1Abc", stripe_payment_link_id="plink_1Abc"
    )
    key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
    body = api_open_order(client, key, externalId="B-1", amount=999).get_json()
    assert body["mode"] == "stripe_buy_button"
    assert body["stripeBuyButtonId"] == "buy_btn_1Abc"
    assert body["quantity"] == 1
    assert Decimal(str(body["amount"])) == Decimal("300")


@pytest.mark.parametrize("raw_amount", ['"100"', "true", "[5]", "{}", "0", "-3", "5.001", "1e400"])
def test_buy_button_mode_ignores_amount_whatever_its_type(client, make, raw_amount):
    service_id = make.service(
        title="Pro", price="300", buy_button_id="buy_btn_1Abc", stripe_payment_link_id="plink_1A"
    )
    key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
    response = client.post(
        URL, data=f'{{"apiKey": "{key}", "amount": {raw_amount}}}', content_type="application/json"
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["quantity"] == 1
    assert Decimal(str(body["amount"])) == Decimal("300")


def test_buy_button_mode_without_button_id_is_400(client, app, make):
    key = make.provider(use_stripe_checkout=True).api_key
    response = api_open_order(client, key, externalId="B-1")
    assert response.status_code == 400
    assert response.get_json() == error_body(
        "Stripe Buy Button not configured", "payment_not_configured"
    )
    assert order_count(app) == 0


def test_buy_button_service_saved_before_payment_link_ids_is_400(client, app, make):
    """A service from before Payment Link IDs: no order until an admin adds its plink_…."""
    from checkout.extensions import db
    from checkout.models import Service

    service_id = make.service(buy_button_id="buy_btn_1Abc", stripe_payment_link_id="plink_1Abc")
    with app.app_context():
        db.session.get(Service, service_id).stripe_payment_link_id = None
        db.session.commit()
    key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
    response = api_open_order(client, key, externalId="B-1")
    assert response.status_code == 400
    assert response.get_json() == error_body(
        "Stripe Buy Button not configured", "payment_not_configured"
    )
    assert order_count(app) == 0


def test_inactive_service_is_409(client, app, make):
    service_id = make.service(active=False)
    key = make.provider(service_id=service_id).api_key
    response = api_open_order(client, key)
    assert response.status_code == 409
    assert response.get_json() == error_body("Service is not available", "service_unavailable")


def test_public_base_url_shapes_checkout_url(client, api_key, app):
    app.config["PUBLIC_BASE_URL"] = "https://pay.example.com"
    body = api_open_order(client, api_key).get_json()
    assert body["checkoutUrl"] == f"https://pay.example.com/checkout?orderId={body['orderId']}"


def test_wrong_method_and_unknown_path_answer_json(client):
    assert client.get(URL).status_code == 405
    assert "error" in client.get(URL).get_json()
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert "error" in response.get_json()


@pytest.mark.parametrize(("price", "currency"), [("0.50", "usd"), ("0.30", "gbp"), ("1", "zar")])
def test_a_price_at_stripes_minimum_charge_is_accepted(client, make, price, currency):
    key = make.provider(
        service_id=make.service(title="Tiny", price=price, currency=currency)
    ).api_key
    response = api_open_order(client, key, externalId="T-1")
    assert response.status_code == 200
    assert response.get_json()["currency"] == currency


def test_an_order_below_stripes_minimum_charge_is_400(client, app, make):
    """A service priced before the rule existed: its orders are refused, not left to a 503."""
    from checkout.extensions import db
    from checkout.models import Service

    service_id = make.service(title="Penny Sweets", price="5")
    key = make.provider(service_id=service_id).api_key
    with app.app_context():
        db.session.get(Service, service_id).price_minor = 10
        db.session.commit()
    response = api_open_order(client, key, externalId="P-1")
    assert response.status_code == 400
    assert response.get_json() == error_body(
        "Amount is below Stripe's minimum charge of $0.50", "amount_below_minimum", "amount"
    )
    assert order_count(app) == 0
    enough = api_open_order(client, key, externalId="P-2", amount=Decimal("0.50"))
    assert enough.status_code == 200
    assert enough.get_json()["quantity"] == 5
