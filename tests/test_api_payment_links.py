"""GET /api/v1/payment-links and PATCH /api/v1/payment-links/{id}: a provider lists and
changes its own links, with the admin form's rules, and nobody else's."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import bearer, create_link, error_body, form_post, order_from, pay_link, simulate


def api_create_link(client, key, **body) -> dict:
    """POST /api/v1/payment-links; the new link's JSON."""
    response = client.post("/api/v1/payment-links", json=body, headers=bearer(key))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def api_list_links(client, key, query: str = ""):
    return client.get(f"/api/v1/payment-links{query}", headers=bearer(key))


def api_patch_link(client, key, link_id: str, body):
    return client.patch(f"/api/v1/payment-links/{link_id}", json=body, headers=bearer(key))


def api_link(client, key, link_id: str) -> dict:
    return client.get(f"/api/v1/payment-links/{link_id}", headers=bearer(key)).get_json()


def in_days(days: float) -> str:
    """A time that many days from now, as the API writes times."""
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def audit_rows(app, link_id: str) -> list[tuple[str, str, str, str]]:
    """(action, actor kind, actor label, detail) of the link's audit entries, oldest first."""
    from checkout.extensions import db
    from checkout.models import AuditEntry

    with app.app_context():
        rows = db.session.execute(
            sa.select(
                AuditEntry.action, AuditEntry.actor_kind, AuditEntry.actor_label, AuditEntry.detail
            )
            .where(AuditEntry.subject_id == link_id)
            .order_by(AuditEntry.id)
        ).all()
        return [(action, kind.value, label, detail) for action, kind, label, detail in rows]


@pytest.fixture
def provider(make):
    return make.provider(service_id=make.service(title="Premium Credits", price="5"))


@pytest.fixture
def key(provider):
    return provider.api_key


@pytest.fixture
def other_key(make):
    return make.provider(service_id=make.service(title="Other", slug="other"), name="O").api_key


# Listing


def test_listing_pages_newest_first_with_the_links_own_json(client, key):
    ids = [api_create_link(client, key, title=f"L-{n}")["id"] for n in range(5)]
    first = api_list_links(client, key, "?limit=2")
    assert first.status_code == 200
    body = first.get_json()
    assert [row["id"] for row in body["data"]] == ids[::-1][:2]
    assert body["hasMore"] is True
    assert body["data"][0] == api_link(client, key, ids[-1])
    second = api_list_links(client, key, f"?limit=2&startingAfter={body['data'][-1]['id']}")
    assert [row["id"] for row in second.get_json()["data"]] == ids[::-1][2:4]
    assert second.get_json()["hasMore"] is True
    last = api_list_links(client, key, f"?limit=2&startingAfter={ids[1]}").get_json()
    assert [row["id"] for row in last["data"]] == [ids[0]] and last["hasMore"] is False
    everything = api_list_links(client, key).get_json()
    assert [row["id"] for row in everything["data"]] == ids[::-1]
    assert everything["hasMore"] is False


def test_listing_pages_past_the_default_limit(client, key):
    ids = [api_create_link(client, key, title=f"L-{n}")["id"] for n in range(21)]
    first = api_list_links(client, key).get_json()
    assert len(first["data"]) == 20 and first["hasMore"] is True
    rest = api_list_links(client, key, f"?startingAfter={first['data'][-1]['id']}").get_json()
    assert [row["id"] for row in rest["data"]] == [ids[0]] and rest["hasMore"] is False


def test_listing_shows_each_links_use_so_far(client, key):
    used_up = api_create_link(client, key, title="Once", maxUses=1)["id"]
    twice = api_create_link(client, key, title="Twice")["id"]
    api_create_link(client, key, title="Unused")
    for link_id in (used_up, twice, twice):
        simulate(client, order_from(pay_link(client, link_id)))
    listed = {row["id"]: row for row in api_list_links(client, key).get_json()["data"]}
    assert listed[used_up]["completedPayments"] == 1 and listed[used_up]["status"] == "used_up"
    assert listed[twice]["completedPayments"] == 2 and listed[twice]["status"] == "active"
    assert listed[used_up] == api_link(client, key, used_up)
    assert sorted(row["completedPayments"] for row in listed.values()) == [0, 1, 2]


