"""The admin's actions: Post/Redirect/Get, secrets shown once, confirmation pages, deliveries."""

import json
import re

import pytest
from sqlalchemy import func, select

from checkout import notifications
from checkout.extensions import db
from checkout.models import ApiKey
from tests.helpers import (
    ALL_SCOPES,
    UNREACHABLE_HOOK,
    api_open_order,
    api_paid_order,
    create_link,
    csrf_token,
    form_post,
    provider_form,
)


def key_count(app, provider_id: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.provider_id == provider_id)
        )


def new_key_on(html: str) -> str | None:
    match = re.search(r'value="(kassa_[^"]+)" data-new-key', html)
    return match[1] if match else None


# Post/Redirect/Get, and a secret shown once


def test_a_new_key_is_shown_once_after_a_redirect_and_a_reload_makes_no_second_key(
    app, admin_client, make
):
    provider_id = make.provider().id
    page = f"/admin/providers/{provider_id}"
    created = form_post(
        admin_client, page, {"name": "staging", "scopes": ALL_SCOPES}, post_url=f"{page}/keys"
    )
    assert created.status_code == 303
    location = created.headers["Location"]
    shown = admin_client.get(location)
    key = new_key_on(shown.text)
    assert key and key not in location
    assert shown.headers["Cache-Control"] == "no-store"
    assert api_open_order(admin_client, key, externalId="K-1").status_code == 200
    assert key_count(app, provider_id) == 2

    reloaded = admin_client.get(location)
    assert reloaded.status_code == 200
    assert "This key was shown once" in reloaded.text
    assert key not in reloaded.text and new_key_on(reloaded.text) is None
    assert key_count(app, provider_id) == 2


def test_a_new_providers_key_never_travels_in_a_url(admin_client, make):
    service_id = make.service()
    created = form_post(admin_client, "/admin/providers/new", provider_form(service_id))
    assert created.status_code == 303
    shown = admin_client.get(created.headers["Location"])
    key = new_key_on(shown.text)
    assert key and key not in created.headers["Location"]
    assert "This key was shown once" in admin_client.get(created.headers["Location"]).text


def test_a_key_not_fetched_at_once_is_dropped_by_the_next_page(app, admin_client, make):
    provider_id = make.provider().id
    page = f"/admin/providers/{provider_id}"
    created = form_post(
        admin_client, page, {"name": "x", "scopes": ALL_SCOPES}, post_url=f"{page}/keys"
    )
    with admin_client.session_transaction() as held:
        assert held["shown_once"]
    admin_client.get("/admin/orders")
    with admin_client.session_transaction() as held:
        assert "shown_once" not in held
    assert "This key was shown once" in admin_client.get(created.headers["Location"]).text


def test_another_admins_session_does_not_see_the_key(app, admin_client, make):
    provider_id = make.provider().id
    page = f"/admin/providers/{provider_id}"
    created = form_post(
        admin_client, page, {"name": "x", "scopes": ALL_SCOPES}, post_url=f"{page}/keys"
    )
    email, password = make.admin("other@example.com", "other admin password")
    other = app.test_client()
    form_post(other, "/admin/login", {"email": email, "password": password})
    assert "This key was shown once" in other.get(created.headers["Location"]).text
    assert new_key_on(admin_client.get(created.headers["Location"]).text)


def test_a_regenerated_key_and_a_request_secret_are_shown_once_too(admin_client, make):
    provider_id = make.provider().id
    page = f"/admin/providers/{provider_id}"
    key_id = re.search(r"/keys/(key_\w+)/regenerate", admin_client.get(page).text)[1]
    token = csrf_token(admin_client.get(page).text)
    regenerated = admin_client.post(f"{page}/keys/{key_id}/regenerate", data={"csrf_token": token})
    assert regenerated.status_code == 303
    assert new_key_on(admin_client.get(regenerated.headers["Location"]).text)
    assert new_key_on(admin_client.get(regenerated.headers["Location"]).text) is None

    turned_on = admin_client.post(f"{page}/signatures/on", data={"csrf_token": token})
    assert turned_on.status_code == 303 and "ksig_" not in turned_on.headers["Location"]
    secret = re.search(
        r'value="(ksig_[^"]+)"', admin_client.get(turned_on.headers["Location"]).text
    )
    assert secret
    again = admin_client.get(turned_on.headers["Location"]).text
    assert secret[1] not in again and "This secret was shown once" in again


