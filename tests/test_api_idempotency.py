"""Idempotency-Key on the provider API's POSTs and PATCHes, as Stripe has it: a repeat gets
the first answer (Idempotent-Replayed: true) and runs nothing; the key with another body is
422, while its first request runs 409; server errors and refused callers are not kept; keys
are forgotten after IDEMPOTENCY_KEY_HOURS by the minute job (retire-old)."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.helpers import (
    api_new_order,
    api_order_json,
    api_paid_order,
    bearer,
    error_body,
    notified,
)
from tests.plugins.servers import wait_until
from tests.stripe_signing import WEBHOOK_SECRET


def keyed(api_key: str, idempotency_key: str) -> dict:
    return {**bearer(api_key), "Idempotency-Key": idempotency_key}


def open_order(client, api_key: str, idempotency_key: str, **body):
    return client.post(
        "/api/v1/create-payment-intent", json=body, headers=keyed(api_key, idempotency_key)
    )


def order_count(client, api_key: str) -> int:
    return len(client.get("/api/v1/orders", headers=bearer(api_key)).get_json()["data"])


def kept_keys(app) -> list[tuple[int | None, bool]]:
    """The idempotency keys in the database: (answer's status, still held) of each."""
    from checkout.extensions import db
    from checkout.records import IdempotencyKey

    with app.app_context():
        rows = db.session.scalars(sa.select(IdempotencyKey)).all()
        return [(row.response_status, row.locked_until is not None) for row in rows]


def age_keys(app, hours: float) -> None:
    from checkout.extensions import db
    from checkout.records import IdempotencyKey

    with app.app_context():
        for row in db.session.scalars(sa.select(IdempotencyKey)):
            row.created_at -= timedelta(hours=hours)
        db.session.commit()


def retire(runner) -> dict:
    result = runner.invoke(args=["retire-old", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


class TestCreatePaymentIntent:
    def test_a_repeat_gets_the_first_answer_and_opens_nothing(self, app, client, api_key):
        first = open_order(client, api_key, "open-1", amount=5)
        again = open_order(client, api_key, "open-1", amount=5)
        assert first.status_code == again.status_code == 200
        assert "Idempotent-Replayed" not in first.headers
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        assert again.headers["Content-Type"] == "application/json"
        assert order_count(client, api_key) == 1
        assert kept_keys(app) == [(200, False)]

    def test_the_key_with_another_body_is_422_and_opens_nothing(self, client, api_key):
        assert open_order(client, api_key, "open-2", amount=5).status_code == 200
        reused = open_order(client, api_key, "open-2", amount=10)
        assert reused.status_code == 422
        assert reused.get_json() == error_body(
            "This Idempotency-Key was sent before with another body: use a new key for "
            "another request",
            "idempotency_key_reused",
        )
        assert order_count(client, api_key) == 1

    def test_another_api_keys_same_key_is_its_own(self, app, client, make):
        from checkout import audit, credentials
        from checkout.extensions import db
        from checkout.models import Provider

        provider = make.provider()
        with app.app_context():
            owner = db.session.get(Provider, provider.id)
            _, second_key = credentials.issue_key(owner, "second", actor=audit.SYSTEM)
        stranger = make.provider(make.service(slug="other"), name="Stranger").api_key
        answers = [
            open_order(client, key, "shared", amount=5)
            for key in (provider.api_key, second_key, stranger)
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert not any("Idempotent-Replayed" in answer.headers for answer in answers)
        assert len({answer.get_json()["orderId"] for answer in answers}) == 3
        assert order_count(client, provider.api_key) == 2

    def test_the_same_key_on_another_path_is_its_own(self, client, api_key):
        assert open_order(client, api_key, "one-key", amount=5).status_code == 200
        link = client.post("/api/v1/payment-links", json={}, headers=keyed(api_key, "one-key"))
        assert link.status_code == 201 and "Idempotent-Replayed" not in link.headers

    def test_without_the_header_nothing_is_kept(self, app, client, api_key):
        api_new_order(client, api_key, amount=5)
        api_new_order(client, api_key, amount=5)
        assert order_count(client, api_key) == 2
        assert kept_keys(app) == []

    def test_externalid_keeps_its_meaning(self, client, api_key):
        first = open_order(client, api_key, "ext-a", externalId="E-1", amount=5)
        second = open_order(client, api_key, "ext-b", externalId="E-1", amount=5)
        assert "Idempotent-Replayed" not in second.headers
        assert second.get_json()["orderId"] == first.get_json()["orderId"]
        taken = open_order(client, api_key, "ext-c", externalId="E-1", amount=10)
        assert taken.status_code == 409 and taken.get_json()["code"] == "external_id_taken"

    @pytest.mark.parametrize("key", ["x" * 256, "tab\there", "", "bell\x07"])
    def test_a_malformed_key_is_400_and_opens_nothing(self, app, client, api_key, key):
        response = open_order(client, api_key, key, amount=5)
        assert response.status_code == 400
        assert response.get_json() == error_body(
            "Idempotency-Key must be 1 to 255 printable characters", "invalid_idempotency_key"
        )
        assert order_count(client, api_key) == 0
        assert kept_keys(app) == []

    def test_a_key_of_255_characters_is_taken(self, client, api_key):
        key = "k" * 255
        open_order(client, api_key, key, amount=5)
        assert open_order(client, api_key, key, amount=5).headers["Idempotent-Replayed"] == "true"


class TestWhatIsKept:
    def test_a_422_is_kept_and_replayed(self, app, client, api_key):
        headers = keyed(api_key, "bad-link")
        first = client.post("/api/v1/payment-links", json={"quantity": "two"}, headers=headers)
        assert first.status_code == 422 and first.get_json()["param"] == "quantity"
        again = client.post("/api/v1/payment-links", json={"quantity": "two"}, headers=headers)
        assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        fixed = client.post("/api/v1/payment-links", json={"quantity": 2}, headers=headers)
        assert fixed.get_json()["code"] == "idempotency_key_reused"
        assert kept_keys(app) == [(422, False)]

    def test_an_unknown_api_key_is_not_kept(self, app, client, api_key):
        refused = open_order(client, "kassa_wrong", "first-try", amount=5)
        assert refused.status_code == 401
        assert kept_keys(app) == []
        accepted = open_order(client, api_key, "first-try", amount=5)
        assert accepted.status_code == 200 and "Idempotent-Replayed" not in accepted.headers

    def test_a_missing_scope_is_not_kept(self, app, client, make):
        from checkout import audit, credentials
        from checkout.extensions import db
        from checkout.models import Provider

        provider = make.provider(key=False)
        with app.app_context():
            owner = db.session.get(Provider, provider.id)
            _, reader = credentials.issue_key(owner, "reader", ["orders:read"], actor=audit.SYSTEM)
        refused = open_order(client, reader, "no-scope", amount=5)
        assert refused.status_code == 403 and refused.get_json()["code"] == "scope_missing"
        assert kept_keys(app) == []


class TestPaymentLinks:
    def test_creating_a_link_twice_with_one_key_makes_one(self, client, api_key):
        body = {"title": "Credits", "quantity": 2}
        first = client.post("/api/v1/payment-links", json=body, headers=keyed(api_key, "l-1"))
        again = client.post("/api/v1/payment-links", json=body, headers=keyed(api_key, "l-1"))
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        links = client.get("/api/v1/payment-links", headers=bearer(api_key)).get_json()["data"]
        assert [link["id"] for link in links] == [first.get_json()["id"]]

    def test_a_repeated_patch_is_not_applied_again(self, client, api_key):
        created = client.post("/api/v1/payment-links", json={}, headers=bearer(api_key))
        url = f"/api/v1/payment-links/{created.get_json()['id']}"
        first = client.patch(url, json={"title": "A"}, headers=keyed(api_key, "p-1"))
        assert first.status_code == 200 and first.get_json()["title"] == "A"
        assert client.patch(url, json={"title": "B"}, headers=bearer(api_key)).status_code == 200
        again = client.patch(url, json={"title": "A"}, headers=keyed(api_key, "p-1"))
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == first.get_json()
        assert client.get(url, headers=bearer(api_key)).get_json()["title"] == "B"


def test_a_repeated_cancel_is_replayed(app, client, provider_key):
    order_id = api_new_order(client, provider_key, amount=5)
    url = f"/api/v1/orders/{order_id}/cancel"
    first = client.post(url, headers=keyed(provider_key, "c-1"))
    again = client.post(url, headers=keyed(provider_key, "c-1"))
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert notified(app, order_id) == ["payment_canceled"]
    with_body = client.post(url, json={}, headers=keyed(provider_key, "c-1"))
    assert with_body.get_json()["code"] == "idempotency_key_reused"


def test_a_refund_repeated_after_its_key_is_forgotten_is_still_one_refund(
    app, client, runner, provider_key
):
    order_id = api_paid_order(client, provider_key, "I-1", amount=50)
    url = f"/api/v1/orders/{order_id}/refunds"
    first = client.post(url, json={"amount": 5}, headers=keyed(provider_key, "refund-1"))
    assert first.status_code == 201
    age_keys(app, 25)
    assert retire(runner)["expiredIdempotencyKeys"] == 1
    again = client.post(url, json={"amount": 5}, headers=keyed(provider_key, "refund-1"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert api_order_json(client, provider_key, order_id)["refundedAmount"] == Decimal("5.00")


class TestExpiry:
    def test_the_minute_job_forgets_old_keys_and_the_key_runs_again(
        self, app, client, runner, api_key
    ):
        first = open_order(client, api_key, "day-old", amount=5)
        assert retire(runner)["expiredIdempotencyKeys"] == 0
        age_keys(app, 23.9)
        assert retire(runner)["expiredIdempotencyKeys"] == 0
        age_keys(app, 0.2)
        assert retire(runner)["expiredIdempotencyKeys"] == 1
        assert kept_keys(app) == []
        again = open_order(client, api_key, "day-old", amount=5)
        assert "Idempotent-Replayed" not in again.headers
        assert again.get_json()["orderId"] != first.get_json()["orderId"]
        assert order_count(client, api_key) == 2

    @pytest.mark.parametrize("app_config", [{"IDEMPOTENCY_KEY_HOURS": 1}])
    def test_idempotency_key_hours_sets_how_long(self, app, client, runner, api_key):
        open_order(client, api_key, "hour-old", amount=5)
        age_keys(app, 1.1)
        assert retire(runner)["expiredIdempotencyKeys"] == 1


class TestWhileTheFirstRuns:
    """The first request held inside the view, in its call to Stripe (a slow stand-in)."""

    @pytest.fixture
    def app_config(self, stripe_standin):
        return {
            "STRIPE_SECRET_KEY": "sk_test_kassa",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
            "STRIPE_API_BASE": stripe_standin,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def order_at_stripe(self, client, provider_key):
        """An order whose checkout page was opened, so it has a PaymentIntent: (id, PI id)."""
        order_id = api_new_order(client, provider_key, amount=15)
        client.get(f"/checkout?orderId={order_id}")
        intent_id = api_order_json(client, provider_key, order_id)["stripePaymentIntentId"]
        assert intent_id
        return order_id, intent_id

    def cancel_in_thread(self, app, provider_key, order_id, key) -> dict:
        """Start a cancel in a thread of its own; the dict gets its response."""
        answered = {}

        def run():
            answered["response"] = app.test_client().post(
                f"/api/v1/orders/{order_id}/cancel", headers=keyed(provider_key, key)
            )

        answered["thread"] = threading.Thread(target=run)
        answered["thread"].start()
        return answered

    def test_a_server_error_is_not_kept(self, client, provider_key, stripe_faults, order_at_stripe):
        order_id, intent_id = order_at_stripe
        stripe_faults.add(f"/v1/payment_intents/{intent_id}/cancel", 500, replay=False)
        url = f"/api/v1/orders/{order_id}/cancel"
        failed = client.post(url, headers=keyed(provider_key, "retry-me"))
        assert failed.status_code == 502 and failed.get_json()["code"] == "stripe_unavailable"
        retried = client.post(url, headers=keyed(provider_key, "retry-me"))
        assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
        assert retried.get_json()["status"] == "canceled"
        again = client.post(url, headers=keyed(provider_key, "retry-me"))
        assert again.headers["Idempotent-Replayed"] == "true"

    def test_a_key_in_flight_is_409(
        self, app, client, provider_key, stripe_faults, order_at_stripe
    ):
        order_id, intent_id = order_at_stripe
        stripe_faults.add(f"/v1/payment_intents/{intent_id}/cancel", 500, replay=False, delay=3)
        first = self.cancel_in_thread(app, provider_key, order_id, "slow")
        wait_until(stripe_faults.answered, timeout=10, interval=0.05)  # it is at Stripe
        url = f"/api/v1/orders/{order_id}/cancel"
        meanwhile = client.post(url, headers=keyed(provider_key, "slow"))
        assert meanwhile.status_code == 409
        assert meanwhile.get_json() == error_body(
            "A request with this Idempotency-Key is still running: retry once it has answered",
            "idempotency_key_in_flight",
        )
        other_body = client.post(url, json={}, headers=keyed(provider_key, "slow"))
        assert other_body.get_json()["code"] == "idempotency_key_reused"
        assert kept_keys(app) == [(None, True)]
        first["thread"].join(10)
        assert first["response"].status_code == 502
        assert kept_keys(app) == []
        retried = client.post(url, headers=keyed(provider_key, "slow"))
        assert retried.status_code == 200 and retried.get_json()["status"] == "canceled"

    def test_a_key_held_past_its_lease_is_taken_over(
        self, app, client, provider_key, stripe_faults, order_at_stripe
    ):
        from checkout.extensions import db
        from checkout.records import IdempotencyKey

        order_id, intent_id = order_at_stripe
        stripe_faults.add(f"/v1/payment_intents/{intent_id}/cancel", 500, replay=False, delay=3)
        first = self.cancel_in_thread(app, provider_key, order_id, "stuck")
        wait_until(stripe_faults.answered, timeout=10, interval=0.05)
        with app.app_context():  # as if its process had died a minute ago
            held = db.session.scalars(sa.select(IdempotencyKey)).one()
            held.locked_until -= timedelta(seconds=61)
            db.session.commit()
        url = f"/api/v1/orders/{order_id}/cancel"
        taken = client.post(url, headers=keyed(provider_key, "stuck"))
        assert taken.status_code == 200 and "Idempotent-Replayed" not in taken.headers
        first["thread"].join(10)
        assert first["response"].status_code == 502
        assert kept_keys(app) == [(200, False)]  # the late failure neither freed nor replaced it
        again = client.post(url, headers=keyed(provider_key, "stuck"))
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == taken.get_json()
