"""The OpenAPI document is valid and describes what the API really does."""

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.helpers import bearer, open_order


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def check(spec: dict, path: str, method: str, response) -> None:
    """Assert the response's status is documented and its body matches the schema."""
    documented = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {path} answered undocumented {status}"
    content = documented[status].get("content")
    if content:
        schema = {**content["application/json"]["schema"], "components": spec["components"]}
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(response.get_json())


def test_document_is_valid_openapi(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_api_route_is_documented_and_nothing_else(app, spec):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?order_id>", "{orderId}", rule.rule[len("/api/v1") :])
            path = re.sub(r"<(?:\w+:)?link_id>", "{linkId}", path)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented


def test_create_payment_intent_answers_match_the_document(client, make, spec):
    service_id = make.service()
    _, key = make.provider(service_id=service_id)
    _, button_key = make.provider(service_id=service_id, name="Buttons", use_stripe_checkout=True)
    path, method = "/create-payment-intent", "post"
    check(spec, path, method, open_order(client, key, externalId="A", amount=10))
    check(spec, path, method, open_order(client, key, externalId="A", amount=15))
    check(spec, path, method, open_order(client, key, amount=7))
    check(spec, path, method, open_order(client, key, amount=-1))
    check(spec, path, method, open_order(client, "kassa_nope"))
    check(spec, path, method, open_order(client, button_key))
    check(spec, path, method, client.post("/api/v1/create-payment-intent", data=b"{"))
    big = b'{"x": "' + b"y" * 70_000 + b'"}'
    check(spec, path, method, client.post("/api/v1/create-payment-intent", data=big))


def test_order_lookups_match_the_document(client, api_key, spec):
    created = open_order(client, api_key, externalId="A").get_json()
    headers = bearer(api_key)
    one = "/orders/{orderId}"
    check(spec, one, "get", client.get(f"/api/v1/orders/{created['orderId']}", headers=headers))
    check(spec, one, "get", client.get("/api/v1/orders/ord_nope", headers=headers))
    check(spec, one, "get", client.get(f"/api/v1/orders/{created['orderId']}"))
    check(spec, "/orders", "get", client.get("/api/v1/orders?externalId=A", headers=headers))
    check(spec, "/orders", "get", client.get("/api/v1/orders?limit=0", headers=headers))
    check(spec, "/orders", "get", client.get("/api/v1/orders"))


def test_buy_button_order_matches_the_document(client, make, spec):
    service_id = make.service(buy_button_id="buy_btn_123")
    _, key = make.provider(service_id=service_id, use_stripe_checkout=True)
    response = open_order(client, key, externalId="B")
    assert response.status_code == 200
    check(spec, "/create-payment-intent", "post", response)
