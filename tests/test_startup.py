"""Live or sandbox is never an accident: web, worker and CLI refuse a half or unsafe Stripe
setup with the variable to fix, and say on start which mode they run in."""

import os
import subprocess
import sys

import pytest
import requests

from checkout import config, create_app
from checkout.config import ConfigError
from tests.conftest import BASE_CONFIG
from tests.helpers import LIVE_SETTINGS, TEST_KEYS
from tests.plugins.servers import ROOT, free_port, wait_until

LIVE = LIVE_SETTINGS
VERSION = "2026-10-28.endive"
ENDIVE = "2026-09-30.endive"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"STRIPE_SECRET_KEY": "sk_test_kassa"},
            "STRIPE_PUBLISHABLE_KEY is not set but STRIPE_SECRET_KEY is",
        ),
        (
            {"STRIPE_PUBLISHABLE_KEY": "pk_live_kassa"},
            "STRIPE_SECRET_KEY is not set but STRIPE_PUBLISHABLE_KEY is",
        ),
        (
            {**LIVE, "STRIPE_WEBHOOK_SECRET": None},
            "live Stripe keys need STRIPE_WEBHOOK_SECRET and an https PUBLIC_BASE_URL: "
            "STRIPE_WEBHOOK_SECRET is not set",
        ),
        (
            {**LIVE, "PUBLIC_BASE_URL": "http://pay.example.com"},
            "PUBLIC_BASE_URL is 'http://pay.example.com', not an https URL",
        ),
        ({**LIVE, "PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL is not set"),
        (
            {**LIVE, "STRIPE_PUBLISHABLE_KEY": "pk_test_kassa"},
            "STRIPE_SECRET_KEY is a live key but STRIPE_PUBLISHABLE_KEY is a test key",
        ),
        (
            {**LIVE, "STRIPE_SECRET_KEY": "rk_test_kassa"},
            "STRIPE_SECRET_KEY is a test key but STRIPE_PUBLISHABLE_KEY is a live key",
        ),
        (
            {**TEST_KEYS, "STRIPE_SECRET_KEY": "pk_test_swapped"},
            "STRIPE_SECRET_KEY must start with sk_test_, rk_test_, sk_live_, rk_live_ "
            "(it starts with 'pk_test_')",
        ),
        ({"STRIPE_API_VERSION": "2026-13-01"}, "STRIPE_API_VERSION is '2026-13-01': give a"),
        ({"STRIPE_API_VERSION": "endive"}, "such as 2026-10-28.endive, or unset it"),
        (
            {**TEST_KEYS, "STRIPE_PUBLISHABLE_KEY": "whsec_oops"},
            "STRIPE_PUBLISHABLE_KEY must start with pk_test_, pk_live_ (it starts with 'whsec_')",
        ),
    ],
)
def test_the_app_refuses_a_half_mixed_or_unsafe_stripe_setup(settings, message):
    with pytest.raises(ConfigError) as refused:
        create_app({**BASE_CONFIG, **settings})
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        TEST_KEYS,
        LIVE,
        {**LIVE, "STRIPE_SECRET_KEY": "rk_live_restricted"},
        {**TEST_KEYS, "PUBLIC_BASE_URL": "http://localhost:8000"},
        {**TEST_KEYS, "STRIPE_API_VERSION": "2026-08-26.preview"},
    ],
)
def test_complete_setups_start(settings):
    assert create_app({**BASE_CONFIG, **settings}).config["STRIPE_SECRET_KEY"] == settings.get(
        "STRIPE_SECRET_KEY"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"NOTIFICATION_TIMEOUT_SECONDS": 10.0, "NOTIFICATION_LEASE_SECONDS": 12},
            "NOTIFICATION_LEASE_SECONDS is 12 but NOTIFICATION_TIMEOUT_SECONDS is 10: the "
            "lease must be more than 2 s longer than the timeout",
        ),
        (
            {"NOTIFICATION_TIMEOUT_SECONDS": 90.0},
            "NOTIFICATION_LEASE_SECONDS is 60 but NOTIFICATION_TIMEOUT_SECONDS is 90",
        ),
    ],
)
def test_a_lease_an_attempt_could_outlast_is_refused(settings, message):
    """Otherwise the sweep hands a notification still being sent to a second worker."""
    with pytest.raises(ConfigError) as refused:
        create_app({**BASE_CONFIG, **settings})
    assert message in str(refused.value)


def test_a_lease_longer_than_the_attempt_by_the_margin_starts():
    settings = {"NOTIFICATION_TIMEOUT_SECONDS": 10.5, "NOTIFICATION_LEASE_SECONDS": 13}
    assert create_app({**BASE_CONFIG, **settings}).config["NOTIFICATION_LEASE_SECONDS"] == 13


