"""The audit log: who changed what, added to the change's own transaction, never edited.

Services that change something an operator would ask about ("who turned this link off?")
take the `Actor` their caller names and call `record` before they commit. There is no
function to change or delete an entry, and the model refuses both (models.AuditEntry).
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum, StrEnum

from sqlalchemy import Select, func, select

from checkout.extensions import db
from checkout.models import ActorKind, AuditEntry

DETAIL_MAX = 2000
VALUE_MAX = 120


@dataclass(frozen=True)
class Actor:
    """Who is acting: an admin (by e-mail), an API key (by prefix), the CLI or Kassa itself."""

    kind: ActorKind
    label: str


CLI = Actor(ActorKind.CLI, "cli")
SYSTEM = Actor(ActorKind.SYSTEM, "system")


def admin(email: str) -> Actor:
    """The admin signed in with this e-mail."""
    return Actor(ActorKind.ADMIN, email)


def api_key(prefix: str) -> Actor:
    """A provider's API key, named by its public prefix."""
    return Actor(ActorKind.API_KEY, prefix)


class Action(StrEnum):
    """Every kind of change the log records."""

    ADMIN_CREATED = "admin.created"
    ADMIN_REMOVED = "admin.removed"
    ADMIN_PASSWORD_SET = "admin.password_set"  # noqa: S105 -- the action, not a password
    SERVICE_CREATED = "service.created"
    SERVICE_CHANGED = "service.changed"
    PROVIDER_CREATED = "provider.created"
    PROVIDER_CHANGED = "provider.changed"
    ALLOWLIST_CHANGED = "provider.allowlist_changed"
    SIGNATURES_CHANGED = "provider.signatures_changed"
    SIGNATURE_FORMAT_CHANGED = "provider.signature_format_changed"
    REQUEST_SECRET_GENERATED = "provider.request_secret_generated"  # noqa: S105
    WEBHOOK_SECRET_ROTATED = "provider.webhook_secret_rotated"  # noqa: S105
    ENDPOINT_ENABLED = "provider.endpoint_enabled"
    ENDPOINT_CREATED = "provider.endpoint_created"
    ENDPOINT_CHANGED = "provider.endpoint_changed"
    ENDPOINT_DELETED = "provider.endpoint_deleted"
    BRANDING_CHANGED = "provider.branding_changed"
    TEST_EVENT_SENT = "provider.test_event_sent"
    KEY_ISSUED = "api_key.issued"
    KEY_REVOKED = "api_key.revoked"
    KEY_REGENERATED = "api_key.regenerated"
    LINK_CREATED = "link.created"
    LINK_CHANGED = "link.changed"
    LINK_COPIED = "link.copied"
    LINK_TURNED_OFF = "link.turned_off"
    LINK_TURNED_ON = "link.turned_on"
    ORDER_REFUNDED = "order.refunded"
    ORDER_CANCELED = "order.canceled"
    UNDERPAYMENT_ACCEPTED = "order.underpayment_accepted"
    NOTIFICATION_RESENT = "notification.resent"
    FAILED_NOTIFICATIONS_RESENT = "notification.failed_resent"
    STRIPE_EVENT_RETRIED = "stripe_event.retried"
    MAIL_RESENT = "mail.resent"
    DISCOUNT_CREATED = "discount.created"
    DISCOUNT_CHANGED = "discount.changed"


SUBJECT_TYPES = ("admin", "service", "provider", "api_key", "link", "order", "notification")
SUBJECT_TYPES += ("stripe_event", "mail")
SUBJECT_TYPES += ("discount",)


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and len(value) > VALUE_MAX:
        return value[: VALUE_MAX - 1] + "…"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)


def record(actor: Actor, action: Action, subject_type: str, subject_id: str, **detail) -> None:
    """Add an entry to the current transaction; the caller commits it with its change."""
    text = json.dumps({key: _plain(value) for key, value in detail.items()}, ensure_ascii=False)
    if len(text) > DETAIL_MAX:
        text = json.dumps({"truncated": text[: DETAIL_MAX - 40]}, ensure_ascii=False)
    db.session.add(
        AuditEntry(
            actor_kind=actor.kind,
            actor_label=actor.label[:254],
            action=action.value,
            subject_type=subject_type,
            subject_id=str(subject_id)[:255],
            detail=text,
        )
    )


def snapshot(row, names: tuple[str, ...]) -> dict:
    """The named attributes of a row, as plain values, to compare before and after a change."""
    return {name: _plain(getattr(row, name)) for name in names}


def changes(before: dict, after: dict) -> dict:
    """{name: [old, new]} for every value that differs."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def record_save(
    actor: Actor,
    action: Action,
    subject_type: str,
    row,
    before: dict,
    audited: tuple[str, ...],
    **extra,
) -> None:
    """Flush a created or changed row and add its entry: every audited value of a new row
    (`before` empty), what changed of an existing one, and `extra`; none when nothing
    changed. The caller commits."""
    db.session.add(row)
    db.session.flush()
    saved = snapshot(row, audited)
    detail = {**(changes(before, saved) if before else saved), **extra}
    if detail:  # a save that changed nothing is not worth a line
        record(actor, action, subject_type, row.id, **detail)


# Queries for the admin page


def select_entries(
    *,
    actor_kind: ActorKind | None = None,
    actor: str | None = None,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select[tuple[AuditEntry]]:
    """Entries, newest first, matching every filter given (actor: part of its label)."""
    query = select(AuditEntry)
    if actor_kind is not None:
        query = query.where(AuditEntry.actor_kind == actor_kind)
    if actor:
        escaped = actor.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(AuditEntry.actor_label).like(f"%{escaped}%", escape="\\"))
    if action:
        query = query.where(AuditEntry.action == action)
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    if date_from is not None:
        query = query.where(AuditEntry.at >= datetime.combine(date_from, time.min))
    if date_to is not None:
        # Up to the day's last microsecond: 9999-12-31 has no next day to stop before.
        query = query.where(AuditEntry.at <= datetime.combine(date_to, time.max))
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
