"""Each test process gets its own databases, so the suite can run in parallel (pytest -n).

Imported by tests/conftest.py before checkout, which reads the environment once at import.
pytest-xdist names its workers gw0, gw1, …; a worker then uses its own instance folder (its
SQLite files), its own PostgreSQL database beside DATABASE_URL's (``test`` → ``test_gw1``,
created when missing) and its own Redis database number (REDIS_URL's number plus the
worker's). Processes a test starts inherit the environment, so they use the same ones. A
run without workers uses DATABASE_URL and REDIS_URL as given.
"""

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa


def worker_number() -> int | None:
    """0, 1, … in a pytest-xdist worker; None in a run without workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") else None


def own_postgres_database(url: str, worker: str) -> str:
    """The worker's database on the same server, created when it is not there yet."""
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{worker}"
    server = sa.create_engine(
        urlunsplit(parts._replace(scheme="postgresql+psycopg")), isolation_level="AUTOCOMMIT"
    )
    with server.connect() as connection:
        exists = connection.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def new_database(folder: Path, label: str) -> Iterator[str]:
    """A URL of a database with nothing in it, of the kind the suite runs on: a SQLite file
    in folder, or a new PostgreSQL database beside DATABASE_URL's, dropped afterwards."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{folder / f'{label}.db'}"
        return
    name = f"kassa_{label}_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(url)
    server = sa.create_engine(
        urlunsplit(parts._replace(scheme="postgresql+psycopg")), isolation_level="AUTOCOMMIT"
    )
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def own_redis_database(url: str, number: int) -> str:
    """The same Redis server, database REDIS_URL's number + the worker's (of Redis' 16)."""
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    if base + number > 15:
        raise RuntimeError(f"REDIS_URL {url}: no Redis database {base + number} for worker")
    return urlunsplit(parts._replace(path=f"/{base + number}"))


def isolate_this_process() -> None:
    """Point this test process at its own instance folder and, in a worker, its own databases."""
    os.environ["KASSA_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="kassa-test-")
    # Its metrics in that folder too: the folder a parent process chose is inherited.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        os.environ.pop(name, None)
    number = worker_number()
    if number is None:
        return
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql")):
        os.environ["DATABASE_URL"] = own_postgres_database(
            os.environ["DATABASE_URL"], f"gw{number}"
        )
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = own_redis_database(os.environ["REDIS_URL"], number)
