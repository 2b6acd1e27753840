"""Signed requests bound to their request (issue 17, items 5, 7 and 13): a timestamped
signature covers time, method, path with query and body, is accepted within 5 minutes and
only once, in every web process; refusals for the caller spend the caller's address's
budget, not the key's, and leave the key as it was."""

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from checkout.extensions import db
from checkout.models import ApiKey, PaymentLink
from tests.helpers import bearer, csrf_token, shown_once, timestamped_signature

LINKS = "/api/v1/payment-links"
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}
INSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def press(admin_client, provider_id: str, path: str):
    page = f"/admin/providers/{provider_id}"
    token = csrf_token(admin_client.get(page).text)
    return admin_client.post(f"{page}/{path}", data={"csrf_token": token})


def require_signatures(admin_client, provider_id: str) -> str:
    """Turn signed requests on in the admin; the secret it shows once."""
    shown = shown_once(admin_client, press(admin_client, provider_id, "signatures/on"))
    return re.search(r'value="(ksig_[^"]+)" data-request-secret', shown.text)[1]


def link_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PaymentLink))


def last_used(app, key: str):
    with app.app_context():
        return db.session.scalar(select(ApiKey.last_used_at).where(ApiKey.prefix == key[:12]))


@pytest.fixture
def signing(admin_client, make):
    """A provider that requires (timestamped) signatures: its key and secret."""
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    return key, require_signatures(admin_client, provider_id)


def post_link(client, key: str, raw: bytes, signature: dict, **request):
    headers = {**bearer(key), **signature, "Content-Type": "application/json"}
    return client.post(LINKS, data=raw, headers=headers, **request)


def test_the_same_signed_post_sent_twice_makes_one_link(app, client, signing):
    key, secret = signing
    raw = json.dumps({"title": "VIP"}).encode()
    signature = timestamped_signature(secret, "POST", LINKS, raw)
    first = post_link(client, key, raw, signature)
    assert first.status_code == 201, first.get_json()
    again = post_link(client, key, raw, signature)
    assert again.status_code == 401
    assert again.get_json()["code"] == "signature_reused"
    assert "already used" in again.get_json()["error"]
    assert link_count(app) == 1
    # Signed anew, the same request is a new one.
    renewed = timestamped_signature(secret, "POST", LINKS, raw, at=int(time.time()) - 30)
    assert post_link(client, key, raw, renewed).status_code == 201
    assert link_count(app) == 2


def test_a_signature_holds_only_for_its_method_path_and_query(client, signing):
    key, secret = signing
    order = client.post(
        "/api/v1/create-payment-intent",
        data=b"{}",
        content_type="application/json",
        headers={
            **bearer(key),
            **timestamped_signature(secret, "POST", "/api/v1/create-payment-intent", b"{}"),
        },
    )
    assert order.status_code == 200, order.get_json()
    signed_for = timestamped_signature(secret, "GET", "/api/v1/orders?status=paid")
    for path in (
        "/api/v1/orders",
        "/api/v1/orders?status=pending",
        f"/api/v1/orders/{order.get_json()['orderId']}",
        "/api/v1/payment-links/plink_000000000000000000000000",
    ):
        moved = client.get(path, headers={**bearer(key), **signed_for})
        assert moved.status_code == 401, path
        assert moved.get_json()["code"] == "signature_invalid"
    as_post = timestamped_signature(secret, "POST", "/api/v1/orders")
    assert client.get("/api/v1/orders", headers={**bearer(key), **as_post}).status_code == 401
    good = client.get("/api/v1/orders?status=paid", headers={**bearer(key), **signed_for})
    assert good.status_code == 200, good.get_json()


@pytest.mark.parametrize("offset", [-301, 301, -3600, 10**9])
def test_a_signature_outside_five_minutes_is_refused(app, client, signing, offset):
    key, secret = signing
    raw = b'{"title": "Late"}'
    signature = timestamped_signature(secret, "POST", LINKS, raw, at=int(time.time()) + offset)
    response = post_link(client, key, raw, signature)
    assert response.status_code == 401
    assert response.get_json()["code"] == "signature_expired"
    assert link_count(app) == 0


@pytest.mark.parametrize("offset", [-280, 280])
def test_a_signature_within_five_minutes_is_accepted(client, signing, offset):
    key, secret = signing
    raw = b'{"title": "On time"}'
    signature = timestamped_signature(secret, "POST", LINKS, raw, at=int(time.time()) + offset)
    assert post_link(client, key, raw, signature).status_code == 201


@pytest.mark.parametrize(
    "header",
    ["t=abc,v1=xyz", "v1=abc", "t=1700000000", "t=1700000000,v2=abc", "t=" + "9" * 40 + ",v1=a"],
)
def test_malformed_timestamped_headers_are_refused(client, signing, header):
    key, _ = signing
    response = post_link(client, key, b"{}", {"Signature": header})
    assert response.status_code == 401
    assert response.get_json()["code"] in ("signature_malformed", "signature_invalid")


