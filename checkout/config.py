"""Configuration, read once from the environment, with embedded defaults."""

import contextlib
import ipaddress
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import limits

from checkout.addresses import is_email_address

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

# Seconds after the first failed attempt; the first delivery happens at once.
DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000"

# How much longer a delivery's lease lasts than its attempt may: the clocks of two workers'
# machines may differ by this much before a second worker could take a row still being sent.
LEASE_MARGIN_SECONDS = 2

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}

# Flask-Limiter's syntax ("10/minute;60/hour"). A customer pays a link once or twice and a
# checkout page polls every 2 s; these stop a script from one address within seconds.
# "Per client" is per address, and for IPv6 per /64 (throttle.client_key).
DEFAULT_RATE_LIMITS = {
    # POST /l/<id>/pay and /l/<id>/unlock: per client, and per link for all clients (only
    # requests their client's limit let through count there; see LIMITS_OF_ALL_CLIENTS).
    "RATE_LIMIT_LINK_PAY": "10/minute;60/hour",
    "RATE_LIMIT_LINK_PAY_PER_LINK": "120/minute",
    "RATE_LIMIT_LINK_UNLOCK": "10/minute;60/hour",
    "RATE_LIMIT_LINK_UNLOCK_PER_LINK": "60/minute",
    # GET /l/<id> per client, all links: each view it lets through is counted.
    "RATE_LIMIT_LINK_VIEW": "20/minute;200/hour",
    # GET /checkout and GET /checkout/status, per client address.
    "RATE_LIMIT_CHECKOUT": "120/minute;2000/hour",
    "RATE_LIMIT_CHECKOUT_STATUS": "240/minute;4000/hour",
    # /api/v1/…: per API key; refusals for the caller (401, allowlist 403) per client address.
    "RATE_LIMIT_API": "600/minute",
    "RATE_LIMIT_API_UNAUTHENTICATED": "30/minute",
    # POST /admin/login: per client, and per e-mail address and client; and failed sign-ins
    # per e-mail address from all clients, in a short window, so guessing from many
    # addresses only slows the owner, for a minute at most (a browser that signed in as
    # that admin before is not counted).
    "RATE_LIMIT_LOGIN": "30/minute;200/hour",
    "RATE_LIMIT_LOGIN_ACCOUNT": "10/minute;50/hour",
    "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": "10/minute",
}

# Each limit of all clients together, and the per-client limit in front of it: one client
# (one /64) must never be able to use up a limit every customer shares (check_rate_limits).
LIMITS_OF_ALL_CLIENTS = {
    "RATE_LIMIT_LINK_PAY_PER_LINK": "RATE_LIMIT_LINK_PAY",
    "RATE_LIMIT_LINK_UNLOCK_PER_LINK": "RATE_LIMIT_LINK_UNLOCK",
}

# Stripe's key prefixes and the mode each belongs to (rk_: restricted secret keys).
SECRET_KEY_MODES = {"sk_test_": "test", "rk_test_": "test", "sk_live_": "live", "rk_live_": "live"}
PUBLISHABLE_KEY_MODES = {"pk_test_": "test", "pk_live_": "live"}


class ConfigError(ValueError):
    """Settings Kassa refuses to start with; the message names the variable to fix."""


