"""Real servers for tests: the app on a local port, a Stripe stand-in, and Chromium settings.

Tests that start processes are marked `multiprocess` (and Playwright tests `browser`) from
the fixtures they use, so `pytest -m "not multiprocess and not browser"` is a quick run.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from checkout.config import DEFAULT_RATE_LIMITS, LIMITS_OF_ALL_CLIENTS

ROOT = Path(__file__).resolve().parent.parent.parent

# Fixtures that start processes: a test that uses one, even through another fixture, is
# marked multiprocess. A test that starts a process itself carries the mark by hand.
PROCESS_FIXTURES = {"stripe_standin", "receiver", "worker", "workers", "web_servers"}

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# In the pass on PostgreSQL + Redis (DATABASE_URL or REDIS_URL set), tests marked `once`
# are skipped: they prove what the database and queue do not change, and the
# embedded-defaults pass has run them. The browser tests are all `once`: they prove what
# the pages do in a browser, while what PostgreSQL and Redis change under the pages (holds,
# settlement, delivery) is tested through HTTP and the CLI in both passes.
ONCE_SKIPPED = pytest.mark.skip(reason="once: runs in the pass on the embedded defaults")
ONCE_FOLDERS = {Path(__file__).resolve().parent.parent / "browser"}


def pytest_collection_modifyitems(items):
    """Mark tests by the fixtures they use: processes are multiprocess, Playwright is browser."""
    backends_chosen = bool(os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"))
    for item in items:
        if item.path.parent in ONCE_FOLDERS:
            item.add_marker(pytest.mark.once)
        if backends_chosen and item.get_closest_marker("once"):
            item.add_marker(ONCE_SKIPPED)
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & PROCESS_FIXTURES:
            item.add_marker(pytest.mark.multiprocess)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _processes_need_the_mark(request, monkeypatch):
    """Fail a test that starts a process without the mark, so the quick run stays in-process."""
    if {mark.name for mark in request.node.iter_markers()} & {"multiprocess", "browser"}:
        return

    def refuse(*args, **kwargs):
        raise AssertionError("this test starts a process: mark it pytest.mark.multiprocess")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class LiveServer:
    """The app served by werkzeug in a thread, on 127.0.0.1."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def stripe_standin():
    """localstripe on a free port, patched in tests/stripe_standin.py; yields its base URL."""
    port = free_port()
    script = Path(__file__).resolve().parent.parent / "stripe_standin.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Poll until predicate() is truthy; return its value or fail with the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"timed out after {timeout} s")
        time.sleep(interval)


class Receiver:
    """tests/receiver.py in its own process: a provider endpoint that verifies signatures."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.hook_url = self.base + "/hook"
        script = Path(__file__).resolve().parent.parent / "receiver.py"
        self.process = subprocess.Popen([sys.executable, str(script), "--port", str(self.port)])
        wait_for_port(self.port)

    def control(self, **state) -> None:
        requests.post(self.base + "/_control", json=state, timeout=5).raise_for_status()

    def log(self) -> list[dict]:
        return requests.get(self.base + "/_log", timeout=5).json()

    def seen(self, webhook_id: str) -> int:
        """Requests received for a webhook-id, counted as they arrive (in flight too)."""
        return requests.get(self.base + "/_seen", timeout=5).json().get(webhook_id, 0)

    def accepted(self) -> list[dict]:
        return [entry for entry in self.log() if entry["outcome"] == "accepted"]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


# Fast settings for workers under test; production defaults are in checkout/config.py.
WORKER_ENV = {
    "ALLOW_PRIVATE_WEBHOOK_URLS": "1",
    "NOTIFICATION_RETRY_SCHEDULE": "1,1,1,1,1",
    "NOTIFICATION_LEASE_SECONDS": "6",
    "NOTIFICATION_TIMEOUT_SECONDS": "2",
    "OUTBOX_SWEEP_GRACE_SECONDS": "1",
    # Far above what a test sends (the soak test opens 2000 orders with one key).
    **{name: "100000/minute" for name in DEFAULT_RATE_LIMITS},
    # Out of one client's reach, as the app requires (config.check_rate_limits).
    **{name: "1000000/minute" for name in LIMITS_OF_ALL_CLIENTS},
}


class Worker:
    """`huey_consumer checkout.worker.huey` as its own process, as the Procfile runs it
    (WORKER_THREADS delivery threads, 4 unless the env says)."""

    def __init__(self, env: dict, log_path: Path):
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process = None

    def start(self) -> "Worker":
        log = open(self.log_path, "a")  # noqa: SIM115 -- lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "huey.bin.huey_consumer",
                "checkout.worker.huey",
                *("--workers", self.env.get("WORKER_THREADS", "4")),
                *("--worker-type", "thread", "--delay", "0.1"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, tasks in hand are lost."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def flush_queue() -> None:
    """Empty the queues this run's workers read, left over from earlier tests."""
    from checkout.queue import huey, stripe_huey

    huey.flush()
    stripe_huey.flush()


@pytest.fixture
def worker_env() -> dict:
    return dict(WORKER_ENV)


@pytest.fixture
def worker(app, worker_env, tmp_path):
    flush_queue()
    process = Worker(worker_env, tmp_path / "worker.log").start()
    yield process
    process.stop()


class WebServer:
    """gunicorn serving app:app in its own processes, configured only by environment."""

    def __init__(self, env: dict, log_path: Path, workers: int = 4, args: tuple = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = open(log_path, "a")  # noqa: SIM115 -- lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                *("--workers", str(workers), "--bind", f"127.0.0.1:{self.port}"),
                *("--timeout", "60", "--graceful-timeout", "5", *args, "app:app"),
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def web_servers(app, tmp_path):
    """Start gunicorn servers on demand: web_servers(env, workers=4, args=(more gunicorn
    options)); all stop afterwards."""
    started = []

    def start(env: dict | None = None, workers: int = 4, args: tuple = ()) -> WebServer:
        server = WebServer({**WORKER_ENV, **(env or {})}, tmp_path / "web.log", workers, args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def workers(app, worker_env, tmp_path):
    """Start huey_consumer processes on demand; all stop afterwards."""
    flush_queue()
    started = []

    def start(count: int = 1, **env: str) -> list[Worker]:
        settings = {**worker_env, **env}
        batch = [Worker(settings, tmp_path / "worker.log").start() for _ in range(count)]
        started.extend(batch)
        return batch

    yield start
    for process in started:
        process.stop()
