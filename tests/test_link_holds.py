"""Holds on a limited payment link: short, one per client, ended by a failure (finding 2).

Before, three unpaid Pays from one stranger held every use of a `maxUses: 3` link for 30
minutes, and could be repeated forever.
"""

import re
import threading
from datetime import timedelta

import pytest
import requests

from tests.helpers import create_link, csrf_token, order_from, pay_link, simulate

STRANGER = "203.0.113.66"


@pytest.fixture
def service_id(make):
    return make.service(title="Premium Credits", price="5")


def customer(app, address: str):
    """A browser of its own, at its own client address."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def age(app, order_ids, seconds: int) -> None:
    """Move orders' opening time back, as if `seconds` had passed."""
    from checkout.extensions import db
    from checkout.models import Order

    with app.app_context():
        for order_id in order_ids:
            db.session.get(Order, order_id).created_at -= timedelta(seconds=seconds)
        db.session.commit()


def started(admin_client, link_id: str) -> int:
    """Orders opened from the link, as its admin page counts them."""
    page = admin_client.get(f"/admin/links/{link_id}").text
    return int(re.search(r'data-stat="started">(\d+)<', page)[1])


def test_one_stranger_paying_again_and_again_holds_one_use(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    stranger = customer(app, STRANGER)
    held = {order_from(pay_link(stranger, link_id)) for _ in range(3)}
    assert len(held) == 1  # the same order each time
    assert started(admin_client, link_id) == 1
    buyers = [customer(app, f"198.51.100.{number}") for number in (1, 2)]
    for buyer in buyers:
        simulate(buyer, order_from(pay_link(buyer, link_id)))
    assert started(admin_client, link_id) == 3
    # Two uses paid, one held by the stranger: a fourth customer waits for the hold.
    assert pay_link(customer(app, "198.51.100.3"), link_id).status_code == 409


def test_one_client_paying_at_the_same_moment_gets_one_order(admin_client, live_server, service_id):
    link_id = create_link(admin_client, service_id, max_uses="2")
    url = f"{live_server.url}/l/{link_id}"
    tabs = []
    for _ in range(6):  # six tabs of one browser, one address
        session = requests.Session()
        tabs.append((session, csrf_token(session.get(url, timeout=10).text)))
    barrier = threading.Barrier(len(tabs))
    answers = []

    def press_pay(session, token):
        barrier.wait()
        answers.append(
            session.post(
                url + "/pay", data={"csrf_token": token}, allow_redirects=False, timeout=30
            )
        )

    threads = [threading.Thread(target=press_pay, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len({order_from(answer) for answer in answers}) == 1
    assert started(admin_client, link_id) == 1


def test_three_clients_hold_three_uses_only_for_the_hold_time(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    held = [order_from(pay_link(customer(app, f"203.0.113.{n}"), link_id)) for n in (1, 2, 3)]
    buyer = customer(app, "198.51.100.9")
    refused = pay_link(buyer, link_id)
    assert refused.status_code == 409
    assert "being made right now" in refused.text
    age(app, held, 599)  # LINK_HOLD_SECONDS defaults to 600
    assert pay_link(buyer, link_id).status_code == 409
    age(app, held, 2)
    order_id = order_from(pay_link(buyer, link_id))
    assert simulate(buyer, order_id).status_code == 303
    assert 'data-status="paid"' in buyer.get(f"/checkout?orderId={order_id}").text


def test_a_failed_order_frees_its_hold_at_once(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="1")
    first = customer(app, "203.0.113.1")
    failing = order_from(pay_link(first, link_id))
    second = customer(app, "198.51.100.2")
    assert pay_link(second, link_id).status_code == 409
    simulate(first, failing, "failed")
    paying = order_from(pay_link(second, link_id))
    # The failed order's page no longer offers a use someone else holds.
    assert first.get(f"/checkout?orderId={failing}").status_code == 409
    simulate(second, paying)
    assert first.get(f"/checkout?orderId={failing}").status_code == 410


def test_a_payment_under_way_keeps_its_hold_past_the_hold_time(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="1")
    first = customer(app, "203.0.113.1")
    order_id = order_from(pay_link(first, link_id))
    simulate(first, order_id, "processing")
    age(app, [order_id], 3600)
    assert pay_link(customer(app, "198.51.100.2"), link_id).status_code == 409


def test_an_order_whose_hold_ran_out_waits_while_others_hold_the_uses(
    admin_client, app, service_id
):
    link_id = create_link(admin_client, service_id, max_uses="1")
    slow = customer(app, "203.0.113.1")
    stale = order_from(pay_link(slow, link_id))
    age(app, [stale], 601)
    assert slow.get(f"/checkout?orderId={stale}").status_code == 200  # the use is still free
    other = customer(app, "198.51.100.2")
    taken = order_from(pay_link(other, link_id))
    page = slow.get(f"/checkout?orderId={stale}")
    assert page.status_code == 409 and "Simulate" not in page.text
    simulate(other, taken, "failed")
    assert slow.get(f"/checkout?orderId={stale}").status_code == 200


def test_paying_again_changes_the_held_orders_quantity(admin_client, app, service_id):
    link_id = create_link(
        admin_client,
        service_id,
        max_uses="2",
        adjustable_quantity="y",
        min_quantity="1",
        max_quantity="5",
    )
    buyer = customer(app, "198.51.100.4")
    first = order_from(pay_link(buyer, link_id, quantity=2))
    again = order_from(pay_link(buyer, link_id, quantity=3))
    assert again == first
    page = buyer.get(f"/checkout?orderId={first}").text
    assert "<dd data-quantity>3</dd>" in page and "$15.00" in page
    assert started(admin_client, link_id) == 1


def test_addresses_of_one_ipv6_network_share_one_hold(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id, max_uses="3")
    orders = {
        order_from(pay_link(customer(app, f"2001:db8:1:2::{suffix}"), link_id))
        for suffix in ("1", "2", "abcd:ef01")
    }
    assert len(orders) == 1
    elsewhere = order_from(pay_link(customer(app, "2001:db8:1:3::1"), link_id))
    assert elsewhere not in orders


def test_unlimited_links_open_an_order_per_pay(admin_client, app, service_id):
    link_id = create_link(admin_client, service_id)
    buyer = customer(app, "198.51.100.5")
    assert order_from(pay_link(buyer, link_id)) != order_from(pay_link(buyer, link_id))


def test_no_client_address_is_stored(admin_client, app, service_id):
    from sqlalchemy import select

    from checkout.extensions import db
    from checkout.models import Order

    link_id = create_link(admin_client, service_id, max_uses="2")
    order_from(pay_link(customer(app, STRANGER), link_id))
    with app.app_context():
        stored = db.session.scalars(select(Order.client_hash)).all()
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{64}", stored[0])
    assert STRANGER not in stored[0]


class TestConfiguredHoldTime:
    @pytest.fixture
    def app_config(self):
        return {"LINK_HOLD_SECONDS": 60}

    def test_the_hold_lasts_link_hold_seconds(self, admin_client, app, service_id):
        link_id = create_link(admin_client, service_id, max_uses="1")
        held = order_from(pay_link(customer(app, STRANGER), link_id))
        buyer = customer(app, "198.51.100.6")
        assert pay_link(buyer, link_id).status_code == 409
        age(app, [held], 61)
        assert pay_link(buyer, link_id).status_code == 303


def test_hold_and_expiry_settings_come_from_the_environment():
    from checkout.config import load

    settings = load({"SECRET_KEY": "x", "LINK_HOLD_SECONDS": "120", "ORDER_EXPIRY_SECONDS": "7200"})
    assert settings["LINK_HOLD_SECONDS"] == 120
    assert settings["ORDER_EXPIRY_SECONDS"] == 7200
    defaults = load({"SECRET_KEY": "x"})
    assert (defaults["LINK_HOLD_SECONDS"], defaults["ORDER_EXPIRY_SECONDS"]) == (600, 86400)
