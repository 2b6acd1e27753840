"""`backup create` while web and worker run, and `backup restore` into a fresh instance: the
restored Kassa serves the same orders, payment links and API keys, and delivers the
notifications that were pending, once each. A restore over data, of something that is not
a backup, or of nothing, is refused and changes nothing."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from checkout import backups, config
from tests.helpers import api_new_order, bearer
from tests.isolation import new_database
from tests.plugins.servers import (
    WORKER_ENV,
    Receiver,
    WebServer,
    Worker,
    flush_queue,
    free_port,
    wait_until,
)
from tests.stripe_signing import WEBHOOK_SECRET, event, payment_intent, signature

ROOT = Path(__file__).resolve().parent.parent
REDIS = bool(os.environ.get("REDIS_URL"))
POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
# The provider's endpoint is down for the whole life of the first instance: its
# notifications are tried every 2 s and stay pending.
STILL_RETRYING = ",".join(["2"] * 100)


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    """`flask --app app …` as an operator runs it, in the instance env describes."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def flask_json(env: dict, *args: str) -> dict:
    ran = flask(env, *args, "--json")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return json.loads(ran.stdout)


@contextmanager
def new_instance(folder: Path, label: str) -> Iterator[dict]:
    """The environment of a new Kassa: its own instance folder (the SQLite database and
    queue, the secret key) and, in the PostgreSQL pass, its own empty database."""
    folder.mkdir()
    env = {**WORKER_ENV, "KASSA_INSTANCE_PATH": str(folder)}
    if not os.environ.get("DATABASE_URL"):
        yield env
        return
    with new_database(folder, label) as url:
        yield {**env, "DATABASE_URL": url}


def api_get(server, key: str, path: str) -> requests.Response:
    return requests.get(server.url + "/api/v1" + path, headers=bearer(key), timeout=30)


def api_all(server, key: str, path: str, id_field: str = "id") -> list[dict]:
    """Every item of an API list, page after page."""
    items, cursor = [], ""
    while True:
        page = api_get(server, key, f"{path}?limit=100{cursor}").json()
        items += page["data"]
        if not page["hasMore"]:
            return items
        cursor = f"&startingAfter={items[-1][id_field]}"


