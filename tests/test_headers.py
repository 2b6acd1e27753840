"""Headers that keep answers out of the wrong hands: HSTS, no-store, and Host-built URLs."""

import json
import re

import pytest

from checkout import qr
from tests.helpers import UNREACHABLE_HOOK, api_new_order, bearer, create_link, simulate

HSTS = "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize(
    ("base_url", "hsts"),
    [("https://pay.example.com", HSTS), ("http://pay.example.com", None), (None, None)],
)
def test_hsts_is_sent_on_every_answer_only_with_an_https_base_url(
    app, client, api_key, base_url, hsts
):
    app.config["PUBLIC_BASE_URL"] = base_url
    for path in ("/", "/admin/login", "/api/v1/openapi.json", "/l/plink_missing", "/nowhere"):
        assert client.get(path).headers.get("Strict-Transport-Security") == hsts, path
    answer = client.post("/api/v1/create-payment-intent", json={})
    assert answer.headers.get("Strict-Transport-Security") == hsts


def _admin_get_urls(app, values: dict[str, str]) -> list[str]:
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin.") and "GET" in rule.methods:
                urls.append(rule.build({name: values[name] for name in rule.arguments})[1])
    return urls


def test_every_admin_page_is_no_store(app, admin_client, make):
    """Every GET route of the admin, walked from the URL map with a row for each argument."""
    service_id = make.service()
    provider = make.provider(service_id, webhook_url=UNREACHABLE_HOOK)
    provider_id, key = provider.id, provider.api_key
    order_id = api_new_order(admin_client, key, externalId="A-1", amount=10)
    assert simulate(admin_client, order_id).status_code == 303
    link_id = create_link(admin_client, service_id)
    page = admin_client.get("/admin/deliveries").text
    notification_id = page.split('href="/admin/deliveries/', 1)[1].split('"', 1)[0]
    values = {
        "service_id": service_id,
        "provider_id": provider_id,
        "order_id": order_id,
        "link_id": link_id,
        "notification_id": notification_id,
        "key_id": re.search(
            r"/keys/(key_\w+)/", admin_client.get(f"/admin/providers/{provider_id}").text
        )[1],
        "endpoint_id": admin_client.get(
            "/api/v1/webhook-endpoints", headers=bearer(key)
        ).get_json()["data"][0]["id"],
        "admin_id": "1",
        "state": "on",
        "choice": "body",
        "mail_id": json.loads(
            app.test_cli_runner().invoke(args=["mail", "test", "ops@example.com", "--json"]).output
        )["id"],
        "code_id": admin_client.post(
            "/api/v1/discount-codes", json={"code": "HEAD", "percentOff": 5}, headers=bearer(key)
        ).get_json()["id"],
    }
    urls = _admin_get_urls(app, values)
    assert len(urls) >= 17
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code in (200, 302), url
        assert response.headers["Cache-Control"] == "no-store", url
    # Also the sign-in page and the redirect to it, for a stranger.
    stranger = app.test_client()
    for url in ("/admin/login", "/admin/providers", f"/admin/orders/{order_id}"):
        assert stranger.get(url).headers["Cache-Control"] == "no-store", url


def test_the_page_with_the_signing_secret_is_no_store(admin_client, make):
    provider_id = make.provider(webhook_url=UNREACHABLE_HOOK).id
    response = admin_client.get(f"/admin/providers/{provider_id}")
    assert "whsec_" in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_api_answers_are_no_store(client, api_key):
    order_id = api_new_order(client, api_key, externalId="A-1", amount=10)
    for response in (
        client.post(
            "/api/v1/create-payment-intent",
            json={"externalId": "A-2", "amount": 10},
            headers=bearer(api_key),
        ),
        client.get(f"/api/v1/orders/{order_id}", headers=bearer(api_key)),
        client.get("/api/v1/orders", headers=bearer(api_key)),
        client.get("/api/v1/orders"),
        client.get("/api/v1/openapi.json"),
    ):
        assert response.headers["Cache-Control"] == "no-store"


class TestQrWithoutPublicBaseUrl:
    def test_a_forged_host_gets_a_qr_no_shared_cache_keeps(self, admin_client, make):
        link_id = create_link(admin_client, make.service())
        stranger_url = f"http://evil.example/l/{link_id}"
        for kind, render in (("png", qr.png), ("svg", qr.svg)):
            response = admin_client.get(f"/l/{link_id}/qr.{kind}", headers={"Host": "evil.example"})
            assert response.status_code == 200
            body = response.data if kind == "png" else response.text
            assert body == render(stranger_url)  # the sandbox's own host, as asked
            assert response.headers["Cache-Control"] == "private, no-store"
            assert "public" not in response.headers["Cache-Control"]

    def test_openapi_with_a_host_url_is_not_cached(self, client):
        response = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"})
        assert "http://evil.example" in response.text
        assert response.headers["Cache-Control"] == "no-store"


def test_with_a_public_base_url_the_qr_ignores_the_host_and_may_be_cached(app, admin_client, make):
    app.config["PUBLIC_BASE_URL"] = "https://pay.example.com"
    link_id = create_link(admin_client, make.service())
    for kind, render in (("png", qr.png), ("svg", qr.svg)):
        response = admin_client.get(f"/l/{link_id}/qr.{kind}", headers={"Host": "evil.example"})
        body = response.data if kind == "png" else response.text
        assert body == render(f"https://pay.example.com/l/{link_id}")
        assert body != render(f"http://evil.example/l/{link_id}")
        assert response.headers["Cache-Control"] == "public, max-age=86400"
