"""Migrations build the schema the models describe, and tear it down again."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from werkzeug.security import generate_password_hash

from checkout import create_app, models
from checkout.config import database_url
from checkout.extensions import db
from tests.conftest import BASE_CONFIG

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.multiprocess  # `flask db` runs in a subprocess


def flask_db(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


# Every revision's empty schema, made once per test process: one process steps a database
# through the migrations as `flask db upgrade <revision>` would (Flask-Migrate's upgrade),
# and keeps a copy at each revision. A test that starts from a revision gets a copy of its
# own instead of running `flask db upgrade <revision>` on an empty database, a process
# start of about 2 s.
STEP_THROUGH = """
import json, sqlite3, sys
import sqlalchemy as sa
from flask_migrate import upgrade
from app import app
from checkout.cli.common import bind_migrations
from checkout.extensions import db

bind_migrations(app)  # as a `flask db` command does before it runs

server, copies = json.loads(sys.argv[1])
with app.app_context():
    for revision, copy in copies:
        upgrade(revision=revision)
        work = db.engine.url.database
        db.engine.dispose()
        if server is None:
            connection = sqlite3.connect(work, isolation_level=None)
            connection.execute("VACUUM INTO ?", (copy,))
            connection.close()
            continue
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{copy}" TEMPLATE "{work}"'))
        admin.dispose()
"""


def _server_and_name(url: str) -> tuple[str, str]:
    """A PostgreSQL URL's server (as the driver URL, at its own database) and database name."""
    driver_url = database_url({"DATABASE_URL": url})
    return driver_url, driver_url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def revision_copies(tmp_path_factory):
    """{revision: a database at it, empty}: SQLite files, or PostgreSQL databases."""
    steps = revisions()[:-1]
    url = os.environ.get("DATABASE_URL")
    if not url:
        folder = tmp_path_factory.mktemp("revisions")
        copies = {revision: str(folder / f"{revision}.db") for revision in steps}
        work, server = f"sqlite:///{folder / 'work.db'}", None
    else:
        server, own = _server_and_name(url)
        copies = {revision: f"{own}_rev{revision[:4]}" for revision in steps}
        work = url.rsplit("/", 1)[0] + f"/{own}_revwork"
    admin = None if server is None else sa.create_engine(server, isolation_level="AUTOCOMMIT")

    def drop_all():
        with admin.connect() as connection:
            for name in [*copies.values(), work.rsplit("/", 1)[1]]:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    if admin is not None:
        drop_all()
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{work.rsplit("/", 1)[1]}"'))
    subprocess.run(
        [sys.executable, "-c", STEP_THROUGH, json.dumps([server, list(copies.items())])],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": work},
        check=True,
        capture_output=True,
    )
    yield copies
    if admin is not None:
        drop_all()
        admin.dispose()