def run(command: list[str], env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run an entry point as the Procfile does, with the suite's environment plus env."""
    environ = {**os.environ, **{name: value for name, value in env.items() if value}}
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
    return subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )


ENTRY_POINTS = {
    # One worker: with two, gunicorn's master sometimes hears the second worker fail while it
    # is already halting for the first, and dies of that with status 1 instead of 3 (it still
    # stops, with Kassa's reason printed); the status 3 this checks comes from one worker.
    "web": lambda: [
        sys.executable,
        "-m",
        "gunicorn",
        *("--workers", "1", "--bind", f"127.0.0.1:{free_port()}", "app:app"),
    ],
    "worker": lambda: [sys.executable, "-m", "huey.bin.huey_consumer", "checkout.worker.huey"],
    "cli": lambda: [sys.executable, "-m", "flask", "--app", "app", "stripe", "check"],
}
PARTIAL = [
    ({"STRIPE_SECRET_KEY": "sk_test_kassa"}, "STRIPE_PUBLISHABLE_KEY"),
    ({"STRIPE_PUBLISHABLE_KEY": "pk_live_kassa"}, "STRIPE_SECRET_KEY"),
]


@pytest.mark.once
@pytest.mark.multiprocess
@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(("keys", "missing"), PARTIAL)
def test_entry_points_refuse_one_stripe_key_alone(entry_point, keys, missing):
    finished = run(ENTRY_POINTS[entry_point](), keys)
    assert finished.returncode == 3, finished.stderr
    assert f"Kassa cannot start: {missing} is not set but" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.once
@pytest.mark.multiprocess
@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"NOTIFICATION_LEASE_SECONDS": "10", "NOTIFICATION_TIMEOUT_SECONDS": "9"},
            "NOTIFICATION_LEASE_SECONDS is 10 but NOTIFICATION_TIMEOUT_SECONDS is 9",
        ),
        ({"NOTIFICATION_TIMEOUT_SECONDS": "soon"}, "NOTIFICATION_TIMEOUT_SECONDS is 'soon'"),
        ({"STRIPE_EVENT_THREADS": "0"}, "STRIPE_EVENT_THREADS is 0: give 1 or more"),
    ],
)
def test_entry_points_refuse_delivery_settings_that_break_the_lease(entry_point, env, message):
    finished = run(ENTRY_POINTS[entry_point](), env)
    assert finished.returncode == 3, finished.stderr
    assert f"Kassa cannot start: {message}" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.parametrize("value", ["xml", "JSONL", "1"])
def test_an_unknown_log_format_is_refused(value):
    with pytest.raises(ConfigError) as refused:
        config.load({**os.environ, "LOG_FORMAT": value})
    assert str(refused.value) == f"LOG_FORMAT is {value.lower()!r}: use text or json"


@pytest.mark.parametrize("value", ["", "text", "json", " JSON "])
def test_text_and_json_log_formats_start(value):
    assert config.load({**os.environ, "LOG_FORMAT": value})["LOG_FORMAT"] in {"text", "json"}


@pytest.mark.once
@pytest.mark.multiprocess
@pytest.mark.parametrize("entry_point", [*sorted(ENTRY_POINTS), "web with its config file"])
def test_entry_points_refuse_an_unknown_log_format(entry_point):
    if entry_point in ENTRY_POINTS:
        command = ENTRY_POINTS[entry_point]()
    else:  # as the Procfile runs it: gunicorn's own logger must not fail first
        command = [*ENTRY_POINTS["web"](), "--config", "python:checkout.gunicorn_config"]
    finished = run(command, {"LOG_FORMAT": "xml"})
    assert finished.returncode == 3, finished.stderr
    assert "Kassa cannot start: LOG_FORMAT is 'xml': use text or json" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.once
@pytest.mark.multiprocess
@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"METRICS_ALLOW": "10.0.0.0/8,10.0.0.300"},
            "METRICS_ALLOW holds '10.0.0.300', which is not an address or a network",
        ),
        ({"SMTP_URL": "smtp://user:hunter2@"}, "SMTP_URL must look like smtp://"),
        ({"MAIL_FROM": "kassa"}, "MAIL_FROM is 'kassa': give an address"),
        ({"ALERT_EMAIL": "ops"}, "ALERT_EMAIL is 'ops': give an e-mail address"),
        ({"SANDBOX_EMAILS": "always"}, "SANDBOX_EMAILS is 'always': use file or smtp"),
    ],
)
def test_entry_points_refuse_malformed_operations_settings(entry_point, env, message):
    finished = run(ENTRY_POINTS[entry_point](), env)
    assert finished.returncode == 3, finished.stderr
    assert f"Kassa cannot start: {message}" in finished.stderr
    assert "hunter2" not in finished.stderr  # the password in SMTP_URL is never printed
    assert "Traceback" not in finished.stderr


