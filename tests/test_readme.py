"""The README's lists that code also holds stay the same as the code's."""

import re
from pathlib import Path

from checkout.notifications import EVENTS
from checkout.stripe_events import HANDLERS

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


def test_every_command_is_in_the_command_list(app):
    listed = _section("Admin and command line")
    listed = listed[listed.index("Every command takes `--json`") :]
    names = []
    for name, command in app.cli.commands.items():
        if name == "db":  # Flask-Migrate's, under "Upgrading"
            continue
        subcommands = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    missing = [name for name in names if f".venv/bin/flask --app app {name}" not in listed]
    assert missing == []
