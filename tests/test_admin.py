"""The admin: sign-in, services, providers and their keys, and the orders pages."""

import re

import pytest

from tests.helpers import (
    ALL_SCOPES,
    api_new_order,
    api_open_order,
    csrf_token,
    form_post,
    provider_form,
    shown_once,
    sign_in,
    simulate,
)

ADMIN_PAGES = [
    "/admin/",
    "/admin/services",
    "/admin/services/new",
    "/admin/providers",
    "/admin/providers/new",
    "/admin/providers/prv_x/branding",
    "/admin/orders",
    "/admin/orders/ord_x",
    "/admin/admins",
    "/admin/password",
    "/admin/audit",
    "/admin/discounts",
    "/admin/discounts/new",
    "/admin/discounts/disc_x/edit",
]


def new_key_from(html: str) -> str:
    match = re.search(r'value="(kassa_[^"]+)" data-new-key', html)
    assert match, "no key on the page"
    return match.group(1)


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_every_admin_page_requires_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_sign_in_and_out(client, make):
    email, password = make.admin()
    assert sign_in(client, email, password).status_code == 302
    assert client.get("/admin/").status_code == 200
    token = csrf_token(client.get("/admin/").text)
    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get("/admin/").status_code == 302


def test_sign_in_needs_csrf(client, make):
    email, password = make.admin()
    response = client.post("/admin/login", data={"email": email, "password": password})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_wrong_password_is_401(client, make):
    email, _ = make.admin()
    response = sign_in(client, email, "wrong password")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.text


def test_failed_logins_are_rate_limited(client, make):
    email, password = make.admin()
    for _ in range(5):
        response = sign_in(client, email, "nope nope")
        assert response.status_code == 401
    locked = sign_in(client, email, password)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert client.get("/admin/").status_code == 302


def test_next_parameter_cannot_leave_the_site(client, make):
    email, password = make.admin()
    token = csrf_token(client.get("/admin/login").text)
    response = client.post(
        "/admin/login?next=//evil.example/x",
        data={"email": email, "password": password, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_create_and_edit_a_service(admin_client):
    response = form_post(
        admin_client,
        "/admin/services/new",
        {"title": "Premium Credits", "price": "5", "currency": "usd", "active": "y"},
    )
    assert response.status_code == 302
    listing = admin_client.get("/admin/services").text
    assert "Premium Credits" in listing and "$5.00" in listing and "premium-credits" in listing
    edit_url = re.search(r'href="(/admin/services/[^"]+/edit)"', listing).group(1)
    assert 'value="5.00"' in admin_client.get(edit_url).text
    response = form_post(
        admin_client,
        edit_url,
        {"title": "Premium Credits", "price": "7.50", "currency": "usd", "slug": "premium"},
    )
    assert response.status_code == 302
    assert "$7.50" in admin_client.get("/admin/services").text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": "abc"}, "Amount must be a number"),
        ({"price": "5.001"}, "more than 2 decimal places"),
        ({"price": "-1"}, "greater than zero"),
        ({"price": "NaN"}, "finite number"),
        ({"price": "0.49"}, "Amount is below Stripe&#39;s minimum charge of $0.50"),
        ({"price": "0.29", "currency": "gbp"}, "below Stripe&#39;s minimum charge of £0.30"),
        ({"price": "49", "currency": "jpy"}, "below Stripe&#39;s minimum charge of ¥50"),
        ({"price": "9.99", "currency": "mxn"}, "below Stripe&#39;s minimum charge of 10.00 MXN"),
        ({"currency": "xyz"}, "Not a valid choice"),
        ({"slug": "Bad Slug!"}, "lowercase letters"),
        ({"buy_button_id": "pl_123"}, "buy_btn_"),
        ({"buy_button_id": "buy_btn_1A"}, "Stripe Payment Link behind it (plink_…)"),
        ({"stripe_payment_link_id": "plink_1A"}, "needs its Buy Button ID (buy_btn_…)"),
        ({"buy_button_id": "buy_btn_1A", "stripe_payment_link_id": "pl_1"}, "plink_1Abc"),
        ({"buy_button_id": "buy_btn_1A", "stripe_payment_link_id": "plink_1A-2"}, "plink_1Abc"),
        ({"title": ""}, "This field is required"),
    ],
)
def test_bad_service_input_is_422_and_saves_nothing(admin_client, fields, message):
    data = {"title": "Gold", "price": "5", "currency": "usd", **fields}
    response = form_post(admin_client, "/admin/services/new", data)
    assert response.status_code == 422
    assert message in response.text
    assert "No services yet" in admin_client.get("/admin/services").text