def test_a_page_of_links_takes_as_many_queries_however_many_links_it_holds(app, client, key):
    from checkout.extensions import db

    def paid_links(count: int) -> None:
        for _ in range(count):
            link_id = api_create_link(client, key, maxUses=3)["id"]
            simulate(client, order_from(pay_link(client, link_id)))

    def statements_of_a_page() -> int:
        statements = []

        def count(*_):
            statements.append(1)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            page = api_list_links(client, key).get_json()["data"]
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert {row["completedPayments"] for row in page} == {1}
        return len(statements)

    paid_links(2)
    few = statements_of_a_page()
    paid_links(6)
    assert statements_of_a_page() == few


def test_listing_filters_by_active(client, key):
    on = api_create_link(client, key, title="On")["id"]
    off = api_create_link(client, key, title="Off")["id"]
    assert api_patch_link(client, key, off, {"active": False}).status_code == 200
    active = api_list_links(client, key, "?active=true").get_json()
    assert [row["id"] for row in active["data"]] == [on]
    inactive = api_list_links(client, key, "?active=false").get_json()
    assert [row["id"] for row in inactive["data"]] == [off]
    assert inactive["data"][0]["status"] == "inactive"


def test_other_providers_links_are_never_listed(client, admin_client, make, key, other_key):
    mine = api_create_link(client, key, title="Mine")["id"]
    theirs = api_create_link(client, other_key, title="Theirs")["id"]
    create_link(admin_client, make.service(title="Loose", slug="loose"))  # of no provider
    assert [row["id"] for row in api_list_links(client, key).get_json()["data"]] == [mine]
    assert [row["id"] for row in api_list_links(client, other_key).get_json()["data"]] == [theirs]
    refused = api_list_links(client, key, f"?startingAfter={theirs}")
    assert refused.status_code == 422
    assert refused.get_json() == error_body(
        "startingAfter must be one of your payment link ids", "validation_error", "startingAfter"
    )


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=two", "limit"),
        ("active=yes", "active"),
        ("active=True", "active"),
        ("active=", "active"),
        ("startingAfter=plink_nope", "startingAfter"),
        ("startingAfter=" + "plink_" + "0" * 24, "startingAfter"),
        ("status=active", "status"),
    ],
)
def test_bad_list_parameters_are_422_naming_them(client, key, query, param):
    response = api_list_links(client, key, f"?{query}")
    assert response.status_code == 422
    assert response.get_json()["param"] == param


def test_listing_needs_a_key(client):
    assert client.get("/api/v1/payment-links").status_code == 401


# Changing


def test_each_field_changes_and_the_rest_keep_their_values(client, key):
    created = api_create_link(
        client, key, title="VIP", description="Front row", maxUses=5, expiresAt=in_days(2),
        metadata={"campaign": "spring"}, confirmationMessage="Thanks!",
    )  # fmt: skip
    link_id = created["id"]
    later = in_days(10)
    changes = [
        ({"title": "VIP+"}, {"title": "VIP+"}),
        ({"description": "Back row"}, {"description": "Back row"}),
        ({"metadata": {"tier": "2"}}, {"metadata": {"tier": "2"}}),
        ({"maxUses": 7}, {"maxUses": 7}),
        ({"expiresAt": later}, {"expiresAt": later}),
        ({"active": False}, {"active": False, "status": "inactive"}),
        ({"active": True}, {"active": True, "status": "active"}),
        ({"confirmationMessage": "See you"}, {"confirmationMessage": "See you"}),
        ({"maxUses": None}, {"maxUses": None}),
        ({"expiresAt": None}, {"expiresAt": None}),
    ]  # fmt: skip
    expected = created
    for body, changed in changes:
        response = api_patch_link(client, key, link_id, body)
        assert response.status_code == 200, (body, response.get_json())
        expected = {**expected, **changed}
        assert response.get_json() == expected, body
        assert api_link(client, key, link_id) == expected, body


def test_an_empty_body_changes_nothing(client, app, key):
    created = api_create_link(client, key, title="Same", maxUses=3, password="hunter22")
    written = audit_rows(app, created["id"])
    response = api_patch_link(client, key, created["id"], {})
    assert response.status_code == 200 and response.get_json() == created
    assert audit_rows(app, created["id"]) == written


