"""`flask alerts …`: check the lasting conditions now, as the worker does every minute, and
list the operator's alerts."""

from flask.cli import AppGroup
from sqlalchemy import select

from checkout import tasks
from checkout.cli.common import emit, json_option
from checkout.extensions import db
from checkout.jsonio import timestamp
from checkout.records import Alert

alerts_cli = AppGroup("alerts", help="The operator's alerts (ALERT_EMAIL, ALERT_WEBHOOK_URL).")


@alerts_cli.command("check")
@json_option
def check_command(as_json: bool) -> None:
    """Open or resolve alerts of what lasts (failing endpoints, Stripe events), as the worker
    does every minute."""
    counts = tasks.check_alerts()
    emit(as_json, counts, f"Opened {counts['opened']} alert(s), resolved {counts['resolved']}.")


@alerts_cli.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """The alerts, newest first: condition, subject, open or resolved, whether it was sent."""
    rows = db.session.scalars(select(Alert).order_by(Alert.opened_at.desc()).limit(100)).all()
    shown = [
        {
            "id": row.id,
            "condition": row.condition,
            "subject": row.subject,
            "detail": row.detail,
            "notified": row.notified,
            "openedAt": timestamp(row.opened_at),
            "resolvedAt": timestamp(row.resolved_at),
        }
        for row in rows
    ]
    lines = [
        f"{row['openedAt']}  {'resolved' if row['resolvedAt'] else 'open    '}  "
        f"{row['condition']}  {row['subject']}"
        for row in shown
    ]
    emit(as_json, shown, "\n".join(lines) or "No alerts.")
