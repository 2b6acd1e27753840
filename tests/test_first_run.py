"""A first run: `make run` installs what running needs, the banner says what to do next,
`demo` seeds once, and the CLI lists what exists."""

import json
import subprocess
from pathlib import Path

import pytest

from checkout import config
from tests.helpers import api_open_order, sign_in

ROOT = Path(__file__).resolve().parent.parent


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_second_demo_changes_nothing_and_says_what_exists(runner, client):
    first = run_json(runner, "demo")
    assert first["changed"] is True
    second = run_json(runner, "demo")
    assert second["changed"] is False
    assert second["admin"]["password"] is None
    assert second["provider"]["apiKey"] is None
    # The first run's password and key still work.
    email, password = first["admin"]["email"], first["admin"]["password"]
    assert sign_in(client, email, password).status_code == 302
    assert api_open_order(client, first["provider"]["apiKey"], amount=15).status_code == 200
    text = runner.invoke(args=["demo"]).output
    assert "The demo exists already; nothing changed." in text
    assert "demo --reset" in text
    assert "`ALLOW_PRIVATE_WEBHOOK_URLS=1 make run`" in text
    assert "  .venv/bin/flask --app app dev-receiver" in text


def test_demo_reset_gives_a_new_password_and_key(runner, client):
    first = run_json(runner, "demo")
    reset = run_json(runner, "demo", "--reset")
    assert reset["changed"] is True
    assert reset["admin"]["password"] not in (None, first["admin"]["password"])
    assert api_open_order(client, first["provider"]["apiKey"]).status_code == 401
    assert api_open_order(client, reset["provider"]["apiKey"], amount=15).status_code == 200
    assert sign_in(client, reset["admin"]["email"], reset["admin"]["password"]).status_code == 302


class TestOnAnotherPort:
    @pytest.fixture
    def app_config(self, tmp_path):
        loaded = config.load({"PORT": "8123", "KASSA_INSTANCE_PATH": str(tmp_path)})
        return {"PORT": loaded["PORT"]}

    def test_demo_and_banner_name_the_port_served(self, runner):
        demo = run_json(runner, "demo")
        assert demo["admin"]["url"] == "http://localhost:8123/admin"
        assert "http://localhost:8123/api/v1/create-payment-intent" in demo["tryIt"]
        banner = runner.invoke(args=["banner"]).output
        assert "open http://localhost:8123/admin" in banner
        assert "run: PORT=8123 .venv/bin/flask --app app demo" in banner

    def test_the_banner_says_when_nothing_listens(self, runner):
        result = runner.invoke(args=["banner", "--wait", "0.5"])
        assert result.exit_code == 1
        assert "not listening on port 8123" in result.output


class TestPublicBaseUrl:
    @pytest.fixture
    def app_config(self):
        return {"PUBLIC_BASE_URL": "https://pay.example.com"}

    def test_demo_and_banner_use_the_public_base_url(self, runner):
        assert run_json(runner, "demo")["admin"]["url"] == "https://pay.example.com/admin"
        banner = runner.invoke(args=["banner"]).output
        assert "Kassa is running: open https://pay.example.com/admin" in banner
        assert "run: .venv/bin/flask --app app demo" in banner


def test_the_default_port_is_make_runs():
    assert config.load({"KASSA_INSTANCE_PATH": "/nonexistent-not-used"})["PORT"] == 8000


def test_services_providers_and_links_are_listed(runner, make):
    service_id = make.service(slug="credits", title="Credits")
    provider_id = make.provider(service_id=service_id, slug="shop", name="Shop").id
    run_json(runner, "links", "create", "--service", "credits", "--title", "Ten credits")

    services = run_json(runner, "services", "list")
    assert [(row["id"], row["slug"], row["title"]) for row in services] == [
        (service_id, "credits", "Credits")
    ]
    assert (services[0]["price"], services[0]["currency"]) == (5, "usd")
    providers = run_json(runner, "providers", "list")
    assert [(row["id"], row["slug"], row["service"]) for row in providers] == [
        (provider_id, "shop", "credits")
    ]
    assert "webhookSecret" not in providers[0]
    links = run_json(runner, "links", "list")
    assert [row["title"] for row in links] == ["Ten credits"]
    assert links[0]["url"].startswith("http://localhost:8000/l/")

    text = runner.invoke(args=["services", "list"]).output
    assert "credits" in text and "$5.00" in text
    assert "shop" in runner.invoke(args=["providers", "list"]).output
    assert "Ten credits" in runner.invoke(args=["links", "list"]).output


def test_providers_show_prints_the_signing_secret(runner, make, admin_client):
    provider_id = make.provider(slug="shop", webhook_url="https://hooks.example.com/k").id
    shown = run_json(runner, "providers", "show", "shop")
    assert shown["id"] == provider_id
    assert shown["webhookSecret"].startswith("whsec_")
    assert shown["webhookSecret"] in admin_client.get(f"/admin/providers/{provider_id}").text
    assert [key["name"] for key in shown["apiKeys"]] == ["default"]
    text = runner.invoke(args=["providers", "show", "shop"]).output
    assert f"Signing secret: {shown['webhookSecret']}" in text
    assert "keep the output" in runner.invoke(args=["providers", "show", "--help"]).output
    missing = runner.invoke(args=["providers", "show", "nope", "--json"])
    assert missing.exit_code == 1
    assert json.loads(missing.output) == {"error": "no provider with slug 'nope'"}


def test_empty_lists_say_so(runner):
    assert run_json(runner, "services", "list") == []
    assert "No services yet." in runner.invoke(args=["services", "list"]).output
    assert "No providers yet." in runner.invoke(args=["providers", "list"]).output
    assert "No payment links yet." in runner.invoke(args=["links", "list"]).output


def make_dry_run(target: str, venv: Path, *overrides: str) -> str:
    return subprocess.run(
        ["make", "-n", target, f"VENV={venv}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.multiprocess
def test_make_run_installs_only_what_running_needs(tmp_path):
    venv = tmp_path / "venv"
    run = make_dry_run("run", venv)
    assert "pip install --quiet -e .\n" in run
    assert "[test]" not in run
    assert "banner --wait" in run
    assert make_dry_run("run", venv, "PORT=8123").count("--port 8123") == 1

    # After `make run` installed (its stamp exists), `make test` still adds the test extras.
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / "bin" / ".installed-run").touch()
    test = make_dry_run("test", venv)
    assert "pip install --quiet -e '.[test]'" in test
    assert "pip install --quiet -e .\n" not in test