def test_buy_button_service_records_its_stripe_payment_link(admin_client, make):
    fields = {"title": "Pro", "price": "300", "currency": "usd", "active": "y"}
    button = {"buy_button_id": "buy_btn_1Pro", "stripe_payment_link_id": "plink_1Pro"}
    response = form_post(admin_client, "/admin/services/new", {**fields, **button})
    assert response.status_code == 302
    listing = admin_client.get("/admin/services").text
    assert "buy_btn_1Pro" in listing and "plink_1Pro" in listing
    edit_url = re.search(r'href="(/admin/services/[^"]+/edit)"', listing).group(1)
    assert 'value="plink_1Pro"' in admin_client.get(edit_url).text
    cleared = form_post(admin_client, edit_url, {**fields, **button, "stripe_payment_link_id": ""})
    assert cleared.status_code == 422
    assert "Stripe Payment Link behind it" in cleared.text
    assert "plink_1Pro" in admin_client.get("/admin/services").text
    empty = {"buy_button_id": "", "stripe_payment_link_id": ""}
    both_cleared = form_post(admin_client, edit_url, {**fields, **empty})
    assert both_cleared.status_code == 302
    assert "plink_1Pro" not in admin_client.get("/admin/services").text


def test_duplicate_slug_is_refused(admin_client, make):
    make.service(title="Gold", slug="gold")
    data = {"title": "Gold again", "price": "5", "currency": "usd", "slug": "gold"}
    response = form_post(admin_client, "/admin/services/new", data)
    assert response.status_code == 422
    assert "already taken" in response.text


def test_provider_without_services_sends_admin_to_create_one(admin_client):
    response = admin_client.get("/admin/providers/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/services/new")


def test_create_provider_shows_its_key_once_and_the_key_works(admin_client, make):
    service_id = make.service()
    created = form_post(admin_client, "/admin/providers/new", provider_form(service_id))
    response = shown_once(admin_client, created)
    assert response.headers["Cache-Control"] == "no-store"
    key = new_key_from(response.text)
    assert api_open_order(admin_client, key, externalId="A").status_code == 200

    provider_url = re.search(r'href="(/admin/providers/prv_[^"]+)"', response.text).group(1)
    detail = admin_client.get(provider_url).text
    assert key not in detail
    assert key[:12] + "…" in detail


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"webhook_url": "http://hooks.example/x"}, "https"),
        ({"webhook_url": "https://127.0.0.1/x"}, "public addresses"),
        ({"webhook_url": "https://10.1.2.3/x"}, "public addresses"),
        ({"webhook_url": "https://169.254.169.254/latest"}, "public addresses"),
        ({"webhook_url": "https://[::1]/x"}, "public addresses"),
        ({"webhook_url": "https://localhost/x"}, "public addresses"),
        ({"webhook_url": "", "success_url": "javascript:alert(1)"}, "absolute"),
        ({"webhook_url": "", "cancel_url": "/relative"}, "absolute"),
        ({"webhook_url": "", "service_id": "svc_missing"}, "Not a valid choice"),
    ],
)
def test_bad_provider_input_is_422(admin_client, app, make, fields, message):
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = False
    service_id = make.service()
    response = form_post(admin_client, "/admin/providers/new", provider_form(service_id, **fields))
    assert response.status_code == 422
    assert message in response.text
    assert "No providers yet" in admin_client.get("/admin/providers").text


def test_public_webhook_address_is_accepted(admin_client, app, make):
    app.config["ALLOW_PRIVATE_WEBHOOK_URLS"] = False
    service_id = make.service()
    fields = provider_form(service_id, webhook_url="https://93.184.216.34/hook")
    response = form_post(admin_client, "/admin/providers/new", fields)
    assert response.status_code == 303


def test_keys_can_be_named_revoked_and_regenerated(admin_client, make):
    provider = make.provider()
    provider_id, first_key = provider.id, provider.api_key
    page_url = f"/admin/providers/{provider_id}"
    response = form_post(
        admin_client,
        page_url,
        {"name": "staging", "scopes": ALL_SCOPES},
        post_url=f"{page_url}/keys",
    )
    staging_key = new_key_from(shown_once(admin_client, response).text)
    assert "staging" in admin_client.get(page_url).text

    detail = admin_client.get(page_url).text
    revoke_urls = re.findall(r'href="(/admin/providers/[^"]+/revoke)"', detail)
    regenerate_urls = re.findall(r'href="(/admin/providers/[^"]+/regenerate)"', detail)
    assert len(revoke_urls) == 2
    # Newest first: the staging key is listed first.
    token = csrf_token(detail)
    admin_client.post(revoke_urls[0], data={"csrf_token": token})
    assert api_open_order(admin_client, staging_key).status_code == 401
    assert api_open_order(admin_client, first_key).status_code == 200

    response = admin_client.post(regenerate_urls[1], data={"csrf_token": token})
    replacement = new_key_from(shown_once(admin_client, response).text)
    assert api_open_order(admin_client, first_key).status_code == 401
    assert api_open_order(admin_client, replacement).status_code == 200


