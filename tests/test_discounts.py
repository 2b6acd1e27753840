"""Discount codes (issue 21, item 3): made through the API, the admin and the CLI; entered on
a link's page (?code= fills it in) or passed as discountCode; the order's amount is what is
due after the discount, and a redemption counts once paid, held while a payment is under way.
"""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from checkout.extensions import db
from checkout.models import Notification, Order
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_open_order,
    api_order_json,
    bearer,
    browser_at,
    create_link,
    csrf_token,
    error_body,
    form_post,
    order_from,
    order_page,
    simulate,
)


def api_code(client, key, **body) -> dict:
    """Create a discount code through the API; its JSON."""
    answer = client.post("/api/v1/discount-codes", json=body, headers=bearer(key))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def orders_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Order))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pay_with_code(client, link_id: str, code: str, **extra):
    token = csrf_token(client.get(f"/l/{link_id}").text)
    return client.post(
        f"/l/{link_id}/pay", data={"csrf_token": token, "discount_code": code, **extra}
    )


@pytest.fixture
def shop(make):
    """A provider selling a $5 service, whose notifications go nowhere; its id and key."""
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    return provider


def test_a_code_is_created_listed_read_and_changed(client, shop):
    code = api_code(client, shop.api_key, code="Spring15", percentOff=15, maxRedemptions=10)
    assert code["id"].startswith("disc_")
    assert (code["code"], code["percentOff"], code["amountOff"], code["currency"]) == (
        "Spring15",
        15,
        None,
        None,
    )
    assert code["timesRedeemed"] == 0 and code["active"] is True
    assert code["appliesTo"] == {"links": [], "services": []}
    listed = client.get("/api/v1/discount-codes", headers=bearer(shop.api_key)).get_json()
    assert [one["id"] for one in listed["data"]] == [code["id"]] and listed["hasMore"] is False
    url = f"/api/v1/discount-codes/{code['id']}"
    changed = client.patch(
        url,
        json={"amountOff": Decimal("2.50"), "currency": "usd", "active": False},
        headers=bearer(shop.api_key),
    ).get_json()
    assert (changed["percentOff"], changed["amountOff"], changed["active"]) == (None, 2.5, False)
    assert client.get(url, headers=bearer(shop.api_key)).get_json() == changed


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"percentOff": 10, "amountOff": 1, "currency": "usd"}, "percentOff", "either"),
        ({}, "percentOff", "either percentOff or amountOff"),
        ({"amountOff": 1}, "currency", "Give the currency of amountOff"),
        ({"amountOff": Decimal("1.001"), "currency": "usd"}, "amountOff", "2 decimal places"),
        ({"amountOff": Decimal("1.5"), "currency": "jpy"}, "amountOff", "whole number for JPY"),
        ({"percentOff": 0}, "percentOff", "above 0 and at most 100"),
        ({"percentOff": 101}, "percentOff", "above 0 and at most 100"),
        ({"percentOff": Decimal("12.345")}, "percentOff", "two decimal places"),
        ({"percentOff": "10"}, "percentOff", "Give a number"),
        ({"percentOff": 10, "code": "two words"}, "code", "letters, digits"),
        ({"percentOff": 10, "maxRedemptions": 0}, "maxRedemptions", "from 1"),
        (
            {
                "percentOff": 10,
                "startsAt": "2030-01-02T00:00:00Z",
                "expiresAt": "2030-01-01T00:00:00Z",
            },
            "expiresAt",
            "expire after it starts",
        ),
        ({"percentOff": 10, "appliesTo": {"links": ["plink_nope"]}}, "appliesTo", "not one of"),
        ({"percentOff": 10, "appliesTo": {"shops": []}}, "appliesTo.shops", "Unknown field"),
        ({"percentOff": 10, "limit": 3}, "limit", "Unknown field"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(client, shop, body, param, message):
    refused = client.post(
        "/api/v1/discount-codes", json={"code": "BAD", **body}, headers=bearer(shop.api_key)
    )
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["param"] == param
    assert message in refused.get_json()["error"]
    listed = client.get("/api/v1/discount-codes", headers=bearer(shop.api_key)).get_json()
    assert listed["data"] == []


def test_a_code_is_unique_in_any_case_and_private_to_its_provider(client, make, shop):
    api_code(client, shop.api_key, code="SAVE", percentOff=5)
    taken = client.post(
        "/api/v1/discount-codes",
        json={"code": "save", "percentOff": 5},
        headers=bearer(shop.api_key),
    )
    assert taken.get_json() == error_body(
        "code: You already have the code SAVE", "validation_error", "code"
    )
    other = make.provider(make.service(title="Other shop"), name="Other").api_key
    mine = api_code(client, other, code="save", percentOff=5)
    peek = client.get(f"/api/v1/discount-codes/{mine['id']}", headers=bearer(shop.api_key))
    assert peek.status_code == 404


def test_the_api_opens_an_order_at_the_amount_due(app, client, shop):
    api_code(client, shop.api_key, code="TEN", percentOff=10)
    answer = api_open_order(client, shop.api_key, amount=15, discountCode="ten")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["amount"], body["quantity"]) == (Decimal("13.50"), 3)
    assert (body["discountCode"], body["discountAmount"]) == ("TEN", Decimal("1.50"))
    assert simulate(client, body["orderId"]).status_code == 303
    with app.app_context():
        payload = json.loads(
            db.session.scalar(
                select(Notification.payload).where(Notification.order_id == body["orderId"])
            )
        )
    assert (payload["amount"], payload["discountCode"], payload["discountAmount"]) == (
        13.5,
        "TEN",
        1.5,
    )
    paid = api_order_json(client, shop.api_key, body["orderId"])
    assert paid["status"] == "paid" and paid["paidAmount"] == Decimal("13.50")


