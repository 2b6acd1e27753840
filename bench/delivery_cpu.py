"""CPU time per notification delivery, in one process: a noise-robust second opinion on
`bench/run.py`'s delivery ratio when the machine is not quiet (CPU time, not wall time).

    python bench/delivery_cpu.py [COUNT]

It makes a fresh instance (SQLite, sandbox), a provider notifying `bench/receiver.py`, and
COUNT pending notifications about one order, then runs the worker's `deliver_notification`
task for each in turn, as `huey_consumer checkout.worker.huey` would, and prints the wall
and CPU time per delivery.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    folder = tempfile.mkdtemp(prefix="kassa-delivery-cpu-")
    env = {
        **os.environ,
        "KASSA_INSTANCE_PATH": folder,
        "SECRET_KEY": "bench-secret",
        "ALLOW_PRIVATE_WEBHOOK_URLS": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    port = 20000 + os.getpid() % 10000
    receiver = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "receiver.py"), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        measure(count, port, Path(folder))
    finally:
        receiver.kill()


def flask(*args: str) -> str:
    command = [sys.executable, "-m", "flask", "--app", "app", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def measure(count: int, port: int, folder: Path) -> None:
    flask("db", "upgrade")
    flask("services", "create", "--title", "Bench", "--price", "10", "--slug", "bench")
    provider = json.loads(
        flask(
            "providers", "create", "--name", "Bench shop", "--service", "bench",
            "--webhook-url", f"http://127.0.0.1:{port}/hook",
            "--success-url", "https://shop.example/ok", "--json",
        )
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import requests
    import sqlalchemy as sa

    # The worker's log lines go to a file, as under the Procfile, not to a terminal.
    sys.stderr = (folder / "worker.log").open("a")
    import checkout.worker  # noqa: F401  (builds the app, as the worker process does)
    from checkout import tasks
    from checkout.extensions import db

    with tasks.app_context():
        order = (
            tasks._worker_app.test_client()
            .post(
                "/api/v1/create-payment-intent",
                json={"amount": 10},
                headers={"Authorization": "Bearer " + provider["apiKey"]},
            )
            .get_json()
        )
        endpoints = sa.text("SELECT id, provider_id FROM webhook_endpoints")
        endpoint = db.session.execute(endpoints).one()
        now = datetime.now(UTC).replace(tzinfo=None)
        ids = [f"msg_cpu{number:07d}" for number in range(count)]
        db.session.execute(
            sa.text(
                "INSERT INTO notifications (id, message_id, provider_id, endpoint_id, order_id,"
                " event, payload, status, attempts, schedule_start, next_attempt_at, created_at)"
                " VALUES (:id, :id, :provider, :endpoint, :order, 'payment.paid', :body,"
                " 'pending', 0, 0, :due, :now)"
            ),
            [
                {
                    "id": notification_id,
                    "provider": endpoint.provider_id,
                    "endpoint": endpoint.id,
                    "order": order["orderId"],
                    "body": json.dumps({"orderId": order["orderId"], "pad": "x" * 300}),
                    "due": now - timedelta(hours=1),
                    "now": now,
                }
                for notification_id in ids
            ],
        )
        db.session.commit()
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    wall, cpu = time.perf_counter(), time.process_time()
    results = [tasks.deliver_notification.call_local(notification_id) for notification_id in ids]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{count} deliveries ({results.count('delivered')} delivered):"
        f" {1000 * wall / count:.2f} ms wall, {1000 * cpu / count:.2f} ms CPU per delivery"
    )


if __name__ == "__main__":
    main()
