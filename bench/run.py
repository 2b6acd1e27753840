"""Kassa's benchmark: each measurement beside a baseline taken in the same run.

    make bench                      # SQLite database; Redis Huey too if Redis answers
    DATABASE_URL=postgresql://… make bench

Prints a table and writes bench/results/<time>.json. Not part of the test suite.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from checkout.config import DEFAULT_RATE_LIMITS, LIMITS_OF_ALL_CLIENTS

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WEBHOOK_SECRET = "whsec_bench"
GUNICORN = ["--workers", "2", "--backlog", "256"]  # as the Procfile runs it
CONNECTIONS = 32
WORKER_THREADS = 8
ROUNDS = 3  # alternating Kassa/baseline rounds for the checkout page
DELIVERY_SAMPLE = 2000  # notifications delivered in the delivery run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still starting
            time.sleep(0.1)
    raise TimeoutError(url)


class Process:
    """A child process in its own process group, stopped at the end."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = open(log, "a")  # noqa: SIM115 -- closed in stop()
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        """This process and its children (gunicorn's workers)."""
        found = [self.popen.pid]
        result = subprocess.run(
            ["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True
        )
        found += [int(pid) for pid in result.stdout.split()]
        return found

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) among the process and its children."""
        peaks = []
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peaks.append(int(match[1]) / 1024)
        return max(peaks, default=0.0)

    def stop(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.log.close()


def gunicorn(app: str, env: dict, log: Path) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        [sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{port}", app],
        env,
        log,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/healthz" if app == "app:app" else url + "/page")
    return process, url


def wrk(url: str, seconds: int, script: str | None = None, args: tuple = ()) -> dict:
    """Run wrk and return requests/s with p50/p99 latency in ms."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(BENCH / script)]
    command.append(url)
    if args:
        command += ["--", *map(str, args)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)

    def latency(percent: str) -> float:
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    if errors:  # a run that measured error pages measured the wrong thing
        raise RuntimeError(f"bench: {errors[1]} answers were not 2xx/3xx from {url}")
    return {
        "rps": round(rps, 1),
        "p50_ms": round(latency("50"), 2),
        "p99_ms": round(latency("99"), 2),
    }


def paired(kassa, baseline, rounds: int) -> dict:
    """Alternate Kassa and baseline runs, so drift in the machine's speed hits both alike.

    Each side reports its median round; the ratio is the median of the rounds' ratios.
    """
    runs = [(kassa(), baseline()) for _ in range(rounds)]

    def median_run(side: int) -> dict:
        ordered = sorted((run[side] for run in runs), key=lambda result: result["rps"])
        return ordered[len(ordered) // 2]

    ratios = sorted(ours["rps"] / theirs["rps"] for ours, theirs in runs)
    return {
        "kassa": median_run(0),
        "baseline": median_run(1),
        "ratio": round(ratios[len(ratios) // 2], 3),
        "rounds": [{"kassa": ours, "baseline": theirs} for ours, theirs in runs],
    }


def per_second(count: int, span: tuple) -> float:
    """The rate of count events whose first and last happened at span's two moments."""
    first, last = (datetime.fromisoformat(str(moment)) for moment in span)
    return round((count - 1) / (last - first).total_seconds(), 1)


def signed(body: str) -> str:
    timestamp = int(time.time())
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def succeeded_event(order_id: str) -> str:
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"pi_{secrets.token_hex(12)}",
                    "object": "payment_intent",
                    "amount": 1000,
                    "amount_received": 1000,
                    "currency": "usd",
                    "status": "succeeded",
                    "metadata": {"orderId": order_id},
                }
            },
        }
    )


