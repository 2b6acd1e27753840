"""The OpenAPI document is valid and describes what the API really does."""

import html
import json
import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.helpers import api_open_order, bearer, csrf_token, simulate


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
            path = re.sub(r"<(?:\w+:)?endpoint_id>", "{endpointId}", path)
            path = re.sub(r"<(?:\w+:)?code_id>", "{codeId}", path)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == documented


def test_create_payment_intent_answers_match_the_document(client, make, spec):
    service_id = make.service()
    key = make.provider(service_id=service_id).api_key
    button_key = make.provider(
        service_id=service_id, name="Buttons", use_stripe_checkout=True
    ).api_key
    path, method = "/create-payment-intent", "post"
    check(spec, path, method, api_open_order(client, key, externalId="A", amount=10))
    check(spec, path, method, api_open_order(client, key, externalId="A", amount=15))
    check(spec, path, method, api_open_order(client, key, amount=7))
    check(spec, path, method, api_open_order(client, key, amount=-1))
    check(spec, path, method, api_open_order(client, "kassa_nope"))
    check(spec, path, method, api_open_order(client, key, currency="eur"))
    check(spec, path, method, api_open_order(client, button_key))
    check(
        spec,
        path,
        method,
        client.post("/api/v1/create-payment-intent", data=b"{", content_type="application/json"),
    )
    big = b'{"x": "' + b"y" * 70_000 + b'"}'
    check(
        spec,
        path,
        method,
        client.post("/api/v1/create-payment-intent", data=big, content_type="application/json"),
    )


def test_order_lookups_match_the_document(client, api_key, spec):
    created = api_open_order(client, api_key, externalId="A").get_json()
    headers = bearer(api_key)
    one = "/orders/{orderId}"
    check(spec, one, "get", client.get(f"/api/v1/orders/{created['orderId']}", headers=headers))
    check(spec, one, "get", client.get("/api/v1/orders/ord_nope", headers=headers))
    unknown = client.get(f"/api/v1/orders/{created['orderId']}?expand=1", headers=headers)
    check(spec, one, "get", unknown)
    check(spec, one, "get", client.get(f"/api/v1/orders/{created['orderId']}"))
    check(spec, "/orders", "get", client.get("/api/v1/orders?externalId=A", headers=headers))
    check(spec, "/orders", "get", client.get("/api/v1/orders?limit=0", headers=headers))
    check(spec, "/orders", "get", client.get("/api/v1/orders"))


def test_buy_button_order_matches_the_document(client, make, spec):
    service_id = make.service(buy_button_id="buy_btn_123", stripe_payment_link_id="plink_123")
    key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
    response = api_open_order(client, key, externalId="B")
    assert response.status_code == 200
    check(spec, "/create-payment-intent", "post", response)


def _field_names(spec: dict, schema: str) -> set[str]:
    return set(spec["components"]["schemas"][schema]["properties"])


def test_orders_in_every_state_have_exactly_the_documented_fields(client, admin_client, make, spec):
    service_id = make.service(buy_button_id="buy_btn_123", stripe_payment_link_id="plink_123")
    key = make.provider(service_id=service_id).api_key
    button_key = make.provider(
        service_id=service_id, name="Buttons", use_stripe_checkout=True
    ).api_key
    headers = bearer(key)
    paid = api_open_order(client, key, amount=10).get_json()["orderId"]
    simulate(client, paid, "succeeded")
    refunded = api_open_order(client, key, amount=10).get_json()["orderId"]
    simulate(client, refunded, "succeeded")
    page = admin_client.get(f"/admin/orders/{refunded}").text
    admin_client.post(
        f"/admin/orders/{refunded}/refund", data={"amount": "5", "csrf_token": csrf_token(page)}
    )
    failed = api_open_order(client, key).get_json()["orderId"]
    simulate(client, failed, "failed")

    listed = client.get("/api/v1/orders", headers=headers)
    check(spec, "/orders", "get", listed)
    by_status = {order["status"]: order for order in listed.get_json()["data"]}
    assert set(by_status) == {"paid", "partially_refunded", "failed"}
    fields = _field_names(spec, "Order")
    for order in by_status.values():
        assert set(order) == fields - {"stripeBuyButtonId"}
    assert by_status["paid"]["refundedAmount"] is None
    assert by_status["failed"]["paidAmount"] is None
    assert by_status["partially_refunded"]["refundedAmount"] == 5

    button = api_open_order(client, button_key)
    check(spec, "/create-payment-intent", "post", button)
    assert set(button.get_json()) == fields


def _notification_payloads(admin_client) -> list[dict]:
    page = admin_client.get("/admin/deliveries").text
    payloads = []
    for message_id in re.findall(r'href="/admin/deliveries/(msg_[0-9a-f]+)"', page):
        detail = admin_client.get(f"/admin/deliveries/{message_id}").text
        body = re.search(r'<pre class="payload">(.*?)</pre>', detail, re.S).group(1)
        payloads.append(json.loads(html.unescape(body)))
    return payloads


