"""Kassa's Stripe requests keep the contract of its pinned API version, and the stand-in
enforces that version's rules the way Stripe does."""

import ast
import inspect
import re
from pathlib import Path

import pytest
import requests
import stripe

from tests.helpers import api_open_order, api_order_json, pay_with_card
from tests.stripe_contract import CALLS, WALLET_KEY, params_for, violations

GATEWAY = Path(__file__).resolve().parent.parent / "checkout" / "stripe_gateway.py"
PINNED = stripe.api_version
ENDIVE = "2026-09-30.endive"
BEFORE_ENDIVE = "2026-08-26.preview"


def gateway_calls() -> set[str]:
    """Every `<client>.v1.<resource>.<method>(` call in stripe_gateway.py, as 'resource.method'."""
    calls = set()
    for node in ast.walk(ast.parse(GATEWAY.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        names, target = [], node.func
        while isinstance(target, ast.Attribute) and target.attr != "v1":
            names.append(target.attr)
            target = target.value
        if isinstance(target, ast.Attribute) and len(names) >= 2:
            calls.add(".".join(reversed(names)))
    return calls


def sdk_method(call: str):
    """The SDK's method for 'resource.method' (`checkout.sessions.retrieve`)."""
    target = stripe.StripeClient("sk_test_routes").v1
    for name in call.split("."):
        target = getattr(target, name)
    return target


def sdk_route(call: str) -> tuple[str, str]:
    """The HTTP method and path the SDK's own code sends for 'resource.method'."""
    source = inspect.getsource(sdk_method(call))
    request = re.search(r'_request\(\s*"(\w+)",\s*"([^"]+)"', source)
    return request[1].upper(), request[2]


def sdk_params_name(call: str) -> str:
    """The name of the params class the SDK's method takes."""
    annotation = inspect.signature(sdk_method(call)).parameters["params"].annotation
    return re.search(r"(\w+Params)\b", str(annotation))[1]


def test_every_stripe_call_site_has_a_contract_entry():
    calls = gateway_calls()
    assert {"payment_intents.create", "payment_intents.retrieve", "refunds.create"} <= calls
    missing = [
        f"{call} sends {' '.join(sdk_route(call))}"
        for call in sorted(calls)
        if sdk_route(call) not in CALLS
    ]
    assert missing == [], "add these to CALLS in tests/stripe_contract.py"
    for call in calls:
        assert CALLS[sdk_route(call)].__name__ == sdk_params_name(call), call


def test_every_contract_entry_is_found_by_its_own_path():
    for (method, path), params_class in CALLS.items():
        assert re.fullmatch(r"/v1/[a-z_/{}]+", path), path
        assert method in {"GET", "POST", "DELETE"}
        assert params_for(method, re.sub(r"\{\w+\}", "x_1", path)) is params_class


def kassa_request(method="POST", path="/v1/payment_intents", body=None, **fields) -> dict:
    """A request as the stand-in records it, sent with Kassa's key at the pinned version."""
    sent = {"amount": "1500", "currency": "usd", "allowed_payment_method_types": ["cashapp"]}
    return {
        "method": method,
        "path": path,
        "query": {},
        "body": sent if body is None else body,
        "stripeVersion": PINNED,
        "idempotencyKey": "kassa-ord_1-payment-intent",
        "apiKey": "sk_test_kassa",
        "status": 200,
        **fields,
    }


def test_a_request_that_keeps_the_contract_passes():
    body = {
        "amount": "1500",
        "currency": "usd",
        "allowed_payment_method_types": ["cashapp"],
        "metadata": {"orderId": "ord_1", "0": "a key that looks like an index"},
        "description": "Premium Credits | Direct (Bitloader)",
    }
    assert violations([kassa_request(body=body)], PINNED) == []
    retrieve = kassa_request("GET", "/v1/payment_intents/pi_1", body={}, query={"expand": ["x"]})
    assert violations([retrieve], PINNED) == []


def test_the_check_catches_a_removed_parameter():
    body = {"amount": "1500", "currency": "usd", "payment_method_types": ["cashapp"]}
    assert violations([kassa_request(body=body)], PINNED) == [
        "POST /v1/payment_intents: payment_method_types: unknown parameter"
    ]


def test_the_check_catches_a_nested_unknown_key():
    body = {
        "amount": "1500",
        "currency": "usd",
        "payment_method_options": {"cashapp": {"capture_method": "manual", "speed": "fast"}},
    }
    assert violations([kassa_request(body=body)], PINNED) == [
        "POST /v1/payment_intents: payment_method_options.cashapp.speed: unknown parameter"
    ]


def test_the_check_catches_wrong_shapes_and_missing_parameters():
    body = {"amount": "15.00", "metadata": "orderId", "allowed_payment_method_types": "cashapp"}
    assert violations([kassa_request(body=body)], PINNED) == [
        "POST /v1/payment_intents: currency: required parameter missing",
        "POST /v1/payment_intents: amount: '15.00' is not an integer",
        "POST /v1/payment_intents: metadata: expected an object, got 'orderId'",
        "POST /v1/payment_intents: allowed_payment_method_types: expected a list, got 'cashapp'",
    ]


def test_the_check_catches_another_api_version_and_an_unknown_endpoint():
    assert violations([kassa_request(stripeVersion=ENDIVE)], PINNED) == [
        f"POST /v1/payment_intents: Stripe-Version '{ENDIVE}', but Kassa pins '{PINNED}'"
    ]
    [problem] = violations([kassa_request("GET", "/v1/balance", body={})], PINNED)
    assert problem.startswith("GET /v1/balance: no entry in CALLS")


def test_the_check_leaves_the_tests_own_requests_alone():
    wallet = kassa_request("POST", "/v1/payment_methods", apiKey=WALLET_KEY)
    browser = kassa_request("POST", "/v1/tokens", apiKey=None)
    assert violations([wallet, browser], PINNED) == []


@pytest.fixture
def recorded(stripe_standin):
    """Read what the stand-in recorded, then forget it so this test's own check passes."""

    def read() -> list[dict]:
        found = requests.get(f"{stripe_standin}/_kassa/requests", timeout=5).json()
        requests.delete(f"{stripe_standin}/_kassa/requests", timeout=5)
        return found

    return read


def client_at(stripe_standin, version: str | None, key: str = WALLET_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, stripe_version=version, base_addresses={"api": stripe_standin}, max_network_retries=0
    )


def test_the_stand_in_records_requests_as_stripe_reads_them(stripe_standin, recorded):
    old_kassa = client_at(stripe_standin, BEFORE_ENDIVE, key="sk_test_old_kassa")
    old_kassa.v1.payment_intents.create(
        params={
            "amount": 500,
            "currency": "usd",
            "payment_method_types": ["cashapp"],
            "metadata": {"orderId": "ord_1"},
            "payment_method_options": {"cashapp": {"setup_future_usage": "none"}},
        },
        options={"idempotency_key": "kassa-ord_1-payment-intent"},
    )
    [request] = recorded()
    assert request == {
        "method": "POST",
        "path": "/v1/payment_intents",
        "query": {},
        "body": {
            "amount": "500",
            "currency": "usd",
            "payment_method_types": ["cashapp"],
            "metadata": {"orderId": "ord_1"},
            "payment_method_options": {"cashapp": {"setup_future_usage": "none"}},
        },
        "stripeVersion": BEFORE_ENDIVE,
        "idempotencyKey": "kassa-ord_1-payment-intent",
        "apiKey": "sk_test_old_kassa",
        "status": 200,
    }
    # Accepted by that older version, and still caught: the SDK's params are the pinned one's.
    assert violations([request], PINNED) == [
        f"POST /v1/payment_intents: Stripe-Version '{BEFORE_ENDIVE}', but Kassa pins '{PINNED}'",
        "POST /v1/payment_intents: payment_method_types: unknown parameter",
    ]


def test_the_stand_in_records_queries_and_can_forget(stripe_standin, recorded):
    wallet = client_at(stripe_standin, None)
    intent = wallet.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    wallet.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    found = recorded()
    assert [(r["method"], r["path"], r["query"]) for r in found] == [
        ("POST", "/v1/payment_intents", {}),
        ("GET", f"/v1/payment_intents/{intent.id}", {"expand": ["latest_charge"]}),
    ]
    assert recorded() == []


def refused(call) -> dict:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    return caught.value.json_body


@pytest.mark.parametrize("version", [ENDIVE, PINNED])
def test_the_stand_in_refuses_payment_method_types_from_endive(stripe_standin, version):
    wallet = client_at(stripe_standin, version)
    create = {"amount": 500, "currency": "usd", "payment_method_types": ["cashapp"]}
    body = refused(lambda: wallet.v1.payment_intents.create(params=create))
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "payment_method_types_no_longer_supported"
    assert body["error"]["param"] == "payment_method_types"
    assert "use allowed_payment_method_types" in body["error"]["message"]

    intent = wallet.v1.payment_intents.create(
        params={"amount": 500, "currency": "usd", "allowed_payment_method_types": ["cashapp"]}
    )
    assert intent.payment_method_types == ["cashapp"]
    update = {"payment_method_types": ["card"]}
    refused(lambda: wallet.v1.payment_intents.update(intent.id, params=update))
    refused(lambda: wallet.v1.payment_intents.confirm(intent.id, params=update))


def test_the_refusal_has_stripes_error_shape(stripe_standin):
    answer = requests.post(
        f"{stripe_standin}/v1/payment_intents",
        data={"amount": "500", "currency": "usd", "payment_method_types[0]": "cashapp"},
        headers={"Authorization": f"Bearer {WALLET_KEY}", "Stripe-Version": PINNED},
        timeout=5,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"type", "code", "param", "message"}
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "payment_method_types_no_longer_supported",
        "payment_method_types",
    )


@pytest.mark.parametrize("version", [BEFORE_ENDIVE, "2024-06-20", None])
def test_earlier_versions_keep_accepting_payment_method_types(stripe_standin, version):
    wallet = client_at(stripe_standin, version)
    if version is None:  # no Stripe-Version header: the account's default version
        answer = requests.post(
            f"{stripe_standin}/v1/payment_intents",
            data={"amount": "500", "currency": "usd", "payment_method_types[0]": "cashapp"},
            headers={"Authorization": f"Bearer {WALLET_KEY}"},
            timeout=5,
        )
        assert answer.status_code == 200
        intent_id = answer.json()["id"]
    else:
        intent_id = wallet.v1.payment_intents.create(
            params={"amount": 500, "currency": "usd", "payment_method_types": ["cashapp"]}
        ).id
        wallet.v1.payment_intents.update(intent_id, params={"payment_method_types": ["card"]})
    assert wallet.v1.payment_intents.retrieve(intent_id).status == "requires_payment_method"


def test_the_stand_in_refuses_a_malformed_api_version(stripe_standin):
    wallet = client_at(stripe_standin, "2026-10-28 endive")
    create = {"amount": 500, "currency": "usd"}
    body = refused(lambda: wallet.v1.payment_intents.create(params=create))
    assert body["error"]["message"] == "Invalid Stripe API version: 2026-10-28 endive"


@pytest.fixture
def app_config(stripe_standin):
    return {
        "STRIPE_SECRET_KEY": "sk_test_kassa",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa",
        "STRIPE_API_BASE": stripe_standin,
        "STRIPE_API_VERSION": ENDIVE,
    }


def test_kassa_sends_the_configured_version_and_its_checkout_pays(
    client, api_key, stripe_client, stripe_standin
):
    order_id = api_open_order(client, api_key, externalId="V-1", amount=10).get_json()["orderId"]
    assert client.get(f"/checkout?orderId={order_id}").status_code == 200
    intent_id = api_order_json(client, api_key, order_id)["stripePaymentIntentId"]
    pay_with_card(stripe_client, intent_id, "4242424242424242")
    back = client.get(f"/checkout?orderId={order_id}&payment_intent={intent_id}")
    assert "Payment received" in back.text

    found = requests.get(f"{stripe_standin}/_kassa/requests", timeout=5).json()
    kassa = [(r["method"], r["stripeVersion"]) for r in found if r["apiKey"] == "sk_test_kassa"]
    assert kassa == [("POST", ENDIVE), ("GET", ENDIVE)]