class Bench:
    """One benchmark run: a fresh instance folder and database, and the processes it starts."""

    def __init__(self, seconds: int, database_url: str | None, redis_url: str | None):
        self.seconds = seconds
        self.folder = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
        self.redis_url = redis_url
        self.env = {
            **os.environ,
            "KASSA_INSTANCE_PATH": str(self.folder),
            "SECRET_KEY": "bench-secret",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ALLOW_PRIVATE_WEBHOOK_URLS": "1",
            "OUTBOX_SWEEP_GRACE_SECONDS": "30",
            # One load generator is one client: limits it can never reach, still counted, so
            # the bench measures what counting costs without answering 429.
            **{name: "1000000000/minute" for name in DEFAULT_RATE_LIMITS},
            # Per link, out of one client's reach, as the app requires.
            **{name: "10000000000/minute" for name in LIMITS_OF_ALL_CLIENTS},
        }
        self.env.pop("REDIS_URL", None)
        for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"):
            self.env.pop(name, None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)
        self.processes: list[Process] = []
        self.results: dict = {"started": datetime.now(UTC).isoformat(), "cpus": os.cpu_count()}

    def start(self, process: Process) -> Process:
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        self.processes.remove(process)

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def flask(self, *args: str, env: dict | None = None) -> str:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def seed(self) -> None:
        """Migrate, and create a service and a provider notifying the bench receiver."""
        self.flask("db", "upgrade")
        if self.env.get("DATABASE_URL", "").startswith("postgres"):
            self.reset_postgres()
        self.receiver_port = free_port()
        self.receiver = self.start(
            Process(
                [sys.executable, str(BENCH / "receiver.py"), str(self.receiver_port)],
                self.env,
                self.log("receiver"),
            )
        )
        self.receiver_url = f"http://127.0.0.1:{self.receiver_port}"
        wait_for(self.receiver_url)
        self.flask("services", "create", "--title", "Bench", "--price", "10", "--slug", "bench")
        provider = json.loads(
            self.flask(
                "providers", "create", "--name", "Bench shop", "--service", "bench",
                "--webhook-url", self.receiver_url + "/hook",
                "--success-url", "https://shop.example/ok?o={orderId}", "--json",
            )
        )  # fmt: skip
        self.api_key = provider["apiKey"]

    def reset_postgres(self) -> None:
        """Empty the tables a previous bench left, keeping the schema."""
        import sqlalchemy as sa

        from checkout.config import database_url

        engine = sa.create_engine(database_url(self.env))
        with engine.begin() as connection:
            names = [
                row[0]
                for row in connection.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                )
            ]
            if names:
                quoted = ", ".join(f'"{name}"' for name in names)
                connection.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        engine.dispose()

    def create_order(self, base: str, external_id: str | None = None) -> dict:
        body = {"amount": 10} if external_id is None else {"amount": 10, "externalId": external_id}
        response = requests.post(
            base + "/api/v1/create-payment-intent",
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def run(self) -> dict:
        self.seed()
        web, kassa = gunicorn("app:app", self.env, self.log("web"))
        self.start(web)
        order = self.create_order(kassa)
        checkout = f"{kassa}/checkout?orderId={order['orderId']}"
        page_bytes = len(requests.get(checkout, timeout=10).content)
        base, bare = gunicorn(
            "bench.baseline_app:app",
            {**self.env, "BASELINE_PAGE_BYTES": str(page_bytes)},
            self.log("baseline"),
        )
        self.start(base)

        print("1/6 checkout page", flush=True)
        self.results["checkout_page"] = {
            "page_bytes": page_bytes,
            **paired(
                lambda: wrk(checkout, self.seconds),
                lambda: wrk(f"{bare}/page", self.seconds),
                ROUNDS,
            ),
        }
        self.orders = self.many_orders(kassa)
        self.results["checkout_page"]["first_views"] = self.first_views(kassa)
        print("2/6 create-payment-intent", flush=True)
        self.results["create_payment_intent"] = {
            "kassa": wrk(
                kassa, self.seconds, "orders.lua", (self.api_key, "/api/v1/create-payment-intent")
            ),
            "baseline": wrk(bare, self.seconds, "orders.lua", (self.api_key, "/echo")),
        }
        print("3/6 Stripe webhook ingest", flush=True)
        self.results["webhook_ingest"] = self.webhook_ingest(kassa, bare)
        print("3b/6 a worker applies the recorded events", flush=True)
        self.results["webhook_ingest"]["applied"] = self.apply_backlog()
        print("4/6 notification delivery", flush=True)
        first, self.results["delivery"] = self.delivery()
        worker_rss = max(first.peak_rss_mb(), self.apply_worker_rss)
        self.stop(first)
        print("4b/6 notification delivery, two worker processes", flush=True)
        # The first of these keeps running for step 5, with the Procfile's 4 threads.
        worker, self.results["delivery_two_processes"] = self.delivery(processes=2)
        print("5/6 webhook-to-provider latency", flush=True)
        self.results["end_to_end"] = {"sqlite_huey": self.end_to_end(kassa)}
        print("6/6 memory", flush=True)
        self.results["peak_rss_mb"] = {
            "web_process": round(web.peak_rss_mb(), 1),
            "worker_process": round(max(worker.peak_rss_mb(), worker_rss), 1),
        }
        if self.redis_url:
            print("5/6 again, with Redis Huey", flush=True)
            env = {**self.env, "REDIS_URL": self.redis_url}
            subprocess.run(["redis-cli", "-u", self.redis_url, "flushdb"], capture_output=True)
            redis_web, redis_kassa = gunicorn("app:app", env, self.log("web-redis"))
            self.start(redis_web)
            self.start_worker(env)
            time.sleep(2)
            self.results["end_to_end"]["redis_huey"] = self.end_to_end(redis_kassa)
        return self.results

    def many_orders(self, kassa: str) -> list[str]:
        """Pending orders for the first-view and webhook runs, more than either can use."""
        count = max(self.seconds * 3000, 3000)
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: self.create_order(kassa)["orderId"], range(count)))

    def first_views(self, kassa: str) -> dict:
        """Checkout pages of orders never viewed before: rendered, never from the page cache."""
        path = self.folder / "orders.txt"
        path.write_text("".join(f"{order_id}\n" for order_id in self.orders))
        result = wrk(kassa, self.seconds, "pages.lua", (path, 2))
        result["all_first_views"] = result["rps"] * self.seconds <= len(self.orders)
        return result

    def webhook_ingest(self, kassa: str, bare: str) -> dict:
        """Signed unique events for real orders: signature, event row, state change, outbox row."""
        path = self.folder / "events.tsv"
        with open(path, "w") as handle:
            for order_id in self.orders:
                body = succeeded_event(order_id)
                handle.write(f"{signed(body)}\t{body}\n")
        kassa_result = wrk(kassa + "/webhooks/stripe", self.seconds, "webhooks.lua", (path, 2))
        kassa_result["all_events_unique"] = kassa_result["rps"] * self.seconds <= len(self.orders)
        baseline = wrk(bare + "/echo", self.seconds, "webhooks.lua", (path, 2))
        return {"kassa": kassa_result, "baseline": baseline}

    def query(self, sql: str, **params) -> list:
        """The first column of a query's rows; a list parameter fills `IN :name`."""
        return [row[0] for row in self._run(sql, params)]

    def execute(self, sql: str, **params) -> None:
        self._run(sql, params)

    def _run(self, sql: str, params: dict) -> list[tuple]:
        import sqlalchemy as sa

        from checkout.config import database_url

        statement = sa.text(sql).bindparams(
            *(sa.bindparam(name, expanding=True) for name, value in params.items()
              if isinstance(value, list))
        )  # fmt: skip
        engine = sa.create_engine(database_url(self.env))
        with engine.begin() as connection:
            result = connection.execute(statement, params)
            rows = [tuple(row) for row in result] if result.returns_rows else []
        engine.dispose()
        return rows

    def apply_backlog(self) -> dict:
        """Start a worker on the events the ingest recorded; time until every one is applied.

        The worker also delivers the notifications the events create, as it would in use;
        it runs on until all are delivered, so the delivery runs start from a quiet queue.
        """
        waiting_sql = "SELECT count(*) FROM stripe_events WHERE applied_at IS NULL"
        pending_sql = "SELECT count(*) FROM notifications WHERE status = 'pending'"
        events = self.query(waiting_sql)[0]
        worker = self.start_worker(self.env)
        started = time.monotonic()
        while self.query(waiting_sql)[0] and time.monotonic() - started < 900:
            time.sleep(0.2)
        # From the first event applied to the last: the worker's start-up is not applying.
        per_s = per_second(
            events, self._run("SELECT min(applied_at), max(applied_at) FROM stripe_events", {})[0]
        )
        delivered_meanwhile = self.query(
            "SELECT count(*) FROM notifications WHERE status = 'delivered'"
        )[0]
        while self.query(pending_sql)[0] and time.monotonic() - started < 900:
            time.sleep(0.5)
        all_done = time.monotonic() - started
        self.apply_worker_rss = worker.peak_rss_mb()
        self.stop(worker)
        # Everything is delivered; what is left in the queue are the minute sweep's second
        # copies of rows that waited longer than its grace period. They would only be no-ops.
        subprocess.run(
            [sys.executable, "-c",
             "from checkout.queue import huey, stripe_huey; huey.flush(); stripe_huey.flush()"],
            cwd=ROOT, env=self.env, check=True,
        )  # fmt: skip
        return {
            "events": events,
            "per_s": per_s,
            "threads": WORKER_THREADS,
            "notifications_delivered_meanwhile": delivered_meanwhile,
            "seconds_until_all_delivered": round(all_done, 1),
        }

    def delivery(self, processes: int = 1) -> tuple[Process, dict]:
        """Deliver a backlog of notifications, versus a plain client posting the same.

        WORKER_THREADS deliveries at a time on both sides: in one worker process, or split
        over several (as on a machine with as many cores).

        The backlog: DELIVERY_SAMPLE delivered notifications made pending again and queued
        by `flask sweep-outbox` (as after a lost queue) once the workers are up. Timed from
        the first new attempt to the last.
        """
        requests.delete(self.receiver_url, timeout=5)
        threads = WORKER_THREADS // processes
        workers = [self.start_worker(self.env, threads) for _ in range(processes)]
        time.sleep(3)  # started, and each has built its app (its start-up sweep does)
        # Notifications the apply run delivered, sent again as after "Resend": each run
        # takes the DELIVERY_SAMPLE delivered longest ago (another run's first, when a
        # short ingest delivered fewer than two samples).
        sample = self.query(
            "SELECT id FROM notifications WHERE status = 'delivered'"
            " ORDER BY delivered_at, id LIMIT :n",
            n=DELIVERY_SAMPLE,
        )
        self.execute(
            "UPDATE notifications SET status = 'pending', attempts = 0, delivered_at = NULL,"
            " next_attempt_at = :due, lease_until = NULL WHERE id IN :ids",
            due=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1),
            ids=sample,
        )
        resent_at = datetime.now(UTC).replace(tzinfo=None)
        self.flask("sweep-outbox")
        pending_sql = "SELECT count(*) FROM notifications WHERE status = 'pending' AND id IN :ids"
        pending = len(sample)
        started = time.monotonic()
        while self.query(pending_sql, ids=sample)[0] and time.monotonic() - started < 600:
            time.sleep(0.2)
        # From the first attempt to the last: the queueing by the CLI is not delivery.
        kassa_per_s = per_second(
            pending,
            self._run(
                "SELECT min(attempted_at), max(attempted_at) FROM delivery_attempts"
                " WHERE notification_id IN :ids AND attempted_at > :since",
                {"ids": sample, "since": resent_at},
            )[0],
        )
        payloads = self.query("SELECT payload FROM notifications WHERE id IN :ids", ids=sample)
        requests.delete(self.receiver_url, timeout=5)
        local = threading.local()

        def post(payload: str) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            local.session.post(
                self.receiver_url + "/hook",
                data=payload.encode(),
                headers={
                    "Content-Type": "application/json",
                    "webhook-id": "msg_plain",
                    "webhook-timestamp": str(int(time.time())),
                    "webhook-signature": "v1,plain",
                },
                timeout=10,
            )

        started = time.monotonic()
        with ThreadPoolExecutor(WORKER_THREADS) as pool:
            list(pool.map(post, payloads))
        plain_elapsed = time.monotonic() - started
        for extra in workers[1:]:
            self.stop(extra)
        return workers[0], {
            "notifications": pending,
            "kassa_per_s": kassa_per_s,
            "baseline_per_s": round(len(payloads) / plain_elapsed, 1),
            "worker_processes": processes,
            "threads_per_process": threads,
        }

    def start_worker(self, env: dict, threads: int = WORKER_THREADS) -> Process:
        procfile = (ROOT / "Procfile").read_text()
        command = re.search(r"^worker:\s*(.+)$", procfile, re.M)[1]
        command = command.replace("${WORKER_THREADS:-4}", str(threads))
        return self.start(
            Process([sys.executable, "-m", "huey.bin.huey_consumer", *command.split()[1:]], env,
                    self.log("worker"))
        )  # fmt: skip

    def end_to_end(self, kassa: str) -> dict:
        """From Kassa's 200 to Stripe, to the provider's receiver getting the notification."""
        requests.delete(self.receiver_url, timeout=5)
        samples = 200
        orders = [self.create_order(kassa)["orderId"] for _ in range(samples)]
        acknowledged = {}
        session = requests.Session()
        for order_id in orders:
            body = succeeded_event(order_id)
            response = session.post(
                kassa + "/webhooks/stripe",
                data=body,
                headers={"Stripe-Signature": signed(body), "Content-Type": "application/json"},
                timeout=30,
            )
            acknowledged[order_id] = time.time()
            assert response.status_code == 200, response.text
            time.sleep(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            arrivals = requests.get(self.receiver_url, timeout=5).json()["arrivals"]
            if all(order_id in arrivals for order_id in orders):
                break
            time.sleep(0.5)
        latencies = sorted(
            (arrivals[order_id] - acknowledged[order_id]) * 1000
            for order_id in orders
            if order_id in arrivals
        )
        return {
            "samples": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        }

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


TARGETS = [
    ("checkout_page", "1. checkout page"),
    ("create_payment_intent", "2. create-payment-intent"),
    ("webhook_ingest", "3. Stripe webhook ingest"),
]


def report(results: dict) -> str:
    """The results as a plain table."""
    lines = [f"{'measure':34} {'Kassa':>22} {'baseline':>22} {'ratio':>7}"]
    for key, label in TARGETS:
        kassa, base = results[key]["kassa"], results[key]["baseline"]
        ratio = results[key].get("ratio", kassa["rps"] / base["rps"])
        lines.append(
            f"{label:34} {kassa['rps']:>9.0f} rps p99 {kassa['p99_ms']:>6.1f} ms"
            f" {base['rps']:>9.0f} rps p99 {base['p99_ms']:>6.1f} ms"
            f" {ratio:>6.0%}"
        )
    first = results["checkout_page"]["first_views"]
    label = "1b. checkout page, first views"
    lines.insert(2, f"{label:34} {first['rps']:>9.0f} rps p99 {first['p99_ms']:>6.1f} ms")
    applied = results["webhook_ingest"]["applied"]
    lines.append(
        f"{'3b. events applied by one worker':34} {applied['per_s']:>13.0f} per s"
        f"   ({applied['events']} events, {applied['threads']} threads)"
    )
    for key, label in (
        ("delivery", "4. delivery, 1 worker × 8 threads"),
        ("delivery_two_processes", "4b. delivery, 2 workers × 4 threads"),
    ):
        delivery = results[key]
        lines.append(
            f"{label:34} {delivery['kassa_per_s']:>13.0f} per s"
            f" {delivery['baseline_per_s']:>15.0f} per s"
            f" {delivery['kassa_per_s'] / delivery['baseline_per_s']:>6.0%}"
        )
    for name, values in results["end_to_end"].items():
        lines.append(
            f"{'5. webhook→provider, ' + name:34} p50 {values['p50_ms']:>6.1f} ms"
            f" p99 {values['p99_ms']:>7.1f} ms"
        )
    memory = results["peak_rss_mb"]
    lines.append(
        f"{'6. peak RSS':34} web {memory['web_process']:.0f} MB,"
        f" worker {memory['worker_process']:.0f} MB"
    )
    return "\n".join(lines)


def redis_available(url: str) -> bool:
    return subprocess.run(["redis-cli", "-u", url, "ping"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing (apt-get install wrk, or use `make bench`)")
    redis_url = args.redis_url if redis_available(args.redis_url) else None
    # A stopped bench (kill, a timeout) still stops the servers and workers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: stopped"))
    bench = Bench(args.seconds, os.environ.get("DATABASE_URL"), redis_url)
    try:
        results = bench.run()
    finally:
        bench.close()
    results["database"] = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{results['database']}.json"
    path.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
