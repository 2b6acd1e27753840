"""Rows Kassa keeps for its own bookkeeping, about no order or provider in particular: what
it learned while running, counted attempts, used request signatures, idempotency keys, and
the e-mail outbox."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from checkout.enums import MailStatus
from checkout.extensions import db
from checkout.models import enum_column, new_id, utcnow


class Setting(db.Model):
    """A value Kassa learns while running (e.g. that Stripe refuses Cash App Pay)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ThrottleHit(db.Model):
    """One counted attempt (a failed login, a wrong password), keyed by a hash, never raw."""

    __tablename__ = "throttle_hits"
    __table_args__ = (sa.Index("ix_throttle_hits_lookup", "bucket", "key_hash", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(40))
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenSignature(db.Model):
    """A timestamped request signature already accepted, kept until its timestamp is too old
    to be accepted anyway; the primary key refuses its second use in every process."""

    __tablename__ = "seen_signatures"

    # SHA-256 of the signature's HMAC: unique to one provider's secret and one request.
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IdempotencyKey(db.Model):
    """A provider API request sent with an Idempotency-Key: held while it runs (locked_until
    set), then its answer, given again to a repeat until the key is IDEMPOTENCY_KEY_HOURS old."""

    __tablename__ = "idempotency_keys"

    # SHA-256 of the API key's id, the method, the path and the key: one row per request.
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    body_digest: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    locked_until: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)


class Mail(db.Model):
    """An e-mail in the outbox: written in the transaction of what it tells, then sent by a
    worker (checkout.mail) through SMTP_URL, or written as an .eml file without one."""

    __tablename__ = "mails"
    __table_args__ = (sa.Index("ix_mails_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=lambda: new_id("mail"))
    # What it is about, for the admin's list: "test", an alert's condition, …
    kind: Mapped[str] = mapped_column(sa.String(40))
    to_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    # A sandbox order's mail: written as an .eml file, never sent, unless SANDBOX_EMAILS=smtp.
    sandbox: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Alert(db.Model):
    """An operator alert (checkout.alerts): a condition about a subject, open until it
    clears (resolved_at), mailed unless one like it was within the hour (notified)."""

    __tablename__ = "alerts"
    __table_args__ = (sa.Index("ix_alerts_condition_subject", "condition", "subject"),)

    id: Mapped[str] = mapped_column(
        sa.String(40), primary_key=True, default=lambda: new_id("alert")
    )
    condition: Mapped[str] = mapped_column(sa.String(40))
    # What it is about: an endpoint's or an order's id, "stripe", "account".
    subject: Mapped[str] = mapped_column(sa.String(100))
    detail: Mapped[str] = mapped_column(sa.String(500))
    notified: Mapped[bool] = mapped_column(default=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[datetime | None]
    # The operator webhook's JSON still to be posted; None once it went (or without one).
    webhook_text: Mapped[str | None] = mapped_column(sa.Text)
