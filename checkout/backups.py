"""Backups of Kassa's data, and their restore into an empty instance.

A backup is a folder: `manifest.json` (Kassa's version, the schema's alembic revision, when
it was made, which database and queue) beside the copies. On SQLite both files, the
database and the Huey queue, are copied with SQLite's online backup API, each a consistent
snapshot while web and worker keep writing; the queue first, so every task in its copy
names a row the database's later copy holds. On PostgreSQL the database is dumped with
`pg_dump -Fc` and restored with `pg_restore`. A Redis queue is not copied: pending
notifications and Stripe events are rows in the database (the outbox), and the worker's
sweep queues them again (`notifications.lost`, `stripe_events.lost`).

The secret key is never in a backup: it is kept apart from the data it protects.
"""

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from checkout import config, jsonio
from checkout.extensions import db
from checkout.models import utcnow

MANIFEST = "manifest.json"
FORMAT = "kassa-backup"
FORMAT_VERSION = 1
DATABASE_COPY = "kassa.db"
QUEUE_COPY = "huey.db"
DUMP = "kassa.dump"
MIGRATIONS = config.PROJECT_ROOT / "migrations"


def _migration_scripts():
    """Alembic's view of the migrations folder; imported here, not at the top, since every
    command loads this module and Alembic is about a tenth of a process's start."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


QUEUE_NOT_COPIED = (
    "The queue (Redis) is not copied: pending notifications and Stripe events are rows in "
    "the database, and the worker's sweep queues them again after a restore."
)


class BackupError(Exception):
    """A backup or restore Kassa refuses, or one that failed; the message says why."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, as manifest.json records it."""

    kassa_version: str
    alembic_revision: str | None
    created_at: str
    database: str  # "sqlite" or "postgresql"
    queue: str  # "sqlite" or "redis"
    files: dict[str, str | None]  # "database" and "queue": the copies' names (None: none)

    def to_json(self) -> dict:
        """The manifest.json object (also the CLI's --json shape of a backup)."""
        return {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "kassaVersion": self.kassa_version,
            "alembicRevision": self.alembic_revision,
            "createdAt": self.created_at,
            "database": self.database,
            "queue": self.queue,
            "files": self.files,
        }


@dataclass
class Outcome:
    """What a backup or restore did: its manifest and the lines to tell the operator."""

    path: Path
    manifest: Manifest
    notes: list[str] = field(default_factory=list)
    upgrade_from: str | None = None  # restored at an older schema revision than the code's


def database_kind(url: str) -> str:
    """'sqlite' or 'postgresql' for the app's SQLAlchemy URL; BackupError for another."""
    if config.sqlite_path(url) is not None:
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    driver = sa.engine.make_url(url).drivername
    raise BackupError(f"cannot back up a {driver} database: only a SQLite file or PostgreSQL")


def head_revision() -> str:
    """The schema revision this Kassa's migrations end at."""
    return _migration_scripts().get_current_head()


def _kassa_version() -> str:
    try:
        return metadata.version("kassa")
    except metadata.PackageNotFoundError:
        return "unknown"


def _revision(engine: sa.engine.Engine) -> str | None:
    """The alembic revision of the database behind engine; None if it was never stamped."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _private_copy(path: Path) -> Path:
    config.create_private_file(path)
    return path


def _copy_sqlite(source: Path, copy: Path) -> None:
    """Copy one SQLite database in a single step of the online backup API: a snapshot."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist: nothing to back up")
    origin = sqlite3.connect(source, timeout=30)
    target = sqlite3.connect(_private_copy(copy))
    try:
        origin.backup(target)
        # One self-contained file: no -wal beside it.
        target.execute("PRAGMA journal_mode=DELETE")
        if target.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy of {source} does not pass SQLite's quick_check")
    finally:
        target.close()
        origin.close()


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools of the server's "
            "major version (Debian: postgresql-client)"
        )
    return found


def _postgres_command(program: str, url: str) -> tuple[list[str], dict | None]:
    """The program's path and --dbname, and its environment (the password kept off argv)."""
    found = _program(program)
    parsed = sa.engine.make_url(url)
    address = parsed.set(drivername="postgresql", password=None)
    env = None if parsed.password is None else {**os.environ, "PGPASSWORD": parsed.password}
    return [found, "--dbname", address.render_as_string(hide_password=False)], env


