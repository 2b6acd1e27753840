"""A provider's IP allowlist and signed requests: set in the admin or the CLI, enforced on
every API request made with the provider's keys."""

import base64
import hashlib
import hmac
import json
import re

import pytest

from checkout import create_app
from tests.conftest import BASE_CONFIG
from tests.helpers import (
    api_open_order,
    bearer,
    csrf_token,
    form_post,
    shown_once,
    timestamped_signature,
)

ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}
INSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def provider_page(provider_id: str) -> str:
    return f"/admin/providers/{provider_id}"


def set_allowlist(admin_client, provider_id: str, text: str):
    page = provider_page(provider_id)
    return form_post(admin_client, page, {"ip_allowlist": text}, post_url=f"{page}/allowlist")


def press(admin_client, provider_id: str, path: str):
    """Press a button on the provider's page (a POST carrying the page's form token)."""
    page = provider_page(provider_id)
    token = csrf_token(admin_client.get(page).text)
    return admin_client.post(f"{page}/{path}", data={"csrf_token": token})


def secret_from(html: str) -> str:
    return re.search(r'value="(ksig_[^"]+)" data-request-secret', html)[1]


def signature(secret: str, body: bytes) -> str:
    """What the inbound-transaction guide's Java, C# and PHP examples compute."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


CREATE = "/api/v1/create-payment-intent"


def signed_post(client, key: str, secret: str | None, body: dict, **headers):
    """POST create-payment-intent signed the timestamped way (unless headers say otherwise)."""
    raw = json.dumps(body).encode()
    if secret is not None:
        headers = {**timestamped_signature(secret, "POST", CREATE, raw), **headers}
    return client.post(
        "/api/v1/create-payment-intent",
        data=raw,
        content_type="application/json",
        headers={**bearer(key), **headers},
    )


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--json"])
    return result.exit_code, json.loads(result.output)


# The allowlist


def test_allowlist_refuses_other_addresses_with_403_naming_the_address(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    response = set_allowlist(admin_client, provider_id, "203.0.113.0/24\n2001:db8::/32")
    assert response.status_code == 302

    refused = client.post(
        "/api/v1/create-payment-intent",
        json={"externalId": "A-1", "amount": 5},
        headers=bearer(key),
        environ_base=ELSEWHERE,
    )
    assert refused.status_code == 403
    assert "198.51.100.7" in refused.get_json()["error"]
    listed = client.get("/api/v1/orders", headers=bearer(key), environ_base=ELSEWHERE)
    assert listed.status_code == 403
    # Nothing was opened from outside.
    assert (
        client.get("/api/v1/orders", headers=bearer(key), environ_base=INSIDE).get_json()["data"]
        == []
    )

    allowed = client.post(
        "/api/v1/create-payment-intent",
        json={"externalId": "A-1", "amount": 5},
        headers=bearer(key),
        environ_base=INSIDE,
    )
    assert allowed.status_code == 200
    v6 = client.get(
        "/api/v1/orders", headers=bearer(key), environ_base={"REMOTE_ADDR": "2001:db8::5"}
    )
    assert v6.status_code == 200
    mapped = {"REMOTE_ADDR": "::ffff:203.0.113.20"}
    assert client.get("/api/v1/orders", headers=bearer(key), environ_base=mapped).status_code == 200


class TestBehindAProxy:
    """TRUSTED_PROXIES=1, and a client that reaches Kassa directly with its own header."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": 1}

    def test_a_forwarded_value_that_is_no_address_is_not_echoed(self, client, admin_client, make):
        provider = make.provider()
        provider_id, key = provider.id, provider.api_key
        set_allowlist(admin_client, provider_id, "203.0.113.0/24")
        forged = {**bearer(key), "X-Forwarded-For": "<b>not-an-address</b>"}

        refused = client.get("/api/v1/orders", headers=forged, environ_base=ELSEWHERE)

        assert refused.status_code == 403
        assert "not-an-address" not in refused.text
        assert "198.51.100.7" in refused.get_json()["error"]  # the peer that really connected

    def test_a_forwarded_address_is_believed_in_its_normal_form(self, client, admin_client, make):
        provider = make.provider()
        provider_id, key = provider.id, provider.api_key
        set_allowlist(admin_client, provider_id, "2001:db8::/32")
        named = {**bearer(key), "X-Forwarded-For": "2001:DB8:0::7"}
        allowed = client.get("/api/v1/orders", headers=named, environ_base=ELSEWHERE)
        assert allowed.status_code == 200