# The instance folder holds the database (webhook signing secrets in plaintext) and the
# session key: only the account Kassa runs as may read it, whatever the umask.
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def create_private_file(path: Path) -> None:
    """Create an empty file only its owner can read, unless it exists (SQLite fills it)."""
    path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def _tighten(path: Path, mode: int) -> str | None:
    """Give the path exactly this mode; a warning if others could read or write it before."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current != mode:
            os.chmod(path, mode)
    except OSError as error:
        return f"{path}: could not set its mode to {mode:o} ({error.strerror})"
    if current & ~mode:
        return f"{path} had mode {current:o}, open to other accounts; it is now {mode:o}"
    return None


def secure_storage(settings: Mapping) -> list[str]:
    """Make the instance folder 0700 and its files (and a SQLite database) 0600, creating
    the database file before SQLite does; warnings for anything that was looser."""
    instance = Path(settings["INSTANCE_PATH"])
    instance.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    files = [instance / "secret_key", Path(huey_settings()["sqlite_path"])]
    database = sqlite_path(settings["SQLALCHEMY_DATABASE_URI"])
    if database is not None:
        create_private_file(database)
        files.append(database)
    files += [Path(f"{path}{suffix}") for path in list(files) for suffix in ("-wal", "-shm")]
    warnings = [_tighten(instance, PRIVATE_FOLDER)]
    warnings += [_tighten(path, PRIVATE_FILE) for path in files if path.exists()]
    return [warning for warning in warnings if warning]


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL; None for another database or an in-memory one."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _port(environ: dict) -> int:
    value = environ.get("PORT", "").strip()
    return int(value) if value.isdigit() and 0 < int(value) < 65536 else 8000


def bind_address(environ: dict | None = None) -> str:
    """Where the web process listens: BIND (host, or host:port), else PORT on 127.0.0.1 in
    sandbox mode and on every interface with Stripe keys (a PaaS router must reach it)."""
    env = dict(os.environ if environ is None else environ)
    port = _port(env)
    value = env.get("BIND", "").strip()
    if not value:
        host = "127.0.0.1" if stripe_mode(env) == "sandbox" else "0.0.0.0"  # noqa: S104
        return f"{host}:{port}"
    if value.startswith("unix:") or "]:" in value:
        return value  # a socket, or [IPv6]:port
    if value.startswith("["):
        return f"{value}:{port}"
    if value.count(":") > 1:
        return f"[{value}]:{port}"  # a bare IPv6 address
    return value if ":" in value else f"{value}:{port}"


def bind_warning(environ: dict | None = None) -> str | None:
    """What to warn of when proxies are trusted but anyone may connect past them, unless
    BIND chose every interface on purpose (a PaaS, where only the router connects)."""
    env = dict(os.environ if environ is None else environ)
    if env.get("BIND", "").strip():
        return None
    try:
        hops = _whole_number(env, "TRUSTED_PROXIES", 0)
    except ConfigError:
        return None  # create_app refuses it, with its reason
    address = bind_address(env)
    if not hops or not address.startswith(("0.0.0.0:", "[::]:")):
        return None
    return (
        f"TRUSTED_PROXIES={hops} but the web process listens on every interface ({address}): "
        "a client that connects directly can name its own address in X-Forwarded-For. Set "
        "BIND to an address only your proxy reaches, e.g. BIND=127.0.0.1."
    )


def _flag(environ: dict, name: str) -> bool:
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def _switch(environ: dict, name: str, default: bool) -> bool:
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE_WORDS | FALSE_WORDS:
        raise ConfigError(f"{name} is {value!r}: use 1 or 0")
    return value in TRUE_WORDS


def _whole_number(environ: dict, name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ConfigError(f"{name} is {value!r}: give a whole number, 0 or more")
    return int(value)


def _seconds(environ: dict, name: str, default: float) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < 86400:
        raise ConfigError(f"{name} is {value!r}: give a number of seconds above 0, such as 10")
    return seconds


LOG_FORMATS = ("text", "json")


def log_format(environ: dict | None = None) -> str:
    """How web, worker and CLI write their log lines: LOG_FORMAT, text (the default) or json."""
    env = os.environ if environ is None else environ
    value = env.get("LOG_FORMAT", "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT is {value!r}: use text or json")
    return value


def stripe_event_threads(environ: dict | None = None) -> int:
    """How many of the worker's threads take only Stripe events (STRIPE_EVENT_THREADS)."""
    env = os.environ if environ is None else environ
    threads = _whole_number(env, "STRIPE_EVENT_THREADS", 2)
    if threads < 1:
        raise ConfigError("STRIPE_EVENT_THREADS is 0: give 1 or more")
    return threads


def _rate_limit(environ: dict, name: str) -> str:
    value = environ.get(name, "").strip() or DEFAULT_RATE_LIMITS[name]
    try:
        limits.parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} is {value!r}: give limits such as {DEFAULT_RATE_LIMITS[name]!r}"
        ) from None
    return value


