"""What a checkout asks before paying (issue 21): custom fields, the customer's e-mail and
consent to the seller's terms, set through the API, the admin and the CLI, answered on the
link page or the checkout page, refused with 422 naming the field (the form kept, nothing
opened or paid), and carried by the order JSON, notifications, the admin and the CSV."""

import csv
import io
import json
import re

import pytest

from checkout.pay.routes import sandbox_token
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_open_order,
    api_order_json,
    bearer,
    create_link,
    csrf_token,
    form_post,
    order_from,
    simulate,
)

SIZE = {
    "key": "size",
    "label": "Shirt size",
    "type": "dropdown",
    "required": True,
    "options": [{"value": "s", "label": "Small"}, {"value": "m", "label": "Medium"}],
}
NAME = {"key": "holder", "label": "Ticket holder", "type": "text", "required": True}
SEATS = {"key": "seats", "label": "Seats wanted", "type": "number"}
TERMS = "https://shop.example/terms"


@pytest.fixture
def shop(make):
    """A Cash App provider with terms, selling a $5 service."""
    service = make.service(title="Concert ticket", price="5")
    return make.provider(
        service_id=service,
        name="Demo Shop",
        webhook_url=UNREACHABLE_HOOK,
        terms_url=TERMS,
        privacy_url="https://shop.example/privacy",
    )


def api_new_link(client, key, **body) -> dict:
    response = client.post("/api/v1/payment-links", json=body, headers=bearer(key))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def link_pay(client, link_id: str, **answers):
    """Press Pay on the link's page with these answers; the response."""
    token = csrf_token(client.get(f"/l/{link_id}").text)
    return client.post(f"/l/{link_id}/pay", data={"csrf_token": token, **answers})


def api_orders(client, key) -> list[dict]:
    return client.get("/api/v1/orders", headers=bearer(key)).get_json()["data"]


def api_events(client, key) -> list[dict]:
    return client.get("/api/v1/events", headers=bearer(key)).get_json()["data"]


def shown_error(page: str, name: str) -> str:
    """The message a customer's form shows under the input `name`."""
    found = re.search(rf'data-field-error="{name}">([^<]+)<', page)
    assert found, f"no error shown for {name}"
    return found[1]


def test_a_links_page_asks_its_fields_email_and_consent_and_keeps_the_answers(client, shop):
    key = shop.api_key
    link = api_new_link(
        client, key, title="Spring concert", customFields=[NAME, SIZE, SEATS],
        collectEmail="required",
    )  # fmt: skip
    assert [field["key"] for field in link["customFields"]] == ["holder", "size", "seats"]
    assert link["customFields"][2] == {**SEATS, "required": False, "options": []}
    assert link["collectEmail"] == "required"
    page = client.get(f"/l/{link['id']}").text
    for text in ("Ticket holder", "Shirt size", "Medium", "Seats wanted", "Email"):
        assert text in page
    assert "I agree to Demo Shop&#39;s terms" in page and TERMS in page

    refused = link_pay(client, link["id"], field_holder="Ada", field_size="xl", field_seats="two")
    assert refused.status_code == 422
    assert shown_error(refused.text, "field_size") == "Shirt size: choose one of the options"
    assert "Seats wanted: enter a number" in shown_error(refused.text, "field_seats")
    assert shown_error(refused.text, "email") == "Email: this field is required"
    assert "agree to Demo Shop" in shown_error(refused.text, "terms")
    assert 'value="Ada"' in refused.text and 'value="two"' in refused.text  # the form kept
    assert api_orders(client, key) == []  # nothing opened

    bad_email = link_pay(
        client, link["id"], field_holder="Ada", field_size="m", email="ada@", terms="yes"
    )
    assert bad_email.status_code == 422
    assert "give an address" in shown_error(bad_email.text, "email")

    order_id = order_from(
        link_pay(
            client, link["id"], field_holder="Ada Lovelace", field_size="m", field_seats="2",
            email="ada@example.com", terms="yes",
        )
    )  # fmt: skip
    order = api_order_json(client, key, order_id)
    assert order["customFields"] == [
        {"key": "holder", "label": "Ticket holder", "value": "Ada Lovelace"},
        {"key": "size", "label": "Shirt size", "value": "m"},
        {"key": "seats", "label": "Seats wanted", "value": "2"},
    ]
    assert order["customerEmail"] == "ada@example.com"
    assert order["termsAcceptedAt"] is not None
    # Answered on the link's page: the checkout asks nothing more and offers paying.
    checkout = client.get(f"/checkout?orderId={order_id}").text
    assert "data-details" not in checkout and "Simulate success" in checkout
    assert simulate(client, order_id).status_code == 303
    [paid] = [event for event in api_events(client, key) if event["type"] == "payment_succeeded"]
    assert paid["data"]["customFields"] == order["customFields"]
    assert paid["data"]["customerEmail"] == "ada@example.com"
    assert paid["data"]["termsAcceptedAt"] == order["termsAcceptedAt"]