def test_changes_show_on_the_link_page(client, key):
    link_id = api_create_link(client, key, title="Spring sale")["id"]
    api_patch_link(client, key, link_id, {"title": "Summer sale", "description": "Beach towels"})
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 200
    assert "Summer sale" in page.text and "Beach towels" in page.text
    assert "Spring sale" not in page.text


def test_a_link_turned_off_refuses_payment_until_turned_on(client, app, key):
    link_id = api_create_link(client, key)["id"]
    form = client.get(f"/l/{link_id}").text
    assert api_patch_link(client, key, link_id, {"active": False}).status_code == 200
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 410 and "turned off" in page.text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)[1]
    assert client.post(f"/l/{link_id}/pay", data={"csrf_token": token}).status_code == 410
    assert api_patch_link(client, key, link_id, {"active": True}).status_code == 200
    assert order_from(pay_link(client, link_id))
    assert [row[0] for row in audit_rows(app, link_id)] == [
        "link.created",
        "link.turned_off",
        "link.turned_on",
    ]


def test_max_uses_and_its_clearing_show_on_the_link_page(client, key):
    link_id = api_create_link(client, key)["id"]
    simulate(client, order_from(pay_link(client, link_id)))
    # As in the admin form, a limit already reached is accepted: the link is used up.
    used_up = api_patch_link(client, key, link_id, {"maxUses": 1}).get_json()
    assert (used_up["status"], used_up["completedPayments"]) == ("used_up", 1)
    page = client.get(f"/l/{link_id}")
    assert page.status_code == 410 and "reached its number of payments" in page.text
    assert api_patch_link(client, key, link_id, {"maxUses": None}).get_json()["status"] == "active"
    assert client.get(f"/l/{link_id}").status_code == 200


def test_after_payment_switches_between_redirect_and_message(client, key):
    link_id = api_create_link(client, key, confirmationMessage="Enjoy the show")["id"]
    redirect = api_patch_link(
        client, key, link_id, {"redirectUrl": "https://promo.example/{orderId}"}
    ).get_json()
    assert redirect["afterPayment"] == "redirect"
    assert redirect["redirectUrl"] == "https://promo.example/{orderId}"
    assert redirect["confirmationMessage"] == ""
    order_id = order_from(pay_link(client, link_id))
    simulate(client, order_id)
    assert f"https://promo.example/{order_id}" in client.get(f"/checkout?orderId={order_id}").text

    message = api_patch_link(client, key, link_id, {"confirmationMessage": "See you"}).get_json()
    assert (message["afterPayment"], message["redirectUrl"]) == ("message", None)
    order_id = order_from(pay_link(client, link_id))
    simulate(client, order_id)
    paid = client.get(f"/checkout?orderId={order_id}").text
    assert "See you" in paid and "promo.example" not in paid

    api_patch_link(client, key, link_id, {"redirectUrl": "https://promo.example/x"})
    cleared = api_patch_link(client, key, link_id, {"redirectUrl": None}).get_json()
    assert (cleared["afterPayment"], cleared["redirectUrl"]) == ("message", None)


def test_a_password_can_be_set_and_removed_but_never_read(client, app, key):
    link_id = api_create_link(client, key)["id"]
    response = api_patch_link(client, key, link_id, {"password": "open sesame"})
    assert response.status_code == 200
    assert response.get_json()["passwordProtected"] is True
    assert "open sesame" not in response.text and "password" not in response.get_json()
    assert "This payment link is protected" in app.test_client().get(f"/l/{link_id}").text
    kept = api_patch_link(client, key, link_id, {"title": "Members"}).get_json()
    assert kept["passwordProtected"] is True
    removed = api_patch_link(client, key, link_id, {"password": None}).get_json()
    assert removed["passwordProtected"] is False
    assert "protected" not in app.test_client().get(f"/l/{link_id}").text
    details = " ".join(row[3] for row in audit_rows(app, link_id))
    assert '"password": "set"' in details and '"password": "removed"' in details
    assert "open sesame" not in details


def test_changes_are_audited_as_the_api_key(client, app, key):
    link_id = api_create_link(client, key, title="Old")["id"]
    api_patch_link(client, key, link_id, {"title": "New", "active": False})
    rows = audit_rows(app, link_id)
    assert [row[0] for row in rows] == ["link.created", "link.changed", "link.turned_off"]
    assert {(kind, label) for _, kind, label, _ in rows} == {("api-key", key[:12])}
    assert '"title": ["Old", "New"]' in rows[1][3] and "active" not in rows[1][3]


