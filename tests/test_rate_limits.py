"""Rate limits (Flask-Limiter) and real client addresses behind proxies (TRUSTED_PROXIES).

Issue 12, finding 1: one client could open 500 orders from a payment link in 19 s; finding 4:
behind a proxy every customer shared one address.
"""

import logging
import os
import re
import uuid

import pytest

from checkout import config
from checkout.config import ConfigError
from tests.helpers import api_open_order, bearer, create_link, csrf_token, link_stat, order_from

ALICE = {"REMOTE_ADDR": "198.51.100.7"}
BOB = {"REMOTE_ADDR": "198.51.100.8"}
BROWSER = {"User-Agent": "Mozilla/5.0 (test)"}


@pytest.fixture
def app_config():
    """The shipped limits, whatever the rest of the suite runs with."""
    return dict(config.DEFAULT_RATE_LIMITS)


@pytest.fixture
def service_id(make):
    return make.service(title="Premium Credits", price="5")


@pytest.fixture
def link_id(admin_client, service_id):
    return create_link(admin_client, service_id)


def press_pay(customer, link_id: str, times: int, **request) -> list:
    """Press Pay on a link `times` times with one form token; the responses."""
    token = csrf_token(customer.get(f"/l/{link_id}", **request).text)
    return [
        customer.post(f"/l/{link_id}/pay", data={"csrf_token": token}, **request)
        for _ in range(times)
    ]


