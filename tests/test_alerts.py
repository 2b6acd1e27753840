"""Operator alerts, each made to happen: an underpaid payment, a dispute, an endpoint that
keeps failing (and then takes its notifications), Stripe events left waiting; mailed to
ALERT_EMAIL and posted to ALERT_WEBHOOK_URL as Slack-compatible JSON, at most hourly."""

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update

from checkout import config, tasks
from checkout.extensions import db
from checkout.models import Notification, Provider, StripeEvent, utcnow
from tests.helpers import (
    UNREACHABLE_HOOK,
    api_new_order,
    api_open_order,
    bearer,
    pay_with_card,
    simulate,
)
from tests.stripe_faults import CASHAPP_UNACTIVATED
from tests.stripe_signing import (
    WEBHOOK_SECRET,
    event,
    payment_intent,
    post_event,
    run_event_task,
)
from tests.test_money_states import dispute


class ChatHook:
    """An operator's chat webhook in this process: keeps what it is sent; `failing` 500s."""

    def __init__(self):
        self.posts: list[dict] = []
        self.failing = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.failing:
                    self.send_response(500)
                else:
                    hook.posts.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat():
    hook = ChatHook()
    yield hook
    hook.close()


@pytest.fixture
def app_config(chat):
    return {
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ALERT_EMAIL": "ops@example.com",
        "ALERT_WEBHOOK_URL": chat.url,
    }


def cli(runner, *args) -> object:
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def alerts_of(runner, condition: str) -> list[dict]:
    return [row for row in cli(runner, "alerts", "list") if row["condition"] == condition]


def mails_of(runner, kind: str) -> list[dict]:
    return [row for row in cli(runner, "mail", "list") if row["kind"] == kind]


def test_an_underpaid_order_is_mailed_and_posted_once(client, runner, provider_key, chat):
    order = api_open_order(client, provider_key, amount=15).get_json()
    paid_less = payment_intent(order["orderId"], 1000, "succeeded", "pi_1")
    run_event_task(client, post_event(client, event("payment_intent.succeeded", paid_less)))
    [alert] = alerts_of(runner, "order_underpaid")
    assert alert["subject"] == order["orderId"] and alert["notified"] is True
    [mail] = mails_of(runner, "order_underpaid")
    assert (mail["to"], mail["subject"]) == ("ops@example.com", "An order was underpaid")
    cli(runner, "alerts", "check")  # posts what the worker's task would have
    [posted] = chat.posts
    assert "underpaid" in posted["text"] and order["orderId"] in posted["text"]
    cli(runner, "alerts", "check")
    assert len(chat.posts) == 1  # posted once


def test_a_dispute_opened_is_alerted(client, runner, provider_key):
    order = api_open_order(client, provider_key, amount=15).get_json()
    paid = payment_intent(order["orderId"], 1500, "succeeded", "pi_1")
    run_event_task(client, post_event(client, event("payment_intent.succeeded", paid)))
    assert alerts_of(runner, "dispute_opened") == []
    run_event_task(client, post_event(client, event("charge.dispute.created", dispute())))
    [alert] = alerts_of(runner, "dispute_opened")
    assert alert["subject"] == order["orderId"]
    assert len(mails_of(runner, "dispute_opened")) == 1


def test_an_endpoint_failing_for_an_hour_is_alerted_then_resolved(app, client, runner, make, chat):
    provider = make.provider(webhook_url=UNREACHABLE_HOOK)
    with app.app_context():
        slug = db.session.get(Provider, provider.id).slug
    refused = runner.invoke(args=["providers", "update", slug, "--contact-email", "dev@"])
    assert refused.exit_code != 0 and "--contact-email" in refused.output
    saved = cli(runner, "providers", "update", slug, "--contact-email", "dev@shop.example")
    assert saved["contactEmail"] == "dev@shop.example"
    order_id = api_new_order(client, provider.api_key, amount=5)
    simulate(client, order_id)
    with app.app_context():
        message = db.session.scalar(db.select(Notification.id))
        tasks.deliver_notification.call_local(message)  # unreachable: it fails, and waits
    assert cli(runner, "alerts", "check") == {"opened": 0, "resolved": 0}  # not an hour yet
    with app.app_context():
        db.session.execute(update(Notification).values(created_at=utcnow() - timedelta(minutes=61)))
        db.session.commit()
    assert cli(runner, "alerts", "check") == {"opened": 1, "resolved": 0}
    [alert] = alerts_of(runner, "endpoint_failing")
    assert UNREACHABLE_HOOK in alert["detail"] and alert["resolvedAt"] is None
    assert cli(runner, "alerts", "check") == {"opened": 0, "resolved": 0}  # still one alert

    # The provider points its endpoint somewhere that takes it, and it is delivered.
    [endpoint] = client.get("/api/v1/webhook-endpoints", headers=bearer(provider.api_key)).json[
        "data"
    ]
    client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        json={"url": chat.url},
        headers=bearer(provider.api_key),
    )
    with app.app_context():
        db.session.execute(update(Notification).values(next_attempt_at=utcnow()))
        db.session.commit()
        assert tasks.deliver_notification.call_local(message) == "delivered"
    assert cli(runner, "alerts", "check") == {"opened": 0, "resolved": 1}
    subjects = [mail["subject"] for mail in mails_of(runner, "endpoint_failing")]
    assert sorted(subjects) == [
        "A provider's webhook endpoint keeps failing",
        "Resolved: A provider's webhook endpoint keeps failing",
    ]
    texts = [post["text"] for post in chat.posts if "text" in post]
    assert any(text.startswith("✅ Kassa: Resolved:") for text in texts)
    # The provider's contact address heard of it too, and that it cleared.
    told = mails_of(runner, "provider_endpoint_failing")
    assert {mail["to"] for mail in told} == {"dev@shop.example"}
    assert sorted(mail["subject"] for mail in told) == [
        "Your webhook endpoint keeps failing",
        "Your webhook endpoint takes notifications again",
    ]