@pytest.fixture
def at_revision(empty_database, revision_copies):
    """Bring the test's empty database to a revision, as `flask db upgrade <revision>` does."""

    def bring(revision: str) -> None:
        if empty_database.startswith("sqlite"):
            path = empty_database.removeprefix("sqlite:///")
            shutil.copyfile(revision_copies[revision], path)
            os.chmod(path, 0o600)  # as Kassa makes its database file
            return
        server, name = _server_and_name(empty_database)
        admin = sa.create_engine(
            server.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            copy = revision_copies[revision]
            connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{copy}"'))
        admin.dispose()

    return bring


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


def test_existing_providers_get_signing_secrets(empty_database, at_revision):
    at_revision("0001_core")
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
        flask_db(empty_database, "upgrade", "0002_notifications")
        with engine.connect() as connection:
            secrets = connection.execute(sa.text("SELECT webhook_secret FROM providers")).scalars()
            secrets = list(secrets)
        assert len(secrets) == 2 and len(set(secrets)) == 2
        assert all(secret.startswith("whsec_") for secret in secrets)
    finally:
        engine.dispose()


def test_a_webhook_url_and_its_secret_become_the_first_endpoint(empty_database, at_revision):
    """0020: the provider's webhook URL, secret (the previous one too, mid-rotation) and 410
    state move to its first endpoint; its notifications belong to it and keep their ids as
    webhook-ids, so nothing is lost or signed differently."""
    at_revision("0017_refund_reasons")
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.begin() as connection:
            written = seed_every_table(connection)
            connection.execute(
                sa.text("UPDATE providers SET webhook_url = NULL WHERE id = :id"),
                {"id": written["providers"][1]["id"]},
            )
        flask_db(empty_database, "upgrade")
        with engine.connect() as connection:
            endpoints = connection.execute(
                sa.text(
                    "SELECT provider_id, url, secret, previous_secret, events, active "
                    "FROM webhook_endpoints ORDER BY provider_id"
                )
            ).all()
            messages = connection.execute(
                sa.text("SELECT id, message_id, endpoint_id, provider_id FROM notifications")
            ).all()
    finally:
        engine.dispose()
    with_url = sorted(
        (row for n, row in enumerate(written["providers"]) if n != 1), key=lambda row: row["id"]
    )
    assert [tuple(row) for row in endpoints] == [
        (
            row["id"],
            row["webhook_url"],
            row["webhook_secret"],
            row["previous_webhook_secret"],
            "*",
            True,
        )
        for row in with_url
    ]
    assert all(row.message_id == row.id for row in messages)
    kept = {row["id"] for row in with_url}
    assert all(row.endpoint_id is not None for row in messages if row.provider_id in kept)
    assert all(row.endpoint_id is None for row in messages if row.provider_id not in kept)


def test_providers_given_a_request_secret_keep_body_signatures(empty_database, at_revision):
    """0016: a provider that could already sign requests signed bodies, the only form there
    was; it keeps that form until it or an admin moves. The rest get the timestamped one."""
    at_revision("0013_firstrun")
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.begin() as connection:
            seed_every_table(connection)
            connection.execute(
                sa.text(
                    "UPDATE providers SET request_secret_salt = NULL, "
                    "require_signed_requests = false"
                )
            )
            first = connection.execute(sa.text("SELECT min(id) FROM providers")).scalar()
            connection.execute(
                sa.text(
                    "UPDATE providers SET request_secret_salt = 'ab', "
                    "require_signed_requests = true WHERE id = :id"
                ),
                {"id": first},
            )
        flask_db(empty_database, "upgrade")
        with engine.connect() as connection:
            formats = dict(
                connection.execute(sa.text("SELECT id, signature_format FROM providers")).all()
            )
        assert formats.pop(first) == "body"
        assert set(formats.values()) == {"timestamped"}
    finally:
        engine.dispose()


# An upgrade must keep every row, from every earlier revision, whatever the tables hold:
# rows are written into every table of the schema at that revision (found by reflection,
# so a table added later is covered without changing this test), then `flask db upgrade`
# brings it to head.

ROWS_PER_TABLE = 3
# Recent, so nothing seeded counts as abandoned yet; whole seconds, as every driver keeps them.
SEED_TIME = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None, microsecond=0)


