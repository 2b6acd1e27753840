"""The `flask --app app …` commands, as a script would call them."""

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from checkout.extensions import db
from checkout.models import ActorKind, AuditEntry
from tests.helpers import api_open_order, sign_in

ROOT = Path(__file__).resolve().parent.parent


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
    response = api_open_order(client, provider["apiKey"], externalId="cli-1", amount=25)
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
    body = api_open_order(client, provider["apiKey"]).get_json()
    assert body["stripeBuyButtonId"] == "buy_btn_1AbC"


def test_buy_button_service_needs_its_payment_link_on_the_command_line(runner):
    base = ["services", "create", "--title", "Pro", "--price", "300"]
    code, body = run_json(runner, *base, "--buy-button-id", "buy_btn_1AbC")
    assert code == 1
    assert body["error"] == (
        "--payment-link-id: "
        "A Buy Button needs the ID of the Stripe Payment Link behind it (plink_…)"
    )
    code, body = run_json(runner, *base, "--payment-link-id", "plink_1AbC")
    assert code == 1
    assert body["error"].startswith("--buy-button-id: A Stripe Payment Link ID needs")
    code, body = run_json(
        runner, *base, "--buy-button-id", "buy_btn_1AbC", "--payment-link-id", "https://buy.x"
    )
    assert code == 1
    assert body["error"] == "--payment-link-id: A Stripe Payment Link ID looks like plink_1Abc…"
    code, body = run_json(
        runner, *base, "--buy-button-id", "buy_btn_1AbC", "--payment-link-id", "plink_1AbC"
    )
    assert code == 0
    assert body["buyButtonId"] == "buy_btn_1AbC"
    assert body["stripePaymentLinkId"] == "plink_1AbC"


def test_cli_errors_exit_1_with_a_message(runner):
    code, body = run_json(runner, "services", "create", "--title", "X", "--price", "1.234")
    assert code == 1
    assert body["error"].startswith("--price:")
    code, body = run_json(runner, "providers", "create", "--name", "X", "--service", "nope")
    assert code == 1
    assert "no service with slug 'nope'" in body["error"]
    text = runner.invoke(args=["services", "create", "--title", "X", "--price", "abc"])
    assert text.exit_code == 1
    code, body = run_json(runner, "services", "create", "--title", "X", "--price", "0.25")
    assert code == 1
    assert body["error"] == "--price: Amount is below Stripe's minimum charge of $0.50"