def test_an_order_without_a_code_says_so(client, shop):
    body = api_open_order(client, shop.api_key, amount=5).get_json()
    assert body["discountCode"] is None and body["discountAmount"] is None


def test_a_fixed_discount_never_takes_the_amount_below_stripes_minimum(client, shop):
    api_code(client, shop.api_key, code="BIG", amountOff=100, currency="usd")
    body = api_open_order(client, shop.api_key, amount=5, discountCode="BIG").get_json()
    assert (body["amount"], body["discountAmount"]) == (Decimal("0.50"), Decimal("4.50"))


def test_percentages_round_half_up_to_the_minor_unit(client, make):
    key = make.provider(make.service(price="0.99")).api_key
    api_code(client, key, code="THIRD", percentOff=Decimal("33.33"))
    body = api_open_order(client, key, amount=Decimal("2.97"), discountCode="THIRD").get_json()
    # 33.33% of 297 cents is 98.99 cents: 99 off
    assert (body["amount"], body["discountAmount"]) == (Decimal("1.98"), Decimal("0.99"))


def test_yen_discounts_are_whole(client, make):
    key = make.provider(make.service(price="500", currency="jpy")).api_key
    api_code(client, key, code="YEN", amountOff=120, currency="jpy")
    body = api_open_order(client, key, amount=1000, discountCode="YEN").get_json()
    assert (body["amount"], body["discountAmount"]) == (880, 120)


def refusals(client, key) -> dict[str, str]:
    """A code for each way of not applying; code -> the message it is refused with."""
    now = datetime.now(UTC)
    api_code(client, key, code="OFF", percentOff=5, active=False)
    api_code(client, key, code="LATER", percentOff=5, startsAt=iso(now + timedelta(days=1)))
    api_code(client, key, code="EUROS", amountOff=1, currency="eur")
    return {
        "NOPE": "There is no such discount code",
        "OFF": "This discount code is no longer valid",
        "LATER": "This discount code is not valid yet",
        "EUROS": "This discount code is for payments in EUR",
    }


def test_codes_that_do_not_apply_are_422_naming_discount_code(app, client, shop):
    expected = refusals(client, shop.api_key)
    before = orders_count(app)
    for code, message in expected.items():
        refused = api_open_order(client, shop.api_key, amount=5, discountCode=code)
        assert refused.status_code == 422, code
        assert refused.get_json() == error_body(
            f"discountCode: {message}", "discount_refused", "discountCode"
        )
    assert orders_count(app) == before


