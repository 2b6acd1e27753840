"""Admin view of the audit log: who changed what, newest first, with filters."""

from flask import render_template, request

from checkout import audit
from checkout.admin.common import bp, one_page
from checkout.admin.forms import AuditFilterForm
from checkout.models import ActorKind

ENTRIES_PER_PAGE = 50


def _filters(form: AuditFilterForm) -> dict:
    """A valid filter form's choices, as audit.select_entries takes them."""
    return {
        "actor_kind": ActorKind(form.actor_kind.data) if form.actor_kind.data else None,
        "actor": (form.actor.data or "").strip() or None,
        "action": form.action.data or None,
        "subject_type": form.subject_type.data or None,
        "subject_id": (form.subject_id.data or "").strip() or None,
        "date_from": form.date_from.data,
        "date_to": form.date_to.data,
    }


@bp.get("/audit")
def audit_log():
    """Every recorded change, newest first, filtered by actor, action, subject and date."""
    form = AuditFilterForm(request.args)
    valid = form.validate()
    filters = _filters(form) if valid else {}
    page, args = one_page(audit.select_entries(**filters), ENTRIES_PER_PAGE, empty=not valid)
    response = render_template("admin/audit.html", form=form, page=page, args=args)
    return (response, 200) if valid else (response, 422)
