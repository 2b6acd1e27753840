"""The README's lists that code also holds stay the same as the code's."""

import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from checkout import config
from checkout.extensions import db
from checkout.models import Notification
from checkout.notifications import EVENTS
from checkout.stripe_events import HANDLERS
from tests.helpers import api_new_order, api_open_order, simulate

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    return README[start : README.index("\n## ", start + 1)]


def test_the_stripe_events_to_subscribe_are_the_ones_kassa_handles():
    setup = _section("Stripe setup")
    listed = re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", setup[: setup.index("\n\n- ")])
    assert sorted(listed) == sorted(HANDLERS)


def test_every_provider_event_is_in_the_notification_table():
    table = _section("Integrating as a provider")
    rows = re.findall(r"^  \| `([a-z_]+)` \|", table, re.M)
    assert sorted(rows) == sorted(["event", *EVENTS])  # the header row, then one per event


def _json_after(text: str, marker: str) -> dict:
    """The first ```json block after marker, with exact amounts."""
    start = text.index("```json\n", text.index(marker)) + len("```json\n")
    return json.loads(text[start : text.index("```", start)], parse_float=Decimal)


def _example_http_body(text: str, marker: str) -> dict:
    """The JSON body of the first ```http block after marker."""
    start = text.index("```http\n", text.index(marker))
    block = text[start : text.index("```\n", start + 8)]
    return json.loads(block[block.index("\n{") :], parse_float=Decimal)


def _same_field_by_field(example: dict, real: dict, *, varies: set[str]) -> None:
    """Every field of one is in the other, and equal unless it varies per order (ids, times,
    URLs), in which case it is of the same kind."""
    assert sorted(example) == sorted(real)
    for name, value in real.items():
        if name in varies:
            assert type(example[name]) is type(value), name
        else:
            assert (name, example[name]) == (name, value)


# What differs from one order (or one machine's mode) to the next.
VARIES = {"orderId", "checkoutUrl", "createdAt", "livemode", "timestamp"}


def test_the_create_payment_intent_example_answer_is_a_real_one(client, api_key):
    example = _json_after(_section("Integrating as a provider"), "Answer `200`:")
    answer = api_open_order(client, api_key, externalId="ORDER-1001", amount=100)
    assert answer.status_code == 200
    real = json.loads(answer.text, parse_float=Decimal)
    _same_field_by_field(example, real, varies=VARIES)
    assert str(example["amount"]) == str(real["amount"]) == "100.00"


def test_the_notification_example_is_a_real_one(app, client, provider_key):
    example = _example_http_body(_section("Integrating as a provider"), "### 4. Receive")
    order_id = api_new_order(client, provider_key, externalId="ORDER-1001", amount=100)
    assert simulate(client, order_id).status_code == 303
    with app.app_context():
        payload = db.session.scalars(select(Notification.payload)).one()
    real = json.loads(payload, parse_float=Decimal)
    # The example is a live Cash App payment; a sandbox payment has no PaymentIntent.
    assert example["stripePaymentIntentId"].startswith("pi_")
    assert real.pop("stripePaymentIntentId") is None
    example.pop("stripePaymentIntentId")
    varies = {"paidAt", "providerId", "serviceId", "providerName", "serviceName"}
    _same_field_by_field(example, real, varies=VARIES | varies)


def test_the_checkout_polls_as_long_as_the_readme_says():
    said = re.search(r"and updates itself, for up to (\d+) minutes", README)[1]
    script = (Path(__file__).resolve().parent.parent / "static" / "checkout.js").read_text()
    assert re.search(r"POLL_FOR_MS = (\d+) \* 60 \* 1000", script)[1] == said


def test_every_command_is_in_the_command_list(app):
    listed = _section("Admin and command line")
    listed = listed[listed.index("Every command but `dev-receiver` takes `--json`") :]
    names = []
    for name, command in app.cli.commands.items():
        if name == "db":  # Flask-Migrate's, under "Upgrading"
            continue
        subcommands = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    missing = [name for name in names if f".venv/bin/flask --app app {name}" not in listed]
    assert missing == []


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.multiprocess
@pytest.mark.once
def test_the_command_line_examples_run_as_written(empty_database, tmp_path):
    """The README's command block, as a person pastes it into a shell on a new instance."""
    section = _section("Admin and command line")
    start = section.index("```sh\n", section.index("these run as written")) + len("```sh\n")
    script = section[start : section.index("```", start)]
    assert (ROOT / ".venv" / "bin" / "flask").exists(), "make test makes .venv, as make run does"
    env = {**os.environ, "KASSA_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": empty_database}
    for name in ("ALLOW_PRIVATE_WEBHOOK_URLS", "PORT", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    upgrade = ".venv/bin/flask --app app db upgrade\n"
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", upgrade + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "Payment link plink_" in ran.stdout and "turned on." in ran.stdout
    assert "Demo ready." in ran.stdout


def test_every_setting_kassa_reads_is_in_the_configuration_table():
    source = (ROOT / "checkout" / "config.py").read_text()
    read = set(re.findall(r'env(?:iron)?(?:\.get\(|\[)\s*"([A-Z_]+)"', source))
    read |= set(re.findall(r'\(env(?:iron)?, "([A-Z_]+)"', source))
    read |= set(config.DEFAULT_RATE_LIMITS)
    table = _section("Configuration")
    assert len(read) > 30
    assert [name for name in sorted(read) if f"| `{name}`" not in table] == []