@pytest.mark.parametrize(
    "action",
    ["services/new", "links/new", "providers/{provider}/edit", "providers/{provider}/allowlist"],
)
def test_successful_form_posts_redirect(admin_client, make, action):
    service_id = make.service()
    provider_id = make.provider(service_id=service_id).id
    forms = {
        "services/new": {"title": "Gold", "price": "5", "currency": "usd"},
        "links/new": {"title": "Sale", "service_id": service_id, "quantity": "1"},
        "providers/{provider}/edit": provider_form(service_id),
        "providers/{provider}/allowlist": {"ip_allowlist": "203.0.113.0/24"},
    }
    url = "/admin/" + action.format(provider=provider_id)
    page = f"/admin/providers/{provider_id}" if "allowlist" in action else url
    response = form_post(admin_client, page, forms[action], post_url=url)
    assert response.status_code in (302, 303)


# Confirmations before destructive actions


@pytest.fixture
def targets(admin_client, make, client):
    """Ids for every destructive action: a provider with a key, a link, a paid order, an admin."""
    service_id = make.service()
    provider = make.provider(service_id=service_id, webhook_url=UNREACHABLE_HOOK)
    provider_id, key = provider.id, provider.api_key
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    key_id = re.search(r"/keys/(key_\w+)/revoke", page)[1]
    order_id = api_paid_order(client, key, "C-1", amount=25)
    make.admin("second@example.com", "second admin password")
    admins = admin_client.get("/admin/admins").text
    admin_id = re.search(r"/admin/admins/(\d+)/remove", admins)[1]
    return {
        "provider": provider_id,
        "key": key_id,
        "link": create_link(admin_client, service_id),
        "order": order_id,
        "admin": admin_id,
    }


CONFIRMED = [
    ("/admin/providers/{provider}", "/admin/providers/{provider}/keys/{key}/revoke", "Revoke key"),
    (
        "/admin/providers/{provider}",
        "/admin/providers/{provider}/keys/{key}/regenerate",
        "Regenerate key",
    ),
    ("/admin/providers/{provider}", "/admin/providers/{provider}/rotate-secret", "Rotate secret"),
    (
        "/admin/providers/{provider}",
        "/admin/providers/{provider}/signatures/on",
        "Require signed requests",
    ),
    (
        "/admin/providers/{provider}",
        "/admin/providers/{provider}/request-secret",
        "Generate new secret",
    ),
    (
        "/admin/providers/{provider}",
        "/admin/providers/{provider}/signature-format/body",
        "Accept body-only signatures",
    ),
    ("/admin/links/{link}", "/admin/links/{link}/deactivate", "Turn off"),
    ("/admin/admins", "/admin/admins/{admin}/remove", "Remove admin"),
]


@pytest.mark.parametrize(("page", "action", "button"), CONFIRMED)
def test_a_destructive_button_leads_to_a_confirmation_page_first(
    admin_client, app, targets, page, action, button
):
    page, action = page.format(**targets), action.format(**targets)
    html = admin_client.get(page).text
    assert f'href="{action}"' in html, "the button is a link to the confirmation page"
    assert f'action="{action}"' not in html, "no one-click POST form on the page"
    before = admin_client.get("/admin/audit").text.count("<tr")

    confirmation = admin_client.get(action)
    assert confirmation.status_code == 200
    assert "data-confirm-page" in confirmation.text
    assert f'<form method="post" action="{action}"' in confirmation.text
    assert f">{button}</button>" in confirmation.text
    assert admin_client.get("/admin/audit").text.count("<tr") == before, "asking changed nothing"

    assert admin_client.post(action).status_code == 400, "the POST still needs the CSRF token"
    assert admin_client.get("/admin/audit").text.count("<tr") == before
    done = admin_client.post(action, data={"csrf_token": csrf_token(confirmation.text)})
    assert done.status_code in (302, 303)
    assert admin_client.get("/admin/audit").text.count("<tr") > before