def test_allowlist_is_normalised_and_refuses_bad_entries(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    refused = set_allowlist(admin_client, provider_id, "203.0.113.7/24")
    assert refused.status_code == 422
    assert "host bits set: the network is 203.0.113.0/24" in refused.text
    assert set_allowlist(admin_client, provider_id, "not-an-address").status_code == 422
    assert set_allowlist(admin_client, provider_id, "10.0.0.0/33").status_code == 422
    # Refused lists change nothing: any address still works.
    assert api_open_order(client, key, externalId="B-1", amount=5).status_code == 200

    set_allowlist(admin_client, provider_id, "2001:DB8:0:0::/64, 127.0.0.1 127.0.0.1")
    page = admin_client.get(provider_page(provider_id)).text
    assert "2001:db8::/64\n127.0.0.1/32</textarea>" in page
    assert api_open_order(client, key, externalId="B-2", amount=5).status_code == 200

    set_allowlist(admin_client, provider_id, "")
    anywhere = client.get("/api/v1/orders", headers=bearer(key), environ_base=ELSEWHERE)
    assert anywhere.status_code == 200


def test_allowlist_from_the_command_line(runner, client, make):
    key = make.provider(slug="shop").api_key
    code, body = run_json(runner, "providers", "set-allowlist", "shop", "203.0.113.0/24")
    assert code == 0 and body["ipAllowlist"] == ["203.0.113.0/24"]
    assert api_open_order(client, key, externalId="C-1", amount=5).status_code == 403

    code, body = run_json(runner, "providers", "set-allowlist", "shop", "203.0.113.1/24")
    assert code == 1 and "host bits" in body["error"]
    code, body = run_json(runner, "providers", "set-allowlist", "shop")
    assert code == 1 and "--clear" in body["error"]
    code, body = run_json(runner, "providers", "set-allowlist", "nope", "--clear")
    assert code == 1 and "nope" in body["error"]

    code, body = run_json(runner, "providers", "set-allowlist", "shop", "--clear")
    assert code == 0 and body["ipAllowlist"] == []
    assert api_open_order(client, key, externalId="C-1", amount=5).status_code == 200


# Signed requests


def test_signed_requests_missing_or_wrong_get_401_and_right_ones_pass(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    shown = shown_once(admin_client, press(admin_client, provider_id, "signatures/on"))
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    secret = secret_from(shown.text)
    page = admin_client.get(provider_page(provider_id)).text
    assert secret not in page and secret[:9] in page and "data-signatures>Required" in page
    assert 'data-signature-format="timestamped"' in page

    body = {"externalId": "S-1", "amount": 5}
    missing = signed_post(client, key, None, body)
    assert missing.status_code == 401
    assert "Signature header" in missing.get_json()["error"]
    assert missing.get_json()["code"] == "signature_missing"
    wrong = signed_post(client, key, "ksig_not-the-secret", body)
    assert wrong.status_code == 401
    assert "does not match" in wrong.get_json()["error"]
    assert wrong.get_json()["code"] == "signature_invalid"
    garbage = signed_post(client, key, None, body, Signature="%%% not base64 \u00e9")
    assert garbage.status_code == 401
    assert garbage.get_json()["code"] == "signature_malformed"
    # A new provider takes only the timestamped form: the body alone is not enough.
    body_only = signature(secret, json.dumps(body).encode())
    refused = signed_post(client, key, None, body, Signature=body_only)
    assert refused.status_code == 401 and refused.get_json()["code"] == "signature_malformed"
    # A signature of another body does not carry over.
    other = timestamped_signature(secret, "POST", CREATE, b'{"externalId": "S-2", "amount": 500}')
    assert signed_post(client, key, None, body, **other).status_code == 401
    assert client.get("/api/v1/orders", headers={**bearer(key)}).status_code == 401

    right = signed_post(client, key, secret, body)
    assert right.status_code == 200, right.get_json()
    # A GET signs its path and query with the empty body.
    listed = client.get(
        "/api/v1/orders?limit=5",
        headers={**bearer(key), **timestamped_signature(secret, "GET", "/api/v1/orders?limit=5")},
    )
    assert listed.status_code == 200, listed.get_json()
    assert [order["externalId"] for order in listed.get_json()["data"]] == ["S-1"]

    press(admin_client, provider_id, "signatures/off")
    assert signed_post(client, key, None, {"externalId": "S-3", "amount": 5}).status_code == 200


def test_body_only_signatures_work_when_the_provider_chooses_them(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    secret = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "signatures/on")).text
    )
    assert press(admin_client, provider_id, "signature-format/body").status_code == 302
    page = admin_client.get(provider_page(provider_id)).text
    assert 'data-signature-format="body"' in page

    raw = b'{"externalId": "B-1", "amount": 5}'
    body_signed = signed_post(client, key, None, json.loads(raw), Signature=signature(secret, raw))
    assert body_signed.status_code == 200, body_signed.get_json()
    wrong = signed_post(client, key, None, json.loads(raw), Signature=signature("ksig_x", raw))
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "The Signature header does not match the request body"
    # Its limit: a GET signs the empty body, so one signature opens every GET.
    for path in ("/api/v1/orders", "/api/v1/orders?status=paid"):
        headers = {**bearer(key), "Signature": signature(secret, b"")}
        assert client.get(path, headers=headers).status_code == 200
    # The timestamped form is checked as such, so the provider can move to it before the
    # admin switches.
    assert signed_post(client, key, secret, {"externalId": "B-2", "amount": 5}).status_code == 200

    press(admin_client, provider_id, "signature-format/timestamped")
    refused = signed_post(
        client, key, None, {"externalId": "B-3", "amount": 5}, Signature=signature(secret, raw)
    )
    assert refused.status_code == 401
    assert admin_client.get(f"{provider_page(provider_id)}/signature-format/md5").status_code == 404