def test_the_admin_form_turning_a_link_off_is_audited_as_such(app, admin_client, make):
    service_id = make.service(title="Loose", slug="loose")
    link_id = create_link(admin_client, service_id)
    edit = f"/admin/links/{link_id}/edit"
    fields = {"title": "Spring sale", "service_id": service_id, "quantity": "1"}
    assert form_post(admin_client, edit, fields).status_code == 302  # "active" unticked
    assert [row[0] for row in audit_rows(app, link_id)] == ["link.created", "link.turned_off"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": 5}, "title"),
        ({"title": None}, "title"),
        ({"description": ["a"]}, "description"),
        ({"active": "false"}, "active"),
        ({"active": 0}, "active"),
        ({"maxUses": 0}, "maxUses"),
        ({"maxUses": "3"}, "maxUses"),
        ({"maxUses": True}, "maxUses"),
        ({"expiresAt": "tomorrow"}, "expiresAt"),
        ({"expiresAt": 5}, "expiresAt"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"metadata": []}, "metadata"),
        ({"metadata": {"a": 1}}, "metadata"),
        ({"metadata": None}, "metadata"),
        ({"redirectUrl": "ftp://x"}, "redirectUrl"),
        ({"redirectUrl": 7}, "redirectUrl"),
        ({"confirmationMessage": "x" * 1001}, "confirmationMessage"),
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
        ({"quantity": 2}, "quantity"),
        ({"apiKey": "kassa_x"}, "apiKey"),
        ({"title": "Fine", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_422_naming_them_and_change_nothing(client, app, key, body, param):
    created = api_create_link(client, key, title="Kept", maxUses=2, expiresAt=in_days(1))
    response = api_patch_link(client, key, created["id"], body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["param"] == param
    assert error["code"] in {"validation_error", "unknown_field"}
    assert api_link(client, key, created["id"]) == created
    assert [row[0] for row in audit_rows(app, created["id"])] == ["link.created"]


def test_an_expired_link_keeps_its_expiry_while_other_settings_change(client, app, key):
    from checkout.extensions import db
    from checkout.models import PaymentLink, utcnow

    link_id = api_create_link(client, key, expiresAt=in_days(1))["id"]
    with app.app_context():
        an_hour_ago = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
        db.session.get(PaymentLink, link_id).expires_at = an_hour_ago
        db.session.commit()
    expired = api_link(client, key, link_id)
    assert expired["status"] == "expired"
    renamed = api_patch_link(
        client, key, link_id, {"title": "Gone", "expiresAt": expired["expiresAt"]}
    )
    assert renamed.status_code == 200 and renamed.get_json()["status"] == "expired"
    revived = api_patch_link(client, key, link_id, {"expiresAt": None}).get_json()
    assert revived["status"] == "active"
    assert client.get(f"/l/{link_id}").status_code == 200


@pytest.mark.parametrize(
    "link_id", ["plink_" + "0" * 24, "plink_nope", "x" * 300, "ord_" + "0" * 24]
)
def test_unknown_or_malformed_link_ids_are_404(client, key, link_id):
    response = api_patch_link(client, key, link_id, {"title": "Mine now"})
    assert response.status_code == 404
    assert response.get_json() == error_body("Payment link not found", "not_found")


def test_another_providers_link_is_404_and_unchanged(client, app, key, other_key):
    theirs = api_create_link(client, other_key, title="Theirs")
    response = api_patch_link(client, key, theirs["id"], {"title": "Mine now", "active": False})
    assert response.status_code == 404
    assert response.get_json() == error_body("Payment link not found", "not_found")
    assert api_link(client, other_key, theirs["id"]) == theirs
    assert [row[0] for row in audit_rows(app, theirs["id"])] == ["link.created"]


def test_a_body_that_is_not_a_json_object_is_refused(client, key):
    link_id = api_create_link(client, key)["id"]
    path, headers = f"/api/v1/payment-links/{link_id}", bearer(key)
    assert client.patch(path, json=[], headers=headers).status_code == 400
    assert (
        client.patch(path, data="{", headers=headers, content_type="application/json").status_code
        == 400
    )
    assert client.patch(path, data="title=x", headers=headers).status_code == 415
    assert client.patch(path, json={"title": "x"}).status_code == 401