def test_notifications_match_the_documented_webhook(client, admin_client, make, spec):
    """Every notification Kassa writes fits the document's webhook body, field for field."""
    provider = make.provider(webhook_url="http://127.0.0.1:9/hook")
    provider_id, key = provider.id, provider.api_key
    paid = api_open_order(client, key, externalId="P", amount=10).get_json()["orderId"]
    simulate(client, paid, "succeeded")
    page = admin_client.get(f"/admin/orders/{paid}").text
    admin_client.post(
        f"/admin/orders/{paid}/refund", data={"amount": "5", "csrf_token": csrf_token(page)}
    )
    failed = api_open_order(client, key).get_json()["orderId"]
    simulate(client, failed, "failed")
    provider_page = admin_client.get(f"/admin/providers/{provider_id}").text
    admin_client.post(
        f"/admin/providers/{provider_id}/test-event",
        data={"csrf_token": csrf_token(provider_page)},
    )

    payloads = _notification_payloads(admin_client)
    events = sorted(payload["event"] for payload in payloads)
    assert events == ["payment_failed", "payment_refunded", "payment_succeeded", "test"]
    body_schema = spec["webhooks"]["paymentNotification"]["post"]["requestBody"]
    schema = {**body_schema["content"]["application/json"]["schema"], **spec}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for payload in payloads:
        validator.validate(payload)
        if payload["event"] != "test":
            assert set(payload) == _field_names(spec, "Notification") - {"stripeBuyButtonId"}
    refunded = next(p for p in payloads if p["event"] == "payment_refunded")
    assert refunded["refundedAmount"] == 5 and refunded["paidAmount"] == 10
    assert refunded["metadata"] is None and refunded["paymentLinkId"] is None


def test_payment_links_have_exactly_the_documented_fields(client, api_key, spec):
    headers = bearer(api_key)
    created = client.post(
        "/api/v1/payment-links", json={"title": "VIP", "maxUses": 3}, headers=headers
    )
    check(spec, "/payment-links", "post", created)
    assert set(created.get_json()) == _field_names(spec, "PaymentLink")
    one = client.get(f"/api/v1/payment-links/{created.get_json()['id']}", headers=headers)
    check(spec, "/payment-links/{linkId}", "get", one)
    bad = client.post("/api/v1/payment-links", json={"expiresAt": 5}, headers=headers)
    check(spec, "/payment-links", "post", bad)
    both = client.post(
        "/api/v1/payment-links", json={"quantity": 1, "maxQuantity": 2}, headers=headers
    )
    check(spec, "/payment-links", "post", both)
    assert both.get_json()["code"] == "conflicting_fields"
    assert bad.get_json()["error"] == (
        "expiresAt: Give an ISO 8601 date and time, e.g. 2026-12-31T23:59:00Z"
    )


def test_link_listing_and_changes_match_the_document(client, make, api_key, spec):
    headers = bearer(api_key)
    link_id = client.post("/api/v1/payment-links", json={}, headers=headers).get_json()["id"]
    client.post("/api/v1/payment-links", json={"maxUses": 2}, headers=headers)
    listing = "/payment-links"
    page = client.get("/api/v1/payment-links?limit=1", headers=headers)
    check(spec, listing, "get", page)
    assert page.get_json()["hasMore"] is True
    assert set(page.get_json()["data"][0]) == _field_names(spec, "PaymentLink")
    for query in ("?active=no", "?limit=0", "?startingAfter=plink_nope", "?x=1", ""):
        check(spec, listing, "get", client.get(f"/api/v1/payment-links{query}", headers=headers))
    check(spec, listing, "get", client.get("/api/v1/payment-links"))

    one = "/payment-links/{linkId}"
    path = f"/api/v1/payment-links/{link_id}"
    changed = client.patch(path, json={"title": "New", "expiresAt": None}, headers=headers)
    check(spec, one, "patch", changed)
    assert changed.get_json()["title"] == "New"
    other_key = make.provider(make.service(title="Other", slug="other"), name="Other").api_key
    refused = [
        client.patch(path, json={"maxUses": "2"}, headers=headers),
        client.patch(path, json={"colour": "red"}, headers=headers),
        client.patch(path, json={}, headers=bearer(other_key)),
        client.patch(path, data="{", content_type="application/json", headers=headers),
        client.patch(path, data="title=x", headers=headers),
        client.patch(path, json={}),
    ]
    for response in refused:
        check(spec, one, "patch", response)
    assert [response.status_code for response in refused] == [422, 422, 404, 400, 415, 401]


# A JSON value of another type than the document's, for each type a body field can have.
WRONG_TYPE = {"string": 12345, "integer": "2", "boolean": "yes", "object": "x", "array": "x"}


def _body_operations(spec: dict):
    """(method, path with made-up ids, operationId, body schema) of each operation with a body."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                reference = operation["requestBody"]["content"]["application/json"]["schema"]
                name = reference["$ref"].rsplit("/", 1)[1]
                filled = re.sub(r"\{\w+\}", "x_0", path)
                yield method, "/api/v1" + filled, spec["components"]["schemas"][name]


def test_every_body_field_is_checked_as_the_document_types_it(client, api_key, spec):
    """The document and the API's checks come from one model per body: each field of the
    wrong type, and a field it does not declare, is refused with 422 naming that field."""
    checked = 0
    for method, path, schema in _body_operations(spec):
        unknown = client.open(path, method=method, json={"colour": "red"}, headers=bearer(api_key))
        assert (unknown.status_code, unknown.get_json()["param"]) == (422, "colour"), path
        assert unknown.get_json()["code"] == "unknown_field"
        for name, field in schema["properties"].items():
            kinds = field.get("type")
            kind = (
                next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds
            )
            if name == "apiKey" or kind not in WRONG_TYPE:
                continue
            body = {required: "x" for required in schema.get("required", [])}
            body[name] = WRONG_TYPE[kind]
            response = client.open(path, method=method, json=body, headers=bearer(api_key))
            assert response.status_code == 422, (path, name, response.get_json())
            assert response.get_json()["param"] == name, (path, name, response.get_json())
            checked += 1
    assert checked >= 25