def test_refund_asks_with_the_amount_then_refunds_once(admin_client, targets):
    order = f"/admin/orders/{targets['order']}"
    html = admin_client.get(order).text
    assert f'<form method="get" action="{order}/refund"' in html
    assert 'name="csrf_token"' not in html.split(f'action="{order}/refund"')[1].split("</form>")[0]

    confirmation = admin_client.get(f"{order}/refund", query_string={"amount": "5"})
    assert confirmation.status_code == 200
    assert "Refund $5.00?" in confirmation.text
    assert "refunded" not in admin_client.get(order).text.split("Timeline")[1]

    fields = dict(re.findall(r'name="(amount|request_key)" value="([^"]*)"', confirmation.text))
    assert admin_client.post(f"{order}/refund", data=fields).status_code == 400
    done = admin_client.post(
        f"{order}/refund", data={**fields, "csrf_token": csrf_token(confirmation.text)}
    )
    assert done.status_code == 302
    assert "$5.00" in admin_client.get(order).text.split("Timeline")[1]


def test_refund_confirmation_refuses_a_bad_amount(admin_client, targets):
    order = f"/admin/orders/{targets['order']}"
    response = admin_client.get(f"{order}/refund", query_string={"amount": "abc"})
    assert response.status_code == 422
    assert "Amount must be a number" in response.text
    assert "data-confirm-page" not in response.text


def test_resend_all_failed_asks_first(admin_client, targets):
    html = admin_client.get("/admin/deliveries").text
    assert '<form method="get" action="/admin/deliveries/resend-failed"' in html
    confirmation = admin_client.get(
        "/admin/deliveries/resend-failed", query_string={"since": "2000-01-01T00:00"}
    )
    assert confirmation.status_code == 200
    assert "since 2000-01-01 00:00 UTC" in confirmation.text
    assert 'name="since" value="2000-01-01T00:00"' in confirmation.text
    missing = admin_client.get("/admin/deliveries/resend-failed")
    assert missing.status_code == 302


def test_duplicate_is_called_duplicate(admin_client, targets):
    html = admin_client.get(f"/admin/links/{targets['link']}").text
    assert ">Duplicate</button>" in html and ">Copy</button>" not in html


def test_copy_buttons_sit_beside_keys_secrets_links_and_the_snippet(admin_client, targets):
    provider = admin_client.get(f"/admin/providers/{targets['provider']}").text
    assert 'data-copy="webhook-secret"' in provider
    link = admin_client.get(f"/admin/links/{targets['link']}").text
    assert 'data-copy="link-url"' in link and 'data-copy="embed"' in link
    assert "admin.js" in link


# Deliveries


def test_a_delivery_shows_its_payload_indented_and_counts_the_attempts_listed(
    app, admin_client, targets
):
    page = admin_client.get("/admin/deliveries").text
    notification_id = re.search(r'href="/admin/deliveries/(msg_\w+)"', page)[1]
    with app.app_context():
        notifications.deliver(notification_id)
    url = f"/admin/deliveries/{notification_id}"
    token = csrf_token(admin_client.get(url).text)
    for _ in range(2):
        assert admin_client.post(f"{url}/resend", data={"csrf_token": token}).status_code == 302
        with app.app_context():
            notifications.deliver(notification_id)

    html = admin_client.get(url).text
    attempts = html.split("<table data-attempts>")[1].split("</table>")[0]
    listed = len(re.findall(r"<td[^>]*><code>", attempts))
    assert listed == 3
    assert "<dd data-attempt-count>3</dd>" in html
    listing = admin_client.get("/admin/deliveries").text
    assert re.search(r'<td data-label="Attempts" class="num">3</td>', listing)

    payload = html.split('<pre class="payload">')[1].split("</pre>")[0]
    assert payload.startswith("{\n  &#34;") or payload.startswith('{\n  "')
    body = json.loads(payload.replace("&#34;", '"').replace("&amp;", "&"))
    assert body["orderId"] == targets["order"]
    assert body["amount"] == 25