def most_from_one_client(client_limits: str, seconds: int) -> int:
    """The most requests `client_limits` lets one client send in any `seconds`.

    A fixed window starts at its first hit, anywhere, so a span meets one more of a
    limit's windows than it covers whole.
    """
    return min(
        item.amount * (math.ceil(seconds / item.get_expiry()) + 1)
        for item in limits.parse_many(client_limits)
    )


def check_rate_limits(settings: Mapping) -> None:
    """Refuse a limit of all clients that one client could use up alone, locking every
    other customer out of a link."""
    for shared, per_client in LIMITS_OF_ALL_CLIENTS.items():
        for item in limits.parse_many(settings[shared]):
            most = most_from_one_client(settings[per_client], item.get_expiry())
            if most >= item.amount:
                raise ConfigError(
                    f"{shared} is {settings[shared]!r}: one client may send {most} requests "
                    f"in that window under {per_client} ({settings[per_client]!r}), enough "
                    f"to refuse every other customer; give more than {most}, or lower "
                    f"{per_client}"
                )


def rate_limit_settings(environ: dict) -> dict:
    """Flask-Limiter's settings and Kassa's limits (see DEFAULT_RATE_LIMITS)."""
    redis_url = environ.get("REDIS_URL", "").strip()
    return {
        "RATELIMIT_ENABLED": _switch(environ, "RATE_LIMITS_ENABLED", True),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_KEY_PREFIX": "kassa-limits",
        # A Redis outage must not stop payments: count in memory until it is back.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        **{name: _rate_limit(environ, name) for name in DEFAULT_RATE_LIMITS},
    }


# Throttle hits, which count the holds a client starts, are kept a day (tasks.py).
HOLD_WINDOW_MAX = 86400


def link_hold_settings(environ: dict) -> dict:
    """How long a customer who starts paying holds a use of a limited link, and how often."""
    settings = {
        # The longest a hold lasts, however long the checkout page stays open.
        "LINK_HOLD_SECONDS": _whole_number(environ, "LINK_HOLD_SECONDS", 600),
        # A hold ends this long after its start or the page's last status poll.
        "LINK_FIRST_HOLD_SECONDS": _whole_number(environ, "LINK_FIRST_HOLD_SECONDS", 120),
        # Holds one client address (IPv6: its /64) may start on one link in the window.
        "LINK_HOLDS_PER_CLIENT": _whole_number(environ, "LINK_HOLDS_PER_CLIENT", 3),
        "LINK_HOLD_WINDOW_SECONDS": _whole_number(environ, "LINK_HOLD_WINDOW_SECONDS", 3600),
    }
    if settings["LINK_FIRST_HOLD_SECONDS"] > settings["LINK_HOLD_SECONDS"]:
        raise ConfigError(
            f"LINK_FIRST_HOLD_SECONDS ({settings['LINK_FIRST_HOLD_SECONDS']}) is longer than "
            f"LINK_HOLD_SECONDS ({settings['LINK_HOLD_SECONDS']}): the first hold is part of it"
        )
    if settings["LINK_HOLDS_PER_CLIENT"] < 1:
        raise ConfigError("LINK_HOLDS_PER_CLIENT is 0: give 1 or more, or no one could pay")
    if settings["LINK_HOLD_WINDOW_SECONDS"] > HOLD_WINDOW_MAX:
        raise ConfigError(
            f"LINK_HOLD_WINDOW_SECONDS is over {HOLD_WINDOW_MAX}: holds are counted for a day"
        )
    return settings


def _networks(environ: dict, name: str) -> tuple:
    """A comma-separated list of addresses or CIDR networks (10.0.0.0/8, ::1)."""
    networks = []
    for part in environ.get(name, "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"{name} holds {part.strip()!r}, which is not an address or a network "
                    "such as 10.0.0.0/8"
                ) from None
    return tuple(networks)


SMTP_PORTS = {"smtp": 587, "smtps": 465}


