"""E-mail, never lost: a mail is a row of the outbox (records.Mail), written in the
transaction of what it tells, and a worker sends it through SMTP_URL with retries. Without
SMTP_URL it is written as an .eml file into the instance folder's `mail/`, so a first run
needs no mail server and the admin still lists every mail.

Sending is at least once: a worker holds a mail with a lease while it talks to the server,
so two workers never send it at once; a worker that dies mid-send leaves it to the sweep.
"""

import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import current_app, render_template
from sqlalchemy import select, update

from checkout import audit, database
from checkout.enums import MailStatus
from checkout.extensions import db
from checkout.models import utcnow
from checkout.records import Mail

# Seconds to wait after each failed attempt; after the last, the mail is given up (failed)
# and listed so in the admin, which can send it again.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 7200)
LEASE = timedelta(seconds=90)
SMTP_TIMEOUT_SECONDS = 20
MESSAGE_ID_DOMAIN = "kassa.invalid"


def queue(to: str, template: str, *, kind: str, sandbox: bool = False, **context) -> Mail:
    """Write a mail from `templates/mail/<template>.txt` (its first line is the subject) and
    `.html`, and ask for it to be sent once the transaction commits. A `sandbox` order's
    mail is only written as an .eml file, unless SANDBOX_EMAILS is smtp."""
    subject, _, text = render_template(f"mail/{template}.txt", **context).partition("\n")
    html = render_template(f"mail/{template}.html", subject=subject, **context)
    mail = Mail(
        kind=kind,
        to_address=to,
        subject=subject.strip()[:300],
        text_body=text.lstrip("\n"),
        html_body=html,
        sandbox=sandbox,
    )
    db.session.add(mail)
    db.session.flush()
    database.after_commit("send_mail", mail.id)
    return mail


@dataclass(frozen=True)
class Sent:
    """How one attempt left a mail, and when to try again if at all."""

    status: MailStatus
    retry_at: object | None


def send(mail_id: str) -> Sent | None:
    """Make one attempt if the mail is due and not held by another worker; None when not."""
    now = utcnow()
    claimed = db.session.execute(
        update(Mail)
        .where(
            Mail.id == mail_id,
            Mail.status == MailStatus.PENDING,
            Mail.next_attempt_at <= now,
            (Mail.lease_until.is_(None)) | (Mail.lease_until < now),
        )
        .values(lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return None
    mail = db.session.get(Mail, mail_id)
    try:
        _deliver(_message(mail), to_file=mail.sandbox and not _sandbox_mails_sent())
        error = None
    except (OSError, smtplib.SMTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"[:500]
    return _settle(mail, error)


def _settle(mail: Mail, error: str | None) -> Sent:
    mail.attempts += 1
    mail.lease_until = None
    mail.last_error = error
    if error is None:
        mail.status, mail.sent_at = MailStatus.SENT, utcnow()
    elif mail.attempts > len(RETRY_DELAYS):
        mail.status = MailStatus.FAILED
    else:
        mail.next_attempt_at = utcnow() + timedelta(seconds=RETRY_DELAYS[mail.attempts - 1])
    db.session.commit()
    retry_at = mail.next_attempt_at if mail.status is MailStatus.PENDING else None
    return Sent(mail.status, retry_at)


def _message(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at.replace(tzinfo=UTC), usegmt=True)
    # The same Message-ID on every attempt: a server that got it twice can tell.
    message["Message-ID"] = f"<{mail.id}@{MESSAGE_ID_DOMAIN}>"
    message.set_content(mail.text_body)
    if mail.html_body:
        message.add_alternative(mail.html_body, subtype="html")
    return message


def _sandbox_mails_sent() -> bool:
    """Whether sandbox orders' mails go through SMTP_URL too (SANDBOX_EMAILS=smtp)."""
    return current_app.config["SANDBOX_EMAILS"] == "smtp"


def _deliver(message: EmailMessage, *, to_file: bool = False) -> None:
    """Hand the message to SMTP_URL's server, or write it to instance/mail/ without one (or
    when it must not leave this machine: `to_file`)."""
    smtp = current_app.config["SMTP"]
    if smtp is None or to_file:
        folder = Path(current_app.config["INSTANCE_PATH"]) / "mail"
        folder.mkdir(mode=0o700, exist_ok=True)
        mail_id = message["Message-ID"].strip("<>").split("@")[0]
        (folder / f"{mail_id}.eml").write_bytes(bytes(message))
        return
    context = ssl.create_default_context()
    if smtp["tls"]:
        server = smtplib.SMTP_SSL(
            smtp["host"], smtp["port"], timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        server = smtplib.SMTP(smtp["host"], smtp["port"], timeout=SMTP_TIMEOUT_SECONDS)
    with server:
        if not smtp["tls"]:
            # STARTTLS is required: a password or a mail never crosses the network in clear.
            server.starttls(context=context)
        if smtp["username"]:
            server.login(smtp["username"], smtp["password"] or "")
        server.send_message(message)


def resend(mail: Mail, *, actor: audit.Actor) -> bool:
    """Send a mail again (an admin asked): due now, its attempts counted afresh; False while
    a worker holds it (it is being sent)."""
    if mail.lease_until is not None and mail.lease_until > utcnow():
        return False
    mail.status, mail.attempts, mail.next_attempt_at = MailStatus.PENDING, 0, utcnow()
    audit.record(actor, audit.Action.MAIL_RESENT, "mail", mail.id, to=mail.to_address)
    database.after_commit("send_mail", mail.id)
    db.session.commit()
    return True


def select_mails(status: MailStatus | None = None):
    """The outbox, newest first, optionally only mails in one status."""
    query = select(Mail).order_by(Mail.created_at.desc(), Mail.id.desc())
    return query if status is None else query.where(Mail.status == status)


def lost(grace: timedelta) -> Iterator[str]:
    """Mails due for longer than `grace` whose task was lost (a worker or the queue died),
    oldest first and every one, in batches (database.ids_in_batches), for the sweep to
    queue again; sending one twice is harmless, only one worker holds it."""
    now = utcnow()
    due = (
        (Mail.status == MailStatus.PENDING)
        & (Mail.next_attempt_at <= now - grace)
        & ((Mail.lease_until.is_(None)) | (Mail.lease_until < now))
    )
    return database.ids_in_batches(due, Mail.next_attempt_at, Mail.id)


def forget_old_bodies(older_than: timedelta) -> int:
    """Empty the text of mails sent or given up longer than `older_than` ago; the outbox
    keeps to whom, what about, when and how it went."""
    forgotten = db.session.execute(
        update(Mail)
        .where(
            Mail.status != MailStatus.PENDING,
            Mail.created_at < utcnow() - older_than,
            (Mail.text_body != "") | (Mail.html_body.is_not(None)),
        )
        .values(text_body="", html_body=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return forgotten
