"""Configuration, read once from the environment, with embedded defaults."""

import os
import secrets
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

# Seconds after the first failed attempt; the first delivery happens at once.
DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000"

TRUE_WORDS = {"1", "true", "yes", "on"}


def _flag(environ: dict, name: str) -> bool:
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def _instance_path(environ: dict) -> Path:
    return Path(environ.get("KASSA_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)


def database_url(environ: dict) -> str:
    """The SQLAlchemy URL: DATABASE_URL, or a SQLite file in the instance folder."""
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{_instance_path(environ) / 'kassa.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(environ: dict) -> str:
    """SECRET_KEY, or one generated on first run and kept in the instance folder."""
    if environ.get("SECRET_KEY"):
        return environ["SECRET_KEY"]
    path = _instance_path(environ) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
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
    instance = _instance_path(env)
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
        "ALLOW_PRIVATE_WEBHOOK_URLS": _flag(env, "ALLOW_PRIVATE_WEBHOOK_URLS"),
        "NOTIFICATION_RETRY_SCHEDULE": env.get(
            "NOTIFICATION_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE
        ),
        "NOTIFICATION_TIMEOUT_SECONDS": float(env.get("NOTIFICATION_TIMEOUT_SECONDS", "10")),
        "NOTIFICATION_LEASE_SECONDS": int(env.get("NOTIFICATION_LEASE_SECONDS", "60")),
        "OUTBOX_SWEEP_GRACE_SECONDS": int(env.get("OUTBOX_SWEEP_GRACE_SECONDS", "30")),
        "RECONCILE_AFTER_SECONDS": int(env.get("RECONCILE_AFTER_SECONDS", "900")),
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
        "sqlite_path": str(_instance_path(env) / "huey.db"),
    }
