"""`flask mail …`: send a test mail through the configured server, and list the outbox."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from checkout import mail, urls
from checkout.addresses import is_email_address
from checkout.cli.common import emit, json_option
from checkout.extensions import db
from checkout.jsonio import timestamp
from checkout.records import Mail

mail_cli = AppGroup("mail", help="Kassa's e-mail: a test mail, the outbox.")


@mail_cli.command("test")
@click.argument("address")
@json_option
def test_command(address: str, as_json: bool) -> None:
    """Queue a test mail to ADDRESS; a worker sends it (through SMTP_URL, or into
    instance/mail/ without one)."""
    if not is_email_address(address):
        raise click.BadParameter(f"{address!r} is not an e-mail address", param_hint="ADDRESS")
    queued = mail.queue(address, "test", kind="test", base_url=urls.base_url())
    db.session.commit()
    emit(as_json, {"id": queued.id, "to": address}, f"Queued test mail {queued.id} to {address}.")


@mail_cli.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """The outbox, newest first: each mail's status, attempts and last error."""
    rows = db.session.scalars(select(Mail).order_by(Mail.created_at.desc()).limit(100)).all()
    shown = [
        {
            "id": row.id,
            "kind": row.kind,
            "to": row.to_address,
            "subject": row.subject,
            "status": row.status.value,
            "attempts": row.attempts,
            "lastError": row.last_error,
            "createdAt": timestamp(row.created_at),
            "sentAt": timestamp(row.sent_at),
        }
        for row in rows
    ]
    lines = [f"{row['id']}  {row['status']:8} {row['to']}  {row['subject']}" for row in shown]
    emit(as_json, shown, "\n".join(lines) or "No mail yet.")
