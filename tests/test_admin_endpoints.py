"""The admin's provider page manages the same webhook endpoints as the API and the CLI: add
(its secret shown once), turn off and on, send a test event, rotate a secret, delete."""

import re

import pytest

from tests.helpers import UNREACHABLE_HOOK, bearer, csrf_token

# A refused endpoint must not be left in the provider's list for the session to flush.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")


def page(admin_client, provider_id: str) -> str:
    return admin_client.get(f"/admin/providers/{provider_id}").text


def post(admin_client, provider_id: str, path: str, data: dict | None = None):
    token = csrf_token(page(admin_client, provider_id))
    return admin_client.post(
        f"/admin/providers/{provider_id}{path}", data={"csrf_token": token, **(data or {})}
    )


def through_api(client, key) -> list[dict]:
    return client.get("/api/v1/webhook-endpoints", headers=bearer(key)).get_json()["data"]


def test_an_endpoint_added_in_the_admin_shows_its_secret_once(client, admin_client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    added = post(
        admin_client,
        provider.id,
        "/endpoints",
        {"url": UNREACHABLE_HOOK + "/2", "description": "staging", "events": ["payment_failed"]},
    )
    assert added.status_code == 303
    shown = admin_client.get(added.headers["Location"]).text
    secret = re.search(r'value="(whsec_[^"]+)" data-new-endpoint-secret', shown)[1]
    assert "data-new-endpoint-secret" not in admin_client.get(added.headers["Location"]).text
    assert secret not in page(admin_client, provider.id)
    [first, second] = through_api(client, provider.api_key)
    assert first["url"] == UNREACHABLE_HOOK
    assert (second["url"], second["events"], second["description"]) == (
        UNREACHABLE_HOOK + "/2",
        ["payment_failed"],
        "staging",
    )
    assert f'data-endpoint="{second["id"]}"' in page(admin_client, provider.id)


def test_a_bad_url_is_422_and_adds_nothing(client, admin_client, make):
    provider = make.provider()
    refused = post(admin_client, provider.id, "/endpoints", {"url": "ftp://hooks.example/x"})
    assert refused.status_code == 422
    assert "data-endpoints" not in refused.text  # the refused one is listed nowhere
    assert through_api(client, provider.api_key) == []


def test_off_on_test_rotate_and_delete(client, admin_client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    [endpoint] = through_api(client, provider.api_key)
    base = f"/endpoints/{endpoint['id']}"
    assert post(admin_client, provider.id, f"{base}/off").status_code == 302
    assert through_api(client, provider.api_key)[0]["active"] is False
    assert post(admin_client, provider.id, f"{base}/on").status_code == 302
    assert through_api(client, provider.api_key)[0]["active"] is True

    tested = post(admin_client, provider.id, f"{base}/test")
    assert tested.status_code == 302 and "/admin/deliveries/msg_" in tested.headers["Location"]

    asked = admin_client.get(f"/admin/providers/{provider.id}{base}/rotate-secret")
    assert asked.status_code == 200 and "Rotate the signing secret" in asked.text
    rotated = post(admin_client, provider.id, f"{base}/rotate-secret")
    assert rotated.status_code == 303
    shown = admin_client.get(rotated.headers["Location"]).text
    new_secret = re.search(r'value="(whsec_[^"]+)" data-new-endpoint-secret', shown)[1]
    assert new_secret != provider.webhook_secret
    assert through_api(client, provider.api_key)[0]["secretRotatedAt"]

    asked = admin_client.get(f"/admin/providers/{provider.id}{base}/delete")
    assert asked.status_code == 200 and "Delete the endpoint" in asked.text
    assert post(admin_client, provider.id, f"{base}/delete").status_code == 302
    assert through_api(client, provider.api_key) == []


def test_another_providers_endpoint_is_404(client, admin_client, make):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    other = make.provider(make.service(slug="other"), name="Other")
    [endpoint] = through_api(client, provider.api_key)
    for path in ("off", "test", "rotate-secret", "delete"):
        response = post(admin_client, other.id, f"/endpoints/{endpoint['id']}/{path}")
        assert response.status_code == 404, path
    assert through_api(client, provider.api_key)[0]["active"] is True