def revisions() -> list[str]:
    """Every migration, the first one first."""
    script = ScriptDirectory(str(ROOT / "migrations"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def _value(table: sa.Table, column: sa.Column, n: int):
    """A value for row n of a column that today's models can read back."""
    model = db.metadata.tables.get(table.name)
    current = model.columns.get(column.name) if model is not None else None
    kind = current.type if current is not None else column.type
    name = column.name
    if current is not None and current.default is not None and current.default.is_callable:
        return current.default.arg(None)  # the model's own id, as "ord_…"
    if isinstance(kind, sa.Enum):
        return kind.enums[0]
    if isinstance(kind, sa.Boolean):
        return name == "active"
    if isinstance(kind, sa.DateTime):
        if name.startswith("expires"):
            return datetime(2099, 1, 1) + timedelta(minutes=n)
        return SEED_TIME + timedelta(minutes=n)
    if isinstance(kind, sa.Date):
        return SEED_TIME.date() + timedelta(days=n)
    if isinstance(kind, sa.Integer):
        return n + 1
    if isinstance(kind, sa.LargeBinary):
        return None if column.nullable else b""
    if name.endswith("currency"):
        return "usd"
    if name.endswith("_url"):
        return f"https://provider{n}.example/path"
    if name == "email":
        return f"admin{n}@example.com"
    if name == "webhook_secret":
        return models.new_webhook_secret()
    if name == "password_hash":
        return generate_password_hash(f"password-{n}", method="pbkdf2:sha256:1")
    if name.endswith(("colour", "color")):
        return "#123456"
    if name == "ip_allowlist":
        return ""
    if isinstance(kind, sa.Text):
        return "{}"
    length = getattr(column.type, "length", None) or 40
    return f"{name[: max(1, length - 6)]}-{n}"[:length]


def seed_every_table(connection) -> dict[str, list[dict]]:
    """Write ROWS_PER_TABLE rows into every table, parents first; the rows written."""
    schema = sa.MetaData()
    schema.reflect(connection)
    written: dict[str, list[dict]] = {}
    for table in schema.sorted_tables:
        if table.name == "alembic_version":
            continue
        parents = {
            element.parent.name: element.column
            for constraint in table.foreign_key_constraints
            for element in constraint.elements
        }
        rows = written[table.name] = []
        for n in range(ROWS_PER_TABLE):
            row = {}
            for column in table.columns:
                if column.name in parents:
                    parent = parents[column.name]
                    row[column.name] = written[parent.table.name][n][parent.name]
                elif column.autoincrement is True or (
                    column.primary_key
                    and isinstance(column.type, sa.Integer)
                    and len(table.primary_key.columns) == 1
                ):
                    continue  # the database numbers it, so its sequence stays right
                else:
                    row[column.name] = _value(table, column, n)
            key = connection.execute(table.insert().values(row)).inserted_primary_key
            rows.append({**row, **key._asdict()})
    return written


def read_back(connection, written: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The same rows as they are now, by primary key, in the columns they were written with."""
    schema = sa.MetaData()
    schema.reflect(connection)
    found = {}
    for name, rows in written.items():
        table = schema.tables[name]
        key = [column.name for column in table.primary_key.columns]
        found[name] = []
        for row in rows:
            match = table.select().where(*(table.c[k] == row[k] for k in key))
            current = connection.execute(match).mappings().one_or_none()
            if current is not None:
                current = {**current, **_moved_values(connection, schema, name, row)}
            found[name].append(
                None
                if current is None
                else {column: current[RENAMED.get((name, column), column)] for column in row}
            )
    return found


# Columns a migration renamed: (table, old name) → new name.
RENAMED = {("stripe_events", "processed_at"): "received_at"}  # 0004
# Columns a migration moved to a row of another table: (table, column) → (table, column),
# the row found by its `provider_id` (0020: a provider's webhook URL and secret became its
# first webhook endpoint).
MOVED = {
    ("providers", "webhook_url"): ("webhook_endpoints", "url"),
    ("providers", "webhook_secret"): ("webhook_endpoints", "secret"),
    ("providers", "previous_webhook_secret"): ("webhook_endpoints", "previous_secret"),
    ("providers", "webhook_secret_rotated_at"): ("webhook_endpoints", "secret_rotated_at"),
    ("providers", "webhook_disabled_at"): ("webhook_endpoints", "disabled_at"),
}


def _moved_values(connection, schema, name: str, row: dict) -> dict:
    """The values of a row's moved columns, read where they are now."""
    values = {}
    for (table, column), (target, target_column) in MOVED.items():
        if table != name or column not in row or target not in schema.tables:
            continue
        holder = schema.tables[target]
        values[column] = connection.execute(
            sa.select(holder.c[target_column])
            .where(holder.c.provider_id == row["id"])
            .order_by(holder.c.created_at)
            .limit(1)
        ).scalar_one_or_none()
    return values


# Values a migration sets on purpose in rows that already exist.
CHANGED_BY_UPGRADE = {
    # 0004: events recorded before deferred application had been applied when they arrived.
    ("stripe_events", "applied_at"),
}


def test_every_revision_id_fits_alembics_version_column():
    """alembic_version.version_num is VARCHAR(32): PostgreSQL refuses a longer id (SQLite
    does not check), so a long one passes the SQLite pass and breaks every upgrade after."""
    assert [revision for revision in revisions() if len(revision) > 32] == []


@pytest.mark.parametrize("revision", revisions()[:-1])
def test_upgrade_keeps_every_row(empty_database, at_revision, revision):
    at_revision(revision)
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.begin() as connection:
            written = seed_every_table(connection)
        flask_db(empty_database, "upgrade")
        with engine.connect() as connection:
            found = read_back(connection, written)
            assert (
                MigrationContext.configure(connection).get_current_revision() == (revisions()[-1])
            )
    finally:
        engine.dispose()
    for name, rows in written.items():
        for before, after in zip(rows, found[name], strict=True):
            assert after is not None, f"{name}: a row is gone: {before}"
            changed = {
                column
                for column in before
                if before[column] != after[column] and (name, column) not in CHANGED_BY_UPGRADE
            }
            assert not changed, f"{name}: {sorted(changed)} changed: {before} → {after}"

    app = create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url({"DATABASE_URL": empty_database})}
    )
    with app.app_context():
        for mapper in db.Model.registry.mappers:
            for row in db.session.scalars(sa.select(mapper.class_)).all():
                for attribute in mapper.column_attrs:
                    getattr(row, attribute.key)
        db.session.remove()
    for order in written.get("orders", []):
        page = app.test_client().get(f"/checkout?orderId={order['id']}")
        assert page.status_code == 200, page.text
    with app.app_context():
        db.engine.dispose()


FAILING_MIGRATION = '''"""a migration that fails half way, after changing the orders table

Revision ID: 9999_fails
Revises: {head}
"""
from alembic import op
import sqlalchemy as sa

revision = "9999_fails"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite, the table copy that the real migrations' batch operations make.
    copy = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("orders", recreate=copy) as batch_op:
        batch_op.add_column(sa.Column("half_done", sa.Integer(), nullable=True))
    raise RuntimeError("this migration fails on purpose")


def downgrade():
    pass
'''


def snapshot(url: str) -> dict:
    """Every table's columns, indexes and rows, and the revision: what an upgrade may change."""
    engine = sa.create_engine(database_url({"DATABASE_URL": url}))
    try:
        with engine.connect() as connection:
            schema = sa.MetaData()
            schema.reflect(connection)
            inspector = sa.inspect(connection)
            return {
                name: (
                    [column.name for column in table.columns],
                    sorted(index["name"] for index in inspector.get_indexes(name)),
                    sorted(map(tuple, connection.execute(table.select()).all()), key=repr),
                )
                for name, table in schema.tables.items()
            }
    finally:
        engine.dispose()


def test_a_failed_upgrade_changes_nothing(empty_database, at_revision, tmp_path):
    """Last week's instance (0004) with rows; a later migration fails: all or nothing."""
    at_revision("0004_deferred_stripe_events")
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.begin() as connection:
            seed_every_table(connection)
    finally:
        engine.dispose()
    before = snapshot(empty_database)
    directory = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", directory)
    failing = FAILING_MIGRATION.replace("{head}", revisions()[-1])
    (directory / "versions" / "9999_fails.py").write_text(failing)

    failed = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade", "-d", str(directory)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": empty_database},
        capture_output=True,
        text=True,
    )

    assert failed.returncode != 0
    assert "this migration fails on purpose" in failed.stderr
    assert snapshot(empty_database) == before
    flask_db(empty_database, "upgrade")  # and the real upgrade still runs afterwards


