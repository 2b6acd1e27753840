"""`flask --app app stripe check`: is the configured Stripe account ready for Kassa's payments?"""

import json
import os
import subprocess
import sys

import pytest
import requests

from checkout.stripe_events import HANDLERS
from tests.helpers import LIVE_SETTINGS, TEST_KEYS, api_open_order, error_body
from tests.plugins.servers import ROOT
from tests.stripe_contract import WALLET_KEY
from tests.stripe_faults import CASHAPP_TYPE_INVALID
from tests.stripe_signing import WEBHOOK_SECRET

BASE = "https://pay.example.com"
OURS = BASE + "/webhooks/stripe"
EVENTS = sorted(HANDLERS)


@pytest.fixture
def app_config(stripe_standin):
    return {
        **TEST_KEYS,
        "STRIPE_API_BASE": stripe_standin,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUBLIC_BASE_URL": BASE,
    }


@pytest.fixture
def stripe_account(stripe_standin):
    """Set the stand-in's account and webhook endpoints; ready for Kassa until a test says not."""

    def set_up(capabilities=None, endpoints=None) -> list[dict]:
        merged = {"card_payments": "active", "cashapp_payments": "active", **(capabilities or {})}
        capabilities = {name: status for name, status in merged.items() if status is not None}
        requests.post(
            f"{stripe_standin}/_kassa/account", json={"capabilities": capabilities}, timeout=5
        ).raise_for_status()
        endpoints = [{"url": OURS, "enabled_events": EVENTS}] if endpoints is None else endpoints
        answer = requests.post(
            f"{stripe_standin}/_kassa/webhook_endpoints", json={"data": endpoints}, timeout=5
        )
        answer.raise_for_status()
        return answer.json()["data"]

    set_up()
    return set_up


def check(runner, *args):
    """Run the command; its exit code and its output (JSON when --json is given)."""
    result = runner.invoke(args=["stripe", "check", *args])
    return result.exit_code, json.loads(result.output) if "--json" in args else result.output


def problems(runner) -> list[str]:
    code, report = check(runner, "--json")
    assert code == (1 if report["problems"] else 0)
    return report["problems"]


def test_a_ready_account_passes_with_a_summary(runner, stripe_account):
    [endpoint] = stripe_account()
    code, output = check(runner)
    assert code == 0, output
    assert output.splitlines() == [
        "Stripe test mode, API version 2026-10-28.endive",
        "  ok       mode: Stripe test mode, from the secret key; Stripe's objects agree",
        "  ok       api_version: every request sends Stripe-Version 2026-10-28.endive",
        "  ok       cash_app: Cash App Pay is active for account acct_1KassaStandIn0001",
        f"  ok       webhook_endpoint: webhook endpoint {endpoint['id']} for {OURS} is enabled "
        f"and sends all {len(EVENTS)} event types Kassa handles",
        "  ok       payment_links: every Buy Button sold has an active Stripe Payment Link in "
        "its currency",
        "All good: ready for payments in Stripe test mode.",
    ]


def test_the_json_report(runner, stripe_account):
    code, report = check(runner, "--json")
    assert code == 0
    assert report == {
        "ok": True,
        "mode": "test",
        "livemode": False,
        "apiVersion": "2026-10-28.endive",
        "checks": [
            {"check": name, "ok": True, "message": report["checks"][index]["message"]}
            for index, name in enumerate(
                ["mode", "api_version", "cash_app", "webhook_endpoint", "payment_links"]
            )
        ],
        "problems": [],
    }


@pytest.mark.parametrize(
    ("status", "shown"), [("inactive", "inactive"), ("pending", "pending"), (None, "missing")]
)
def test_cash_app_must_be_active(runner, stripe_account, status, shown):
    stripe_account(capabilities={"cashapp_payments": status})
    code, output = check(runner)
    assert code == 1
    assert (
        "  PROBLEM  cash_app: Cash App Pay is not active for account acct_1KassaStandIn0001 "
        f"(capabilities.cashapp_payments is {shown}): turn it on in Stripe's dashboard under "
        "Settings → Payment methods"
    ) in output
    assert output.endswith("1 problem: fix it and run this again.\n")


def test_no_endpoint_for_kassas_url(runner, stripe_account):
    stripe_account(endpoints=[{"url": "https://elsewhere.example/webhooks/stripe"}])
    assert problems(runner) == [
        f"webhook_endpoint: no webhook endpoint for {OURS}: add one in Stripe's dashboard "
        f"(Developers → Webhooks) with the events {', '.join(EVENTS)}"
    ]


def test_an_endpoint_missing_an_event(runner, stripe_account):
    [endpoint] = stripe_account(
        endpoints=[{"url": OURS, "enabled_events": [e for e in EVENTS if e != "charge.refunded"]}]
    )
    assert problems(runner) == [
        f"webhook_endpoint: webhook endpoint {endpoint['id']} for {OURS} does not send "
        "charge.refunded: add them to it"
    ]


def test_a_disabled_endpoint(runner, stripe_account):
    [endpoint] = stripe_account(endpoints=[{"url": OURS, "status": "disabled"}])
    assert problems(runner) == [
        f"webhook_endpoint: webhook endpoint {endpoint['id']} for {OURS} is disabled: "
        "enable it in Stripe's dashboard"
    ]


def test_every_event_and_one_good_endpoint_among_many_pass(runner, stripe_account):
    others = [{"url": f"https://other{n}.example/hook"} for n in range(101)]
    stripe_account(endpoints=[{"url": OURS, "status": "disabled"}, *others, {"url": OURS}])
    assert problems(runner) == []  # '*' sends every event; the good one is on the second page


