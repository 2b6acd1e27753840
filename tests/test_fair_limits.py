"""Each limit counts only whom it names (issue 17, items 1, 4 and 12), on the shipped limits.

A client stopped by its own limit uses up no limit its link's other customers share; a
client is its address, or for IPv6 its /64; many addresses guessing one admin account are
slowed for a minute, the owner never locked out; a link's visitors are browsers (a cookie)
at an address, and a view a limit refused is never counted.
"""

import os
import re
import time
import uuid
from http.cookies import SimpleCookie
from types import SimpleNamespace

import limits.storage.memory
import pytest

from checkout import config, create_app
from checkout.config import ConfigError
from tests.helpers import (
    browser_at,
    create_link,
    csrf_token,
    link_stat,
    order_from,
    pay_link,
    sign_in,
)

ATTACKER = "127.0.0.2"
CUSTOMER = "127.0.0.3"
OWNER = "127.0.0.4"


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


@pytest.fixture
def clock(monkeypatch):
    """The rate limits' clock (limits' in-memory storage), moved on by `clock.advance(s)`."""
    now = [time.time()]
    fake = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    return SimpleNamespace(advance=lambda seconds: now.__setitem__(0, now[0] + seconds))


def post_many(browser, link_id: str, action: str, times: int, **fields) -> list[int]:
    """Send one link form `times` times with one form token; the statuses."""
    token = csrf_token(browser.get(f"/l/{link_id}").text)
    data = {"csrf_token": token, **fields}
    return [browser.post(f"/l/{link_id}/{action}", data=data).status_code for _ in range(times)]


def unlock(browser, link_id: str, password: str) -> int:
    return post_many(browser, link_id, "unlock", 1, password=password)[0]


def retry_after(response) -> int:
    seconds = int(response.headers["Retry-After"])
    assert 0 < seconds <= 61  # the minute, rounded up
    return seconds


def set_cookie(response, name: str) -> str:
    """The Set-Cookie header of one cookie."""
    found = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(name)]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return found[0]


class TestOneClientCannotLockALink:
    """Item 1: the probe's scenario, with one address flooding and another customer after."""

    def test_a_flood_of_pays_from_one_address_leaves_the_link_to_other_customers(
        self, app, link_id
    ):
        flood = post_many(browser_at(app, ATTACKER), link_id, "pay", 125, quantity="0")
        assert flood == [422] * 10 + [429] * 115
        assert order_from(pay_link(browser_at(app, CUSTOMER), link_id))

    def test_wrong_passwords_from_one_address_leave_the_link_to_the_right_password(
        self, app, admin_client, service_id
    ):
        link_id = create_link(admin_client, service_id, password="open sesame")
        guesses = post_many(browser_at(app, ATTACKER), link_id, "unlock", 65, password="wrong!")
        assert guesses[:5] == [401] * 5
        assert set(guesses[5:]) == {429}
        assert unlock(browser_at(app, CUSTOMER), link_id, "open sesame") == 303

    def test_a_whole_ipv6_64_is_one_client(self, app, link_id):
        statuses = [
            pay_link(browser_at(app, f"2001:db8:1:2::{n:x}"), link_id).status_code
            for n in range(1, 13)
        ]
        assert statuses == [303] * 10 + [429] * 2
        assert order_from(pay_link(browser_at(app, "2001:db8:1:3::1"), link_id))
        assert order_from(pay_link(browser_at(app, CUSTOMER), link_id))


class TestBehindOneProxy:
    """The probe's setup: TRUSTED_PROXIES=1, each client named by X-Forwarded-For."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": 1}

    def test_a_flood_from_one_forwarded_64_leaves_the_link_to_others(self, app, link_id):
        flooding = app.test_client()
        token = csrf_token(flooding.get(f"/l/{link_id}").text)
        statuses = [
            flooding.post(
                f"/l/{link_id}/pay",
                data={"csrf_token": token, "quantity": "0"},
                headers={"X-Forwarded-For": f"2001:db8:9:9::{n:x}"},
            ).status_code
            for n in range(1, 126)
        ]
        assert statuses == [422] * 10 + [429] * 115
        customer = app.test_client()
        forwarded = {"X-Forwarded-For": "198.51.100.20"}
        token = csrf_token(customer.get(f"/l/{link_id}", headers=forwarded).text)
        paid = customer.post(f"/l/{link_id}/pay", data={"csrf_token": token}, headers=forwarded)
        assert order_from(paid)


class TestALinksOwnLimit:
    """The limit of all clients of a link still holds, and counts what passed each client's."""

    LIMITS = {"RATE_LIMIT_LINK_PAY": "2/minute", "RATE_LIMIT_LINK_PAY_PER_LINK": "5/minute"}

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, **self.LIMITS}

    def test_it_counts_only_what_each_clients_own_limit_let_through(self, app, link_id):
        assert post_many(browser_at(app, ATTACKER), link_id, "pay", 4) == [303, 303, 429, 429]
        assert post_many(browser_at(app, CUSTOMER), link_id, "pay", 2) == [303, 303]
        assert post_many(browser_at(app, OWNER), link_id, "pay", 1) == [303]
        # Five passed: the link takes no more this minute, from anyone.
        assert post_many(browser_at(app, "127.0.0.5"), link_id, "pay", 1) == [429]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