def test_a_code_for_other_services_and_an_expired_one_are_refused(app, client, make, shop):
    link_service = make.service(title="Other")
    now = datetime.now(UTC)
    api_code(
        client, shop.api_key, code="ONLYTHAT", percentOff=5, appliesTo={"services": [link_service]}
    )
    api_code(
        client, shop.api_key, code="GONE", percentOff=5, expiresAt=iso(now + timedelta(seconds=1))
    )
    with app.app_context():
        from checkout.discount_models import DiscountCode

        row = db.session.scalar(select(DiscountCode).where(DiscountCode.code == "GONE"))
        row.expires_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        db.session.commit()
    other = api_open_order(client, shop.api_key, amount=5, discountCode="ONLYTHAT").get_json()
    assert other["error"] == "discountCode: This discount code does not apply to this purchase"
    gone = api_open_order(client, shop.api_key, amount=5, discountCode="GONE").get_json()
    assert gone["error"] == "discountCode: This discount code has expired"


def test_a_code_used_up_by_paid_orders_is_refused_and_counted(client, shop):
    code = api_code(client, shop.api_key, code="ONCE", percentOff=50, maxRedemptions=1)
    first = api_open_order(client, shop.api_key, amount=5, discountCode="ONCE").get_json()
    assert simulate(client, first["orderId"]).status_code == 303
    refused = api_open_order(client, shop.api_key, amount=5, discountCode="ONCE")
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "discountCode: This discount code has been used up"
    read = client.get(f"/api/v1/discount-codes/{code['id']}", headers=bearer(shop.api_key))
    assert read.get_json()["timesRedeemed"] == 1


def test_a_payment_under_way_holds_the_last_redemption_and_a_failure_frees_it(app, client, shop):
    api_code(client, shop.api_key, code="LAST", percentOff=50, maxRedemptions=1)
    first = api_open_order(client, shop.api_key, amount=5, discountCode="LAST").get_json()
    waiting = api_open_order(client, shop.api_key, amount=5, discountCode="LAST").get_json()
    page = client.get(f"/checkout?orderId={waiting['orderId']}").text  # its page is open
    press = {"orderId": waiting["orderId"], "outcome": "succeeded", "csrf_token": csrf_token(page)}
    assert simulate(client, first["orderId"], "processing").status_code == 303
    refused = api_open_order(client, shop.api_key, amount=5, discountCode="LAST").get_json()
    assert "being redeemed right now" in refused["error"]
    # The order opened before the hold cannot start paying while the redemption is held.
    blocked = client.post("/checkout/sandbox", data=press)
    assert blocked.status_code == 409 and "discount code is being redeemed" in blocked.text
    assert client.get(f"/checkout?orderId={waiting['orderId']}").status_code == 409
    assert simulate(client, first["orderId"], "failed").status_code == 303
    assert client.post("/checkout/sandbox", data=press).status_code == 303
    assert api_order_json(client, shop.api_key, waiting["orderId"])["status"] == "paid"


def test_a_repeated_external_id_with_another_code_is_a_conflict(client, shop):
    api_code(client, shop.api_key, code="TEN", percentOff=10)
    first = api_open_order(client, shop.api_key, externalId="E-1", amount=5, discountCode="TEN")
    again = api_open_order(client, shop.api_key, externalId="E-1", amount=5, discountCode="ten")
    assert again.get_json()["orderId"] == first.get_json()["orderId"]
    other = api_open_order(client, shop.api_key, externalId="E-1", amount=5)
    assert other.status_code == 409


def test_buy_button_mode_takes_no_code(client, make):
    service = make.service(buy_button_id="buy_btn_1", stripe_payment_link_id="plink_1")
    key = make.provider(service, use_stripe_checkout=True).api_key
    api_code(client, key, code="TEN", percentOff=10)
    refused = api_open_order(client, key, discountCode="TEN")
    assert refused.status_code == 422
    assert "not taken in Buy Button mode" in refused.get_json()["error"]


# On an order's checkout page


