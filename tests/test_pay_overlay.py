"""The pay overlay over HTTP: which sites a provider allows, the frame-ancestors each page
sends, the question kassa.js asks before it opens the overlay, and Pay inside the frame."""

import json
import re
from urllib.parse import quote

import pytest

from checkout.extensions import db
from checkout.models import Order, Provider
from tests.helpers import api_new_order, create_link, form_post, provider_form

SHOP = "https://shop.example"
OTHER = "https://elsewhere.example"
NONE = "frame-ancestors 'none'"


def frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if "frame-ancestors" in part)


def framed(path: str, origin: str = SHOP) -> str:
    joiner = "&" if "?" in path else "?"
    return f"{path}{joiner}embed={quote(origin, safe='')}"


@pytest.fixture
def shop(make):
    """A provider whose shop at SHOP may show its links in the overlay, and its link."""
    service_id = make.service(title="Coffee", price="3")
    provider = make.provider(service_id, embed_origins=SHOP)
    return provider, service_id


@pytest.fixture
def link_id(admin_client, shop):
    provider, service_id = shop
    return create_link(admin_client, service_id, provider_id=provider.id)


def overlay_answer(client, link_id: str, origin: str | None) -> dict:
    headers = {"Origin": origin} if origin else {}
    answer = client.get(f"/l/{link_id}/overlay", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


def embedded_pay(client, link_id: str, origin_header: str | None, embed: str = SHOP):
    """Press Pay on the framed link page, with this Origin header (the page's own, when a
    browser sends the form from Kassa's page in the frame)."""
    headers = {"Origin": origin_header} if origin_header else {}
    return client.post(framed(f"/l/{link_id}/pay", embed), data={}, headers=headers)


def orders_count(app) -> int:
    with app.app_context():
        return db.session.query(Order).count()


# Allowed origins: the admin's provider form and the CLI


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        ("http://shop.example", "is not https"),
        ("https://shop.example/checkout", "has a path"),
        ("https://shop.example?x=1", "has a path"),
        ("https://shop.example/#top", "has a path"),
        ("shop.example", "is not an origin"),
        ("https://*.shop.example", "no valid host name"),
        ("https://user@shop.example", "is not an origin"),
        ("https://shop.example:99999", "is not an origin"),
        ("ftp://shop.example", "is not an origin"),
        ("https://bücher.example", "xn--"),
        ("https://ok.example, javascript:alert(1)", "is not an origin"),
        (" ".join(f"https://s{n}.example" for n in range(21)), "At most 20 origins"),
    ],
)
def test_bad_embed_origins_are_422_on_the_field_and_change_nothing(
    admin_client, make, origins, message
):
    service_id = make.service()
    provider = make.provider(service_id, embed_origins=SHOP)
    page = f"/admin/providers/{provider.id}/edit"
    response = form_post(admin_client, page, provider_form(service_id, embed_origins=origins))
    assert response.status_code == 422
    error = re.search(r'<p id="embed_origins-error" class="error">([^<]*)</p>', response.text)
    assert error and message in error[1], response.text
    assert 'aria-invalid="true"' in response.text
    with admin_client.application.app_context():
        assert db.session.get(Provider, provider.id).embed_origins == SHOP


def test_the_admin_saves_origins_normalised(admin_client, make):
    service_id = make.service()
    provider = make.provider(service_id)
    origins = "HTTPS://Shop.Example:443/\nhttps://shop.example, https://www.shop.example:8443\n"
    origins += "http://localhost:5173 http://127.0.0.1:8000 http://[::1]:3000"
    page = f"/admin/providers/{provider.id}/edit"
    response = form_post(admin_client, page, provider_form(service_id, embed_origins=origins))
    assert response.status_code == 302, response.text
    shown = admin_client.get(f"/admin/providers/{provider.id}").text
    listed = re.search(r"<dd data-embed-origins>([^<]*)</dd>", shown)[1]
    assert listed == (
        "https://shop.example, https://www.shop.example:8443, http://localhost:5173, "
        "http://127.0.0.1:8000, http://[::1]:3000"
    )
    edit = admin_client.get(page).text
    assert "https://shop.example\nhttps://www.shop.example:8443" in edit
    # Emptied, no site may frame its pages any more.
    response = form_post(admin_client, page, provider_form(service_id, embed_origins=""))
    assert response.status_code == 302
    assert (
        "no site (the button opens the link"
        in admin_client.get(f"/admin/providers/{provider.id}").text
    )