def retry_after(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 3600
    return seconds


class TestDefaults:
    """On the shipped defaults (config.DEFAULT_RATE_LIMITS)."""

    def test_one_client_pressing_pay_is_stopped_after_ten(self, app, admin_client, link_id):
        customer = app.test_client()
        responses = press_pay(customer, link_id, 30, environ_base=ALICE)
        statuses = [response.status_code for response in responses]
        assert statuses == [303] * 10 + [429] * 20
        assert retry_after(responses[-1]) <= 61  # the minute, rounded up
        assert link_stat(admin_client, link_id, "started") == "10"

    def test_another_client_can_still_pay(self, app, admin_client, link_id):
        press_pay(app.test_client(), link_id, 11, environ_base=ALICE)
        other = press_pay(app.test_client(), link_id, 1, environ_base=BOB)
        assert order_from(other[0])
        assert link_stat(admin_client, link_id, "started") == "11"

    def test_a_browser_sees_a_page_that_says_when_to_try_again(self, app, link_id):
        limited = press_pay(app.test_client(), link_id, 11, environ_base=ALICE)[-1]
        assert limited.status_code == 429
        assert limited.mimetype == "text/html"
        assert limited.headers["Cache-Control"] == "no-store"
        seconds = retry_after(limited)
        assert "Too many attempts" in limited.text
        assert "Nothing was changed by the last one." in limited.text
        assert re.search(rf"Please wait {seconds} seconds?, then try again\.", limited.text)

    def test_the_status_poll_of_an_open_checkout_page_is_never_limited(self, client, api_key):
        order_id = api_open_order(client, api_key).get_json()["orderId"]
        # The page polls every 2 s for up to 15 minutes: 30 a minute.
        for _ in range(60):
            assert client.get(f"/checkout/status?orderId={order_id}").status_code == 200


class TestSmallLimits:
    @pytest.fixture
    def app_config(self, app_config):
        return {
            **app_config,
            # One client's limit in front, as a per-link limit must be out of its reach.
            "RATE_LIMIT_LINK_PAY": "1/minute",
            "RATE_LIMIT_LINK_PAY_PER_LINK": "3/minute",
            "RATE_LIMIT_CHECKOUT": "3/minute",
            "RATE_LIMIT_CHECKOUT_STATUS": "3/minute",
            "RATE_LIMIT_API": "3/minute",
            "RATE_LIMIT_API_UNAUTHENTICATED": "2/minute",
            "RATE_LIMIT_LOGIN": "6/minute",
            "RATE_LIMIT_LOGIN_ACCOUNT": "3/minute",
        }

    def test_one_link_takes_a_limited_number_of_pays_from_all_clients(
        self, app, admin_client, service_id, link_id
    ):
        addresses = [{"REMOTE_ADDR": f"203.0.113.{n}"} for n in range(1, 5)]
        statuses = [
            press_pay(app.test_client(), link_id, 1, environ_base=address)[0].status_code
            for address in addresses
        ]
        assert statuses == [303, 303, 303, 429]
        other_link = create_link(admin_client, service_id, title="Other")
        assert press_pay(app.test_client(), other_link, 1)[0].status_code == 303

    def test_the_provider_api_is_limited_per_key(self, client, make, api_key):
        other_key = make.provider(make.service(title="Gold"), name="Other").api_key
        statuses = [api_open_order(client, api_key).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = api_open_order(client, api_key)
        assert limited.status_code == 429
        assert limited.get_json()["error"].startswith("Too many requests: try again in ")
        retry_after(limited)
        listed = client.get("/api/v1/orders", headers=bearer(api_key))
        assert listed.status_code == 429
        assert api_open_order(client, other_key).status_code == 200
        assert len(client.get("/api/v1/orders", headers=bearer(other_key)).get_json()["data"]) == 1

    def test_the_api_key_may_come_in_the_body(self, client, api_key):
        statuses = [
            client.post("/api/v1/create-payment-intent", json={"apiKey": api_key}).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]

    def test_refused_keys_count_against_their_address(self, client, api_key):
        wrong = [api_open_order(client, f"kassa_wrong{n}").status_code for n in range(3)]
        assert wrong == [401, 401, 429]
        assert api_open_order(client, api_key).status_code == 429
        elsewhere = client.post(
            "/api/v1/create-payment-intent", json={}, headers=bearer(api_key), environ_base=BOB
        )
        assert elsewhere.status_code == 200

    def test_checkout_views_are_limited_per_client(self, client, api_key):
        order_id = api_open_order(client, api_key).get_json()["orderId"]
        url = f"/checkout?orderId={order_id}"
        assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert client.get(url, environ_base=BOB).status_code == 200
        status_url = f"/checkout/status?orderId={order_id}"
        assert [client.get(status_url).status_code for _ in range(4)] == [200, 200, 200, 429]

    def test_login_is_limited_per_account_and_client(self, app, make):
        make.admin("owner@example.com", "correct horse battery")
        intruder = app.test_client()

        def attempt(client, email, password="wrong password", **request):
            token = csrf_token(client.get("/admin/login", **request).text)
            data = {"email": email, "password": password, "csrf_token": token}
            return client.post("/admin/login", data=data, **request).status_code

        assert [attempt(intruder, "owner@example.com") for _ in range(4)] == [401] * 3 + [429]
        # Another spelling of the same address is the same account.
        assert attempt(intruder, " Owner@Example.com ") == 429
        assert attempt(intruder, "someone@example.com") == 401
        owner = app.test_client()
        assert attempt(owner, "owner@example.com", "correct horse battery", environ_base=BOB) == 302
        # Per client, whatever the e-mail: a few more addresses and the intruder is stopped.
        guesses = [attempt(intruder, f"guess{n}@example.com") for n in range(6)]
        assert 429 in guesses
        assert guesses[guesses.index(429) :] == [429] * (len(guesses) - guesses.index(429))
        assert intruder.get("/admin/login").status_code == 200

    def test_stripe_webhooks_and_health_checks_are_never_limited(self, client):
        for _ in range(10):
            assert client.post("/webhooks/stripe", data=b"{}").status_code != 429
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200


class TestSwitchedOff:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": False, "RATE_LIMIT_API": "1/hour"}

    def test_nothing_is_limited(self, client, api_key):
        assert {api_open_order(client, api_key).status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_LINK_PAY", "lots"),
        ("RATE_LIMIT_API", "10 per fortnight"),
        ("TRUSTED_PROXIES", "-1"),
        ("TRUSTED_PROXIES", "one"),
        ("RATE_LIMITS_ENABLED", "maybe"),
        ("STRIPE_REFRESH_SECONDS", "soon"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(name, value):
    with pytest.raises(ConfigError, match=name):
        config.load({**os.environ, name: value})


def test_settings_are_read_from_the_environment():
    settings = config.load({**os.environ, "RATE_LIMIT_API": "5/second", "TRUSTED_PROXIES": "2"})
    assert settings["RATE_LIMIT_API"] == "5/second"
    assert settings["TRUSTED_PROXIES"] == 2
    assert settings["RATELIMIT_ENABLED"] is True
    off = config.load({**os.environ, "RATE_LIMITS_ENABLED": "0"})
    assert off["RATELIMIT_ENABLED"] is False
    redis = config.load({**os.environ, "REDIS_URL": "redis://cache.internal:6379/3"})
    assert redis["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/3"
    memory = config.load({key: value for key, value in os.environ.items() if key != "REDIS_URL"})
    assert memory["RATELIMIT_STORAGE_URI"] == "memory://"


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
class TestRedisStorage:
    @pytest.fixture
    def app_config(self, app_config):
        # Its own prefix: counts from other runs in the same Redis database do not leak in.
        return {
            **app_config,
            "RATELIMIT_STORAGE_URI": os.environ["REDIS_URL"],
            "RATELIMIT_KEY_PREFIX": f"kassa-test-{uuid.uuid4().hex}",
            "RATE_LIMIT_API": "2/minute",
        }

    def test_counts_are_kept_in_redis(self, client, api_key):
        assert [api_open_order(client, api_key).status_code for _ in range(3)] == [200, 200, 429]


class TestBehindOneProxy:
    """TRUSTED_PROXIES=1: the address is the last X-Forwarded-For entry the proxy appended."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": 1}

    def test_visitors_are_counted_by_their_own_address(self, app, admin_client, link_id):
        browser = app.test_client()
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.2"):
            headers = {**BROWSER, "X-Forwarded-For": f"10.0.0.9, {address}"}
            assert browser.get(f"/l/{link_id}", headers=headers).status_code == 200
        assert link_stat(admin_client, link_id, "views") == "3"
        assert link_stat(admin_client, link_id, "visitors") == "2"

    def test_one_client_is_limited_and_the_next_is_not(self, app, admin_client, link_id, caplog):
        caplog.set_level(logging.INFO, logger="checkout")
        first = {"X-Forwarded-For": "192.0.2.1"}
        responses = press_pay(app.test_client(), link_id, 11, headers=first)
        assert responses[-1].status_code == 429
        assert f"reached by 192.0.2.1 on POST /l/{link_id}/pay" in caplog.text
        second = {"X-Forwarded-For": "192.0.2.2"}
        assert order_from(press_pay(app.test_client(), link_id, 1, headers=second)[0])

    def test_wrong_link_passwords_lock_out_only_their_client(self, app, admin_client, service_id):
        link_id = create_link(admin_client, service_id, password="open sesame")
        guesser = app.test_client()
        guessing = {"X-Forwarded-For": "192.0.2.66"}
        token = csrf_token(guesser.get(f"/l/{link_id}", headers=guessing).text)
        wrong = {"password": "not the password", "csrf_token": token}
        for _ in range(20):
            response = guesser.post(f"/l/{link_id}/unlock", data=wrong, headers=guessing)
            if response.status_code == 429:
                break
        assert response.status_code == 429

        customer = app.test_client()
        paying = {"X-Forwarded-For": "192.0.2.77"}
        token = csrf_token(customer.get(f"/l/{link_id}", headers=paying).text)
        right = {"password": "open sesame", "csrf_token": token}
        assert customer.post(f"/l/{link_id}/unlock", data=right, headers=paying).status_code == 303

    def test_the_scheme_comes_from_the_proxy_but_the_host_does_not(self, client, api_key):
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
        order_id = api_open_order(client, api_key).get_json()["orderId"]
        page = client.get(f"/checkout?orderId={order_id}", headers=headers)
        assert "evil.example" not in page.text


class TestWithoutTrustedProxies:
    """TRUSTED_PROXIES=0 (the default): X-Forwarded-For is ignored, so it changes nothing."""

    def test_forwarded_addresses_do_not_make_new_visitors(self, app, admin_client, link_id):
        browser = app.test_client()
        for address in ("192.0.2.1", "192.0.2.2"):
            headers = {**BROWSER, "X-Forwarded-For": address}
            browser.get(f"/l/{link_id}", headers=headers)
        assert link_stat(admin_client, link_id, "visitors") == "1"

    def test_forwarded_addresses_do_not_escape_the_limit(self, app, link_id):
        customer = app.test_client()
        token = csrf_token(customer.get(f"/l/{link_id}").text)
        statuses = [
            customer.post(
                f"/l/{link_id}/pay",
                data={"csrf_token": token},
                headers={"X-Forwarded-For": f"192.0.2.{n}"},
            ).status_code
            for n in range(11)
        ]
        assert statuses == [303] * 10 + [429]

    def test_a_forwarded_address_does_not_escape_a_password_lockout(
        self, app, admin_client, service_id
    ):
        link_id = create_link(admin_client, service_id, password="open sesame")
        guesser = app.test_client()
        token = csrf_token(guesser.get(f"/l/{link_id}").text)
        wrong = {"password": "not the password", "csrf_token": token}
        for n in range(20):
            response = guesser.post(
                f"/l/{link_id}/unlock", data=wrong, headers={"X-Forwarded-For": f"192.0.2.{n}"}
            )
            if response.status_code == 429:
                break
        assert response.status_code == 429
        right = {"password": "open sesame", "csrf_token": token}
        other = guesser.post(
            f"/l/{link_id}/unlock", data=right, headers={"X-Forwarded-For": "192.0.2.200"}
        )
        assert other.status_code == 429
