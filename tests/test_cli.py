"""The `flask --app app …` commands, as a script would call them."""

import json

from tests.helpers import open_order, sign_in


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--json"])
    return result.exit_code, json.loads(result.output)


def test_create_admin_then_sign_in(runner, client):
    code, body = run_json(
        runner, "create-admin", "--email", "Ops@Example.com", "--password", "long enough pw"
    )
    assert code == 0
    assert body["email"] == "ops@example.com"
    assert sign_in(client, "ops@example.com", "long enough pw").status_code == 302


def test_create_admin_refuses_short_password_and_duplicates(runner):
    code, body = run_json(runner, "create-admin", "--email", "a@b.c", "--password", "short")
    assert code == 1
    assert "at least 10" in body["error"]
    run_json(runner, "create-admin", "--email", "a@b.c", "--password", "long enough pw")
    code, body = run_json(runner, "create-admin", "--email", "a@b.c", "--password", "other pw 123")
    assert code == 1
    assert "already exists" in body["error"]


def test_services_and_providers_from_the_command_line(runner, client):
    code, service = run_json(
        runner,
        "services",
        "create",
        "--title",
        "Premium Credits",
        "--price",
        "5",
        "--currency",
        "usd",
    )
    assert code == 0
    assert service["slug"] == "premium-credits"
    assert service["price"] == 5
    code, provider = run_json(
        runner,
        "providers",
        "create",
        "--name",
        "Bitloader",
        "--service",
        "premium-credits",
        "--webhook-url",
        "https://hooks.example/kassa",
        "--success-url",
        "https://bitloader.example/ok?orderId={orderId}",
        "--cancel-url",
        "https://bitloader.example/cancel",
    )
    assert code == 0
    assert provider["mode"] == "cashapp"
    assert provider["apiKey"].startswith("kassa_")
    response = open_order(client, provider["apiKey"], externalId="cli-1", amount=25)
    assert response.status_code == 200
    assert response.get_json()["quantity"] == 5


def test_buy_button_provider_from_the_command_line(runner, client):
    run_json(
        runner,
        "services",
        "create",
        "--title",
        "Pro",
        "--price",
        "300",
        "--slug",
        "pro",
        "--buy-button-id",
        "buy_btn_1AbC",
        "--payment-link-id",
        "plink_1AbC",
    )
    code, provider = run_json(
        runner, "providers", "create", "--name", "Shop", "--service", "pro", "--stripe-checkout"
    )
    assert code == 0
    assert provider["mode"] == "stripe_buy_button"
    body = open_order(client, provider["apiKey"]).get_json()
    assert body["stripeBuyButtonId"] == "buy_btn_1AbC"


def test_buy_button_service_needs_its_payment_link_on_the_command_line(runner):
    base = ["services", "create", "--title", "Pro", "--price", "300"]
    code, body = run_json(runner, *base, "--buy-button-id", "buy_btn_1AbC")
    assert code == 1
    assert body["error"] == (
        "payment-link-id: A Buy Button needs the ID of the Stripe Payment Link behind it (plink_…)"
    )
    code, body = run_json(runner, *base, "--payment-link-id", "plink_1AbC")
    assert code == 1
    assert body["error"].startswith("buy-button-id: A Stripe Payment Link ID needs")
    code, body = run_json(
        runner, *base, "--buy-button-id", "buy_btn_1AbC", "--payment-link-id", "https://buy.x"
    )
    assert code == 1
    assert body["error"] == "payment-link-id: A Stripe Payment Link ID looks like plink_1Abc…"
    code, body = run_json(
        runner, *base, "--buy-button-id", "buy_btn_1AbC", "--payment-link-id", "plink_1AbC"
    )
    assert code == 0
    assert body["buyButtonId"] == "buy_btn_1AbC"
    assert body["stripePaymentLinkId"] == "plink_1AbC"


def test_cli_errors_exit_1_with_a_message(runner):
    code, body = run_json(runner, "services", "create", "--title", "X", "--price", "1.234")
    assert code == 1
    assert body["error"].startswith("price:")
    code, body = run_json(runner, "providers", "create", "--name", "X", "--service", "nope")
    assert code == 1
    assert "no service with slug 'nope'" in body["error"]
    text = runner.invoke(args=["services", "create", "--title", "X", "--price", "abc"])
    assert text.exit_code == 1
    code, body = run_json(runner, "services", "create", "--title", "X", "--price", "0.25")
    assert code == 1
    assert body["error"] == "price: Amount is below Stripe's minimum charge of $0.50"