def test_the_cli_sets_and_clears_origins(runner, make):
    service_id = make.service()
    make.provider(service_id, slug="bit")
    args = [
        "providers",
        "update",
        "bit",
        "--embed-origins",
        "https://shop.example/, https://b.example",
    ]
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["embedOrigins"] == [
        "https://shop.example",
        "https://b.example",
    ]
    text = runner.invoke(args=["providers", "update", "bit", "--name", "Bit"])
    assert "pay overlay on https://shop.example, https://b.example." in text.output
    bad = runner.invoke(
        args=["providers", "update", "bit", "--embed-origins", "http://b.example", "--json"]
    )
    assert (bad.exit_code, json.loads(bad.output)["error"][:17]) == (1, "--embed-origins: ")
    cleared = runner.invoke(args=["providers", "update", "bit", "--embed-origins", "", "--json"])
    assert json.loads(cleared.output)["embedOrigins"] == []


# frame-ancestors


def test_a_link_page_is_framed_only_for_an_allowed_origin(client, link_id):
    allowed = client.get(framed(f"/l/{link_id}"))
    assert allowed.status_code == 200
    assert frame_ancestors(allowed) == f"frame-ancestors {SHOP}"
    assert "X-Frame-Options" not in allowed.headers
    assert f'data-embed-origin="{SHOP}"' in allowed.text
    assert f'action="/l/{link_id}/pay?embed=https://shop.example"' in allowed.text
    for path in (
        f"/l/{link_id}",
        framed(f"/l/{link_id}", OTHER),
        framed(f"/l/{link_id}", "'self'"),
    ):
        page = client.get(path)
        assert frame_ancestors(page) == NONE, path
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "data-embed-origin" not in page.text


def test_only_link_pages_and_their_orders_are_ever_framed(app, client, admin_client, shop, link_id):
    provider, service_id = shop
    api_order = api_new_order(client, provider.api_key, externalId="api-1")
    locked = create_link(admin_client, service_id, provider_id=provider.id, password="backstage1")
    for path in (
        framed("/admin/login"),
        framed(f"/admin/providers/{provider.id}"),
        framed("/"),
        framed(f"/checkout?orderId={api_order}"),
        framed(f"/l/{locked}"),
        framed("/l/plink_000000000000000000000000"),
        framed(f"/l/{link_id}/qr.svg"),
    ):
        assert frame_ancestors(client.get(path)) == NONE, path


def test_a_turned_off_link_explains_itself_inside_the_frame(admin_client, client, link_id):
    turned_off = form_post(
        admin_client, f"/admin/links/{link_id}/deactivate", {}, f"/admin/links/{link_id}/deactivate"
    )
    assert turned_off.status_code in (302, 303)
    page = client.get(framed(f"/l/{link_id}"))
    assert page.status_code == 410
    assert "This payment link is turned off" in page.text
    assert frame_ancestors(page) == f"frame-ancestors {SHOP}"