class TestALinksOwnLimitInRedis(TestALinksOwnLimit):
    """The same, counted in Redis as production does (with its own key prefix)."""

    @pytest.fixture
    def app_config(self, app_config):
        # (This app_config is the module's: a fixture overridden here skips the parent's.)
        return {
            **app_config,
            **self.LIMITS,
            "RATELIMIT_STORAGE_URI": os.environ["REDIS_URL"],
            "RATELIMIT_KEY_PREFIX": f"kassa-test-{uuid.uuid4().hex}",
        }


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        # Under 10/minute a client sends up to 20 in a minute (two windows meet it).
        ("RATE_LIMIT_LINK_PAY_PER_LINK", "20/minute"),
        ("RATE_LIMIT_LINK_PAY_PER_LINK", "100/minute;60/hour"),
        ("RATE_LIMIT_LINK_UNLOCK_PER_LINK", "15/minute"),
        # Under 60/hour a client sends up to 120 in an hour.
        ("RATE_LIMIT_LINK_UNLOCK_PER_LINK", "120/hour"),
    ],
)
def test_a_link_limit_one_client_could_use_up_is_refused(setting, value):
    with pytest.raises(ConfigError, match=f"{setting} is '{re.escape(value)}': one client"):
        create_app({**config.DEFAULT_RATE_LIMITS, setting: value})


def test_a_link_limit_above_one_clients_reach_is_taken():
    settings = {
        **config.DEFAULT_RATE_LIMITS,
        "RATE_LIMIT_LINK_PAY_PER_LINK": "21/minute;121/hour",
        "RATE_LIMIT_LINK_UNLOCK": "1/second",
        "RATE_LIMIT_LINK_UNLOCK_PER_LINK": "3/second",
    }
    assert create_app(settings).config["RATE_LIMIT_LINK_PAY_PER_LINK"] == "21/minute;121/hour"


class TestIPv6Lockouts:
    """Item 4: lockouts count a /64, as rate limits and holds do."""

    def test_wrong_admin_passwords_across_one_64_lock_all_of_it_out(self, app, make):
        email, password = make.admin()
        for n in range(1, 6):
            wrong = sign_in(browser_at(app, f"2001:db8:5:6::{n}"), email, "not the password")
            assert wrong.status_code == 401
        locked = sign_in(browser_at(app, "2001:db8:5:6:ffff:ffff:ffff:1"), email, password)
        assert locked.status_code == 429
        assert "Try again in 15 minutes." in locked.text
        assert sign_in(browser_at(app, "2001:db8:5:7::1"), email, password).status_code == 302

    def test_wrong_link_passwords_across_one_64_lock_all_of_it_out(
        self, app, admin_client, service_id
    ):
        link_id = create_link(admin_client, service_id, password="open sesame")
        for n in range(1, 6):
            assert unlock(browser_at(app, f"2001:db8:5:6::{n}"), link_id, "wrong!") == 401
        assert unlock(browser_at(app, "2001:db8:5:6::99"), link_id, "open sesame") == 429
        assert unlock(browser_at(app, "2001:db8:5:7::1"), link_id, "open sesame") == 303

    def test_refused_api_keys_count_against_their_64(self, app):
        statuses = [
            browser_at(app, f"2001:db8:5:6::{n:x}")
            .post("/api/v1/create-payment-intent", json={"apiKey": f"kassa_wrong{n}"})
            .status_code
            for n in range(1, 32)
        ]
        assert statuses == [401] * 30 + [429]
        elsewhere = browser_at(app, "2001:db8:5:7::1").post(
            "/api/v1/create-payment-intent", json={"apiKey": "kassa_wrong"}
        )
        assert elsewhere.status_code == 401


class TestOneAccountFromManyAddresses:
    """Item 4: failed sign-ins per account from every address are slowed, never locked."""

    def test_guessing_from_many_addresses_slows_the_account_for_a_minute(self, app, make, clock):
        email, password = make.admin()
        guesses = [
            sign_in(browser_at(app, f"198.51.100.{n}"), email, "not the password")
            for n in range(1, 13)
        ]
        assert [guess.status_code for guess in guesses] == [401] * 10 + [429] * 2
        assert "Too many attempts" in guesses[-1].text
        retry_after(guesses[-1])
        owner = browser_at(app, OWNER)
        slowed = sign_in(owner, email, password)
        assert slowed.status_code == 429
        retry_after(slowed)
        # Another account is not slowed.
        other_email, other_password = make.admin("other@example.com", "another good password")
        assert sign_in(browser_at(app, OWNER), other_email, other_password).status_code == 302

        clock.advance(61)
        assert sign_in(owner, email, password).status_code == 302

    def test_a_browser_that_signed_in_before_is_not_slowed(self, app, make):
        email, password = make.admin()
        owner = browser_at(app, OWNER)
        signed_in = sign_in(owner, email, password)
        assert signed_in.status_code == 302
        cookie = set_cookie(signed_in, "kassa_admin_browser=")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin/" in cookie
        assert email not in cookie
        for n in range(1, 13):
            sign_in(browser_at(app, f"198.51.100.{n}"), email, "not the password")
        assert sign_in(browser_at(app, OWNER), email, password).status_code == 429
        assert sign_in(owner, email, password).status_code == 302
        # The cookie names that admin only: another account's guesses are still counted.
        assert sign_in(owner, "someone@example.com", "not the password").status_code == 401