def test_key_actions_need_csrf(admin_client, make):
    provider = make.provider()
    provider_id, key = provider.id, provider.api_key
    detail = admin_client.get(f"/admin/providers/{provider_id}").text
    revoke_url = re.search(r'href="(/admin/providers/[^"]+/revoke)"', detail).group(1)
    assert admin_client.post(revoke_url).status_code == 400
    assert api_open_order(admin_client, key).status_code == 200


def test_at_most_five_active_keys(admin_client, make):
    provider_id = make.provider().id
    page_url = f"/admin/providers/{provider_id}"
    for number in range(4):
        response = form_post(
            admin_client,
            page_url,
            {"name": f"k{number}", "scopes": ALL_SCOPES},
            post_url=f"{page_url}/keys",
        )
        assert response.status_code == 303
    refused = form_post(
        admin_client, page_url, {"name": "sixth", "scopes": ALL_SCOPES}, post_url=f"{page_url}/keys"
    )
    assert refused.status_code == 422
    assert "at most 5 active keys" in refused.text


def test_edit_provider_switches_mode(admin_client, make):
    service_id = make.service(buy_button_id="buy_btn_abc", stripe_payment_link_id="plink_abc")
    provider = make.provider(service_id=service_id)
    provider_id, key = provider.id, provider.api_key
    fields = provider_form(service_id, use_stripe_checkout="y", webhook_url="")
    response = form_post(admin_client, f"/admin/providers/{provider_id}/edit", fields)
    assert response.status_code == 302
    body = api_open_order(admin_client, key, amount=50).get_json()
    assert body["mode"] == "stripe_buy_button"


def test_orders_list_filters_and_pages(admin_client, make):
    service_id = make.service()
    provider = make.provider(service_id=service_id, name="Alpha")
    provider_a, key_a = provider.id, provider.api_key
    key_b = make.provider(service_id=service_id, name="Beta").api_key
    a_orders = [api_open_order(admin_client, key_a).get_json()["orderId"] for _ in range(27)]
    b_order = api_open_order(admin_client, key_b).get_json()["orderId"]

    first = admin_client.get("/admin/orders").text
    assert "28 orders" in first and "Page 1 of 2" in first
    second = admin_client.get("/admin/orders?page=2").text
    assert "Page 2 of 2" in second

    only_a = admin_client.get(f"/admin/orders?provider={provider_a}").text
    assert "27 orders" in only_a
    assert f'href="/admin/orders?page=2&amp;provider={provider_a}" rel="next"' in only_a
    assert b_order not in only_a

    simulate(admin_client, a_orders[0])
    paid = admin_client.get("/admin/orders?status=paid").text
    assert "1 order<" in paid and a_orders[0] in paid

    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    dated = admin_client.get(f"/admin/orders?date_from={today}&date_to={today}").text
    assert "28 orders" in dated
    future = today + timedelta(days=1)
    assert "0 orders" in admin_client.get(f"/admin/orders?date_from={future}").text


@pytest.mark.parametrize("query", ["status=bogus", "date_from=yesterday", "provider=prv_nope"])
def test_bad_order_filters_are_422(admin_client, query):
    response = admin_client.get(f"/admin/orders?{query}")
    assert response.status_code == 422


def test_order_detail_shows_a_timeline(admin_client, api_key):
    order_id = api_new_order(admin_client, api_key, externalId="EXT-7", amount=10)
    for outcome in ("failed", "succeeded"):
        simulate(admin_client, order_id, outcome)
    page = admin_client.get(f"/admin/orders/{order_id}").text
    assert "EXT-7" in page and "$10.00" in page
    timeline = page[page.index("Timeline") :]
    assert timeline.index("Opened by API") < timeline.index("pending → failed (sandbox)")
    assert timeline.index("pending → failed") < timeline.index("failed → paid (sandbox)")
    assert admin_client.get("/admin/orders/ord_missing").status_code == 404


def test_dashboard_counts_orders_by_status(admin_client, api_key):
    for _ in range(3):
        api_open_order(admin_client, api_key)
    page = admin_client.get("/admin/").text
    assert re.search(r'tile-count">3</span>\s*<span class="tile-label">Pending', page)


def test_nul_bytes_in_admin_requests_are_400(admin_client, client):
    assert admin_client.get("/admin/services/svc_%00/edit").status_code == 400
    assert admin_client.get("/admin/orders?status=%00").status_code == 400
    token = csrf_token(admin_client.get("/admin/services/new").text)
    response = admin_client.post(
        "/admin/services/new",
        data={"title": "a\x00b", "price": "5", "currency": "usd", "csrf_token": token},
    )
    assert response.status_code == 400


def test_the_liveness_check_answers_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