def test_signature_is_compared_in_constant_time(client, admin_client, make, monkeypatch):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    secret = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "signatures/on")).text
    )
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    raw = b'{"externalId": "T-1", "amount": 5}'
    headers = timestamped_signature(secret, "POST", CREATE, raw)
    at = headers["Signature"].split(",")[0][2:]
    expected = hmac.new(secret.encode(), f"{at}.POST.{CREATE}.".encode() + raw, hashlib.sha256)
    response = signed_post(client, key, None, json.loads(raw), **headers)
    assert response.status_code == 200
    assert (expected.digest(), expected.digest()) in compared


def test_the_address_is_checked_before_the_signature(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    press(admin_client, provider_id, "signatures/on")
    set_allowlist(admin_client, provider_id, "203.0.113.0/24")
    response = client.get("/api/v1/orders", headers=bearer(key), environ_base=ELSEWHERE)
    assert response.status_code == 403


def test_a_new_secret_replaces_the_old_one_and_is_shown_once(client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    first = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "signatures/on")).text
    )
    # Turning it on again keeps the secret the provider already has.
    again = press(admin_client, provider_id, "signatures/on")
    assert again.status_code == 302
    second = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "request-secret")).text
    )
    assert second != first
    assert signed_post(client, key, first, {"externalId": "R-1", "amount": 5}).status_code == 401
    assert signed_post(client, key, second, {"externalId": "R-1", "amount": 5}).status_code == 200


def test_signatures_from_the_command_line(runner, client, make):
    key = make.provider(slug="shop").api_key
    code, body = run_json(runner, "providers", "require-signatures", "shop", "on")
    assert code == 0 and body["requireSignedRequests"] is True
    assert body["signatureFormat"] == "timestamped"
    secret = body["requestSecret"]
    assert secret.startswith("ksig_") and body["requestSecretPrefix"] == secret[:9]
    assert signed_post(client, key, None, {"externalId": "L-1", "amount": 5}).status_code == 401
    assert signed_post(client, key, secret, {"externalId": "L-1", "amount": 5}).status_code == 200

    result = runner.invoke(args=["providers", "rotate-request-secret", "shop"])
    assert result.exit_code == 0
    rotated = re.search(r"(ksig_\S+)", result.output)[1]
    assert signed_post(client, key, secret, {"externalId": "L-2", "amount": 5}).status_code == 401
    assert signed_post(client, key, rotated, {"externalId": "L-2", "amount": 5}).status_code == 200

    code, body = run_json(
        runner, "providers", "require-signatures", "shop", "on", "--format", "body"
    )
    assert code == 0 and body["signatureFormat"] == "body" and body["requestSecret"] is None
    raw = b'{"externalId": "L-3", "amount": 5}'
    assert (
        signed_post(client, key, None, json.loads(raw), Signature=signature(rotated, raw))
    ).status_code == 200

    code, body = run_json(runner, "providers", "require-signatures", "shop", "off")
    assert code == 0 and body["requireSignedRequests"] is False and body["requestSecret"] is None
    assert body["signatureFormat"] == "body"
    assert signed_post(client, key, None, {"externalId": "L-4", "amount": 5}).status_code == 200
    assert runner.invoke(args=["providers", "require-signatures", "shop", "maybe"]).exit_code == 2
    wrong_format = ["providers", "require-signatures", "shop", "on", "--format", "md5"]
    assert runner.invoke(args=wrong_format).exit_code == 2


def test_the_secret_is_never_stored(app, admin_client, make):
    from checkout.extensions import db
    from checkout.models import Provider

    provider_id = make.provider().id
    secret = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "signatures/on")).text
    )
    with app.app_context():
        row = db.session.get(Provider, provider_id)
        stored = [str(getattr(row, column.key)) for column in Provider.__table__.columns]
    assert not any(secret in value or secret[9:] in value for value in stored)


def test_a_changed_secret_key_stops_the_old_secret_and_says_so(app, client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    secret = secret_from(
        shown_once(admin_client, press(admin_client, provider_id, "signatures/on")).text
    )
    moved = create_app({**BASE_CONFIG, "SECRET_KEY": "another key entirely"})
    other = moved.test_client()
    assert signed_post(other, key, secret, {"externalId": "K-1", "amount": 5}).status_code == 401
    assert signed_post(client, key, secret, {"externalId": "K-1", "amount": 5}).status_code == 200
    with moved.app_context():
        from checkout import api_access
        from checkout.extensions import db
        from checkout.models import Provider

        assert api_access.secret_lost(db.session.get(Provider, provider_id))
        db.session.remove()
        db.engine.dispose()
