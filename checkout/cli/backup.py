"""`backup create` and `backup restore`: a consistent copy of Kassa's data while it runs, and
its restore into an empty instance (checkout.backups)."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from checkout import backups, schemas
from checkout.cli.common import bind_migrations, emit, fail, json_option

backup_cli = AppGroup("backup", help="Back up Kassa's data, or restore a backup.")

path_argument = click.argument("path", type=click.Path(path_type=Path))


@backup_cli.command("create")
@path_argument
@json_option
def create_backup_command(path: Path, as_json: bool) -> None:
    """Copy the database (and a SQLite queue) into the new folder PATH, while Kassa runs:
    SQLite's online backup API, or pg_dump -Fc on PostgreSQL."""
    try:
        outcome = backups.create(path)
    except backups.BackupError as error:
        fail(as_json, str(error))
    manifest = outcome.manifest
    lines = [
        f"Backup written to {path} ({manifest.database}, schema {manifest.alembic_revision}):",
        *(f"  {note}" for note in outcome.notes),
        f"Not in it: the secret key ({backups.secret_key_source()}); keep a copy of it "
        "apart from the backups.",
    ]
    emit(as_json, schemas.backup(str(path), manifest.to_json(), outcome.notes), "\n".join(lines))


@backup_cli.command("restore")
@path_argument
@json_option
def restore_backup_command(path: Path, as_json: bool) -> None:
    """Restore the backup in folder PATH into this instance, which must be empty (stop its
    web and worker first); then upgrade its schema if the backup is older than this Kassa."""
    try:
        outcome = backups.restore(path)
    except backups.BackupError as error:
        fail(as_json, str(error))
    notes = list(outcome.notes)
    if outcome.upgrade_from:
        bind_migrations(current_app)
        from flask_migrate import upgrade  # with Alembic, only when a migration runs

        upgrade()
        notes.append(
            f"The backup's schema {outcome.upgrade_from} was upgraded to "
            f"{backups.head_revision()} (flask db upgrade)."
        )
    notes.append(
        "Put back the secret key kept from the backed-up instance (this instance's "
        "secret_key file, or SECRET_KEY) before starting web and worker."
    )
    manifest = outcome.manifest
    lines = [
        f"Restored the backup made {manifest.created_at} by Kassa {manifest.kassa_version}:",
        *(f"  {note}" for note in notes),
    ]
    data = schemas.backup(str(path), manifest.to_json(), notes, outcome.upgrade_from)
    emit(as_json, data, "\n".join(lines))