def apply_code(client, order_id: str, code: str, token: str | None = None):
    """Type a code into the checkout page's discount field and press Apply code."""
    page = client.get(f"/checkout?orderId={order_id}").text
    token = token or re.search(r'name="discount_token" value="([0-9a-f]{64})"', page)[1]
    return client.post(
        "/checkout/discount",
        data={"orderId": order_id, "discount_code": code, "discount_token": token},
    )


def test_a_code_entered_on_the_checkout_page_reprices_the_order(app, client, shop):
    api_code(client, shop.api_key, code="LATE10", percentOff=10)
    order_id = api_open_order(client, shop.api_key, amount=10).get_json()["orderId"]
    page = client.get(f"/checkout?orderId={order_id}").text
    assert '<label for="discount_code">Discount code' in page
    refused = apply_code(client, order_id, "nope")
    assert refused.status_code == 422
    assert '<p id="discount_code-error" class="error">There is no such discount code</p>' in (
        refused.text
    )
    assert 'value="nope"' in refused.text
    assert api_order_json(client, shop.api_key, order_id)["amount"] == 10
    assert apply_code(client, order_id, "late10").status_code == 303
    body = api_order_json(client, shop.api_key, order_id)
    assert (body["amount"], body["discountCode"], body["discountAmount"]) == (9, "LATE10", 1)
    page = client.get(f"/checkout?orderId={order_id}").text
    assert "<code>LATE10</code> −$1.00" in page and 'name="discount_code"' not in page
    assert simulate(client, order_id).status_code == 303
    assert api_order_json(client, shop.api_key, order_id)["paidAmount"] == 9


def test_the_checkout_page_code_form_checks_its_token_and_the_order(client, shop):
    api_code(client, shop.api_key, code="X1", percentOff=10)
    order_id = api_open_order(client, shop.api_key, amount=10).get_json()["orderId"]
    forged = apply_code(client, order_id, "X1", token="0" * 64)
    assert forged.status_code == 400
    missing = client.post("/checkout/discount", data={"orderId": "ord_nope", "discount_code": "X1"})
    assert missing.status_code == 404
    assert simulate(client, order_id).status_code == 303
    # A paid order's amount no longer changes.
    from checkout.pay.routes import discount_token

    with client.application.test_request_context():
        token = discount_token(order_id)
    late = apply_code(client, order_id, "X1", token=token)
    assert late.status_code == 422 and "can no longer change" in late.text


# On a payment link's page


def test_the_link_page_prefills_code_and_prices_the_order(app, client, admin_client, make, shop):
    api_code(client, shop.api_key, code="FIVE", amountOff=1, currency="usd")
    link_id = create_link(admin_client, make_service_of(app, shop), provider_id=shop.id)
    page = client.get(f"/l/{link_id}?code=FIVE").text
    assert '<label for="discount_code">Discount code' in page and 'value="FIVE"' in page
    order_id = order_from(pay_with_code(client, link_id, "five", quantity="1"))
    body = api_order_json(client, shop.api_key, order_id)
    assert (body["amount"], body["discountCode"], body["discountAmount"]) == (4, "FIVE", 1)
    checkout = client.get(f"/checkout?orderId={order_id}").text
    assert "<code>FIVE</code> −$1.00" in checkout
    assert "<code>FIVE</code> −$1.00" in order_page(admin_client, order_id)


def make_service_of(app, provider) -> str:
    from checkout.models import Provider

    with app.app_context():
        return db.session.get(Provider, provider.id).service_id


def test_a_refused_code_on_the_link_page_is_422_and_opens_nothing(app, client, admin_client, shop):
    api_code(client, shop.api_key, code="REAL", percentOff=5)
    link_id = create_link(admin_client, make_service_of(app, shop), provider_id=shop.id)
    before = orders_count(app)
    refused = pay_with_code(client, link_id, "FAKE")
    assert refused.status_code == 422
    assert '<p id="discount_code-error" class="error">There is no such discount code</p>' in (
        refused.text
    )
    assert 'value="FAKE"' in refused.text
    assert orders_count(app) == before


