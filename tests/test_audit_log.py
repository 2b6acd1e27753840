"""The audit log: every change made in the admin, the CLI or through the API is recorded with
who made it, listed newest first with filters, and never changed afterwards."""

import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import (
    ALL_SCOPES,
    UNREACHABLE_HOOK,
    api_new_order,
    bearer,
    create_link,
    csrf_token,
    form_post,
    provider_form,
    shown_once,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, post_event, run_event_task

ADMIN = "admin@example.com"


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def entries(admin_client, **filters) -> list[dict]:
    """The audit page's rows (its first page) as dicts, newest first."""
    response = admin_client.get("/admin/audit", query_string=filters)
    assert response.status_code == 200, response.text
    rows = re.findall(
        r'<tr data-action="([^"]+)">\s*<td[^>]*>(?:<time[^>]*>[^<]*</time>)?[^<]*</td>'
        r"\s*<td[^>]*>([^<]+)</td>"
        r"\s*<td[^>]*><code>[^<]+</code></td>\s*<td[^>]*>(\S+) <code>([^<]+)</code></td>"
        r'\s*<td[^>]*><code class="detail">([^<]*)</code>',
        response.text,
    )
    return [
        {"action": action, "who": who, "type": kind, "id": subject, "detail": detail}
        for action, who, kind, subject, detail in rows
    ]


def actions(admin_client, **filters) -> list[str]:
    return [entry["action"] for entry in entries(admin_client, **filters)]


def press(admin_client, page: str, action: str):
    """Press a button on an admin page: a POST with the page's form token."""
    return admin_client.post(action, data={"csrf_token": csrf_token(admin_client.get(page).text)})


def test_catalog_and_provider_changes_in_the_admin_are_recorded(admin_client, make):
    form_post(
        admin_client,
        "/admin/services/new",
        {"title": "Gold", "price": "5", "currency": "usd", "active": "y"},
    )
    service_id = re.search(
        r"/admin/services/(svc_\w+)/edit", admin_client.get("/admin/services").text
    )[1]
    form_post(
        admin_client,
        f"/admin/services/{service_id}/edit",
        {"title": "Gold", "price": "7", "currency": "usd", "active": "y"},
    )
    created = form_post(
        admin_client,
        "/admin/providers/new",
        provider_form(service_id, webhook_url=UNREACHABLE_HOOK),
    )
    assert created.status_code == 303
    provider_id = re.search(r"/admin/providers/(prv_\w+)", created.headers["Location"])[1]
    page = f"/admin/providers/{provider_id}"
    form_post(
        admin_client,
        f"{page}/edit",
        provider_form(service_id, name="Bitloader 2", webhook_url=UNREACHABLE_HOOK),
    )
    form_post(admin_client, page, {"name": "extra", "scopes": ALL_SCOPES}, post_url=f"{page}/keys")
    detail = admin_client.get(page).text
    revoke, _ = re.findall(r'href="(/admin/providers/[^"]+/revoke)"', detail)
    regenerate = re.findall(r'href="(/admin/providers/[^"]+/regenerate)"', detail)[1]
    press(admin_client, page, revoke)
    press(admin_client, page, regenerate)
    press(admin_client, page, f"{page}/rotate-secret")
    sent = press(admin_client, page, f"{page}/test-event")
    notification_id = sent.headers["Location"].rsplit("/", 1)[1]
    press(admin_client, page, f"{page}/enable-endpoint")
    form_post(admin_client, page, {"ip_allowlist": "127.0.0.0/8"}, post_url=f"{page}/allowlist")
    secret_page = shown_once(admin_client, press(admin_client, page, f"{page}/signatures/on")).text
    secret = re.search(r'value="(ksig_[^"]+)"', secret_page)[1]
    press(admin_client, page, f"{page}/signatures/off")
    press(admin_client, page, f"{page}/signature-format/body")
    press(admin_client, page, f"{page}/request-secret")
    press(
        admin_client,
        f"/admin/deliveries/{notification_id}",
        f"/admin/deliveries/{notification_id}/resend",
    )
    form_post(
        admin_client,
        "/admin/deliveries",
        {"since": "2000-01-01T00:00"},
        post_url="/admin/deliveries/resend-failed",
    )

    recorded = entries(admin_client, actor_kind="admin")
    assert [entry["action"] for entry in recorded] == [
        "notification.failed_resent",
        "notification.resent",
        "provider.request_secret_generated",
        "provider.signature_format_changed",
        "provider.signatures_changed",
        "provider.signatures_changed",
        "provider.request_secret_generated",
        "provider.allowlist_changed",
        "provider.endpoint_enabled",
        "provider.test_event_sent",
        "provider.webhook_secret_rotated",
        "api_key.issued",
        "api_key.regenerated",
        "api_key.revoked",
        "api_key.issued",
        "provider.changed",
        "api_key.issued",
        "provider.created",
        "service.changed",
        "service.created",
    ]
    assert {entry["who"] for entry in recorded} == {f"admin: {ADMIN}"}
    by_action = {entry["action"]: entry for entry in reversed(recorded)}
    assert json.loads(by_action["service.changed"]["detail"].replace("&#34;", '"')) == {
        "price_minor": [500, 700]
    }
    assert "Bitloader 2" in by_action["provider.changed"]["detail"]
    assert by_action["provider.allowlist_changed"]["id"] == provider_id
    format_change = by_action["provider.signature_format_changed"]["detail"].replace("&#34;", '"')
    assert json.loads(format_change) == {"before": "timestamped", "after": "body"}
    assert by_action["notification.resent"]["id"] == notification_id
    page_text = admin_client.get("/admin/audit").text
    # Nothing secret is written down: no key, no signing secret.
    assert secret not in page_text and secret[9:] not in page_text
    assert "whsec_" not in page_text and not re.search(r"kassa_[\w-]{20,}", page_text)


def test_link_changes_and_money_decisions_in_the_admin_are_recorded(
    client, admin_client, make, provider_key
):
    service_id = make.service(title="Tickets")
    link_id = create_link(admin_client, service_id, password="open sesame 1")
    form_post(
        admin_client,
        f"/admin/links/{link_id}/edit",
        {"title": "Autumn sale", "service_id": service_id, "quantity": "1", "active": "y"},
    )
    link_page = f"/admin/links/{link_id}"
    press(admin_client, link_page, f"{link_page}/deactivate")
    press(admin_client, link_page, f"{link_page}/activate")
    copied = press(admin_client, link_page, f"{link_page}/copy")
    twin = re.search(r"/admin/links/(plink_\w+)/edit", copied.headers["Location"])[1]

    order_id = api_new_order(client, provider_key, externalId="M-1", amount=15)
    intent = payment_intent(order_id, 1000, "succeeded", "pi_1")
    run_event_task(client, post_event(client, event("payment_intent.succeeded", intent)))
    order_page = f"/admin/orders/{order_id}"
    press(admin_client, order_page, f"{order_page}/accept")
    page = admin_client.get(f"{order_page}/refund", query_string={"amount": "4"}).text
    key = re.search(r'name="request_key" value="([^"]+)"', page)[1]
    refunded = admin_client.post(
        f"{order_page}/refund",
        data={"csrf_token": csrf_token(page), "request_key": key, "amount": "4"},
    )
    assert refunded.status_code == 302
    waiting = event("payment_intent.succeeded", payment_intent(None, 100, "succeeded", "pi_9"))
    post_event(client, waiting)
    events_page = "/admin/stripe-events"
    press(admin_client, events_page, f"/admin/stripe-events/{waiting['id']}/retry")

    recorded = entries(admin_client, actor_kind="admin")
    assert [(entry["action"], entry["id"]) for entry in recorded] == [
        ("stripe_event.retried", waiting["id"]),
        ("order.refunded", order_id),
        ("order.underpayment_accepted", order_id),
        ("link.copied", twin),
        ("link.turned_on", link_id),
        ("link.turned_off", link_id),
        ("link.changed", link_id),
        ("link.created", link_id),
    ]
    details = {entry["action"]: entry["detail"] for entry in recorded}
    assert "$4.00" in details["order.refunded"]
    assert "Autumn sale" in details["link.changed"] and "removed" not in details["link.changed"]
    assert "open sesame" not in admin_client.get("/admin/audit").text


def test_cli_commands_are_recorded_as_cli(runner, admin_client):
    def run(*args):
        result = runner.invoke(args=[*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    run("create-admin", "--email", "ops@example.com", "--password", "long enough pw")
    run("services", "create", "--title", "Silver", "--price", "3", "--slug", "silver")
    run("providers", "create", "--name", "Shop", "--service", "silver", "--slug", "shop")
    run("providers", "create-key", "shop", "--name", "ci", "--scope", "orders:read")
    run("providers", "set-allowlist", "shop", "10.0.0.0/8")
    run("providers", "require-signatures", "shop", "on", "--format", "body")
    run("providers", "rotate-request-secret", "shop")
    run("links", "create", "--service", "silver", "--provider", "shop")

    recorded = entries(admin_client, actor_kind="cli")
    assert [entry["action"] for entry in recorded] == [
        "link.created",
        "provider.request_secret_generated",
        "provider.signature_format_changed",
        "provider.signatures_changed",
        "provider.request_secret_generated",
        "provider.allowlist_changed",
        "api_key.issued",
        "api_key.issued",
        "provider.created",
        "service.created",
        "admin.created",
    ]
    assert {entry["who"] for entry in recorded} == {"cli: cli"}
    # The test's own admin was made by the factory, as Kassa itself.
    assert actions(admin_client, actor_kind="system") == ["admin.created"]


def test_links_created_through_the_api_are_recorded_with_the_key_prefix(
    client, admin_client, api_key
):
    created = client.post("/api/v1/payment-links", json={}, headers=bearer(api_key)).get_json()
    api_new_order(client, api_key, externalId="N-1", amount=5)
    recorded = entries(admin_client, actor_kind="api-key")
    assert [(entry["action"], entry["id"]) for entry in recorded] == [
        ("link.created", created["id"])
    ]
    assert recorded[0]["who"] == f"api-key: {api_key[:12]}"


def test_the_page_filters_and_pages(admin_client, runner, make):
    provider_id = make.provider().id
    for number in range(55):
        runner.invoke(args=["services", "create", "--title", f"S{number}", "--price", "1"])
    page = f"/admin/providers/{provider_id}"
    form_post(admin_client, page, {"ip_allowlist": "10.0.0.0/8"}, post_url=f"{page}/allowlist")

    assert actions(admin_client, action="provider.allowlist_changed") == [
        "provider.allowlist_changed"
    ]
    assert actions(admin_client, actor="ADMIN@example") == ["provider.allowlist_changed"]
    assert actions(admin_client, subject_type="provider", subject_id=provider_id) == [
        "provider.allowlist_changed",
        "provider.created",
    ]
    today = date.today()
    assert len(entries(admin_client, date_from=today.isoformat(), date_to=today.isoformat())) == 50
    yesterday = (today - timedelta(days=1)).isoformat()
    assert entries(admin_client, date_to=yesterday) == []
    assert entries(admin_client, date_from=(today + timedelta(days=1)).isoformat()) == []

    first = admin_client.get("/admin/audit").text
    assert "Page 1 of 2" in first and "60 entries" in first
    second = entries(admin_client, page=2)
    assert len(second) == 10 and second[-1]["action"] == "admin.created"
    assert admin_client.get("/admin/audit?action=nonsense").status_code == 422
    assert admin_client.get("/admin/audit?date_from=yesterday").status_code == 422
    assert admin_client.get("/admin/audit?actor=%25").status_code == 200
    assert entries(admin_client, actor="%") == []


def test_entries_are_never_changed_or_deleted(app, admin_client, make):
    from checkout.extensions import db
    from checkout.models import AuditEntry

    make.provider()
    # The app offers no way: the only audit URL is a GET.
    rules = [rule for rule in app.url_map.iter_rules() if "audit" in rule.rule]
    assert [sorted(rule.methods - {"HEAD", "OPTIONS"}) for rule in rules] == [["GET"]]
    with app.app_context():
        entry = db.session.scalars(db.select(AuditEntry)).first()
        entry.action = "rewritten"
        with pytest.raises(PermissionError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(PermissionError):
            db.session.delete(db.session.get(AuditEntry, entry.id))
            db.session.commit()
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            # Below the app, the database refuses too.
            with pytest.raises(sa.exc.DBAPIError, match="never updated or deleted"):
                db.session.execute(sa.text("UPDATE audit_entries SET action = 'rewritten'"))
            db.session.rollback()
            with pytest.raises(sa.exc.DBAPIError, match="never updated or deleted"):
                db.session.execute(sa.text("DELETE FROM audit_entries"))
            db.session.rollback()
    assert "rewritten" not in admin_client.get("/admin/audit").text


def test_admin_removal_and_password_changes_are_recorded(app, admin_client, make):
    make.admin("second@example.com", "second admin pw")
    page = admin_client.get("/admin/admins").text
    remove = re.search(r'href="(/admin/admins/\d+/remove)"', page)[1]
    assert admin_client.post(remove, data={"csrf_token": csrf_token(page)}).status_code == 302
    new = "a brand new secret"
    fields = {"current_password": "correct horse battery", "new_password": new}
    fields["repeat_password"] = new
    assert form_post(admin_client, "/admin/password", fields).status_code == 302

    removed, changed = (
        entries(admin_client, action="admin.removed"),
        entries(admin_client, action="admin.password_set"),
    )
    assert [(e["who"], e["type"]) for e in removed] == [(f"admin: {ADMIN}", "admin")]
    assert "second@example.com" in removed[0]["detail"]
    assert [e["who"] for e in changed] == [f"admin: {ADMIN}"]
    assert "secret" not in changed[0]["detail"]