def test_pay_in_the_frame_goes_on_to_a_framed_checkout_and_receipt(app, client, link_id):
    paid = embedded_pay(client, link_id, "http://localhost")
    assert paid.status_code == 303, paid.text
    location = paid.headers["Location"]
    assert location.endswith("&embed=https://shop.example")
    order_id = re.search(r"orderId=(ord_[0-9a-f]{24})", location)[1]
    checkout = client.get(location)
    assert frame_ancestors(checkout) == f"frame-ancestors {SHOP}"
    assert f'data-payment-link-id="{link_id}"' in checkout.text
    assert '<input type="hidden" name="embed" value="https://shop.example">' in checkout.text
    # The same order's page, unframed, is still never framed and still cached as before.
    assert frame_ancestors(client.get(f"/checkout?orderId={order_id}")) == NONE
    token = re.search(r'name="csrf_token" value="([^"]+)"', checkout.text)[1]
    form = {"orderId": order_id, "outcome": "succeeded", "csrf_token": token, "embed": SHOP}
    pressed = client.post("/checkout/sandbox", data=form)
    assert pressed.status_code == 303
    assert pressed.headers["Location"].endswith("&embed=https://shop.example")
    receipt = client.get(pressed.headers["Location"])
    assert "Payment received" in receipt.text
    assert frame_ancestors(receipt) == f"frame-ancestors {SHOP}"
    assert "data-countdown" not in receipt.text  # the seller's page decides, not a redirect
    # A sandbox press naming an origin the provider does not allow is not sent on framed.
    form["embed"] = OTHER
    again = client.post("/checkout/sandbox", data=form)
    assert again.headers["Location"].endswith(f"orderId={order_id}")


@pytest.mark.parametrize("origin", [None, OTHER, "null"])
def test_pay_in_the_frame_from_another_origin_is_refused(app, client, link_id, origin):
    before = orders_count(app)
    refused = embedded_pay(client, link_id, origin)
    assert refused.status_code == 400
    assert orders_count(app) == before


def test_pay_outside_the_frame_still_needs_its_csrf_token(app, client, link_id):
    before = orders_count(app)
    answer = client.post(f"/l/{link_id}/pay", data={}, headers={"Origin": "http://localhost"})
    assert answer.status_code == 400
    assert orders_count(app) == before


# The question kassa.js asks


def test_the_overlay_is_offered_only_to_allowed_origins(client, link_id):
    assert overlay_answer(client, link_id, SHOP) == {
        "overlay": True,
        "onPhones": True,
        "reason": None,
    }
    for origin in (OTHER, None, "null", SHOP + "/"):
        answer = overlay_answer(client, link_id, origin)
        assert answer == {"overlay": False, "onPhones": False, "reason": "origin_not_allowed"}
    assert client.get("/l/plink_000000000000000000000000/overlay").status_code == 404


def test_no_overlay_for_a_password_protected_link(admin_client, client, shop):
    provider, service_id = shop
    locked = create_link(admin_client, service_id, provider_id=provider.id, password="backstage1")
    assert overlay_answer(client, locked, SHOP)["reason"] == "password_protected"


def test_with_stripe_cash_app_pays_in_the_overlay_but_not_on_phones(
    app, admin_client, client, make
):
    app.config.update(STRIPE_SECRET_KEY="sk_test_x", STRIPE_PUBLISHABLE_KEY="pk_test_x")
    service_id = make.service(
        title="Credits", price="5", buy_button_id="buy_btn_1C", stripe_payment_link_id="plink_1C"
    )
    cash_app = make.provider(service_id, embed_origins=SHOP, key=False, slug="cash")
    buy_button = make.provider(
        service_id, embed_origins=SHOP, key=False, slug="stripe", use_stripe_checkout=True
    )
    on_cash_app = create_link(admin_client, service_id, provider_id=cash_app.id)
    on_stripe = create_link(admin_client, service_id, provider_id=buy_button.id)
    assert overlay_answer(client, on_cash_app, SHOP) == {
        "overlay": True,
        "onPhones": False,
        "reason": None,
    }
    assert overlay_answer(client, on_stripe, SHOP) == {
        "overlay": False,
        "onPhones": False,
        "reason": "stripe_checkout",
    }