class TestLinkViews:
    """Item 12: a visitor is a browser's cookie at an address; refused views never count."""

    def test_one_browser_varying_its_user_agent_is_one_visitor(self, app, admin_client, link_id):
        browser = browser_at(app, ATTACKER)
        statuses = [
            browser.get(f"/l/{link_id}", headers={"User-Agent": f"Agent {n}"}).status_code
            for n in range(150)
        ]
        assert statuses == [200] * 20 + [429] * 130
        assert link_stat(admin_client, link_id, "views") == "20"
        assert link_stat(admin_client, link_id, "visitors") == "1"

    def test_a_client_dropping_its_cookie_counts_no_more_than_its_limit(
        self, app, admin_client, link_id
    ):
        statuses = [
            browser_at(app, ATTACKER)
            .get(f"/l/{link_id}", headers={"User-Agent": f"Agent {n}"})
            .status_code
            for n in range(150)
        ]
        assert statuses == [200] * 20 + [429] * 130
        assert link_stat(admin_client, link_id, "views") == "20"
        assert link_stat(admin_client, link_id, "visitors") == "20"
        assert browser_at(app, CUSTOMER).get(f"/l/{link_id}").status_code == 200
        assert link_stat(admin_client, link_id, "visitors") == "21"

    def test_a_view_the_link_refuses_is_not_counted(self, app, admin_client, runner, link_id):
        assert runner.invoke(args=["links", "turn-off", link_id]).exit_code == 0
        assert browser_at(app, CUSTOMER).get(f"/l/{link_id}").status_code == 410
        assert link_stat(admin_client, link_id, "views") == "0"
        assert link_stat(admin_client, link_id, "visitors") == "0"

    def test_a_visitor_is_a_browser_at_an_address(self, app, admin_client, link_id):
        alice, bob = browser_at(app, CUSTOMER), browser_at(app, CUSTOMER)  # behind one NAT
        for browser in (alice, alice, bob):
            assert browser.get(f"/l/{link_id}").status_code == 200
        assert link_stat(admin_client, link_id, "visitors") == "2"
        alice.environ_base["REMOTE_ADDR"] = OWNER
        alice.get(f"/l/{link_id}")
        assert link_stat(admin_client, link_id, "visitors") == "3"
        # IPv6: the /64, whose addresses a browser's privacy extensions change.
        carol = browser_at(app, "2001:db8:7:7::1")
        carol.get(f"/l/{link_id}")
        carol.environ_base["REMOTE_ADDR"] = "2001:db8:7:7:abcd::2"
        carol.get(f"/l/{link_id}")
        assert link_stat(admin_client, link_id, "visitors") == "4"
        assert link_stat(admin_client, link_id, "views") == "6"

    def test_the_visitor_cookie_is_first_party_and_hidden_from_scripts(self, app, link_id):
        cookie = set_cookie(app.test_client().get(f"/l/{link_id}"), "kassa_visitor=")
        parsed = SimpleCookie(cookie)["kassa_visitor"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", parsed.value)
        assert parsed["path"] == "/l/"
        assert parsed["httponly"] and parsed["samesite"] == "Lax"
        assert not parsed["secure"]
        assert int(parsed["max-age"]) == 30 * 86400

    def test_a_forged_visitor_cookie_is_replaced(self, app, link_id):
        browser = app.test_client()
        browser.set_cookie("kassa_visitor", "<script>", path="/l/")
        cookie = set_cookie(browser.get(f"/l/{link_id}"), "kassa_visitor=")
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", SimpleCookie(cookie)["kassa_visitor"].value)


class TestHttpsCookies:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "PUBLIC_BASE_URL": "https://pay.example.com"}

    def test_the_visitor_cookie_is_secure(self, app, link_id):
        cookie = set_cookie(app.test_client().get(f"/l/{link_id}"), "kassa_visitor=")
        assert SimpleCookie(cookie)["kassa_visitor"]["secure"]

    def test_the_known_browser_cookie_is_secure(self, app, make):
        email, password = make.admin()
        cookie = set_cookie(sign_in(app.test_client(), email, password), "kassa_admin_browser=")
        assert "Secure" in cookie
