"""What the API accepts is declared once, in its OpenAPI document, and it refuses the rest
(issue 17, item 23); every API error is JSON with `error`, `code` and `param`."""

import json

import jsonschema
import pytest
from sqlalchemy import func, select

from checkout.api.openapi_schemas import components
from checkout.extensions import db
from checkout.models import Order, PaymentLink
from tests.helpers import api_open_order, bearer, error_body

URL = "/api/v1/create-payment-intent"
ERROR = jsonschema.Draft202012Validator(components()["Error"])


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_an_unknown_field_is_refused_naming_it(client, app, api_key):
    response = api_open_order(client, api_key, externalId="E-1", amount=5, currency="eur")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "unknown_field" and body["param"] == "currency"
    assert body["error"].startswith("Unknown field currency: this endpoint takes ")
    assert count(app, Order) == 0


def test_several_unknown_fields_are_all_named(client, app, api_key):
    response = client.post(
        "/api/v1/payment-links",
        json={"title": "T", "price": 1, "Title": "x"},
        headers=bearer(api_key),
    )
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("Unknown fields price, Title:")
    assert response.get_json()["param"] == "price"
    assert count(app, PaymentLink) == 0


@pytest.mark.parametrize("other", ["minQuantity", "maxQuantity"])
def test_a_fixed_quantity_with_a_range_is_refused_naming_both(client, app, api_key, other):
    response = client.post(
        "/api/v1/payment-links", json={"quantity": 2, other: 3}, headers=bearer(api_key)
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "conflicting_fields" and body["param"] == "quantity"
    assert body["error"].startswith(f"quantity cannot be combined with {other}")
    assert count(app, PaymentLink) == 0


def test_fields_sent_as_null_count_as_absent(client, api_key):
    response = client.post(
        "/api/v1/payment-links",
        json={"quantity": 2, "minQuantity": None, "maxQuantity": None},
        headers=bearer(api_key),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["quantity"] == 2


def test_every_declared_field_is_taken(client, api_key):
    response = client.post(
        "/api/v1/payment-links",
        json={
            "apiKey": api_key,
            "title": "All",
            "description": "d",
            "minQuantity": 1,
            "maxQuantity": 3,
            "expiresAt": "2999-01-01T00:00:00Z",
            "password": "long enough",
            "maxUses": 2,
            "metadata": {"a": "b"},
            "confirmationMessage": "Thanks",
            "redirectUrl": "https://provider.example/done",
        },
    )
    assert response.status_code == 201, response.get_json()
    order = api_open_order(client, api_key, apiKey=api_key, externalId="All", amount=5)
    assert order.status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders?stauts=paid", "/api/v1/orders/ord_x?expand=1", "/api/v1/payment-links/x?a="],
)
def test_unknown_query_parameters_are_refused(client, api_key, path):
    response = client.get(path, headers=bearer(api_key))
    assert response.status_code == 422
    assert response.get_json()["code"] == "unknown_field"
    assert response.get_json()["param"] == path.split("?")[1].split("=")[0]


def test_nul_in_a_field_names_it_as_param(client, api_key):
    response = client.post(
        "/api/v1/payment-links",
        data=b'{"metadata": {"plan": "x\\u0000"}}',
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_text"
    assert response.get_json()["param"] == "metadata.plan"


class TestEveryErrorHasItsShape:
    @pytest.fixture
    def app_config(self):
        return {"RATE_LIMIT_API_UNAUTHENTICATED": "2/minute"}

    def test_errors_of_every_status(self, app, client, make):
        shop = make.provider()
        provider_id, key = shop.id, shop.api_key
        from checkout import audit, credentials
        from checkout.models import Provider

        with app.app_context():
            provider = db.session.get(Provider, provider_id)
            reader = credentials.issue_key(provider, "r", ["orders:read"], actor=audit.SYSTEM)[1]
        json_headers = {**bearer(key), "Content-Type": "application/json"}
        answers = [
            (400, "malformed_json", client.post(URL, data=b"{", headers=json_headers)),
            (403, "scope_missing", api_open_order(client, reader, externalId="S")),
            (404, "not_found", client.get("/api/v1/orders/ord_nope", headers=bearer(key))),
            (404, "not_found", client.get("/api/v1/nothing-here", headers=bearer(key))),
            (405, "method_not_allowed", client.delete("/api/v1/orders", headers=bearer(key))),
            (
                413,
                "body_too_large",
                client.post(URL, data=b'{"x": "' + b"x" * 70_000 + b'"}', headers=json_headers),
            ),
            (
                415,
                "unsupported_media_type",
                client.post(URL, data=b"{}", headers={**bearer(key), "Content-Type": "text/plain"}),
            ),
            (422, "validation_error", client.get("/api/v1/orders?limit=0", headers=bearer(key))),
            (401, "invalid_api_key", client.get("/api/v1/orders", headers=bearer("kassa_no"))),
            (401, "invalid_api_key", client.get("/api/v1/orders", headers=bearer("kassa_no"))),
            # The third refused request from this address in a minute.
            (429, "rate_limited", client.get("/api/v1/orders", headers=bearer("kassa_no"))),
        ]
        for status, code, response in answers:
            assert response.status_code == status, (status, response.get_json())
            assert response.mimetype == "application/json"
            body = response.get_json()
            ERROR.validate(body)
            assert body["code"] == code, body
        assert answers[-2][2].get_json() == error_body(
            "Invalid or inactive API key", "invalid_api_key"
        )


def test_the_document_declares_what_the_api_takes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("CreatePaymentIntent", "CreatePaymentLink"):
        assert schemas[name]["additionalProperties"] is False
    conflicting = {"quantity": 2, "minQuantity": 1}
    validator = jsonschema.Draft202012Validator(schemas["CreatePaymentLink"])
    assert not validator.is_valid(conflicting)
    assert validator.is_valid({"minQuantity": 1, "maxQuantity": 2})
    assert json.dumps(schemas["Error"]["required"]) == '["error", "code", "param"]'
