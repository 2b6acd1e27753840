"""The customer's side with Stripe keys, in Chromium: js.stripe.com is out of reach, so
Playwright serves stubs of Stripe.js and buy-button.js that record what the page asks of
them, while the app talks to the Stripe stand-in through the real SDK."""

import itertools
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe
from playwright.sync_api import Page, expect

from tests.helpers import pay_with_card

pytestmark = pytest.mark.browser

PUBLISHABLE = "pk_test_kassa_browser"
STRIPE_JS = "https://js.stripe.com/v3/"
BUY_BUTTON_JS = "https://js.stripe.com/v3/buy-button.js"

# Stripe.js as far as the page uses it. confirmCashappPayment behaves as the test says:
# "redirect" leaves for return_url the way Stripe does after the customer's Cash App
# (adding payment_intent, payment_intent_client_secret, redirect_status), "reject" fails the
# promise, "error" resolves it with {error}. Every call is reported to the test first.
STRIPE_STUB = """
(function () {
  var config = %s;
  window.Stripe = function (publishableKey) {
    window.kassaStripeCall("Stripe", [publishableKey]);
    return {
      confirmCashappPayment: function (clientSecret, data) {
        return window.kassaStripeCall("confirmCashappPayment", [clientSecret, data])
          .then(function () {
            if (config.outcome === "reject") throw new Error("stub: lost the connection");
            if (config.outcome === "error") {
              return { error: { type: "card_error", message: config.message } };
            }
            var back = new URL(data.return_url);
            back.searchParams.set("payment_intent", clientSecret.split("_secret_")[0]);
            back.searchParams.set("payment_intent_client_secret", clientSecret);
            back.searchParams.set("redirect_status", config.redirectStatus);
            window.location.assign(back.href);
            return new Promise(function () {});
          });
      },
    };
  };
})();
"""

