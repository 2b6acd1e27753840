"""API key scopes: every API endpoint needs one, a key without it gets 403 naming it, and
keys get their scopes in the admin and the CLI."""

import json
import re

import pytest

from tests.helpers import (
    ALL_SCOPES,
    UNREACHABLE_HOOK,
    api_paid_order,
    bearer,
    csrf_token,
    form_post,
    shown_once,
)

# Every API endpoint and the scope it needs; a new endpoint fails the first test until it is
# listed here (and given a scope in checkout/api/ (orders.py, links.py)).
ENDPOINT_SCOPES = {
    "api.create_payment_intent": "orders:write",
    "api.get_order": "orders:read",
    "api.list_orders": "orders:read",
    "api.create_payment_link": "links:write",
    "api.get_payment_link": "links:read",
    "api.create_refund": "refunds:write",
    "api.list_refunds": "orders:read",
    "api.cancel_order": "orders:write",
    "api.list_events": "orders:read",
    "api.list_webhook_endpoints": "webhooks:read",
    "api.create_webhook_endpoint": "webhooks:write",
    "api.get_webhook_endpoint": "webhooks:read",
    "api.update_webhook_endpoint": "webhooks:write",
    "api.delete_webhook_endpoint": "webhooks:write",
    "api.rotate_webhook_secret": "webhooks:write",
    "api.list_deliveries": "webhooks:read",
    "api.send_test_event": "webhooks:write",
    "api.recover_deliveries": "webhooks:write",
    "api.list_payment_links": "links:read",
    "api.update_payment_link": "links:write",
    "api.create_discount_code": "links:write",
    "api.list_discount_codes": "links:read",
    "api.get_discount_code": "links:read",
    "api.update_discount_code": "links:write",
}
PUBLIC = {"api.openapi"}


def api_rules(app):
    return {
        rule.endpoint: rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
    }


def test_every_api_endpoint_needs_a_scope(app):
    assert set(api_rules(app)) == set(ENDPOINT_SCOPES) | PUBLIC


def issue_key(app, provider_id: str, scopes: list[str]) -> str:
    from checkout import audit, credentials
    from checkout.extensions import db
    from checkout.models import Provider

    with app.app_context():
        provider = db.session.get(Provider, provider_id)
        return credentials.issue_key(provider, "scoped", scopes, actor=audit.SYSTEM)[1]


@pytest.fixture
def subjects(client, make):
    """A provider, its all-scope key, and one order, one paid order and one link of it."""
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    order = client.post(
        "/api/v1/create-payment-intent",
        json={"externalId": "X-1", "amount": 5},
        headers=bearer(key),
    ).get_json()
    link = client.post("/api/v1/payment-links", json={}, headers=bearer(key)).get_json()
    paid = api_paid_order(client, key, "X-paid", amount=50)
    code = client.post(
        "/api/v1/discount-codes", json={"code": "SCOPED", "percentOff": 10}, headers=bearer(key)
    ).get_json()
    endpoint = client.post(
        "/api/v1/webhook-endpoints", json={"url": UNREACHABLE_HOOK}, headers=bearer(key)
    ).get_json()
    return provider_id, {
        "order_id": order["orderId"],
        "link_id": link["id"],
        "paid_id": paid,
        "endpoint_id": endpoint["id"],
        "code_id": code["id"],
    }


def call(client, app, endpoint: str, key: str, ids: dict, number: int):
    rule = api_rules(app)[endpoint]
    order_id = ids["paid_id"] if rule.rule.endswith("/refunds") else ids["order_id"]
    path = rule.rule.replace("<order_id>", order_id).replace("<link_id>", ids["link_id"])
    path = path.replace("<endpoint_id>", ids["endpoint_id"]).replace("<code_id>", ids["code_id"])
    if "DELETE" in rule.methods:
        return client.delete(path, headers=bearer(key))
    if "PATCH" in rule.methods:
        field = "description" if "webhook-endpoints" in path else "title"
        if "discount-codes" in path:
            field = "code"
        return client.patch(path, json={field: f"S-{number}"}, headers=bearer(key))
    if "POST" in rule.methods:
        if path.endswith("/webhook-endpoints"):
            body = {"url": f"{UNREACHABLE_HOOK}/{number}"}
        elif path.endswith("/recover"):
            body = {"since": "2026-01-01T00:00:00Z"}
        elif path.endswith(("/test", "/rotate-secret")):
            body = {}
        elif path.endswith("/refunds"):
            body = {"amount": 1}
        elif path.endswith("/cancel"):
            body = {}
        elif "payment-links" in path:
            body = {"title": f"S-{number}"}
        elif "discount-codes" in path:
            body = {"code": f"S-{number}", "percentOff": 5}
        else:
            body = {"externalId": f"S-{number}", "amount": 5}
        return client.post(path, json=body, headers=bearer(key))
    return client.get(path, headers=bearer(key))