def test_optional_fields_and_email_may_be_left_empty(client, shop):
    link = api_new_link(client, shop.api_key, customFields=[SEATS], collectEmail="optional")
    order_id = order_from(link_pay(client, link["id"], terms="yes"))
    order = api_order_json(client, shop.api_key, order_id)
    assert order["customFields"] == [{"key": "seats", "label": "Seats wanted", "value": None}]
    assert order["customerEmail"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([NAME, SIZE, SEATS, {**NAME, "key": "x"}], "customFields: at most 3 custom fields"),
        ([{**SIZE, "options": []}], "customFields: field 1: a dropdown needs 1 to 50 options"),
        (
            [{**SIZE, "options": [{"value": f"o{n}", "label": "O"} for n in range(51)]}],
            "field 1: a dropdown needs 1 to 50 options",
        ),
        ([{**NAME, "options": [{"value": "a", "label": "A"}]}], "field 1: a text field has no"),
        ([NAME, {**SEATS, "key": "holder"}], "field 2: another field has the key 'holder'"),
        ([{**NAME, "key": "two words"}], "field 1: key 'two words': use letters"),
        ([{**NAME, "label": ""}], "field 1: give a label"),
        ([{**NAME, "label": "L" * 51}], "field 1: the label must be 1 to 50 characters"),
        ([{**NAME, "type": "date"}], "customFields.0.type must be one of"),
        ([{**SIZE, "options": [{"value": "s", "label": "S"}] * 2}], "two options have the same"),
    ],
)
def test_bad_custom_field_settings_are_422_naming_the_field(client, shop, fields, message):
    response = client.post(
        "/api/v1/payment-links", json={"customFields": fields}, headers=bearer(shop.api_key)
    )
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert message in body["error"] and body["param"] == "customFields"
    links = client.get("/api/v1/payment-links", headers=bearer(shop.api_key)).get_json()
    assert links["data"] == []