def test_used_signatures_are_forgotten_after_their_window(app, client, signing, monkeypatch):
    from checkout import api_access
    from checkout.records import SeenSignature

    key, secret = signing
    raw = b'{"title": "Old"}'
    post_link(
        client,
        key,
        raw,
        timestamped_signature(secret, "POST", LINKS, raw, at=int(time.time()) - 200),
    )
    post_link(client, key, raw, timestamped_signature(secret, "POST", LINKS, raw))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SeenSignature)) == 2
        real = time.time
        monkeypatch.setattr(api_access, "utcnow", lambda: _in(real() + 150))
        assert api_access.forget_seen_signatures() == 1
        assert db.session.scalar(select(func.count()).select_from(SeenSignature)) == 1


def _in(timestamp: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


# Item 13: a refused request leaves the key as it was


def test_a_refused_request_does_not_mark_the_key_used(app, client, admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    require_signatures(admin_client, provider_id)
    assert last_used(app, key) is None
    unsigned = client.post(LINKS, json={"title": "x"}, headers=bearer(key))
    assert unsigned.status_code == 401
    wrong = client.get("/api/v1/orders", headers={**bearer(key), "Signature": "t=1,v1=AAAA"})
    assert wrong.status_code == 401
    assert last_used(app, key) is None


def test_only_accepted_requests_mark_the_key_used(app, client, make):
    key = make.provider().api_key
    assert client.post(LINKS, json={"colour": "red"}, headers=bearer(key)).status_code == 422
    assert client.get("/api/v1/orders/ord_nope", headers=bearer(key)).status_code == 404
    assert last_used(app, key) is None
    assert client.get("/api/v1/orders", headers=bearer(key)).status_code == 200
    assert last_used(app, key) is not None


# Item 7: refusals for the caller count against the caller's address


class TestBudgets:
    @pytest.fixture
    def app_config(self):
        return {"RATE_LIMIT_API": "5/minute", "RATE_LIMIT_API_UNAUTHENTICATED": "3/minute"}

    def test_a_leaked_key_used_from_outside_the_allowlist_spends_only_its_address(
        self, client, admin_client, make
    ):
        provider = make.provider()
        provider_id, key = provider.id, provider.api_key
        page = f"/admin/providers/{provider_id}"
        token = csrf_token(admin_client.get(page).text)
        admin_client.post(
            f"{page}/allowlist", data={"ip_allowlist": "203.0.113.0/24", "csrf_token": token}
        )
        outside = [
            client.get("/api/v1/orders", headers=bearer(key), environ_base=ELSEWHERE)
            for _ in range(10)
        ]
        assert [response.status_code for response in outside] == [403] * 3 + [429] * 7
        assert outside[0].get_json()["code"] == "client_not_allowed"
        inside = [
            client.get("/api/v1/orders", headers=bearer(key), environ_base=INSIDE) for _ in range(6)
        ]
        assert [response.status_code for response in inside] == [200] * 5 + [429]

    def test_unsigned_requests_with_a_key_spend_only_their_address(
        self, client, admin_client, make
    ):
        provider = make.provider()
        provider_id, key = provider.id, provider.api_key
        secret = require_signatures(admin_client, provider_id)
        refused = [
            client.get("/api/v1/orders", headers=bearer(key), environ_base=ELSEWHERE)
            for _ in range(5)
        ]
        assert [response.status_code for response in refused] == [401] * 3 + [429] * 2
        now = int(time.time())  # one clock reading: five distinct timestamps, no replay
        signed = [
            client.get(
                "/api/v1/orders",
                headers={
                    **bearer(key),
                    **timestamped_signature(secret, "GET", "/api/v1/orders", at=now - n),
                },
                environ_base=INSIDE,
            )
            for n in range(5)
        ]
        assert [response.status_code for response in signed] == [200] * 5


# Scenario 5 across processes


def test_copies_of_one_signed_request_sent_at_once_to_several_processes_pass_once(
    app, web_servers, admin_client, make
):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    secret = require_signatures(admin_client, provider_id)
    server = web_servers(workers=4)
    raw = json.dumps({"title": "Once"}).encode()
    headers = {
        **bearer(key),
        **timestamped_signature(secret, "POST", LINKS, raw),
        "Content-Type": "application/json",
    }

    def send(_):
        with requests.Session() as session:  # one connection each: spread over the workers
            return session.post(server.url + LINKS, data=raw, headers=headers, timeout=60)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(send, range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [401] * 19, [r.text for r in responses if r.status_code >= 500]
    refused = [r.json() for r in responses if r.status_code == 401]
    assert {body["code"] for body in refused} == {"signature_reused"}
    assert link_count(app) == 1