def test_a_code_restricted_to_one_link(app, client, admin_client, shop):
    service_id = make_service_of(app, shop)
    chosen = create_link(admin_client, service_id, provider_id=shop.id)
    other = create_link(admin_client, service_id, provider_id=shop.id)
    api_code(client, shop.api_key, code="VIP", percentOff=20, appliesTo={"links": [chosen]})
    assert pay_with_code(client, other, "VIP").status_code == 422
    order_id = order_from(pay_with_code(client, chosen, "VIP"))
    assert api_order_json(client, shop.api_key, order_id)["discountAmount"] == 1


def test_paying_again_with_another_code_reprices_the_open_order(app, client, admin_client, shop):
    api_code(client, shop.api_key, code="TEN", percentOff=10)
    api_code(client, shop.api_key, code="HALF", percentOff=50)
    link_id = create_link(
        admin_client, make_service_of(app, shop), provider_id=shop.id, max_uses="5"
    )
    browser = browser_at(client.application, "203.0.113.5")
    first = order_from(pay_with_code(browser, link_id, "TEN"))
    again = order_from(pay_with_code(browser, link_id, "HALF"))
    assert again == first
    body = api_order_json(client, shop.api_key, first)
    assert (body["amount"], body["discountCode"]) == (Decimal("2.50"), "HALF")


# The admin and the CLI


def test_the_admin_creates_lists_and_edits_codes(admin_client, shop):
    form = {
        "provider_id": shop.id,
        "code": "ADMIN20",
        "kind": "percent",
        "percent_off": "20",
        "max_redemptions": "3",
        "active": "y",
    }
    created = form_post(admin_client, "/admin/discounts/new", form)
    assert created.status_code == 302, created.text
    listed = admin_client.get("/admin/discounts").text
    assert '<tr data-discount-code="ADMIN20">' in listed and "20% off" in listed
    page = re.search(r'href="(/admin/discounts/disc_[0-9a-f]{24}/edit)"', listed)[1]
    changed = form_post(
        admin_client, page, {**form, "kind": "amount", "amount_off": "2", "currency": "usd"}
    )
    assert changed.status_code == 302
    assert "$2.00 off" in admin_client.get("/admin/discounts").text
    refused = form_post(admin_client, page, {**form, "percent_off": "150"})
    assert refused.status_code == 422 and "above 0 and at most 100" in refused.text


def test_the_cli_creates_and_lists_codes(runner, make):
    make.provider(slug="shop", webhook_url=UNREACHABLE_HOOK)
    made = runner.invoke(
        args=[
            "discounts",
            "create",
            "--provider",
            "shop",
            "--code",
            "CLI5",
            "--amount-off",
            "5",
            "--currency",
            "usd",
            "--max-redemptions",
            "10",
            "--json",
        ]
    )
    assert made.exit_code == 0, made.output
    code = json.loads(made.output)
    assert (code["code"], code["amountOff"], code["maxRedemptions"]) == ("CLI5", 5, 10)
    listed = runner.invoke(args=["discounts", "list"])
    assert "CLI5" in listed.output and "0/10 redeemed" in listed.output
    bad = runner.invoke(
        args=["discounts", "create", "--provider", "shop", "--code", "X", "--percent-off", "lots"]
    )
    assert bad.exit_code == 1 and "--percent-off: give a number" in bad.output
    twice = runner.invoke(
        args=["discounts", "create", "--provider", "shop", "--code", "cli5", "--percent-off", "5"]
    )
    assert twice.exit_code == 1 and "--code: You already have the code CLI5" in twice.output


# Concurrency: never redeemed more often than allowed


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one local source address (all of 127.0.0.0/8 is this machine)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