def _run(command: list[str], env: dict | None) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        name = Path(command[0]).name
        raise BackupError(f"{name} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _new_folder(path: Path) -> None:
    if path.is_file():
        raise BackupError(f"{path} is a file: give a folder that does not exist yet")
    if path.is_dir() and any(path.iterdir()):
        raise BackupError(f"{path} is not empty: give a new folder, so no backup is overwritten")
    path.mkdir(mode=config.PRIVATE_FOLDER, parents=True, exist_ok=True)
    os.chmod(path, config.PRIVATE_FOLDER)


def create(path: Path) -> Outcome:
    """Back up the database and (a SQLite) queue into the new folder `path`."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(url)
    queue = config.huey_settings()
    given = path.is_dir()
    _new_folder(path)
    try:
        return _write(path, url, kind, queue)
    except BaseException:
        # Leave nothing of a failed backup; an empty folder that was given stays.
        for part in list(path.iterdir()) if given else [path]:
            if part.is_dir():
                shutil.rmtree(part)
            else:
                part.unlink()
        raise


def _write(path: Path, url: str, kind: str, queue: dict) -> Outcome:
    notes = []
    queue_copy = None
    if queue["redis_url"]:
        notes.append(QUEUE_NOT_COPIED)
    else:
        _copy_sqlite(Path(queue["sqlite_path"]), path / QUEUE_COPY)
        queue_copy = QUEUE_COPY
        notes.append(f"{QUEUE_COPY}: the queue, copied with SQLite's online backup API.")
    if kind == "sqlite":
        _copy_sqlite(config.sqlite_path(url), path / DATABASE_COPY)
        copy_engine = sa.create_engine(f"sqlite:///{path / DATABASE_COPY}")
        revision = _revision(copy_engine)
        copy_engine.dispose()
        database_copy = DATABASE_COPY
        notes.insert(0, f"{DATABASE_COPY}: the database, copied with SQLite's online backup API.")
    else:
        revision = _revision(db.engine)
        command, env = _postgres_command("pg_dump", url)
        _run([*command, "--format=custom", "--file", str(_private_copy(path / DUMP))], env)
        database_copy = DUMP
        version = _run([command[0], "--version"], None).strip()
        notes.insert(0, f"{DUMP}: the database, dumped with pg_dump -Fc ({version}).")
    manifest = Manifest(
        kassa_version=_kassa_version(),
        alembic_revision=revision,
        created_at=jsonio.timestamp(utcnow()),
        database=kind,
        queue="redis" if queue["redis_url"] else "sqlite",
        files={"database": database_copy, "queue": queue_copy},
    )
    manifest_file = _private_copy(path / MANIFEST)
    manifest_file.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return Outcome(path, manifest, notes)


def read_manifest(path: Path) -> Manifest:
    """The manifest of the backup in folder `path`; BackupError unless it is one."""
    if not path.exists():
        raise BackupError(f"{path} does not exist")
    if not path.is_dir():
        raise BackupError(f"{path} is not a backup: a backup is the folder `backup create` made")
    try:
        data = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{path} is not a Kassa backup: it has no {MANIFEST}") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path / MANIFEST} cannot be read: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Kassa backup: {MANIFEST} is not one Kassa wrote")
    if data.get("formatVersion") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is a backup of format {data.get('formatVersion')!r}; this Kassa reads "
            f"format {FORMAT_VERSION}: restore it with the Kassa that made it"
        )
    try:
        manifest = Manifest(
            kassa_version=data["kassaVersion"],
            alembic_revision=data["alembicRevision"],
            created_at=data["createdAt"],
            database=data["database"],
            queue=data["queue"],
            files=data["files"],
        )
    except KeyError as missing:
        raise BackupError(f"{path / MANIFEST} lacks {missing}: the backup is damaged") from None
    copy = manifest.files.get("database") if isinstance(manifest.files, dict) else None
    if not copy or not (path / copy).is_file():
        raise BackupError(f"{path} lacks the database copy its {MANIFEST} names: it is damaged")
    return manifest


def _check_revision(manifest: Manifest) -> str | None:
    """The backup's revision when older than the code's head; refuse one the code lacks."""
    revision = manifest.alembic_revision
    head = head_revision()
    if revision is None or revision == head:
        return None
    from alembic.util import CommandError  # loaded with the scripts, as they are

    try:
        _migration_scripts().get_revision(revision)
    except CommandError:
        raise BackupError(
            f"the backup's schema revision {revision!r} is unknown to this Kassa (its "
            f"newest is {head!r}): it was made by a newer Kassa; restore it with that version"
        ) from None
    return revision


def _sqlite_rows(path: Path, tables: tuple[str, ...] | None = None) -> list[str]:
    """The tables of the SQLite file that hold something (any table, when tables is None)."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    connection = sqlite3.connect(path, timeout=30)
    try:
        names = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        if tables is None:
            return names
        return [
            name
            for name in names
            if name in tables and connection.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()  # noqa: S608
        ]
    finally:
        connection.close()


def _postgres_tables() -> list[str]:
    with db.engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY table_name"
                )
            ).scalars()
        )