def smtp_settings(environ: dict) -> dict | None:
    """SMTP_URL as parts: smtp://user:pass@host:587 (STARTTLS) or smtps://… (TLS from the
    start); None without one (mails are then written as .eml files)."""
    url = environ.get("SMTP_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in SMTP_PORTS or not parts.hostname or port == -1 or parts.path.strip("/"):
        raise ConfigError(
            "SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or "
            "smtps://user:password@host:465 (TLS)"
        )
    return {
        "tls": parts.scheme == "smtps",
        "host": parts.hostname,
        "port": port or SMTP_PORTS[parts.scheme],
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def mail_from(environ: dict) -> str:
    """MAIL_FROM: the sender of every mail, `Name <address>` or an address."""
    sender = environ.get("MAIL_FROM", "").strip() or "Kassa <kassa@localhost>"
    _, address = parseaddr(sender)
    if not is_email_address(address):
        raise ConfigError(f"MAIL_FROM is {sender!r}: give an address, e.g. Kassa <pay@example.com>")
    return sender


def _address(environ: dict, name: str) -> str | None:
    value = environ.get(name, "").strip()
    if value and not is_email_address(value):
        raise ConfigError(f"{name} is {value!r}: give an e-mail address")
    return value or None


def _web_url(environ: dict, name: str) -> str | None:
    value = environ.get(name, "").strip()
    if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        raise ConfigError(f"{name} must be an http(s) URL, e.g. https://hooks.slack.com/…")
    return value or None


SANDBOX_EMAILS = ("file", "smtp")


def sandbox_emails(environ: dict) -> str:
    """SANDBOX_EMAILS: where sandbox orders' mails (receipts) go: file (the default: only
    into instance/mail/) or smtp (through SMTP_URL like every other mail)."""
    value = environ.get("SANDBOX_EMAILS", "").strip().lower() or "file"
    if value not in SANDBOX_EMAILS:
        raise ConfigError(f"SANDBOX_EMAILS is {value!r}: use file or smtp")
    return value


def operations_settings(env: dict) -> dict:
    """E-mail, the operator's alerts and who may read the metrics."""
    return {
        "SMTP": smtp_settings(env),
        "MAIL_FROM": mail_from(env),
        "SANDBOX_EMAILS": sandbox_emails(env),
        "ALERT_EMAIL": _address(env, "ALERT_EMAIL"),
        "ALERT_WEBHOOK_URL": _web_url(env, "ALERT_WEBHOOK_URL"),
        "ALERT_ENDPOINT_FAILING_MINUTES": _whole_number(env, "ALERT_ENDPOINT_FAILING_MINUTES", 60),
        "ALERT_STRIPE_WAITING_MINUTES": _whole_number(env, "ALERT_STRIPE_WAITING_MINUTES", 15),
        # Who may read GET /metrics: a Bearer token, or addresses in these networks.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", "").strip() or None,
        "METRICS_ALLOW": _networks(env, "METRICS_ALLOW"),
    }


def instance_path(environ: Mapping) -> Path:
    return Path(environ.get("KASSA_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)


def database_url(environ: dict) -> str:
    """The SQLAlchemy URL: DATABASE_URL, or a SQLite file in the instance folder."""
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path(environ) / 'kassa.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(environ: dict) -> str:
    """SECRET_KEY, or one generated on first run and kept in the instance folder."""
    if environ.get("SECRET_KEY"):
        return environ["SECRET_KEY"]
    path = instance_path(environ) / "secret_key"
    path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    try:
        # O_EXCL: when several web processes start at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it or set SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load(environ: dict | None = None) -> dict:
    """Return the Flask config mapping built from the environment."""
    env = dict(os.environ if environ is None else environ)
    instance = instance_path(env)
    public_base_url = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(env),
        "SQLALCHEMY_DATABASE_URI": database_url(env),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL", "").strip() or None,
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", "").strip() or None,
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", "").strip() or None,
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", "").strip() or None,
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", "").strip().rstrip("/") or None,
        # None: the version the installed stripe package was generated for.
        "STRIPE_API_VERSION": env.get("STRIPE_API_VERSION", "").strip() or None,
        "PUBLIC_BASE_URL": public_base_url or None,
        # The port `make run` serves on: local URLs printed without a request use it.
        "PORT": _port(env),
        "ALLOW_PRIVATE_WEBHOOK_URLS": _flag(env, "ALLOW_PRIVATE_WEBHOOK_URLS"),
        "NOTIFICATION_RETRY_SCHEDULE": env.get(
            "NOTIFICATION_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE
        ),
        # The whole of one delivery attempt, whatever the endpoint does (outbound.post).
        "NOTIFICATION_TIMEOUT_SECONDS": _seconds(env, "NOTIFICATION_TIMEOUT_SECONDS", 10.0),
        "NOTIFICATION_LEASE_SECONDS": _whole_number(env, "NOTIFICATION_LEASE_SECONDS", 60),
        # After a rotation, the previous secret signs beside the new one this long.
        "WEBHOOK_SECRET_OVERLAP_SECONDS": _whole_number(
            env, "WEBHOOK_SECRET_OVERLAP_SECONDS", 86400
        ),
        "STRIPE_EVENT_THREADS": stripe_event_threads(env),
        "LOG_FORMAT": log_format(env),
        # How long /readyz waits for the database, and for the queue, before calling it down.
        "READY_TIMEOUT_SECONDS": _seconds(env, "READY_TIMEOUT_SECONDS", 2.0),
        "OUTBOX_SWEEP_GRACE_SECONDS": int(env.get("OUTBOX_SWEEP_GRACE_SECONDS", "30")),
        "RECONCILE_AFTER_SECONDS": int(env.get("RECONCILE_AFTER_SECONDS", "900")),
        **link_hold_settings(env),
        # Unpaid orders with no payment under way expire after this long.
        "ORDER_EXPIRY_SECONDS": int(env.get("ORDER_EXPIRY_SECONDS", "86400")),
        # How long a provider API answer is kept for repeats of its Idempotency-Key.
        "IDEMPOTENCY_KEY_HOURS": _whole_number(env, "IDEMPOTENCY_KEY_HOURS", 24),
        # What delivery attempts sent and heard is kept this long (the attempts stay).
        "DELIVERY_LOG_DAYS": _whole_number(env, "DELIVERY_LOG_DAYS", 90),
        # An admin session unused for longer than this is signed out.
        "ADMIN_SESSION_IDLE_MINUTES": int(env.get("ADMIN_SESSION_IDLE_MINUTES", "60")),
        # How often a customer back from Cash App may make Kassa ask Stripe about the order.
        "STRIPE_REFRESH_SECONDS": _whole_number(env, "STRIPE_REFRESH_SECONDS", 10),
        # Proxy hops in front of Kassa whose X-Forwarded-For/-Proto are believed (ProxyFix).
        "TRUSTED_PROXIES": _whole_number(env, "TRUSTED_PROXIES", 0),
        **operations_settings(env),
        **rate_limit_settings(env),
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "").strip() or "scrypt",
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_base_url.startswith("https://"),
        "REMEMBER_COOKIE_SECURE": public_base_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": None,
    }


def huey_settings(environ: dict | None = None) -> dict:
    """What the Huey instance needs, without building the Flask app."""
    env = dict(os.environ if environ is None else environ)
    return {
        "redis_url": env.get("REDIS_URL", "").strip() or None,
        "sqlite_path": str(instance_path(env) / "huey.db"),
    }


def check_delivery(settings: Mapping) -> None:
    """Refuse a lease that could run out while its attempt is still sending.

    A worker holds a notification for NOTIFICATION_LEASE_SECONDS; the sweep gives a row
    whose lease ran out to another worker. The attempt (bounded by
    NOTIFICATION_TIMEOUT_SECONDS) must end before that, with LEASE_MARGIN_SECONDS to spare.
    """
    timeout = settings["NOTIFICATION_TIMEOUT_SECONDS"]
    lease = settings["NOTIFICATION_LEASE_SECONDS"]
    if timeout + LEASE_MARGIN_SECONDS >= lease:
        raise ConfigError(
            f"NOTIFICATION_LEASE_SECONDS is {lease} but NOTIFICATION_TIMEOUT_SECONDS is "
            f"{timeout:g}: the lease must be more than {LEASE_MARGIN_SECONDS} s longer than "
            "the timeout, or a second worker could send a notification still being sent"
        )


def stripe_mode(settings: Mapping) -> str:
    """'sandbox' without Stripe keys, else 'test' or 'live' from the secret key's prefix."""
    key = settings.get("STRIPE_SECRET_KEY")
    if not key:
        return "sandbox"
    return "live" if key.startswith(("sk_live_", "rk_live_")) else "test"


def check_stripe(settings: Mapping) -> list[str]:
    """Refuse a half, mixed or unsafe live Stripe setup; return what test mode should warn of.

    One key without the other would silently mean sandbox mode, where anyone can press
    "simulate success". Live keys need the webhook secret and an https public URL; with
    test keys their absence is only a warning, so Stripe's test mode works on localhost.
    """
    version = settings.get("STRIPE_API_VERSION")
    if version and not _is_api_version(version):
        raise ConfigError(
            f"STRIPE_API_VERSION is {version!r}: give a Stripe API version such as "
            "2026-10-28.endive, or unset it to use the installed stripe package's version"
        )
    secret = settings.get("STRIPE_SECRET_KEY")
    publishable = settings.get("STRIPE_PUBLISHABLE_KEY")
    if bool(secret) != bool(publishable):
        missing, present = (
            ("STRIPE_PUBLISHABLE_KEY", "STRIPE_SECRET_KEY")
            if secret
            else ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY")
        )
        raise ConfigError(
            f"{missing} is not set but {present} is: set both to take payments with Stripe, "
            "or neither for sandbox mode"
        )
    if not secret:
        return []
    mode = _key_mode("STRIPE_SECRET_KEY", secret, SECRET_KEY_MODES)
    publishable_mode = _key_mode("STRIPE_PUBLISHABLE_KEY", publishable, PUBLISHABLE_KEY_MODES)
    if mode != publishable_mode:
        raise ConfigError(
            f"STRIPE_SECRET_KEY is a {mode} key but STRIPE_PUBLISHABLE_KEY is a "
            f"{publishable_mode} key: use the two keys of one mode"
        )
    needs = []
    if not settings.get("STRIPE_WEBHOOK_SECRET"):
        needs.append(
            "STRIPE_WEBHOOK_SECRET is not set (the signing secret of Stripe's webhook "
            "endpoint; without it Kassa answers Stripe's events with 503)"
        )
    base_url = settings.get("PUBLIC_BASE_URL") or ""
    if not base_url.startswith("https://"):
        needs.append(
            f"PUBLIC_BASE_URL is {base_url!r}, not an https URL"
            if base_url
            else "PUBLIC_BASE_URL is not set (the https origin customers and Stripe reach)"
        )
    if mode == "live" and needs:
        raise ConfigError(
            "live Stripe keys need STRIPE_WEBHOOK_SECRET and an https PUBLIC_BASE_URL: "
            + "; ".join(needs)
        )
    return needs


def _is_api_version(version: str) -> bool:
    """'2026-10-28.endive', '2024-06-20' or '2026-08-26.preview': a date, then a name."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(\.[a-z]+)?", version)
    try:
        return match is not None and bool(date.fromisoformat(match[1]))
    except ValueError:
        return False


def _key_mode(name: str, key: str, modes: dict[str, str]) -> str:
    for prefix, mode in modes.items():
        if key.startswith(prefix):
            return mode
    # Name only the key's kind (pk_test_, whsec_), never its secret part.
    kind = re.match(r"[A-Za-z]+_(?:test_|live_)?", key)
    found = f"it starts with {kind[0]!r}" if kind else "it has no Stripe key prefix"
    raise ConfigError(f"{name} must start with {', '.join(modes)} ({found})")