def test_link_settings_refuse_unknown_parts_and_emails_choices(client, shop):
    unknown = client.post(
        "/api/v1/payment-links",
        json={"customFields": [{**NAME, "hint": "x"}]},
        headers=bearer(shop.api_key),
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["code"] == "unknown_field"
    assert "customFields.0.hint" in unknown.get_json()["error"]
    sometimes = client.post(
        "/api/v1/payment-links", json={"collectEmail": "sometimes"}, headers=bearer(shop.api_key)
    )
    assert sometimes.status_code == 422 and sometimes.get_json()["param"] == "collectEmail"


def test_patch_replaces_the_fields_and_the_email_choice(client, shop):
    key = shop.api_key
    link = api_new_link(client, key, customFields=[NAME])
    path = f"/api/v1/payment-links/{link['id']}"
    title_only = client.patch(path, json={"title": "New"}, headers=bearer(key)).get_json()
    assert [field["key"] for field in title_only["customFields"]] == ["holder"]
    changed = client.patch(
        path, json={"customFields": [SIZE], "collectEmail": "optional"}, headers=bearer(key)
    ).get_json()
    assert [field["key"] for field in changed["customFields"]] == ["size"]
    assert changed["collectEmail"] == "optional"
    cleared = client.patch(path, json={"customFields": []}, headers=bearer(key)).get_json()
    assert cleared["customFields"] == []
    refused = client.patch(path, json={"collectEmail": None}, headers=bearer(key))
    assert refused.status_code == 422 and refused.get_json()["param"] == "collectEmail"


class TestOrdersOpenedByApi:
    @pytest.fixture
    def seller(self, make):
        """A provider without terms whose service asks a size and the e-mail."""
        service = make.service(
            title="Shirt", price="5", custom_fields=[SIZE, SEATS], collect_email="required"
        )
        return make.provider(service_id=service, name="Demo Shop")

    def test_the_provider_may_send_the_answers(self, client, seller):
        response = api_open_order(
            client, seller.api_key, customFields=[{"key": "size", "value": "s"},
            {"key": "seats", "value": 3}], customerEmail="bo@example.com",
        )  # fmt: skip
        assert response.status_code == 200, response.get_json()
        order = response.get_json()
        assert order["customFields"] == [
            {"key": "size", "label": "Shirt size", "value": "s"},
            {"key": "seats", "label": "Seats wanted", "value": "3"},
        ]
        assert order["customerEmail"] == "bo@example.com" and order["termsAcceptedAt"] is None
        page = client.get(f"/checkout?orderId={order['orderId']}").text
        assert "data-details" not in page and "Simulate success" in page

    @pytest.mark.parametrize(
        ("body", "param", "message"),
        [
            ({"customFields": [{"key": "seats", "value": "1"}]}, "customFields", "size: Shirt"),
            ({"customFields": [{"key": "size", "value": "xl"}]}, "customFields", "choose one"),
            (
                {"customFields": [{"key": "size", "value": "s"}, {"key": "seats", "value": "x"}]},
                "customFields",
                "enter a number",
            ),
            ({"customFields": [{"key": "colour", "value": "red"}]}, "customFields", "'colour'"),
            ({"customFields": [{"key": "size"}, {"key": "size"}]}, "customFields", "twice"),
            ({"customerEmail": "not-an-address"}, "customerEmail", "e-mail address"),
            ({"customerEmail": 5}, "customerEmail", "must be a string"),
        ],
    )
    def test_bad_answers_are_422_and_open_nothing(self, client, seller, body, param, message):
        response = api_open_order(client, seller.api_key, externalId="A-1", **body)
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["param"] == param
        assert message in response.get_json()["error"]
        assert api_orders(client, seller.api_key) == []

    def test_the_customer_answers_on_the_checkout_page_before_paying(self, app, client, seller):
        order_id = api_open_order(client, seller.api_key).get_json()["orderId"]
        page = client.get(f"/checkout?orderId={order_id}")
        assert page.status_code == 200
        assert "Before you pay" in page.text and "Shirt size" in page.text
        assert "Simulate success" not in page.text  # no way to pay yet
        token = csrf_token(page.text)
        # The sandbox buttons refuse while questions wait, even pressed with their token.
        with app.test_request_context():
            buttons = sandbox_token(order_id)
        pressed = client.post(
            "/checkout/sandbox", data={"orderId": order_id, "outcome": "succeeded",
            "csrf_token": buttons},
        )  # fmt: skip
        assert pressed.status_code == 422
        refused = client.post(
            "/checkout/details",
            data={"orderId": order_id, "csrf_token": token, "field_seats": "4"},
        )
        assert refused.status_code == 422
        assert shown_error(refused.text, "field_size") == "Shirt size: this field is required"
        assert shown_error(refused.text, "email") == "Email: this field is required"
        assert 'value="4"' in refused.text
        assert api_order_json(client, seller.api_key, order_id)["customFields"] == []
        forged = client.post("/checkout/details", data={"orderId": order_id, "csrf_token": "x"})
        assert forged.status_code == 400
        answered = client.post(
            "/checkout/details",
            data={"orderId": order_id, "csrf_token": token, "field_size": "m",
                  "email": "cy@example.com"},
        )  # fmt: skip
        assert answered.status_code == 303
        page = client.get(f"/checkout?orderId={order_id}").text
        assert "Before you pay" not in page and "Simulate success" in page
        assert simulate(client, order_id).status_code == 303
        order = api_order_json(client, seller.api_key, order_id)
        assert order["status"] == "paid" and order["customerEmail"] == "cy@example.com"
        assert order["customFields"][0] == {"key": "size", "label": "Shirt size", "value": "m"}

    def test_consent_is_asked_on_the_checkout_even_with_every_answer_sent(
        self, client, make, seller, runner
    ):
        result = runner.invoke(
            args=["providers", "update", "demo-shop", "--terms-url", TERMS, "--json"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["termsUrl"] == TERMS
        sent = [{"key": "size", "value": "s"}]
        order_id = api_open_order(
            client, seller.api_key, customFields=sent, customerEmail="d@example.com"
        ).get_json()["orderId"]
        page = client.get(f"/checkout?orderId={order_id}").text
        assert "I agree to Demo Shop&#39;s terms" in page and "Shirt size" not in page
        token = csrf_token(page)
        refused = client.post("/checkout/details", data={"orderId": order_id, "csrf_token": token})
        assert refused.status_code == 422 and "agree to Demo Shop" in refused.text
        agreed = client.post(
            "/checkout/details", data={"orderId": order_id, "csrf_token": token, "terms": "yes"}
        )
        assert agreed.status_code == 303
        assert api_order_json(client, seller.api_key, order_id)["termsAcceptedAt"] is not None


def test_the_admin_sets_link_questions_and_sees_the_answers(admin_client, client, make):
    service_id = make.service(title="Concert ticket", price="5")
    slots = {
        "custom_fields-0-type": "text", "custom_fields-0-label": "Ticket holder",
        "custom_fields-0-key": "holder", "custom_fields-0-required": "y",
        "custom_fields-1-type": "dropdown", "custom_fields-1-label": "Shirt size",
        "custom_fields-1-key": "size", "custom_fields-1-options": "s=Small\nm=Medium",
        "collect_email": "optional",
    }  # fmt: skip
    bad = form_post(
        admin_client,
        "/admin/links/new",
        {"title": "T", "service_id": service_id, "quantity": "1", **slots,
         "custom_fields-1-options": ""},
    )  # fmt: skip
    assert bad.status_code == 422
    assert "field 2: a dropdown needs 1 to 50 options" in bad.text
    link_id = create_link(admin_client, service_id, **slots)
    form = admin_client.get(f"/admin/links/{link_id}/edit").text
    assert 'value="holder"' in form and "s=Small\nm=Medium" in form
    order_id = order_from(link_pay(client, link_id, field_holder="Ada", field_size="s"))
    simulate(client, order_id)
    detail = admin_client.get(f"/admin/orders/{order_id}").text
    assert "Ticket holder" in detail and "Ada" in detail
    export = admin_client.get("/admin/orders.csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows[0]["custom_fields"] == "Ticket holder: Ada\nShirt size: s"
    assert rows[0]["customer_email"] == "" and rows[0]["terms_accepted_at"] == ""


def test_the_admin_shows_consent_and_the_email(admin_client, client, shop):
    link = api_new_link(client, shop.api_key, collectEmail="required")
    order_id = order_from(link_pay(client, link["id"], email="ada@example.com", terms="yes"))
    detail = admin_client.get(f"/admin/orders/{order_id}").text
    assert "ada@example.com" in detail
    consent = re.search(r"data-terms-accepted>(.*?)</dd>", detail, re.S)[1]
    assert "<time" in consent
    export = admin_client.get("/admin/orders.csv").text
    row = next(csv.DictReader(io.StringIO(export)))
    assert row["customer_email"] == "ada@example.com" and row["terms_accepted_at"].endswith("Z")


def test_the_admin_sets_a_services_questions_and_a_providers_terms(admin_client, make):
    service_id = make.service(title="Shirt", price="5")
    data = {
        "title": "Shirt", "price": "5", "currency": "usd", "active": "y",
        "custom_fields-0-type": "number", "custom_fields-0-label": "Seats",
        "custom_fields-0-key": "seats", "collect_email": "required",
    }  # fmt: skip
    page = f"/admin/services/{service_id}/edit"
    assert form_post(admin_client, page, data).status_code == 302
    form = admin_client.get(page).text
    assert 'value="seats"' in form and '<option selected value="required">' in form
    refused = form_post(admin_client, page, {**data, "custom_fields-0-key": "no spaces"})
    assert refused.status_code == 422 and "use letters, digits and _" in refused.text
    provider = make.provider(service_id=service_id, name="Demo Shop")
    edit = f"/admin/providers/{provider.id}/edit"
    current = {"name": "Demo Shop", "service_id": service_id, "active": "y"}
    saved = form_post(admin_client, edit, {**current, "terms_url": TERMS})
    assert saved.status_code in (302, 303)
    assert TERMS in admin_client.get(f"/admin/providers/{provider.id}").text
    refused = form_post(admin_client, edit, {**current, "terms_url": "ftp://x"})
    assert refused.status_code == 422


def test_services_questions_from_the_command_line(runner):
    created = runner.invoke(
        args=["services", "create", "--title", "Shirt", "--price", "5", "--custom-fields",
              json.dumps([SIZE]), "--collect-email", "optional", "--json"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = json.loads(created.output)
    assert shown["customFields"][0]["key"] == "size" and shown["collectEmail"] == "optional"
    updated = runner.invoke(
        args=["services", "update", "shirt", "--custom-fields", "[]", "--collect-email", "off",
              "--json"]
    )  # fmt: skip
    assert json.loads(updated.output)["customFields"] == []
    bad = runner.invoke(args=["services", "update", "shirt", "--custom-fields", "{oops"])
    assert bad.exit_code == 1 and "--custom-fields: give a JSON list" in bad.output
    refused = runner.invoke(
        args=[
            "services",
            "update",
            "shirt",
            "--custom-fields",
            json.dumps([{**SIZE, "options": []}]),
        ]
    )
    assert refused.exit_code == 1
    assert "--custom-fields: field 1: a dropdown needs 1 to 50 options" in refused.output
