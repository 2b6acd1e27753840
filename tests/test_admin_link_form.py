"""The payment-link form: only the fields that apply, a hidden password, an unambiguous expiry."""

import re

from checkout import payment_links
from tests.helpers import create_link, form_post

BASE = {"title": "Spring sale", "quantity": "1", "active": "y"}


def edit_page(admin_client, link_id: str) -> str:
    return admin_client.get(f"/admin/links/{link_id}/edit").text


def stored(app, link_id: str):
    with app.app_context():
        return payment_links.find_link(link_id)


def test_fields_that_apply_to_one_choice_say_so(admin_client, make):
    make.service()
    html = admin_client.get("/admin/links/new").text
    assert re.search(
        r'data-shown-when="after_payment=message">\s*<div class="field[^"]*">\s*'
        r'<label for="confirmation_message"',
        html,
    )
    assert re.search(
        r'data-shown-when="after_payment=redirect">\s*<div class="field[^"]*">\s*'
        r'<label for="redirect_url"',
        html,
    )
    assert re.search(r'data-shown-when="adjustable_quantity=unchecked">\s*<div class="field', html)
    assert 'data-shown-when="adjustable_quantity=checked"' in html


def test_the_way_not_chosen_is_cleared_not_checked(app, admin_client, make):
    service_id = make.service()
    # A message link ignores a redirect URL left in the (hidden) field, even a bad one.
    link_id = create_link(
        admin_client,
        service_id,
        after_payment="message",
        confirmation_message="Thanks!",
        redirect_url="javascript:alert(1)",
    )
    link = stored(app, link_id)
    assert link.redirect_url is None and link.confirmation_message == "Thanks!"

    fields = {**BASE, "service_id": service_id, "after_payment": "redirect"}
    fields |= {"redirect_url": "https://shop.example/thanks", "confirmation_message": "old"}
    response = form_post(admin_client, f"/admin/links/{link_id}/edit", fields)
    assert response.status_code == 302
    link = stored(app, link_id)
    assert link.redirect_url == "https://shop.example/thanks"
    assert link.confirmation_message == ""


def test_adjustable_quantity_ignores_the_fixed_quantity(app, admin_client, make):
    service_id = make.service()
    link_id = create_link(
        admin_client,
        service_id,
        adjustable_quantity="y",
        quantity="7",
        min_quantity="2",
        max_quantity="4",
    )
    link = stored(app, link_id)
    assert (link.quantity, link.min_quantity, link.max_quantity) == (2, 2, 4)


def test_the_link_password_is_a_password_input_never_echoed(admin_client, make):
    link_id = create_link(admin_client, make.service(), password="open sesame 1")
    html = edit_page(admin_client, link_id)
    field = re.search(r"<input[^>]*id=\"password\"[^>]*>", html)[0]
    assert 'type="password"' in field and 'autocomplete="new-password"' in field
    assert "value=" not in field or 'value=""' in field
    assert "open sesame" not in html
    refused = form_post(
        admin_client,
        f"/admin/links/{link_id}/edit",
        {**BASE, "service_id": "svc_missing", "password": "another secret 2"},
    )
    assert refused.status_code == 422
    assert "another secret" not in refused.text


def test_expiry_is_entered_and_shown_as_utc_iso(app, admin_client, make):
    link_id = create_link(admin_client, make.service(), expires_at="2030-12-31 23:59")
    assert stored(app, link_id).expires_at.isoformat() == "2030-12-31T23:59:00"
    html = edit_page(admin_client, link_id)
    field = re.search(r"<input[^>]*id=\"expires_at\"[^>]*>", html)[0]
    assert 'type="text"' in field and 'value="2030-12-31 23:59"' in field
    assert 'placeholder="YYYY-MM-DD HH:MM"' in field
    assert "Expires at (UTC)" in html and "YYYY-MM-DD HH:MM" in html
    # The datetime-local form an older page or a script may still send.
    other = create_link(admin_client, make.service(title="Other"), expires_at="2030-01-02T03:04")
    assert stored(app, other).expires_at.isoformat() == "2030-01-02T03:04:00"


def test_a_us_format_expiry_is_refused(admin_client, make):
    service_id = make.service()
    response = form_post(
        admin_client,
        "/admin/links/new",
        {**BASE, "service_id": service_id, "expires_at": "12/31/2030 11:59 PM"},
    )
    assert response.status_code == 422
    assert "Give the moment in UTC as YYYY-MM-DD HH:MM" in response.text
