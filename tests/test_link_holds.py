"""Holds on a limited payment link (issue 17, items 2 and 3).

A hold starts only when the customer starts paying (the PaymentIntent is created, the Buy
Button page is opened, or the sandbox's first button pressed); it lasts
LINK_FIRST_HOLD_SECONDS unless the checkout page's status poll extends it, never past
LINK_HOLD_SECONDS, and one client address starts at most LINK_HOLDS_PER_CLIENT holds on a
link per LINK_HOLD_WINDOW_SECONDS. A hold belongs to one browser (a cookie) at one address.

Before, three addresses pressing Pay held every use of a `maxUses: 3` link, again every
LINK_HOLD_SECONDS, and a second browser behind the same address re-priced the first's order.
"""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.helpers import browser_at, create_link, csrf_token, order_from, pay_link, simulate

STRANGER = "203.0.113.66"
# Nothing listens here: a test that made Kassa call Stripe would fail.
NO_STRIPE = "http://127.0.0.1:9"


@pytest.fixture
def service_id(make):
    return make.service(title="Premium Credits", price="5")


def age(app, order_ids, seconds: int) -> None:
    """Move orders' opening and hold times back, as if `seconds` had passed."""
    from checkout.extensions import db
    from checkout.models import Order

    with app.app_context():
        for order_id in order_ids:
            order = db.session.get(Order, order_id)
            order.created_at -= timedelta(seconds=seconds)
            if order.hold_started_at is not None:
                order.hold_started_at -= timedelta(seconds=seconds)
            if order.held_until is not None:
                order.held_until -= timedelta(seconds=seconds)
        db.session.commit()


def forget_hold_starts(app) -> None:
    """Let the hold window pass: the holds clients started are no longer counted."""
    from checkout.extensions import db
    from checkout.records import ThrottleHit

    with app.app_context():
        for hit in db.session.query(ThrottleHit).filter_by(bucket="link-hold"):
            hit.created_at -= timedelta(days=1)
        db.session.commit()


def held_until(app, order_id: str) -> datetime | None:
    from checkout.extensions import db
    from checkout.models import Order

    with app.app_context():
        return db.session.get(Order, order_id).held_until


def started(admin_client, link_id: str) -> int:
    """Orders opened from the link, as its admin page counts them."""
    page = admin_client.get(f"/admin/links/{link_id}").text
    return int(re.search(r'data-stat="started">(\d+)<', page)[1])


def frees_at(page: str) -> datetime:
    """The time the 409/429 page says a use may free up, from its <time datetime>."""
    shown = re.search(r'data-frees-at>.*?<time datetime="([^"]+)"', page, re.S)[1]
    return datetime.fromisoformat(shown.replace("Z", "+00:00")).replace(tzinfo=None)


def poll(browser, order_id: str) -> dict:
    """One status poll of the order's open checkout page."""
    return browser.get(f"/checkout/status?orderId={order_id}").get_json()


def amount_of(browser, order_id: str) -> str:
    return re.search(r"data-amount>([^<]+)<", browser.get(f"/checkout?orderId={order_id}").text)[1]


# Sandbox: opening an order holds nothing; the first button pressed takes the hold.


