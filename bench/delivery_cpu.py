"""CPU time per notification delivery, in one process: a noise-robust second opinion on
`bench/run.py`'s delivery ratio when the machine is not quiet (CPU time, not wall time).

    python bench/delivery_cpu.py [COUNT]

It makes a fresh instance (SQLite, sandbox), a provider notifying `bench/receiver.py`, and
COUNT pending notifications about one order, then runs the worker's `deliver_notification`
task for each in turn, as `huey_consumer checkout.worker.huey` would, and prints the wall
and CPU time per delivery.

    BENCH_COMPARE=metrics|log|log-metrics|none   what alternating batches turn off and on
    BENCH_PROFILE=FILE                            write a cProfile of the deliveries
    BENCH_LOG=FILE                                where the worker's lines go (default: a file)
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
    sys.stderr = open(os.environ.get("BENCH_LOG") or folder / "worker.log", "a")  # noqa: SIM115
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
    if os.environ.get("BENCH_COMPARE"):
        compare(tasks, ids)
        return
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # where to write a cProfile of the deliveries
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    results = [tasks.deliver_notification.call_local(notification_id) for notification_id in ids]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    print(
        f"{count} deliveries ({results.count('delivered')} delivered):"
        f" {1000 * wall / count:.2f} ms wall, {1000 * cpu / count:.2f} ms CPU per delivery"
    )


def compare(tasks, ids: list[str], batches: int = 40) -> None:
    """BENCH_COMPARE: the same deliveries in alternating batches with the metric updates
    (`metrics`), the worker's INFO line (`log`), both or nothing (`none`: the method's own
    noise) on and off, in this one process, so the machine's drift between runs cancels
    out; prints the CPU per delivery of each."""
    import logging

    from prometheus_client import metrics as prometheus

    kept = {
        (kind, name): getattr(kind, name)
        for kind in (prometheus.Counter, prometheus.Gauge, prometheus.Histogram)
        for name in ("inc", "set", "observe")
        if hasattr(kind, name)
    }
    kept_labels = prometheus.MetricWrapperBase.labels
    worker_log = logging.getLogger("checkout.tasks")

    def switch(on: bool) -> None:
        if os.environ["BENCH_COMPARE"] in ("metrics", "log-metrics"):
            for (kind, name), method in kept.items():
                setattr(kind, name, method if on else (lambda self, *args, **kwargs: None))
            prometheus.MetricWrapperBase.labels = kept_labels if on else (lambda s, *a, **k: s)
        if os.environ["BENCH_COMPARE"] in ("log", "log-metrics"):
            worker_log.disabled = not on

    cpu = {True: 0.0, False: 0.0}
    done = {True: 0, False: 0}
    size = len(ids) // (batches + 1)
    for notification_id in ids[-size:]:  # warm up: the first deliveries cost more
        tasks.deliver_notification.call_local(notification_id)
    for number in range(batches):
        on = number % 4 in (0, 3)  # on, off, off, on, …: neither goes first more often
        switch(on)
        batch = ids[number * size : (number + 1) * size]
        started = time.process_time()
        for notification_id in batch:
            tasks.deliver_notification.call_local(notification_id)
        cpu[on] += time.process_time() - started
        done[on] += len(batch)
    switch(True)
    per = {on: 1000 * cpu[on] / done[on] for on in cpu}
    print(
        f"{os.environ['BENCH_COMPARE']} on: {per[True]:.3f} ms CPU per delivery,"
        f" off: {per[False]:.3f} ms ({100 * (per[True] / per[False] - 1):+.1f} %)"
    )


if __name__ == "__main__":
    main()