def test_stripe_events_waiting_too_long_and_a_failing_hook_posted_again(
    app, client, runner, provider_key, chat
):
    order = api_open_order(client, provider_key, amount=15).get_json()
    paid = payment_intent(order["orderId"], 1500, "succeeded", "pi_1")
    response = post_event(client, event("payment_intent.succeeded", paid))
    with app.app_context():
        db.session.execute(update(StripeEvent).values(received_at=utcnow() - timedelta(minutes=16)))
        db.session.commit()
    chat.failing = True
    assert cli(runner, "alerts", "check")["opened"] == 1
    [alert] = alerts_of(runner, "stripe_events_waiting")
    assert "1 Stripe event(s) have waited over 15 minutes" in alert["detail"]
    assert chat.posts == []
    chat.failing = False
    cli(runner, "alerts", "check")  # the post that failed goes again
    assert [post["text"].startswith("⚠️") for post in chat.posts] == [True]
    assert run_event_task(client, response) == "applied"
    assert cli(runner, "alerts", "check")["resolved"] == 1


def test_a_condition_back_within_the_hour_is_recorded_but_not_mailed_again(
    app, client, runner, provider_key
):
    def stale_event(event_id: str):
        order = api_open_order(client, provider_key, amount=15).get_json()
        paid = payment_intent(order["orderId"], 1500, "succeeded", f"pi_{event_id}")
        response = post_event(client, event("payment_intent.succeeded", paid, event_id))
        with app.app_context():
            db.session.execute(
                update(StripeEvent)
                .where(StripeEvent.id == event_id)
                .values(received_at=utcnow() - timedelta(minutes=16))
            )
            db.session.commit()
        return response

    first = stale_event("evt_1")
    cli(runner, "alerts", "check")
    run_event_task(client, first)
    cli(runner, "alerts", "check")  # resolved
    stale_event("evt_2")
    cli(runner, "alerts", "check")  # back within the hour
    rows = alerts_of(runner, "stripe_events_waiting")
    assert [row["notified"] for row in rows] == [False, True]  # newest first
    subjects = [mail["subject"] for mail in mails_of(runner, "stripe_events_waiting")]
    assert sorted(subjects) == [
        "Resolved: Stripe events are waiting to be applied",
        "Stripe events are waiting to be applied",
    ]


class TestWithoutAlertSettings:
    @pytest.fixture
    def app_config(self):
        return {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}

    def test_alerts_are_recorded_and_nothing_is_sent(self, client, runner, provider_key):
        order = api_open_order(client, provider_key, amount=15).get_json()
        paid_less = payment_intent(order["orderId"], 1000, "succeeded", "pi_1")
        run_event_task(client, post_event(client, event("payment_intent.succeeded", paid_less)))
        assert len(alerts_of(runner, "order_underpaid")) == 1
        assert cli(runner, "mail", "list") == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ALERT_EMAIL", "ops", "ALERT_EMAIL is 'ops': give an e-mail address"),
        ("ALERT_WEBHOOK_URL", "hooks.slack.com/x", "ALERT_WEBHOOK_URL must be an http(s) URL"),
        ("ALERT_ENDPOINT_FAILING_MINUTES", "soon", "ALERT_ENDPOINT_FAILING_MINUTES is 'soon'"),
    ],
)
def test_malformed_alert_settings_are_refused(name, value, message):
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.operations_settings({name: value})


class TestWithStripe:
    """The real SDK against the stand-in: Stripe refusing Cash App Pay, and a payment no
    webhook told Kassa of, found by reconciliation."""

    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
            "ALERT_EMAIL": "ops@example.com",
        }

    def test_stripe_refusing_cash_app_is_alerted_once(self, client, runner, api_key, stripe_faults):
        order_id = api_new_order(client, api_key, externalId="C-1")
        stripe_faults.add("/v1/payment_intents", 400, CASHAPP_UNACTIVATED)
        assert client.get(f"/checkout?orderId={order_id}").status_code == 503
        assert api_open_order(client, api_key, externalId="C-2").status_code == 400
        [alert] = alerts_of(runner, "cashapp_refused")
        assert "Cash App" in alert["detail"]
        assert len(mails_of(runner, "cashapp_refused")) == 1

    def test_a_payment_only_reconciliation_found_is_alerted(
        self, client, runner, api_key, stripe_client
    ):
        order_id = api_new_order(client, api_key, externalId="R-1", amount=25)
        page = client.get(f"/checkout?orderId={order_id}").text
        intent_id = re.search(r'data-client-secret="(pi_[A-Za-z0-9]+)_secret_', page)[1]
        pay_with_card(stripe_client, intent_id, "4242424242424242")  # no webhook comes
        assert cli(runner, "reconcile", "--older-than", "0")["checked"] == 1
        [alert] = alerts_of(runner, "payment_found_by_reconciliation")
        assert alert["subject"] == order_id
        [mail] = mails_of(runner, "payment_found_by_reconciliation")
        assert mail["subject"] == "Reconciliation found a payment the webhooks missed"