# What a failed upgrade left behind before upgrades ran in one transaction on SQLite: the
# steps that had run (each committed by itself) and the batch copy of the table whose
# original could not be dropped.
STUCK = {
    "0004_deferred_stripe_events": [
        "ALTER TABLE services ADD COLUMN stripe_payment_link_id VARCHAR(64)",
        "CREATE TABLE _alembic_tmp_orders AS SELECT * FROM orders",
    ],
    "0007_admin_sessions": ["CREATE TABLE _alembic_tmp_providers AS SELECT * FROM providers"],
}


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="a state only SQLite was left in")
@pytest.mark.parametrize("revision", sorted(STUCK))
def test_an_instance_stuck_by_an_earlier_failed_upgrade_upgrades(
    empty_database, at_revision, revision
):
    at_revision(revision)
    engine = sa.create_engine(database_url({"DATABASE_URL": empty_database}))
    try:
        with engine.begin() as connection:
            written = seed_every_table(connection)
            for statement in STUCK[revision]:
                connection.exec_driver_sql(statement)
        flask_db(empty_database, "upgrade")
        with engine.connect() as connection:
            found = read_back(connection, written)
            tables = sa.inspect(connection).get_table_names()
            revision_now = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    assert revision_now == revisions()[-1]
    assert not [name for name in tables if name.startswith("_alembic_tmp_")]
    assert all(row is not None for rows in found.values() for row in rows)