def api_create_order(server, key: str, external_id: str) -> dict:
    response = requests.post(
        server.url + "/api/v1/create-payment-intent",
        json={"externalId": external_id, "amount": 10},
        headers=bearer(key),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def stripe_says_paid(server, order_id: str, number: int) -> None:
    """Stripe's signed payment_intent.succeeded for the order, as Stripe sends it."""
    body = json.dumps(
        event(
            "payment_intent.succeeded",
            payment_intent(order_id, 1000, "succeeded", f"pi_backup_{number}"),
        )
    ).encode()
    response = requests.post(
        server.url + "/webhooks/stripe",
        data=body,
        headers={"Stripe-Signature": signature(body), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


class OrderWriter(threading.Thread):
    """Opens orders through the API, one after another, until stopped; notes when each
    request started and when its answer came."""

    def __init__(self, server, key: str):
        super().__init__(daemon=True)
        self.server, self.key = server, key
        self.stop = threading.Event()
        self.written: list[tuple[float, float, dict]] = []

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            started = time.monotonic()
            order = api_create_order(self.server, self.key, f"DURING-{number}")
            self.written.append((started, time.monotonic(), order))


def same_apart_from_the_address(item: dict, source, restored) -> dict:
    """The item as the restored instance would show it (its URLs name its own address)."""
    return json.loads(json.dumps(item).replace(source.url, restored.url))


def set_up_a_provider(env: dict, hook_port: int) -> dict:
    """A service and a provider (notifications to hook_port) made with the CLI; its keys."""
    flask_json(env, "services", "create", "--title", "Credits", "--price", "5", "--slug", "cr")
    provider = flask_json(
        env,
        *("providers", "create", "--name", "Shop", "--service", "cr", "--slug", "shop"),
        *("--webhook-url", f"http://127.0.0.1:{hook_port}/hook"),
    )
    reader = flask_json(
        env, "providers", "create-key", "shop", "--name", "reader", "--scope", "orders:read"
    )
    secret = flask_json(env, "providers", "show", "shop")["webhookSecret"]
    return {"key": provider["apiKey"], "reader": reader["apiKey"], "secret": secret}


def pending_deliveries(server, key: str, count: int) -> list[dict]:
    """The provider's first endpoint's deliveries, once `count` of them have been tried."""
    endpoint = api_get(server, key, "/webhook-endpoints").json()["data"][0]["id"]

    def tried():
        rows = api_all(server, key, f"/webhook-endpoints/{endpoint}/deliveries")
        return rows if len(rows) == count and all(row["attempts"] for row in rows) else None

    return wait_until(tried, 60, message="the worker tries every notification")


@pytest.mark.multiprocess
def test_a_backup_made_while_orders_are_written_restores_into_a_fresh_instance(tmp_path):
    hook_port = free_port()  # the provider's endpoint: nothing listens there until the end
    with (
        new_instance(tmp_path / "first", "backup_first") as first,
        new_instance(tmp_path / "restored", "backup_restored") as restored,
    ):
        assert flask(first, "db", "upgrade").returncode == 0
        provider = set_up_a_provider(first, hook_port)
        key = provider["key"]
        running = {**first, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
        running["NOTIFICATION_RETRY_SCHEDULE"] = STILL_RETRYING
        flush_queue()
        source = WebServer(running, tmp_path / "first-web.log", workers=2)
        worker = Worker(running, tmp_path / "first-worker.log").start()
        try:
            before = [api_create_order(source, key, f"BEFORE-{n}") for n in range(5)]
            for number, order in enumerate(before[:3]):
                stripe_says_paid(source, order["orderId"], number)
            made_link = requests.post(
                source.url + "/api/v1/payment-links",
                json={"title": "Gift card", "maxUses": 10},
                headers=bearer(key),
                timeout=30,
            )
            assert made_link.status_code == 201, made_link.text
            pending = pending_deliveries(source, key, 3)
            assert {row["status"] for row in pending} == {"pending"}

            writer = OrderWriter(source, key)
            writer.start()
            wait_until(lambda: len(writer.written) >= 3, 30, message="orders being written")
            started = time.monotonic()
            made = flask(first, "backup", "create", str(tmp_path / "backup"))
            ended = time.monotonic()
            wait_until(lambda: writer.written[-1][0] > ended, 30, message="orders after it")
            writer.stop.set()
            writer.join(30)
            assert made.returncode == 0, made.stdout + made.stderr
            during = [o for s, e, o in writer.written if s < ended and e > started]
            assert during, "orders were written while the backup ran"
            then = {
                "orders": {o["orderId"]: o for o in api_all(source, key, "/orders", "orderId")},
                "link": api_get(source, key, f"/payment-links/{made_link.json()['id']}").json(),
                "before": before,
                "finished before": {o["orderId"] for s, e, o in writer.written if e < started},
                "started after": {o["orderId"] for s, e, o in writer.written if s > ended},
            }
        finally:
            source.stop()
            worker.stop()

        if REDIS:
            assert "The queue (Redis) is not copied" in made.stdout
        else:
            assert "huey.db: the queue, copied with SQLite's online backup API" in made.stdout
        shutil.copy(tmp_path / "first" / "secret_key", tmp_path / "restored" / "secret_key")
        restoring = flask(restored, "backup", "restore", str(tmp_path / "backup"))
        assert restoring.returncode == 0, restoring.stdout + restoring.stderr
        assert "Restored the backup made" in restoring.stdout

        flush_queue()  # a new machine's Redis holds nothing of the first instance's
        receiver = Receiver(hook_port)
        receiver.control(secret=provider["secret"])
        again = WebServer(restored, tmp_path / "restored-web.log", workers=2)
        worker = Worker(restored, tmp_path / "restored-worker.log").start()
        try:
            _check_the_restored_instance(source, again, provider, then)
            assert flask(restored, "sweep-outbox").returncode == 0
            _check_pending_notifications_arrive_once(again, key, receiver, pending)
        finally:
            again.stop()
            worker.stop()
            receiver.close()


def _check_the_restored_instance(source, again, provider, then):
    key = provider["key"]
    by_id = {order["orderId"]: order for order in api_all(again, key, "/orders", "orderId")}
    # Everything written before the backup began is there, and nothing begun after it ended.
    assert {o["orderId"] for o in then["before"]} <= by_id.keys()
    assert then["finished before"] <= by_id.keys()
    assert then["started after"] and not then["started after"] & by_id.keys()
    # Each restored order is the order the first instance served, field for field.
    for order_id, order in by_id.items():
        assert order == same_apart_from_the_address(then["orders"][order_id], source, again)
    assert {by_id[o["orderId"]]["status"] for o in then["before"][:3]} == {"paid"}
    # The same payment link, and both API keys still authenticate (the reader only reads).
    shown = api_get(again, key, f"/payment-links/{then['link']['id']}")
    assert shown.status_code == 200
    assert shown.json() == same_apart_from_the_address(then["link"], source, again)
    assert api_get(again, provider["reader"], "/orders?limit=1").status_code == 200
    assert api_get(again, "kassa_sk_not_a_key", "/orders?limit=1").status_code == 401


def _check_pending_notifications_arrive_once(again, key, receiver, pending):
    expected = {row["webhookId"] for row in pending}
    endpoint = api_get(again, key, "/webhook-endpoints").json()["data"][0]["id"]

    def all_delivered():
        rows = api_all(again, key, f"/webhook-endpoints/{endpoint}/deliveries")
        return rows if {row["status"] for row in rows} == {"delivered"} else None

    rows = wait_until(all_delivered, 90, message="the restored worker delivers them")
    assert {row["webhookId"] for row in rows} == expected
    time.sleep(3)  # longer than a retry: a second copy would have come by now
    accepted = receiver.accepted()
    assert sorted(entry["webhookId"] for entry in accepted) == sorted(expected)
    assert all(entry["signatureOk"] for entry in accepted)
    assert {webhook_id: receiver.seen(webhook_id) for webhook_id in expected} == dict.fromkeys(
        expected, 1
    )


def restore_refused(runner, path: Path) -> str:
    """`backup restore PATH` in the test's instance, refused: the error it printed."""
    result = runner.invoke(args=["backup", "restore", str(path), "--json"])
    assert result.exit_code == 1, result.output
    return json.loads(result.output)["error"]


def api_order_ids(client, key: str) -> list[str]:
    listed = client.get("/api/v1/orders?limit=100", headers=bearer(key)).get_json()
    return [order["orderId"] for order in listed["data"]]


@pytest.mark.multiprocess  # pg_dump, in the PostgreSQL pass
def test_a_restore_over_data_is_refused_and_changes_nothing(runner, client, provider_key, tmp_path):
    first = api_new_order(client, provider_key, externalId="KEPT-1", amount=10)
    made = runner.invoke(args=["backup", "create", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    second = api_new_order(client, provider_key, externalId="KEPT-2", amount=10)

    error = restore_refused(runner, tmp_path / "backup")
    assert "is not empty" in error and "nothing was changed" in error
    assert api_order_ids(client, provider_key) == [second, first]


def test_a_folder_that_is_not_a_backup_is_refused(runner, client, provider_key, tmp_path):
    order = api_new_order(client, provider_key, externalId="KEPT-1", amount=10)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "kassa.db").write_text("not a database")
    error = restore_refused(runner, folder)
    assert error == f"{folder} is not a Kassa backup: it has no manifest.json"
    (folder / "manifest.json").write_text('{"name": "my notes"}')
    error = restore_refused(runner, folder)
    assert error == f"{folder} is not a Kassa backup: manifest.json is not one Kassa wrote"
    assert restore_refused(runner, folder / "kassa.db").startswith(f"{folder / 'kassa.db'} is not")
    assert sorted(path.name for path in folder.iterdir()) == ["kassa.db", "manifest.json"]
    assert (folder / "kassa.db").read_text() == "not a database"
    assert api_order_ids(client, provider_key) == [order]


@pytest.mark.multiprocess  # pg_restore --list, in the PostgreSQL pass
def test_a_damaged_backup_is_refused(runner, app, client, provider_key, tmp_path):
    order = api_new_order(client, provider_key, externalId="KEPT-1", amount=10)
    made = runner.invoke(args=["backup", "create", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    copy = tmp_path / "backup" / manifest["files"]["database"]
    copy.write_bytes(copy.read_bytes()[:4096] + b"torn off here")
    error = restore_refused(runner, tmp_path / "backup")
    assert error.startswith(f"{copy} is damaged (") and error.endswith("nothing was changed")
    assert api_order_ids(client, provider_key) == [order]


def test_a_missing_path_is_refused(runner, client, provider_key, tmp_path):
    order = api_new_order(client, provider_key, externalId="KEPT-1", amount=10)
    assert restore_refused(runner, tmp_path / "nowhere") == f"{tmp_path / 'nowhere'} does not exist"
    assert not (tmp_path / "nowhere").exists()
    assert api_order_ids(client, provider_key) == [order]


def test_a_backup_of_a_newer_schema_is_refused(runner, app, tmp_path):
    folder = tmp_path / "from-the-future"
    folder.mkdir()
    kind = "sqlite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"
    (folder / "kassa.db").write_bytes(b"")
    manifest = {
        "format": "kassa-backup",
        "formatVersion": 1,
        "kassaVersion": "9.0.0",
        "alembicRevision": "0099_from_the_future",
        "createdAt": "2030-01-01T00:00:00.000Z",
        "database": kind,
        "queue": "sqlite",
        "files": {"database": "kassa.db", "queue": None},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    error = restore_refused(runner, folder)
    assert "'0099_from_the_future' is unknown to this Kassa" in error
    assert "made by a newer Kassa" in error


def test_a_backup_is_never_written_over_another(runner, tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    result = runner.invoke(args=["backup", "create", str(folder), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == (
        f"{folder} is not empty: give a new folder, so no backup is overwritten"
    )
    assert [path.name for path in folder.iterdir()] == ["manifest.json"]
    assert (folder / "manifest.json").read_text() == "{}"


@pytest.mark.multiprocess
def test_a_backup_of_an_older_schema_is_upgraded_when_restored(tmp_path):
    with (
        new_instance(tmp_path / "old", "backup_old") as old,
        new_instance(tmp_path / "new", "backup_new") as new,
    ):
        assert flask(old, "db", "upgrade", "0019_embed_origins").returncode == 0
        made = flask_json(old, "backup", "create", str(tmp_path / "backup"))
        assert made["manifest"]["alembicRevision"] == "0019_embed_origins"
        restored = flask_json(new, "backup", "restore", str(tmp_path / "backup"))
        assert restored["upgradedFrom"] == "0019_embed_origins"
        assert backups.head_revision() in flask(new, "db", "current").stdout


@pytest.mark.skipif(not POSTGRES, reason="pg_dump backs up PostgreSQL only")
def test_without_pg_dump_a_backup_says_what_to_install_and_leaves_nothing(
    runner, tmp_path, monkeypatch
):
    given = tmp_path / "given"
    given.mkdir()
    # A SQLite queue, copied first: the copy must not stay behind when pg_dump is missing.
    monkeypatch.delenv("REDIS_URL", raising=False)
    sqlite3.connect(config.huey_settings()["sqlite_path"]).close()
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    for folder in (tmp_path / "new", given):
        result = runner.invoke(args=["backup", "create", str(folder), "--json"])
        assert result.exit_code == 1
        assert json.loads(result.output)["error"].startswith("pg_dump is not installed")
    assert not (tmp_path / "new").exists()
    assert list(given.iterdir()) == []