def test_stripe_objects_must_agree_with_the_keys_mode(runner, stripe_account):
    [endpoint] = stripe_account(endpoints=[{"url": OURS, "livemode": True}])
    assert problems(runner) == [
        "mode: the secret key is for Stripe test mode, but Stripe answered livemode true for "
        f"webhook endpoint {endpoint['id']}"
    ]


def test_without_webhook_secret_or_public_url(app, runner, stripe_account):
    app.config.update(STRIPE_WEBHOOK_SECRET=None, PUBLIC_BASE_URL=None)
    assert problems(runner) == [
        "webhook_endpoint: STRIPE_WEBHOOK_SECRET is not set: Kassa cannot verify Stripe's "
        "events and answers them with 503; set it to the endpoint's signing secret (whsec_…)",
        "webhook_endpoint: PUBLIC_BASE_URL is not set, so which webhook endpoint is Kassa's is "
        "unknown: set it to Kassa's https origin",
    ]


def test_stripe_refusing_the_key_or_unreachable(app, runner, stripe_account):
    app.config["STRIPE_SECRET_KEY"] = "rk_test_refused"  # the stand-in takes only sk_ keys
    assert problems(runner) == [
        f"{name}: Stripe answered 401: Unauthorized"
        for name in ("mode", "cash_app", "webhook_endpoint")
    ]
    app.config.update(STRIPE_SECRET_KEY="sk_test_kassa", STRIPE_API_BASE="http://127.0.0.1:9")
    assert problems(runner) == [
        f"{name}: could not reach Stripe (network error)"
        for name in ("mode", "cash_app", "webhook_endpoint")
    ]


@pytest.mark.parametrize("app_config", [{}])
def test_sandbox_mode_is_not_ready(runner):
    code, report = check(runner, "--json")
    assert code == 1
    assert (report["mode"], report["livemode"], report["ok"]) == ("sandbox", False, False)
    assert report["problems"] == [
        "mode: sandbox mode: STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are not set, so "
        "checkout pages only simulate payments and no real money moves"
    ]


@pytest.mark.multiprocess
def test_the_command_with_live_keys(stripe_standin, stripe_account):
    stripe_account(endpoints=[{"url": OURS, "livemode": True}])
    env = {**os.environ, **LIVE_SETTINGS, "STRIPE_API_BASE": stripe_standin}
    finished = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "stripe", "check", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(finished.stdout)
    assert (report["ok"], report["mode"], report["livemode"]) == (True, "live", True)
    assert report["checks"][0]["message"] == (
        "Stripe live mode, from the secret key; Stripe's objects agree"
    )
    assert "Kassa starts in" not in finished.stderr, "the report's first line is the mode"

    stripe_account(capabilities={"cashapp_payments": "inactive"}, endpoints=[])
    finished = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "stripe", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "PROBLEM  cash_app: Cash App Pay is not active" in finished.stdout
    assert f"PROBLEM  webhook_endpoint: no webhook endpoint for {OURS}" in finished.stdout
    assert finished.stdout.endswith("2 problems: fix them and run this again.\n")


def test_the_stand_in_lists_endpoints_as_stripe_does(stripe_standin, stripe_account):
    provider = stripe_account(endpoints=[{"url": f"https://e{n}.example/hook"} for n in range(3)])
    headers = {"Authorization": f"Bearer {WALLET_KEY}"}
    listed = f"{stripe_standin}/v1/webhook_endpoints"
    first = requests.get(listed, params={"limit": 2}, headers=headers, timeout=5).json()
    assert set(first) == {"object", "data", "has_more", "url"}
    assert (first["object"], first["has_more"]) == ("list", True)
    assert first["url"] == "/v1/webhook_endpoints"
    assert set(first["data"][0]) == {
        "id", "object", "api_version", "application", "created", "description",
        "enabled_events", "livemode", "metadata", "status", "url",
    }  # fmt: skip
    after = {"limit": 2, "starting_after": first["data"][1]["id"]}
    second = requests.get(listed, params=after, headers=headers, timeout=5).json()
    assert [e["id"] for e in first["data"] + second["data"]] == [e["id"] for e in provider]
    assert second["has_more"] is False

    for params in ({"limit": 0}, {"limit": 101}, {"starting_after": "we_nope"}):
        refused = requests.get(listed, params=params, headers=headers, timeout=5)
        assert refused.status_code == 400
        assert refused.json()["error"]["type"] == "invalid_request_error"
    bad = requests.post(f"{stripe_standin}/_kassa/webhook_endpoints", json={"data": 1}, timeout=5)
    assert bad.status_code == 400 and "error" in bad.json()


def test_an_active_cash_app_forgets_stripes_earlier_refusal(
    client, runner, make, stripe_account, stripe_faults
):
    key = make.provider().api_key
    earlier = api_open_order(client, key, externalId="S-1").get_json()["orderId"]
    stripe_faults.add("/v1/payment_intents", 400, CASHAPP_TYPE_INVALID)
    assert client.get(f"/checkout?orderId={earlier}").status_code == 503
    refused = api_open_order(client, key, externalId="S-2")
    assert refused.get_json() == error_body(
        "Cash App payments are not available", "cash_app_unavailable"
    )

    stripe_account(capabilities={"cashapp_payments": "inactive"})
    check(runner)
    assert api_open_order(client, key, externalId="S-2").status_code == 400
    stripe_account()
    code, output = check(runner)
    assert code == 0 and "Stripe's earlier refusal of Cash App Pay is forgotten" in output
    assert api_open_order(client, key, externalId="S-2").status_code == 200
    assert "forgotten" not in check(runner)[1]