def customers_at_once(base: str, link_id: str, code: str, count: int) -> list[str]:
    """`count` customers, each from an address of its own, at the same moment: open the
    link's page, pay with the code, and press the sandbox's success button; what each got
    ("paid", or the status that refused it)."""
    barrier = threading.Barrier(count)
    outcomes = []

    def customer(number: int) -> None:
        session = requests.Session()
        session.mount("http://", FromAddress(f"127.0.{number // 200}.{number % 200 + 2}"))
        url = f"{base}/l/{link_id}"
        token = csrf_token(session.get(url, timeout=30).text)
        barrier.wait()
        opened = session.post(
            url + "/pay",
            data={"csrf_token": token, "discount_code": code},
            allow_redirects=False,
            timeout=60,
        )
        if opened.status_code != 303:
            outcomes.append(f"open {opened.status_code}")
            return
        order_id = order_from(opened)
        page = session.get(f"{base}/checkout?orderId={order_id}", timeout=30)
        if page.status_code != 200:
            outcomes.append(f"page {page.status_code}")
            return
        pressed = session.post(
            f"{base}/checkout/sandbox",
            data={"orderId": order_id, "outcome": "succeeded", "csrf_token": csrf_token(page.text)},
            allow_redirects=False,
            timeout=60,
        )
        outcomes.append("paid" if pressed.status_code == 303 else f"pay {pressed.status_code}")

    threads = [threading.Thread(target=customer, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(outcomes) == count
    return outcomes


def paid_with(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.discount_code == code, Order.status == "paid")
        )


def test_thirty_customers_never_redeem_a_ten_use_code_eleven_times(
    app, client, admin_client, live_server, shop
):
    code = api_code(client, shop.api_key, code="TENUSES", percentOff=10, maxRedemptions=10)
    link_id = create_link(admin_client, make_service_of(app, shop), provider_id=shop.id)
    outcomes = customers_at_once(live_server.url, link_id, "TENUSES", 30)
    assert outcomes.count("paid") == 10, outcomes
    assert set(outcomes) - {"paid"} <= {"open 422", "page 409", "pay 409"}, outcomes
    assert paid_with(app, "TENUSES") == 10
    read = client.get(f"/api/v1/discount-codes/{code['id']}", headers=bearer(shop.api_key))
    assert read.get_json()["timesRedeemed"] == 10


def test_thirty_customers_on_a_three_use_link_with_a_ten_use_code(
    app, client, admin_client, live_server, shop
):
    code = api_code(client, shop.api_key, code="LINKED", percentOff=10, maxRedemptions=10)
    link_id = create_link(
        admin_client, make_service_of(app, shop), provider_id=shop.id, max_uses="3"
    )
    outcomes = customers_at_once(live_server.url, link_id, "LINKED", 30)
    assert outcomes.count("paid") == 3, outcomes
    assert paid_with(app, "LINKED") == 3
    read = client.get(f"/api/v1/discount-codes/{code['id']}", headers=bearer(shop.api_key))
    assert read.get_json()["timesRedeemed"] == 3
    assert requests.get(f"{live_server.url}/l/{link_id}", timeout=10).status_code == 410


class TestWithStripe:
    """With Stripe keys, against the stand-in: the PaymentIntent is for the amount due."""

    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
        }

    def test_the_payment_intent_is_for_the_amount_due(self, client, shop, stripe_client):
        api_code(client, shop.api_key, code="QUARTER", percentOff=25, maxRedemptions=2)
        order_id = api_open_order(
            client, shop.api_key, amount=20, discountCode="QUARTER"
        ).get_json()["orderId"]
        assert client.get(f"/checkout?orderId={order_id}").status_code == 200
        body = api_order_json(client, shop.api_key, order_id)
        assert (body["amount"], body["discountAmount"]) == (Decimal("15.00"), Decimal("5.00"))
        intent = stripe_client.v1.payment_intents.retrieve(body["stripePaymentIntentId"])
        assert (intent.amount, intent.currency) == (1500, "usd")

    def test_a_code_on_the_checkout_page_changes_the_payment_intent(
        self, client, shop, stripe_client
    ):
        api_code(client, shop.api_key, code="LATER", amountOff=3, currency="usd")
        order_id = api_open_order(client, shop.api_key, amount=20).get_json()["orderId"]
        assert client.get(f"/checkout?orderId={order_id}").status_code == 200
        intent_id = api_order_json(client, shop.api_key, order_id)["stripePaymentIntentId"]
        assert stripe_client.v1.payment_intents.retrieve(intent_id).amount == 2000
        assert apply_code(client, order_id, "LATER").status_code == 303
        assert api_order_json(client, shop.api_key, order_id)["amount"] == 17
        assert stripe_client.v1.payment_intents.retrieve(intent_id).amount == 1700