def test_pressing_pay_holds_nothing_until_the_customer_starts_paying(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    # The probe: three addresses press Pay on a maxUses: 3 link and stop there.
    idle = [order_from(pay_link(browser_at(app, f"127.0.0.{n}"), link_id)) for n in (1, 2, 3)]
    assert len(set(idle)) == 3
    buyer = browser_at(app, "127.0.0.9")
    order_id = order_from(pay_link(buyer, link_id))
    assert simulate(buyer, order_id).status_code == 303
    assert 'data-status="paid"' in buyer.get(f"/checkout?orderId={order_id}").text


def test_one_address_pressing_pay_again_and_again_opens_one_order(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    stranger = browser_at(app, STRANGER)
    assert len({order_from(pay_link(stranger, link_id)) for _ in range(3)}) == 1
    assert started(admin_client, link_id) == 1


def test_one_browser_paying_at_the_same_moment_gets_one_order(
    admin_client, live_server, service_id
):
    link_id = create_link(admin_client, service_id, max_uses="2")
    url = f"{live_server.url}/l/{link_id}"
    browser = requests.Session()
    token = csrf_token(browser.get(url, timeout=10).text)  # the page gives the browser its cookie
    tabs = []
    for _ in range(6):  # six tabs of that browser, one address
        tab = requests.Session()
        tab.cookies.update(browser.cookies)
        tabs.append(tab)
    barrier = threading.Barrier(len(tabs))
    answers = []

    def press_pay(tab):
        barrier.wait()
        answers.append(
            tab.post(url + "/pay", data={"csrf_token": token}, allow_redirects=False, timeout=30)
        )

    threads = [threading.Thread(target=press_pay, args=(tab,)) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len({order_from(answer) for answer in answers}) == 1
    assert started(admin_client, link_id) == 1


def test_a_payment_under_way_holds_past_the_hold_time_and_a_failure_frees_it(
    admin_client, app, service_id
):
    link_id = create_link(admin_client, service_id, max_uses="1")
    first = browser_at(app, "203.0.113.1")
    order_id = order_from(pay_link(first, link_id))
    simulate(first, order_id, "processing")
    age(app, [order_id], 3600)
    second = browser_at(app, "198.51.100.2")
    refused = pay_link(second, link_id)
    assert refused.status_code == 409
    assert "One frees up if a payment under way does not go through" in refused.text
    simulate(first, order_id, "failed")
    paying = order_from(pay_link(second, link_id))
    assert simulate(second, paying).status_code == 303
    # The failed order's page no longer offers the use someone else paid for.
    page = first.get(f"/checkout?orderId={order_id}")
    assert page.status_code == 410 and "Simulate" not in page.text


def test_sandbox_presses_sell_no_more_than_max_uses(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="1")
    first, second = browser_at(app, "203.0.113.1"), browser_at(app, "198.51.100.2")
    early = order_from(pay_link(first, link_id))
    token = csrf_token(first.get(f"/checkout?orderId={early}").text)  # its page is open
    late = order_from(pay_link(second, link_id))
    assert simulate(second, late, "processing").status_code == 303
    # The use is held by the payment under way: the open page's success button is refused.
    press = {"orderId": early, "outcome": "succeeded", "csrf_token": token}
    refused = first.post("/checkout/sandbox", data=press)
    assert refused.status_code == 409 and "being made right now" in refused.text
    simulate(second, late)
    assert first.get(f"/checkout?orderId={early}").status_code == 410


def test_unlimited_links_open_an_order_per_pay(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id)
    buyer = browser_at(app, "198.51.100.5")
    assert order_from(pay_link(buyer, link_id)) != order_from(pay_link(buyer, link_id))


# Item 3: a hold and an order belong to one browser at one address.


def quantity_link(admin_client, service_id) -> str:
    return create_link(
        admin_client,
        service_id,
        max_uses="3",
        adjustable_quantity="y",
        min_quantity="1",
        max_quantity="5",
    )


def test_two_browsers_behind_one_address_get_two_orders(admin_client, app, service_id):
    link_id = quantity_link(admin_client, service_id)
    first, second = browser_at(app, "192.0.2.10"), browser_at(app, "192.0.2.10")
    mine = order_from(pay_link(first, link_id, quantity=1))
    theirs = order_from(pay_link(second, link_id, quantity=5))
    assert theirs != mine
    assert amount_of(first, mine) == "$5.00"
    assert amount_of(second, theirs) == "$25.00"


def pay_without_browser_cookie(client, link_id: str, quantity: int):
    """Press Pay with the form's session but without the browser cookie the page gave."""
    token = csrf_token(client.get(f"/l/{link_id}").text)
    client.delete_cookie("kassa_visitor", path="/l/")
    return client.post(f"/l/{link_id}/pay", data={"csrf_token": token, "quantity": quantity})


def test_a_request_without_the_cookie_never_reprices_an_order(admin_client, app, service_id):
    link_id = quantity_link(admin_client, service_id)
    browser = browser_at(app, "192.0.2.10")
    mine = order_from(pay_link(browser, link_id, quantity=1))
    script = browser_at(app, "192.0.2.10")
    other = order_from(pay_without_browser_cookie(script, link_id, quantity=5))
    again = order_from(pay_without_browser_cookie(script, link_id, quantity=4))
    assert len({mine, other, again}) == 3
    assert amount_of(browser, mine) == "$5.00"


def test_paying_again_from_the_same_browser_changes_its_own_order(admin_client, app, service_id):
    link_id = quantity_link(admin_client, service_id)
    buyer = browser_at(app, "198.51.100.4")
    first = order_from(pay_link(buyer, link_id, quantity=2))
    again = order_from(pay_link(buyer, link_id, quantity=3))
    assert again == first
    page = buyer.get(f"/checkout?orderId={first}").text
    assert "<dd data-quantity>3</dd>" in page and "$15.00" in page
    assert started(admin_client, link_id) == 1


def test_a_pay_without_the_cookie_gives_the_browser_one(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    browser = browser_at(app, "198.51.100.4")
    first = pay_without_browser_cookie(browser, link_id, quantity=1)
    assert "kassa_visitor=" in first.headers["Set-Cookie"]  # flags: tests/test_fair_limits.py
    assert order_from(pay_link(browser, link_id)) == order_from(first)


def test_no_client_address_or_cookie_is_stored(admin_client, app, service_id):
    from sqlalchemy import select

    from checkout.extensions import db
    from checkout.models import Order

    link_id = create_link(admin_client, service_id, max_uses="2")
    browser = browser_at(app, STRANGER)
    order_from(pay_link(browser, link_id))
    cookie = browser.get_cookie("kassa_visitor", path="/l/").value
    with app.app_context():
        stored = db.session.execute(select(Order.client_hash, Order.browser_hash)).one()
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in stored)
    assert not any(STRANGER in value or cookie in value for value in stored)


# With Stripe: the Buy Button page takes the hold (no Stripe call is made for it).


class TestWithStripe:
    @pytest.fixture
    def app_config(self):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": NO_STRIPE,
        }

    @pytest.fixture
    def link_id(self, admin_client, make):
        service_id = make.service(
            title="Credits",
            price="5",
            slug="credits",
            buy_button_id="buy_btn_1Credits",
            stripe_payment_link_id="plink_1Credits",
        )
        provider_id = make.provider(service_id=service_id, use_stripe_checkout=True).id
        return create_link(admin_client, service_id, provider_id=provider_id, max_uses="3")

    def start_paying(self, app, address: str, link_id: str):
        """A customer presses Pay and the Buy Button page opens; their browser and order."""
        browser = browser_at(app, address)
        order_id = order_from(pay_link(browser, link_id))
        page = browser.get(f"/checkout?orderId={order_id}")
        assert page.status_code == 200 and "stripe-buy-button" in page.text, page.text
        return browser, order_id

    def test_three_addresses_cannot_keep_a_link_held(self, admin_client, app, link_id):
        """The probe's scenario 2: three addresses hold a maxUses: 3 link and renew."""
        hoarders = [self.start_paying(app, f"127.0.0.{n}", link_id) for n in (1, 2, 3)]
        waiting = browser_at(app, "127.0.0.9")
        refused = pay_link(waiting, link_id)
        assert refused.status_code == 409
        # The first hold ends LINK_FIRST_HOLD_SECONDS after it started, unless polled.
        first_end = held_until(app, hoarders[0][1])
        assert frees_at(refused.text) == first_end.replace(microsecond=0)
        assert timedelta(seconds=110) < first_end - datetime.now(UTC).replace(tzinfo=None)
        for round_number in (2, 3):
            age(app, [order_id for _, order_id in hoarders], 121)
            # Each hoarder opens its page again: a new hold, counted for its address.
            for browser, order_id in hoarders:
                assert browser.get(f"/checkout?orderId={order_id}").status_code == 200
            assert pay_link(waiting, link_id).status_code == 409, round_number
        age(app, [order_id for _, order_id in hoarders], 121)
        # A fourth hold in the hour is refused, and says when the address may start again.
        browser, order_id = hoarders[0]
        capped = browser.get(f"/checkout?orderId={order_id}")
        assert capped.status_code == 429
        assert 3000 < int(capped.headers["Retry-After"]) <= 3600
        assert "stripe-buy-button" not in capped.text
        assert frees_at(capped.text) > datetime.now(UTC).replace(tzinfo=None)
        # Meanwhile the customer who waited gets a use.
        self.start_paying(app, "127.0.0.9", link_id)

    def test_a_hold_lasts_the_first_hold_unless_the_page_polls(self, app, link_id):
        idle_browser, idle = self.start_paying(app, "127.0.0.1", link_id)
        open_browser, kept = self.start_paying(app, "127.0.0.2", link_id)
        self.start_paying(app, "127.0.0.3", link_id)
        for _ in range(4):  # the open page polls every 30 s at most; 100 s gaps still keep it
            age(app, [idle, kept], 100)
            assert poll(open_browser, kept)["held"] is True
        assert poll(idle_browser, idle)["held"] is False
        # The idle page's use went to the next customer, the open page's did not.
        self.start_paying(app, "127.0.0.4", link_id)
        assert pay_link(browser_at(app, "127.0.0.5"), link_id).status_code == 409

    def test_polls_extend_a_hold_up_to_link_hold_seconds(self, app, link_id):
        browser, order_id = self.start_paying(app, "127.0.0.1", link_id)
        page = browser.get(f"/checkout?orderId={order_id}").text
        assert "data-held" in page and "data-poll" in page and "data-hold-hint" in page
        for _ in range(5):
            age(app, [order_id], 100)
            assert poll(browser, order_id)["held"] is True
        age(app, [order_id], 100)  # 600 s after the hold started: polling keeps it no longer
        assert poll(browser, order_id)["held"] is False
        assert held_until(app, order_id) < datetime.now(UTC).replace(tzinfo=None)

    def test_pressing_pay_keeps_the_hold_to_link_hold_seconds(self, app, link_id):
        from checkout.extensions import db
        from checkout.models import Order

        browser, order_id = self.start_paying(app, "127.0.0.1", link_id)
        # The customer leaves for Stripe's page; theirs told Kassa first.
        browser.get(f"/checkout/status?orderId={order_id}&paying=1")
        with app.app_context():
            order = db.session.get(Order, order_id)
            assert order.held_until - order.hold_started_at == timedelta(seconds=600)
        age(app, [order_id], 590)  # no poll since
        assert poll(browser, order_id)["held"] is True
        age(app, [order_id], 11)
        assert poll(browser, order_id)["held"] is False

    def test_addresses_of_one_ipv6_network_count_their_holds_together(self, app, link_id):
        for suffix in ("1", "2", "abcd:ef01"):
            _, order_id = self.start_paying(app, f"2001:db8:1:2::{suffix}", link_id)
            age(app, [order_id], 121)
        # Opening an order is free…
        order_id = order_from(pay_link(browser_at(app, "2001:db8:1:2::99"), link_id))
        page = browser_at(app, "2001:db8:1:2::99").get(f"/checkout?orderId={order_id}")
        assert page.status_code == 429  # …but the /64 has started its three holds this hour
        self.start_paying(app, "2001:db8:1:3::1", link_id)  # another network has not
        forget_hold_starts(app)
        assert (
            browser_at(app, "2001:db8:1:2::99").get(f"/checkout?orderId={order_id}").status_code
            == 200
        )

    def test_a_page_whose_hold_ended_waits_while_others_hold_the_uses(self, app, link_id):
        slow_browser, slow = self.start_paying(app, "127.0.0.1", link_id)
        age(app, [slow], 121)
        others = [self.start_paying(app, f"127.0.0.{n}", link_id) for n in (2, 3, 4)]
        page = slow_browser.get(f"/checkout?orderId={slow}")
        assert page.status_code == 409 and "stripe-buy-button" not in page.text
        assert frees_at(page.text) == held_until(app, others[0][1]).replace(microsecond=0)


class TestConfiguredHoldTimes:
    @pytest.fixture
    def app_config(self):
        return {"LINK_FIRST_HOLD_SECONDS": 30, "LINK_HOLD_SECONDS": 60, "LINK_HOLDS_PER_CLIENT": 1}

    def test_the_settings_apply(self, admin_client, app, service_id):
        link_id = create_link(admin_client, service_id, max_uses="1")
        holder = browser_at(app, STRANGER)
        order_id = order_from(pay_link(holder, link_id))
        simulate(holder, order_id, "processing")
        simulate(holder, order_id, "failed")
        # One hold per address in the window: the failure freed it, but a second is refused.
        refused = simulate(holder, order_id)
        assert refused.status_code == 429 and refused.headers["Retry-After"]
        assert simulate(browser_at(app, "198.51.100.6"), order_id).status_code == 303


def test_hold_settings_come_from_the_environment():
    from checkout.config import ConfigError, load

    settings = load(
        {
            "SECRET_KEY": "x",
            "LINK_HOLD_SECONDS": "900",
            "LINK_FIRST_HOLD_SECONDS": "90",
            "LINK_HOLDS_PER_CLIENT": "5",
            "LINK_HOLD_WINDOW_SECONDS": "7200",
            "ORDER_EXPIRY_SECONDS": "7200",
        }
    )
    assert settings["LINK_HOLD_SECONDS"] == 900
    assert settings["LINK_FIRST_HOLD_SECONDS"] == 90
    assert settings["LINK_HOLDS_PER_CLIENT"] == 5
    assert settings["LINK_HOLD_WINDOW_SECONDS"] == 7200
    assert settings["ORDER_EXPIRY_SECONDS"] == 7200
    defaults = load({"SECRET_KEY": "x"})
    assert [
        defaults[name]
        for name in (
            "LINK_HOLD_SECONDS",
            "LINK_FIRST_HOLD_SECONDS",
            "LINK_HOLDS_PER_CLIENT",
            "LINK_HOLD_WINDOW_SECONDS",
            "ORDER_EXPIRY_SECONDS",
        )
    ] == [600, 120, 3, 3600, 86400]
    for bad in (
        {"LINK_FIRST_HOLD_SECONDS": "700"},
        {"LINK_HOLDS_PER_CLIENT": "0"},
        {"LINK_HOLD_WINDOW_SECONDS": "90000"},
        {"LINK_HOLD_SECONDS": "ten"},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load({"SECRET_KEY": "x", **bad})


# With Stripe: the Cash App PaymentIntent's creation takes the hold (against the stand-in).


class TestCashApp:
    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
        }

    def test_the_payment_intent_takes_the_hold_and_a_full_link_makes_none(
        self, admin_client, app, make
    ):
        from checkout.extensions import db
        from checkout.models import Order

        def intent_of(order_id: str) -> str | None:
            with app.app_context():
                return db.session.get(Order, order_id).stripe_payment_intent_id

        link_id = create_link(admin_client, make.service(price="5"), max_uses="1")
        first, second = browser_at(app, "127.0.0.1"), browser_at(app, "127.0.0.2")
        paying = order_from(pay_link(first, link_id))
        waiting = order_from(pay_link(second, link_id))  # neither holds the use yet
        page = first.get(f"/checkout?orderId={paying}")
        assert page.status_code == 200 and "data-cashapp-pay" in page.text
        assert intent_of(paying) is not None and held_until(app, paying) is not None
        assert "data-held" in page.text and "data-poll" in page.text
        refused = second.get(f"/checkout?orderId={waiting}")
        assert refused.status_code == 409 and "data-cashapp-pay" not in refused.text
        assert frees_at(refused.text) == held_until(app, paying).replace(microsecond=0)
        assert intent_of(waiting) is None  # Stripe was not asked for a payment that must wait
        age(app, [paying], 121)  # the first page stopped polling
        assert second.get(f"/checkout?orderId={waiting}").status_code == 200
        assert intent_of(waiting) is not None
        assert first.get(f"/checkout?orderId={paying}").status_code == 409