def cli_audit(app) -> list[tuple[str, str, str]]:
    """(action, subject id, actor label) of the audit entries the CLI wrote, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.actor_kind == ActorKind.CLI).order_by(AuditEntry.id)
        )
        return [(row.action, row.subject_id, row.actor_label) for row in rows]


def a_provider(runner) -> dict:
    run_json(runner, "services", "create", "--title", "Credits", "--price", "5", "--slug", "cr")
    code, provider = run_json(
        runner,
        *("providers", "create", "--name", "Bitloader", "--service", "cr", "--slug", "bit"),
        *("--webhook-url", "https://hooks.example/kassa"),
        *("--success-url", "https://bit.example/ok?orderId={orderId}"),
    )
    assert code == 0, provider
    return provider


def test_providers_update_changes_only_the_options_given(app, runner, client):
    provider = a_provider(runner)
    run_json(runner, "services", "create", "--title", "Pro", "--price", "300", "--slug", "pro")

    code, updated = run_json(
        runner,
        *("providers", "update", "bit", "--webhook-url", "https://new.example/hook"),
        *("--service", "pro", "--cancel-url", "https://bit.example/cancel"),
    )
    assert code == 0, updated
    assert updated["webhookUrl"] == "https://new.example/hook"
    assert (updated["service"], updated["cancelUrl"]) == ("pro", "https://bit.example/cancel")
    assert (updated["name"], updated["slug"]) == ("Bitloader", "bit")
    assert updated["successUrl"] == "https://bit.example/ok?orderId={orderId}"
    assert updated["mode"] == "cashapp" and updated["active"] is True

    code, updated = run_json(runner, "providers", "update", "bit", "--webhook-url", "")
    assert (code, updated["webhookUrl"], updated["service"]) == (0, None, "pro")
    code, updated = run_json(runner, "providers", "update", "bit", "--inactive")
    assert (code, updated["active"]) == (0, False)
    assert api_open_order(client, provider["apiKey"], amount=300).status_code == 401
    code, updated = run_json(runner, "providers", "update", "bit", "--active", "--slug", "bit2")
    assert (code, updated["active"], updated["slug"]) == (0, True, "bit2")
    assert api_open_order(client, provider["apiKey"], amount=300).status_code == 200
    # The same service function as the admin's form, with the CLI as the actor.
    changed = [entry for entry in cli_audit(app) if entry[0] == "provider.changed"]
    assert [(subject, who) for _, subject, who in changed] == [(provider["id"], "cli")] * 4
    text = runner.invoke(args=["providers", "update", "bit2", "--name", "Bitloader Games"])
    assert text.exit_code == 0
    assert "Provider bit2 saved: Bitloader Games" in text.output


def test_services_update_reprices_new_orders(app, runner, client):
    provider = a_provider(runner)
    code, service = run_json(runner, "services", "update", "cr", "--price", "7.50")
    assert code == 0, service
    assert (service["price"], service["title"], service["currency"]) == (7.5, "Credits", "usd")
    body = api_open_order(client, provider["apiKey"], amount=15).get_json()
    assert (body["quantity"], body["amount"]) == (2, 15)

    code, service = run_json(
        runner, "services", "update", "cr", "--title", "More credits", "--slug", "more"
    )
    assert (code, service["title"], service["slug"], service["price"]) == (
        0,
        "More credits",
        "more",
        7.5,
    )
    code, service = run_json(runner, "services", "update", "more", "--inactive")
    assert (code, service["active"]) == (0, False)
    assert api_open_order(client, provider["apiKey"], amount=15).status_code == 409
    assert [action for action, _, _ in cli_audit(app)].count("service.changed") == 3
    text = runner.invoke(args=["services", "update", "more", "--active"])
    assert "Service more saved: More credits at $7.50." in text.output


def test_links_turn_off_and_on_from_the_command_line(app, runner, client):
    run_json(runner, "services", "create", "--title", "Ticket", "--price", "12", "--slug", "t")
    code, link = run_json(runner, "links", "create", "--service", "t")
    assert code == 0
    path = f"/l/{link['id']}"
    assert client.get(path).status_code == 200

    code, off = run_json(runner, "links", "turn-off", link["id"])
    assert (code, off["active"], off["status"]) == (0, False, "inactive")
    assert client.get(path).status_code == 410
    code, on = run_json(runner, "links", "turn-on", link["id"])
    assert (code, on["active"], on["status"]) == (0, True, "active")
    assert client.get(path).status_code == 200
    assert [entry[:2] for entry in cli_audit(app) if entry[0].startswith("link.turned")] == [
        ("link.turned_off", link["id"]),
        ("link.turned_on", link["id"]),
    ]
    text = runner.invoke(args=["links", "turn-off", link["id"]])
    assert text.output == f"Payment link {link['id']} turned off.\n"
    code, body = run_json(runner, "links", "turn-off", "plink_nope")
    assert (code, body) == (1, {"error": "no payment link 'plink_nope'"})


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["providers", "create", "--name", "X", "--service", "cr", "--webhook-url", "ftp://x"],
            "--webhook-url: ",
        ),
        (["providers", "create", "--name", "X", "--service", "nope"], "--service: no service"),
        (["providers", "update", "bit", "--success-url", "nope"], "--success-url: "),
        (["providers", "update", "bit", "--name", " "], "--name: Name is required"),
        (["providers", "update", "bit", "--service", "nope"], "--service: no service"),
        (["providers", "update", "nope", "--name", "X"], "no provider with slug 'nope'"),
        (["providers", "create-key", "bit", "--name", ""], "--name: "),
        (["services", "update", "cr", "--currency", "xyz"], "--currency: Unsupported currency"),
        (["services", "update", "cr", "--price", "0.1"], "--price: Amount is below"),
        (["services", "update", "cr", "--buy-button-id", "buy_btn_1A"], "--payment-link-id: "),
        (["services", "update", "nope", "--price", "1"], "no service with slug 'nope'"),
        (["links", "create", "--service", "cr", "--provider", "nope"], "--provider: no provider"),
        (
            ["links", "create", "--service", "cr", "--min-quantity", "5", "--max-quantity", "2"],
            "--max-quantity: The maximum is below the minimum",
        ),
        (["links", "create", "--service", "cr", "--expires-at", "soon"], "--expires-at: "),
        (["links", "create", "--service", "cr", "--redirect-url", "x"], "--redirect-url: "),
        (["create-admin", "--email", "nobody", "--password", "long enough pw"], "--email: "),
    ],
)
def test_errors_name_the_option_to_fix_and_change_nothing(app, runner, args, error):
    a_provider(runner)
    rows = [run_json(runner, kind, "list") for kind in ("services", "providers", "links")]
    before = cli_audit(app)
    code, body = run_json(runner, *args)
    assert code == 1
    assert body["error"].startswith(error), body["error"]
    assert cli_audit(app) == before
    assert [run_json(runner, kind, "list") for kind in ("services", "providers", "links")] == rows
    text = runner.invoke(args=args)
    assert text.exit_code == 1
    assert text.output.startswith(f"Error: {error}")


def test_help_lists_the_commands_that_change_things(runner):
    providers = runner.invoke(args=["providers", "--help"]).output
    assert "update" in providers
    assert "update" in runner.invoke(args=["services", "--help"]).output
    links = runner.invoke(args=["links", "--help"]).output
    assert "turn-off" in links and "turn-on" in links
    update = runner.invoke(args=["providers", "update", "--help"]).output
    assert "--stripe-checkout / --cash-app" in update and "--active / --inactive" in update


@pytest.mark.multiprocess
def test_a_command_prints_only_its_own_output(app):
    # As a person runs it: the tables exist (the app fixture made them in the suite's database).
    finished = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "services", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert (finished.stdout, finished.stderr) == ("No services yet.\n", "")
