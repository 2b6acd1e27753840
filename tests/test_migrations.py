"""Migrations build the schema the models describe, and tear it down again."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from checkout.config import database_url
from checkout.extensions import db

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.multiprocess  # `flask db` runs in a subprocess


@pytest.fixture
def empty_database(tmp_path):
    """A database URL with nothing in it, of the same kind the suite runs on."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    name = f"kassa_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url({"DATABASE_URL": url}), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def flask_db(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def test_upgrade_matches_models_and_downgrade_empties(empty_database):
    flask_db(empty_database, "upgrade")
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            assert set(sa.inspect(connection).get_table_names()) >= {"orders", "providers"}
        flask_db(empty_database, "downgrade", "base")
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_existing_providers_get_signing_secrets(empty_database):
    flask_db(empty_database, "upgrade", "0001_core")
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    now = "2026-01-01 00:00:00"
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO services (id, slug, title, price_minor, currency, active,"
                    " created_at, updated_at) VALUES ('svc_1', 's', 'S', 500, 'usd', true, :t, :t)"
                ),
                {"t": now},
            )
            for provider_id in ("prv_1", "prv_2"):
                connection.execute(
                    sa.text(
                        "INSERT INTO providers (id, slug, name, service_id, active,"
                        " use_stripe_checkout, created_at, updated_at)"
                        " VALUES (:id, :id, 'P', 'svc_1', true, false, :t, :t)"
                    ),
                    {"id": provider_id, "t": now},
                )
        flask_db(empty_database, "upgrade")
        with engine.connect() as connection:
            secrets = connection.execute(sa.text("SELECT webhook_secret FROM providers")).scalars()
            secrets = list(secrets)
        assert len(secrets) == 2 and len(set(secrets)) == 2
        assert all(secret.startswith("whsec_") for secret in secrets)
    finally:
        engine.dispose()
