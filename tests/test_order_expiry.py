"""Retention (finding 10): abandoned unpaid orders expire, old link views become daily counts."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_order_json,
    bearer,
    browser_at,
    create_link,
    order_from,
    pay_link,
    simulate,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, post_event, run_event_task

DAY = 86400


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def age(app, order_ids, seconds: int) -> None:
    """Move orders' opening time back, as if `seconds` had passed."""
    from checkout.extensions import db
    from checkout.models import Order

    with app.app_context():
        for order_id in order_ids:
            db.session.get(Order, order_id).created_at -= timedelta(seconds=seconds)
        db.session.commit()


def retire(runner) -> dict:
    """Run what the worker's minute sweep runs after requeueing, through the CLI."""
    result = runner.invoke(args=["retire-old", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def notifications_of(app, order_id: str) -> list[tuple[str, dict]]:
    """The outbox rows written for an order: event and body."""
    from checkout.extensions import db
    from checkout.models import Notification

    with app.app_context():
        rows = db.session.scalars(
            select(Notification).where(Notification.order_id == order_id)
        ).all()
        return [(row.event, json.loads(row.payload)) for row in rows]


def test_only_abandoned_unpaid_orders_expire(app, client, runner, provider_key):
    ids = {
        name: api_new_order(client, provider_key, externalId=name, amount=5)
        for name in ("pending", "failed", "processing", "paid", "fresh")
    }
    simulate(client, ids["failed"], "failed")
    simulate(client, ids["processing"], "processing")
    simulate(client, ids["paid"])
    age(app, [ids[name] for name in ids if name != "fresh"], DAY + 1)
    age(app, [ids["fresh"]], DAY - 60)
    assert retire(runner)["expiredOrders"] == 2
    status = {name: api_order_json(client, provider_key, ids[name])["status"] for name in ids}
    assert status == {
        "pending": "expired",
        "failed": "expired",
        "processing": "processing",
        "paid": "paid",
        "fresh": "pending",
    }
    assert retire(runner)["expiredOrders"] == 0
    listed = client.get("/api/v1/orders?status=expired", headers=bearer(provider_key)).get_json()
    assert sorted(row["orderId"] for row in listed["data"]) == sorted(
        [ids["pending"], ids["failed"]]
    )


def test_the_worker_minute_sweep_expires_orders(app, client, api_key):
    from checkout import tasks

    order_id = api_new_order(client, api_key, externalId="EXT-0", amount=5)
    age(app, [order_id], DAY + 1)
    with app.app_context():
        tasks.retire_old_rows.call_local()
    assert api_order_json(client, api_key, order_id)["status"] == "expired"


def test_only_orders_a_provider_opened_by_api_notify_their_expiry(
    app, client, admin_client, runner, make
):
    service_id = make.service()
    provider = make.provider(service_id=service_id, webhook_url=UNREACHABLE_HOOK)
    provider_id, key = provider.id, provider.api_key
    by_api = api_new_order(client, key, externalId="EXT-1", amount=5)
    with_provider = create_link(admin_client, service_id, provider_id=provider_id)
    without_provider = create_link(admin_client, service_id)
    customer = app.test_client()
    links = (with_provider, without_provider)
    from_links = [order_from(pay_link(customer, link)) for link in links]
    age(app, [by_api, *from_links], DAY + 1)
    assert retire(runner)["expiredOrders"] == 3
    [(name, body)] = notifications_of(app, by_api)
    # Written in the transaction that expired the order: the body shows it expired.
    assert name == "order_expired"
    assert body["event"] == "order_expired" and body["status"] == "expired"
    assert body["orderId"] == by_api and body["externalId"] == "EXT-1"
    assert all(notifications_of(app, order_id) == [] for order_id in from_links)
    page = admin_client.get(f"/admin/orders/{by_api}").text
    assert "order_expired" in page and "pending → expired (left unpaid)" in page


def test_an_expired_checkout_says_so_and_takes_no_payment(app, client, runner, api_key):
    order_id = api_new_order(client, api_key, externalId="EXT-2", amount=5)
    customer = app.test_client()
    assert "Simulate success" in customer.get(f"/checkout?orderId={order_id}").text
    age(app, [order_id], DAY + 1)
    retire(runner)
    page = customer.get(f"/checkout?orderId={order_id}")
    assert page.status_code == 410
    assert "Order expired" in page.text and "can no longer be paid" in page.text
    assert "Simulate" not in page.text
    poll = customer.get(f"/checkout/status?orderId={order_id}").get_json()
    assert poll == {"orderId": order_id, "status": "expired", "final": True, "held": False}


def test_a_payment_stripe_reports_after_expiry_is_recorded(app, client, runner, provider_key):
    order_id = api_new_order(client, provider_key, externalId="EXT-3", amount=15)
    age(app, [order_id], DAY + 1)
    retire(runner)
    succeeded = event(
        "payment_intent.succeeded", payment_intent(order_id, 1500, "succeeded", "pi_late")
    )
    assert run_event_task(client, post_event(client, succeeded)) == "applied"
    body = api_order_json(client, provider_key, order_id)
    assert body["status"] == "paid" and body["paidAmount"] == body["amount"]
    assert [name for name, _ in notifications_of(app, order_id)] == [
        "order_expired",
        "payment_succeeded",
    ]


def test_a_failure_reported_after_expiry_changes_nothing(app, client, runner, provider_key):
    order_id = api_new_order(client, provider_key, externalId="EXT-4", amount=15)
    age(app, [order_id], DAY + 1)
    retire(runner)
    failed = event(
        "payment_intent.payment_failed",
        payment_intent(order_id, 1500, "requires_payment_method", "pi_gone"),
    )
    run_event_task(client, post_event(client, failed))
    assert api_order_json(client, provider_key, order_id)["status"] == "expired"


def test_admin_filters_orders_by_expired(app, client, admin_client, runner, api_key):
    old = api_new_order(client, api_key, externalId="EXT-5", amount=5)
    fresh = api_new_order(client, api_key, externalId="EXT-6", amount=5)
    age(app, [old], DAY + 1)
    retire(runner)
    page = admin_client.get("/admin/orders?status=expired").text
    assert old in page and fresh not in page
    assert '<option value="expired">' in admin_client.get("/admin/orders").text


class TestConfiguredExpiry:
    @pytest.fixture
    def app_config(self):
        return {"ORDER_EXPIRY_SECONDS": 3600}

    def test_orders_expire_after_order_expiry_seconds(self, app, client, runner, api_key):
        order_id = api_new_order(client, api_key, externalId="EXT-7", amount=5)
        age(app, [order_id], 3500)
        assert retire(runner)["expiredOrders"] == 0
        age(app, [order_id], 101)
        assert retire(runner)["expiredOrders"] == 1


# Link views: kept one by one for the analytics window, then as daily counts.


def link_numbers(admin_client, link_id: str) -> dict:
    """The totals and day rows the admin's link page shows, the links list and dashboard."""
    page = admin_client.get(f"/admin/links/{link_id}").text
    numbers = dict(re.findall(r'data-stat="(\w+)">([^<]+)<', page))
    numbers["days"] = re.findall(r'data-day="[^"]+" data-views="\d+"', page)
    listing = admin_client.get("/admin/links").text
    numbers["listed"] = re.findall(rf"{link_id}.*?</tr>", listing, re.S)[0]
    dashboard = admin_client.get("/admin/").text
    numbers["dashboard"] = re.search(r'data-links-total="views">([^<]+)<', dashboard)[1]
    return numbers


def view(app, link_id: str, browser, days_ago: int) -> None:
    """Open the link in this browser as if `days_ago` days ago."""
    from checkout.extensions import db
    from checkout.models import LinkView

    assert browser.get(f"/l/{link_id}").status_code == 200
    with app.app_context():
        latest = db.session.scalar(select(LinkView).order_by(LinkView.id.desc()).limit(1))
        latest.day -= timedelta(days=days_ago)
        db.session.commit()


def test_old_link_views_become_daily_counts_with_the_same_totals(
    app, client, admin_client, runner, make
):
    from checkout.extensions import db
    from checkout.models import LinkView, LinkViewDay

    service_id = make.service()
    link_id = create_link(admin_client, service_id)
    other_link = create_link(admin_client, service_id)
    alice, bob, carol, dan = (browser_at(app, f"203.0.113.{n}") for n in range(1, 5))
    visits = [
        (alice, 45),
        (alice, 40),
        (alice, 0),  # Alice still comes: counted once, by her kept view
        (bob, 40),
        (bob, 40),
        (carol, 31),
        (carol, 29),  # inside the 30-day window
        (dan, 1),
    ]
    for browser, days_ago in visits:
        view(app, link_id, browser, days_ago)
    view(app, other_link, alice, 50)
    before = link_numbers(admin_client, link_id)
    assert before["views"] == "8" and before["visitors"] == "4"

    assert retire(runner)["rolledUpViews"] == 6
    after = link_numbers(admin_client, link_id)
    assert after == before
    assert link_numbers(admin_client, other_link)["views"] == "1"
    cutoff = datetime.now(UTC).date() - timedelta(days=29)
    with app.app_context():
        old = db.session.scalar(
            select(func.count()).select_from(LinkView).where(LinkView.day < cutoff)
        )
        assert old == 0
        days = db.session.scalars(
            select(LinkViewDay).where(LinkViewDay.payment_link_id == link_id)
        ).all()
        rows = {
            (datetime.now(UTC).date() - row.day).days: (
                row.views,
                row.unique_visitors,
                row.last_seen_visitors,
            )
            for row in days
        }
    assert rows == {45: (1, 1, 0), 40: (3, 2, 1), 31: (1, 1, 0)}
    assert retire(runner)["rolledUpViews"] == 0
    assert link_numbers(admin_client, link_id) == before


def test_old_delivery_attempts_keep_their_outcome_but_not_their_bodies(
    app, client, admin_client, runner, make
):
    """After DELIVERY_LOG_DAYS the log keeps each attempt's time, status and error, not
    what was sent or answered; the notification keeps its body, so it can be resent."""
    from checkout import tasks
    from checkout.extensions import db
    from checkout.models import DeliveryAttempt, Notification

    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    old_order, new_order = (api_new_order(client, key, amount=5) for _ in range(2))
    for order_id in (old_order, new_order):
        simulate(client, order_id)
    with app.app_context():
        messages = {
            order_id: db.session.scalar(
                select(Notification.id).where(Notification.order_id == order_id)
            )
            for order_id in (old_order, new_order)
        }
        for message in messages.values():
            tasks.deliver_notification.call_local(message)  # unreachable: an error logged
        attempt = db.session.scalar(
            select(DeliveryAttempt).where(DeliveryAttempt.notification_id == messages[old_order])
        )
        assert attempt.request_body and attempt.error
        attempt.attempted_at -= timedelta(days=91)
        db.session.commit()

    assert retire(runner)["forgottenAttemptBodies"] == 1
    assert retire(runner)["forgottenAttemptBodies"] == 0
    with app.app_context():
        attempts = {
            row.notification_id: row for row in db.session.scalars(select(DeliveryAttempt)).all()
        }
        old, new = attempts[messages[old_order]], attempts[messages[new_order]]
        assert (old.request_body, old.response_body) == ("", None)
        assert old.error and old.url == UNREACHABLE_HOOK
        assert new.request_body  # younger than 90 days: kept
        assert db.session.get(Notification, messages[old_order]).payload
    page = admin_client.get(f"/admin/deliveries/{messages[old_order]}")
    assert page.status_code == 200 and old.error.split(":")[0] in page.text


@pytest.mark.parametrize("app_config", [{"DELIVERY_LOG_DAYS": 0}])
def test_delivery_log_days_sets_how_long(app, client, runner, make):
    from checkout import tasks
    from checkout.extensions import db
    from checkout.models import Notification

    key = make.provider(webhook_url=UNREACHABLE_HOOK).api_key
    simulate(client, api_new_order(client, key, amount=5))
    with app.app_context():
        tasks.deliver_notification.call_local(db.session.scalar(select(Notification.id)))
    assert retire(runner)["forgottenAttemptBodies"] == 1