@pytest.mark.parametrize("endpoint", sorted(ENDPOINT_SCOPES))
def test_a_key_without_the_scope_gets_403_naming_it(app, client, subjects, endpoint):
    provider_id, ids = subjects
    scope = ENDPOINT_SCOPES[endpoint]
    lacking = issue_key(app, provider_id, [other for other in ALL_SCOPES if other != scope])
    refused = call(client, app, endpoint, lacking, ids, 1)
    assert refused.status_code == 403
    assert scope in refused.get_json()["error"]

    only = issue_key(app, provider_id, [scope])
    allowed = call(client, app, endpoint, only, ids, 2)
    assert allowed.status_code in (200, 201, 202), allowed.get_json()


def test_openapi_needs_no_key(client):
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_keys_get_every_scope_unless_told(client, admin_client, make):
    provider_id = make.provider().id
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    every = "orders:write, orders:read, links:write, links:read, refunds:write, webhooks:write"
    assert page.count(f"data-scopes>{every}, webhooks:read<") == 1
    # The form starts with every box ticked.
    assert len(re.findall(r'<input checked id="scopes-\d" name="scopes" type="checkbox', page)) == 7


def test_admin_chooses_a_keys_scopes(client, admin_client, make):
    provider_id = make.provider().id
    page_url = f"/admin/providers/{provider_id}"
    response = form_post(
        admin_client,
        page_url,
        {"name": "reader", "scopes": ["orders:read"]},
        post_url=f"{page_url}/keys",
    )
    key = re.search(r'value="(kassa_[^"]+)" data-new-key', shown_once(admin_client, response).text)[
        1
    ]
    assert "data-scopes>orders:read<" in admin_client.get(page_url).text
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200
    refused = client.post(
        "/api/v1/create-payment-intent",
        json={"externalId": "R-1", "amount": 5},
        headers=bearer(key),
    )
    assert refused.status_code == 403 and "orders:write" in refused.get_json()["error"]

    none = form_post(admin_client, page_url, {"name": "nothing"}, post_url=f"{page_url}/keys")
    assert none.status_code == 422 and "at least one scope" in none.text
    unknown = admin_client.post(
        f"{page_url}/keys",
        data={
            "name": "odd",
            "scopes": ["orders:read", "admin:all"],
            "csrf_token": csrf_token(admin_client.get(page_url).text),
        },
    )
    assert unknown.status_code == 422
    assert admin_client.get(page_url).text.count("data-scopes>") == 2


def test_regenerating_a_key_keeps_its_scopes(client, admin_client, make):
    provider_id = make.provider().id
    page_url = f"/admin/providers/{provider_id}"
    form_post(
        admin_client,
        page_url,
        {"name": "links", "scopes": ["links:read"]},
        post_url=f"{page_url}/keys",
    )
    page = admin_client.get(page_url).text
    regenerate = re.findall(r'href="(/admin/providers/[^"]+/regenerate)"', page)[0]
    response = admin_client.post(regenerate, data={"csrf_token": csrf_token(page)})
    key = re.search(r'value="(kassa_[^"]+)" data-new-key', shown_once(admin_client, response).text)[
        1
    ]
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 403


def test_cli_keys_take_repeatable_scopes(runner, client, make):
    make.provider(slug="shop")
    result = runner.invoke(
        args=[
            "providers",
            "create-key",
            "shop",
            "--name",
            "ops",
            "--scope",
            "orders:read",
            "--scope",
            "links:read",
            "--json",
        ]
    )
    body = json.loads(result.output)
    assert result.exit_code == 0 and body["scopes"] == ["orders:read", "links:read"]
    assert client.get("/api/v1/orders", headers=bearer(body["apiKey"])).status_code == 200
    refused = client.post("/api/v1/payment-links", json={}, headers=bearer(body["apiKey"]))
    assert refused.status_code == 403 and "links:write" in refused.get_json()["error"]

    bad = runner.invoke(args=["providers", "create-key", "shop", "--name", "x", "--scope", "all"])
    assert bad.exit_code == 2
    result = runner.invoke(args=["providers", "create-key", "shop", "--name", "full", "--json"])
    assert json.loads(result.output)["scopes"] == ALL_SCOPES

    result = runner.invoke(
        args=[
            "providers",
            "create",
            "--name",
            "Reader",
            "--service",
            "premium-credits",
            "--scope",
            "orders:read",
            "--json",
        ]
    )
    reader = json.loads(result.output)["apiKey"]
    assert client.get("/api/v1/orders", headers=bearer(reader)).status_code == 200
    refused = client.post(
        "/api/v1/create-payment-intent", json={"amount": 5}, headers=bearer(reader)
    )
    assert refused.status_code == 403


def test_the_api_document_names_each_operations_scope(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for endpoint, scope in ENDPOINT_SCOPES.items():
        rule = api_rules(app)[endpoint]
        path = rule.rule.removeprefix("/api/v1")
        path = path.replace("<order_id>", "{orderId}").replace("<link_id>", "{linkId}")
        path = path.replace("<endpoint_id>", "{endpointId}").replace("<code_id>", "{codeId}")
        method = next(iter(rule.methods - {"HEAD", "OPTIONS"})).lower()
        operation = spec["paths"][path][method]
        assert operation["x-scope"] == scope, endpoint
        assert "403" in operation["responses"], endpoint