# <stripe-buy-button> as far as the page uses it: it checks its three attributes, shows
# whether they were right, and exposes what it got as window.kassaBuyButton.
BUY_BUTTON_STUB = """
customElements.define("stripe-buy-button", class extends HTMLElement {
  connectedCallback() {
    var got = {
      buyButtonId: this.getAttribute("buy-button-id"),
      publishableKey: this.getAttribute("publishable-key"),
      clientReferenceId: this.getAttribute("client-reference-id"),
    };
    var problems = [];
    if (!/^buy_btn_[A-Za-z0-9]+$/.test(got.buyButtonId || "")) problems.push("buy-button-id");
    if (!/^pk_(test|live)_\\w+$/.test(got.publishableKey || "")) problems.push("publishable-key");
    if (!/^ord_[0-9a-f]{24}$/.test(got.clientReferenceId || "")) {
      problems.push("client-reference-id");
    }
    window.kassaBuyButton = got;
    this.setAttribute("data-stub", problems.length ? "refused" : "ok");
    this.textContent = problems.length
      ? "Stub Buy Button refused: " + problems.join(", ")
      : "Stub Buy Button for " + got.clientReferenceId;
  }
});
"""


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": "sk_test_kassa",
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE,
        "STRIPE_API_BASE": stripe_standin,
    }


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """Content Security Policy complaints the page logs; the tests expect none."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


@pytest.fixture
def stripe_js(page: Page):
    """Serve the Stripe.js stub; returns (configure, calls): configure(outcome, ...) before
    the page loads, calls lists [name, args] as the page made them."""
    calls: list[list] = []
    config = {"outcome": "redirect", "redirectStatus": "succeeded", "message": ""}
    page.expose_function("kassaStripeCall", lambda name, args: calls.append([name, args]))
    page.route(
        STRIPE_JS,
        lambda route: route.fulfill(
            status=200,
            content_type="application/javascript",
            body=STRIPE_STUB % json.dumps(config),
        ),
    )

    def configure(outcome: str = "redirect", redirect_status: str = "succeeded", message=""):
        config.update(outcome=outcome, redirectStatus=redirect_status, message=message)

    return configure, calls


def api_open_order(base_url: str, key: str, **body) -> dict:
    response = requests.post(
        base_url + "/api/v1/create-payment-intent", json={"apiKey": key, **body}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def intent_of(base_url: str, key: str, order_id: str) -> str:
    response = requests.get(
        f"{base_url}/api/v1/orders/{order_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return response.json()["stripePaymentIntentId"]


def test_pay_button_confirms_once_and_the_page_believes_stripe_not_the_return(
    page: Page, live_server, api_key, stripe_js, stripe_client, csp_violations
):
    configure, calls = stripe_js
    # The customer's Cash App says it failed; the stand-in, which Kassa asks, says it paid.
    configure("redirect", redirect_status="failed")
    order = api_open_order(live_server.url, api_key, externalId="JS-1", amount=10)
    page.goto(order["checkoutUrl"])
    button = page.get_by_role("button", name="Pay $10.00 with Cash App Pay")
    expect(button).to_be_enabled()

    intent_id = intent_of(live_server.url, api_key, order["orderId"])
    secret = stripe_client.v1.payment_intents.retrieve(intent_id).client_secret
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    button.dblclick()

    page.wait_for_url(re.compile(r"redirect_status=failed"))
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    back = parse_qs(urlsplit(page.url).query)
    assert back["payment_intent"] == [intent_id]
    assert back["payment_intent_client_secret"] == [secret]
    return_url = f"{live_server.url}/checkout?orderId={order['orderId']}"
    assert calls == [
        ["Stripe", [PUBLISHABLE]],
        [
            "confirmCashappPayment",
            [secret, {"payment_method": {"type": "cashapp"}, "return_url": return_url}],
        ],
    ]
    assert csp_violations == []


@pytest.mark.parametrize(
    ("card", "shown"),
    [(None, "Pay $5.00 with Cash App Pay"), ("4000000000000341", "Try again with Cash App Pay")],
)
def test_a_lying_redirect_status_never_shows_success(
    page: Page, live_server, api_key, stripe_js, stripe_client, card, shown
):
    configure, calls = stripe_js
    configure("redirect", redirect_status="succeeded")
    order = api_open_order(live_server.url, api_key, externalId="JS-2")
    page.goto(order["checkoutUrl"])
    if card:
        intent_id = intent_of(live_server.url, api_key, order["orderId"])
        with pytest.raises(stripe.CardError):
            pay_with_card(stripe_client, intent_id, card)
    page.get_by_role("button", name="Pay $5.00 with Cash App Pay").click()

    page.wait_for_url(re.compile(r"redirect_status=succeeded"))
    expect(page.get_by_role("button", name=shown)).to_be_visible()
    expect(page.get_by_text("Payment received")).to_have_count(0)
    if card:
        expect(page.get_by_role("heading", name="Payment failed")).to_be_visible()
    assert [name for name, _ in calls] == ["Stripe", "confirmCashappPayment"]


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("reject", "Cash App Pay could not start. Nothing was charged."),
        ("error", "Your Cash App payment was declined."),
    ],
)
def test_a_failed_confirmation_shows_why_and_the_button_works_again(
    page: Page, live_server, api_key, stripe_js, csp_violations, outcome, message
):
    configure, calls = stripe_js
    configure(outcome, message="Your Cash App payment was declined.")
    order = api_open_order(live_server.url, api_key, externalId="JS-3")
    page.goto(order["checkoutUrl"])
    button = page.get_by_role("button", name="Pay $5.00 with Cash App Pay")
    button.click()

    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(button).to_be_enabled()
    expect(button).not_to_have_attribute("aria-busy", "true")
    assert page.url == order["checkoutUrl"]
    button.click()
    expect(page.get_by_role("alert")).to_contain_text(message)
    assert [name for name, _ in calls] == ["Stripe", *["confirmCashappPayment"] * 2]
    assert csp_violations == []


def test_stripe_js_that_does_not_load_is_explained(page: Page, live_server, api_key):
    page.route(STRIPE_JS, lambda route: route.abort("internetdisconnected"))
    order = api_open_order(live_server.url, api_key, externalId="JS-4")
    page.goto(order["checkoutUrl"])
    expect(page.get_by_role("alert")).to_contain_text("The payment form could not load.")
    expect(page.get_by_role("button", name="Pay $5.00 with Cash App Pay")).to_be_disabled()


def test_the_pay_button_names_the_amount_due_after_a_code_and_stripe_takes_it(
    page: Page, live_server, api_key, stripe_js, stripe_client
):
    made = requests.post(
        live_server.url + "/api/v1/discount-codes",
        json={"code": "TEN", "percentOff": 10},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    order = api_open_order(live_server.url, api_key, externalId="JS-5", amount=15)
    page.goto(order["checkoutUrl"])
    expect(page.locator("[data-pay-button]")).to_have_text("Pay $15.00 with Cash App Pay")
    expect(page.locator("[data-trust-footer]")).to_contain_text("Payments by Stripe")
    expect(page.get_by_text("Sandbox")).to_have_count(0)

    page.get_by_label("Discount code").fill("TEN")
    page.get_by_role("button", name="Apply code").click()
    expect(page.locator("[data-pay-button]")).to_have_text("Pay $13.50 with Cash App Pay")
    intent_id = intent_of(live_server.url, api_key, order["orderId"])
    assert stripe_client.v1.payment_intents.retrieve(intent_id).amount == 1350


def buy_button_order(make, base_url: str) -> dict:
    service_id = make.service(
        title="Pro", price="300", buy_button_id="buy_btn_1Xyz", stripe_payment_link_id="plink_1X"
    )
    key = make.provider(service_id=service_id, use_stripe_checkout=True).api_key
    return api_open_order(base_url, key, externalId="BB-1")


def test_buy_button_gets_its_id_key_and_the_order(page: Page, live_server, make, csp_violations):
    page.route(
        BUY_BUTTON_JS,
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=BUY_BUTTON_STUB
        ),
    )
    order = buy_button_order(make, live_server.url)
    page.goto(order["checkoutUrl"])
    element = page.locator("stripe-buy-button")
    expect(element).to_have_attribute("data-stub", "ok")
    expect(element).to_have_text(f"Stub Buy Button for {order['orderId']}")
    assert page.evaluate("window.kassaBuyButton") == {
        "buyButtonId": "buy_btn_1Xyz",
        "publishableKey": PUBLISHABLE,
        "clientReferenceId": order["orderId"],
    }
    expect(page.locator("[data-buy-button-error]")).to_be_hidden()
    assert csp_violations == []


def test_buy_button_script_that_does_not_load_is_explained(page: Page, live_server, make):
    page.route(BUY_BUTTON_JS, lambda route: route.abort("internetdisconnected"))
    order = buy_button_order(make, live_server.url)
    page.goto(order["checkoutUrl"])
    expect(page.get_by_role("alert")).to_contain_text("Stripe's payment button could not load.")


def test_polling_gives_up_after_a_while(page: Page, live_server, make):
    page.route(
        BUY_BUTTON_JS,
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=BUY_BUTTON_STUB
        ),
    )
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/checkout/status" in r.url else None)
    page.clock.install()
    order = buy_button_order(make, live_server.url)
    page.goto(order["checkoutUrl"])
    stopped = page.get_by_text("This page has stopped checking for updates.")
    expect(stopped).to_be_hidden()
    with page.expect_response("**/checkout/status?*"):
        page.clock.run_for(2500)
    # The answer's handler may not have set the next timer yet: then the page finds the
    # time up when it does, without another poll. Either way it stops and says so.
    page.clock.fast_forward("16:00")
    expect(stopped).to_be_visible()
    asked = len(polls)
    page.clock.run_for(60_000)
    page.wait_for_timeout(500)
    assert len(polls) == asked


def test_stripe_js_that_does_not_load_offers_a_reload(page: Page, live_server, api_key, stripe_js):
    failing = {"on": True}

    def serve(route):
        if failing["on"]:
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.route(STRIPE_JS, serve)  # checked first; falls back to the stub once it works again
    order = api_open_order(live_server.url, api_key, externalId="JS-5")
    page.goto(order["checkoutUrl"])
    reload = page.get_by_role("button", name="Reload")
    expect(reload).to_be_visible()
    failing["on"] = False
    reload.click()
    expect(page.get_by_role("button", name="Pay $5.00 with Cash App Pay")).to_be_enabled()
    expect(page.get_by_role("button", name="Reload")).to_have_count(0)


def test_a_buy_button_script_that_defines_nothing_is_explained_in_time(
    page: Page, live_server, make
):
    page.route(
        BUY_BUTTON_JS,
        lambda route: route.fulfill(status=200, content_type="application/javascript", body=""),
    )
    page.clock.install()
    order = buy_button_order(make, live_server.url)
    page.goto(order["checkoutUrl"])
    alert = page.locator("[data-buy-button-error]")
    expect(alert).to_be_hidden()
    page.clock.run_for(10_500)
    expect(alert).to_contain_text("Stripe's payment button could not load.")
    expect(alert.get_by_role("button", name="Reload")).to_be_visible()


def poll_times(page: Page, make, live_server, answer=None) -> tuple[list[float], callable]:
    """Open a Buy Button order with a fake clock; (the fake times polls were sent at, run_to)."""
    page.route(
        BUY_BUTTON_JS,
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=BUY_BUTTON_STUB
        ),
    )
    if answer is not None:
        page.route("**/checkout/status?*", answer)
    times: list[float] = []
    # Paused: the page's clock stands still while it loads, however long a busy machine
    # takes, so the first poll's time is the page's schedule, not the load's duration.
    page.clock.install(time=0)
    page.clock.pause_at(1)
    order = buy_button_order(make, live_server.url)
    page.goto(order["checkoutUrl"])
    page.on(
        "request",
        lambda r: (
            times.append(page.evaluate("Date.now()")) if "/checkout/status" in r.url else None
        ),
    )

    def run_to(seconds: float) -> None:
        """Advance the page's clock to a moment, letting each poll's answer arrive."""
        while (now := page.evaluate("Date.now()") / 1000) < seconds:
            step = min(0.5, seconds - now)
            page.clock.run_for(int(step * 1000))
            page.wait_for_timeout(30)

    return times, run_to


def gaps(times: list[float]) -> list[float]:
    return [(later - earlier) / 1000 for earlier, later in itertools.pairwise(times)]


def close_to(measured: list[float], expected: list[float]) -> bool:
    return len(measured) == len(expected) and all(
        wanted <= got <= wanted + 1.5 for got, wanted in zip(measured, expected, strict=True)
    )


def test_polling_backs_off_from_2_to_30_seconds(page: Page, live_server, make):
    polls, run_to = poll_times(page, make, live_server)
    run_to(100)
    started = polls and polls[0]
    assert 1.5 <= started / 1000 <= 3, polls
    # Each wait starts when the previous answer arrives: the clock moves in 0.5 s steps.
    assert close_to(gaps(polls)[:5], [4, 8, 16, 30, 30]), gaps(polls)


def test_a_throttled_poll_waits_as_long_as_it_is_told(page: Page, live_server, make):
    def throttled(route):
        route.fulfill(status=429, headers={"Retry-After": "20"}, body="{}")

    polls, run_to = poll_times(page, make, live_server, throttled)
    run_to(60)
    assert close_to(gaps(polls)[:2], [20, 20]), gaps(polls)


class TestLimitedLink:
    """A limited link's checkout keeps its use held while it is open, and for the customer
    who pressed pay (issue 17, item 2)."""

    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE,
            "STRIPE_API_BASE": stripe_standin,
            "LINK_FIRST_HOLD_SECONDS": 5,  # the first polls come after 2 s and 6 s
            "LINK_HOLD_SECONDS": 600,
        }

    @staticmethod
    def hold_of(app, order_id: str):
        from checkout.extensions import db
        from checkout.models import Order, utcnow

        with app.app_context():
            order = db.session.get(Order, order_id)
            return order.held_until - order.hold_started_at, order.held_until - utcnow()

    def test_the_open_page_keeps_its_hold_and_pressing_pay_keeps_it_to_the_end(
        self, page: Page, app, live_server, api_key, stripe_js, csp_violations
    ):
        configure, calls = stripe_js
        configure("error", message="Declined by the stub.")
        created = requests.post(
            live_server.url + "/api/v1/payment-links",
            json={"title": "Last tickets", "maxUses": 1},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        page.goto(created.json()["url"])
        page.get_by_role("button", name="Pay").click()
        order_id = parse_qs(urlsplit(page.url).query)["orderId"][0]
        expect(page.locator("[data-hold-hint]")).to_be_visible()
        page.wait_for_timeout(7000)  # past the first hold: the polls kept it
        held_for, left = self.hold_of(app, order_id)
        assert left.total_seconds() > 0 and held_for.total_seconds() > 5
        # The page tells the server without waiting for it (the customer is leaving), so
        # the stub's refusal can show first: wait for the server's answer to that request.
        with page.expect_response(lambda response: "paying=1" in response.url):
            page.get_by_role("button", name="Pay $5.00 with Cash App Pay").click()
        expect(page.get_by_role("alert")).to_contain_text("Declined by the stub.")
        held_for, _ = self.hold_of(app, order_id)
        assert held_for.total_seconds() == 600
        assert [name for name, _ in calls] == ["Stripe", "confirmCashappPayment"]
        assert csp_violations == []