def _refuse_unless_empty(kind: str, url: str, queue: dict) -> None:
    """Refuse to restore over data: the database must have no tables, the queue no tasks."""
    if kind == "sqlite":
        where = str(config.sqlite_path(url))
        tables = _sqlite_rows(config.sqlite_path(url))
    else:
        where = sa.engine.make_url(url).set(drivername="postgresql").render_as_string()
        tables = _postgres_tables()
    if tables:
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise BackupError(
            f"the database {where} is not empty ({len(tables)} tables: {shown}): restore only "
            "into a new, empty instance; nothing was changed"
        )
    if not queue["redis_url"]:
        holding = _sqlite_rows(Path(queue["sqlite_path"]), ("task", "schedule"))
        if holding:
            raise BackupError(
                f"the queue {queue['sqlite_path']} holds tasks ({', '.join(holding)}): restore "
                "only into a new, empty instance with its worker stopped; nothing was changed"
            )


def _check_sqlite_copy(copy: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        verdict = str(error)
    if verdict != "ok":
        raise BackupError(f"{copy} is damaged ({verdict}); nothing was changed")


def _check_copies(path: Path, manifest: Manifest, kind: str) -> None:
    """Refuse a damaged backup before anything is written: each copy must read whole."""
    database = path / manifest.files["database"]
    if kind == "sqlite":
        _check_sqlite_copy(database)
    else:
        try:
            _run([_program("pg_restore"), "--list", str(database)], None)
        except BackupError as error:
            raise BackupError(f"{database} is damaged ({error}); nothing was changed") from None
    queue = manifest.files.get("queue")
    if queue and (path / queue).is_file():
        _check_sqlite_copy(path / queue)


def _restore_sqlite(copy: Path, target: Path) -> None:
    """Write the copy into the target file with the online backup API (a whole new file)."""
    config.create_private_file(target)
    origin = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=30)
    try:
        origin.backup(destination)
    finally:
        destination.close()
        origin.close()


def restore(path: Path) -> Outcome:
    """Restore the backup in folder `path` into this instance, which must be empty."""
    manifest = read_manifest(path)
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(url)
    if kind != manifest.database:
        raise BackupError(
            f"the backup is of a {manifest.database} database but this instance uses "
            f"{kind}: restore it into an instance on {manifest.database}"
        )
    older = _check_revision(manifest)
    queue = config.huey_settings()
    _check_copies(path, manifest, kind)
    _refuse_unless_empty(kind, url, queue)
    db.session.remove()
    notes = []
    if kind == "sqlite":
        _restore_sqlite(path / manifest.files["database"], config.sqlite_path(url))
        notes.append(f"Database restored into {config.sqlite_path(url)}.")
    else:
        command, env = _postgres_command("pg_restore", url)
        dump = str(path / manifest.files["database"])
        _run([*command, "--no-owner", "--no-privileges", "--single-transaction", dump], env)
        notes.append("Database restored with pg_restore.")
    db.engine.dispose()
    notes.append(_restore_queue(path, manifest, queue))
    return Outcome(path, manifest, notes, upgrade_from=older)


def _restore_queue(path: Path, manifest: Manifest, queue: dict) -> str:
    """Restore the queue's copy where both sides use a SQLite queue; say what happened."""
    copy = manifest.files.get("queue")
    if queue["redis_url"] or not copy or not (path / copy).is_file():
        return (
            "The queue was not restored (this instance or the backup queues in Redis): the "
            "worker's sweep queues the pending notifications and Stripe events again."
        )
    _restore_sqlite(path / copy, Path(queue["sqlite_path"]))
    return f"Queue restored into {queue['sqlite_path']}."


def secret_key_source() -> str:
    """Where this instance's secret key comes from, for the operator to keep a copy."""
    path = Path(current_app.config["INSTANCE_PATH"]) / "secret_key"
    if path.is_file() and path.read_text().strip() == current_app.config["SECRET_KEY"]:
        return str(path)
    return "the SECRET_KEY environment variable"