@pytest.mark.once
@pytest.mark.multiprocess
def test_live_keys_over_http_are_refused_by_the_web():
    env = {**LIVE, "PUBLIC_BASE_URL": "http://pay.example.com"}
    finished = run(ENTRY_POINTS["web"](), env)
    assert finished.returncode == 3
    assert "not an https URL" in finished.stderr


@pytest.mark.once
@pytest.mark.multiprocess
def test_test_keys_without_webhook_secret_or_https_start_with_warnings():
    finished = run([sys.executable, "-m", "flask", "--app", "app", "routes"], TEST_KEYS)
    assert finished.returncode == 0, finished.stderr
    assert "[WARNING] checkout: Stripe test mode: STRIPE_WEBHOOK_SECRET is not set" in (
        finished.stderr
    )
    assert "PUBLIC_BASE_URL is not set" in finished.stderr
    # A command prints what it was asked for; the web and the worker say their mode.
    assert "Kassa starts in" not in finished.stderr
    assert "/checkout" in finished.stdout


def start_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Kassa starts in" in line]


@pytest.mark.multiprocess
def test_the_web_says_its_mode_once_per_process(web_servers, tmp_path):
    server = web_servers(workers=2)
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    log = tmp_path / "web.log"
    wait_until(lambda: len(start_lines(log.read_text())) >= 2, message="both workers' lines")
    lines = start_lines(log.read_text())
    assert len(lines) == 2
    assert len({line.split("] [")[1] for line in lines}) == 2, "one line per worker process"
    assert all(
        line.endswith(
            "[INFO] checkout: Kassa starts in sandbox mode (no Stripe keys, no real money "
            f"moves), Stripe API version {VERSION}"
        )
        for line in lines
    )


@pytest.mark.multiprocess
def test_the_worker_says_its_mode_and_the_pinned_version(workers, tmp_path):
    # Nothing to reconcile on empty tables; an unreachable API base keeps it that way.
    workers(1, **LIVE, STRIPE_API_VERSION=ENDIVE, STRIPE_API_BASE="http://127.0.0.1:9")
    log = tmp_path / "worker.log"
    [line] = wait_until(lambda: start_lines(log.read_text()), message="the start line")
    assert line.endswith(f"Kassa starts in Stripe live mode, Stripe API version {ENDIVE}")


def procfile_line(name: str) -> str:
    """The command of one Procfile process, as honcho or a PaaS runs it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise LookupError(name)


def answers(host: str, port: int) -> bool:
    try:
        return requests.get(f"http://{host}:{port}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def procfile_web(tmp_path):
    """Start the Procfile's web line with extra environment; it stops after the test."""
    started = []

    def start(**env):
        port = free_port()
        environ = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "1", **env}
        environ["PATH"] = f"{os.path.dirname(sys.executable)}:{environ['PATH']}"
        log = open(tmp_path / f"web-{port}.log", "w+")  # noqa: SIM115 -- closed below
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_line('web')}"],
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        listening = env.get("BIND", "127.0.0.1").split(":")[0]
        wait_until(lambda: answers(listening, port), message="the web process", timeout=30)
        return port, lambda: (tmp_path / f"web-{port}.log").read_text()

    yield start
    for process, log in started:
        process.terminate()
        process.wait(15)
        log.close()


@pytest.mark.once
@pytest.mark.multiprocess
def test_the_procfile_web_listens_only_on_loopback_in_sandbox_mode(procfile_web):
    port, _ = procfile_web()
    assert answers("127.0.0.1", port)
    assert not answers("127.0.0.2", port)  # another local address: not every interface


@pytest.mark.once
@pytest.mark.multiprocess
def test_bind_chooses_where_the_procfile_web_listens(procfile_web):
    port, _ = procfile_web(BIND="127.0.0.2")
    assert answers("127.0.0.2", port)
    assert not answers("127.0.0.1", port)


@pytest.mark.once
@pytest.mark.multiprocess
def test_with_stripe_keys_it_listens_everywhere_and_warns_of_trusted_proxies(procfile_web):
    port, log = procfile_web(**TEST_KEYS, TRUSTED_PROXIES="1")
    assert answers("127.0.0.2", port)
    assert "TRUSTED_PROXIES=1 but the web process listens on every interface" in log()
    assert "Set BIND to an address only your proxy reaches" in log()


@pytest.mark.once
@pytest.mark.multiprocess
def test_every_interface_chosen_on_purpose_is_not_warned_of(procfile_web):
    port, log = procfile_web(**TEST_KEYS, TRUSTED_PROXIES="1", BIND="0.0.0.0")  # noqa: S104
    assert answers("127.0.0.2", port)
    assert "listens on every interface" not in log()
