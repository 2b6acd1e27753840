"""The admin blueprint and the helpers its area modules share."""

from collections.abc import Iterator

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    render_template,
    request,
    session,
    stream_with_context,
)
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, false
from wtforms.fields.choices import SelectChoice

from checkout import audit, catalog, custom_fields, reports
from checkout.admin.forms import ActionForm
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import utcnow

bp = Blueprint("admin", __name__, url_prefix="/admin")

# No list gets this long, and the OFFSET it makes must fit a 64-bit integer.
LAST_PAGE = 1_000_000


def actor() -> audit.Actor:
    """The signed-in admin, as the audit log names them."""
    return audit.admin(current_user.email)


def render_invalid(template: str, **context):
    """Re-render a form with its errors, answering 422."""
    return render_template(template, **context), 422


def attach_error(form, error: ValidationError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's ValidationError on the form field it names (or as a flash)."""
    name = (aliases or {}).get(error.field, error.field)
    field = getattr(form, name, None)
    if field is None:
        flash(error.message, "error")
    else:
        field.errors = [*field.errors, error.message]


def provider_choices(blank: str) -> list[SelectChoice]:
    """Every provider for a select, after a first empty choice labelled `blank`."""
    return [SelectChoice("", blank)] + [
        SelectChoice(row.id, row.name) for row in catalog.all_providers()
    ]


def service_choices() -> list[SelectChoice]:
    """Every service for a select, labelled with its price."""
    return [
        SelectChoice(service.id, f"{service.title} ({service.price_display})")
        for service in catalog.all_services()
    ]


def require_action_form() -> None:
    """Answer 400 unless the POST carries a valid CSRF token."""
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Go back, reload the page and try again.")


def csv_download(name: str, rows: Iterator[list[str]]) -> Response:
    """A CSV attachment streamed as it is read, named after the list and today's UTC date."""
    return Response(
        stream_with_context(reports.csv_chunks(rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={name}-{utcnow():%Y%m%d}.csv",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def confirm(
    question: str,
    consequence: str,
    button: str,
    back: str,
    *,
    danger: bool = True,
    fields: dict[str, str] | None = None,
):
    """The page that asks before a destructive POST to this same URL; works without JavaScript."""
    return render_template(
        "admin/confirm.html",
        question=question,
        consequence=consequence,
        button=button,
        back=back,
        danger=danger,
        fields=fields or {},
        action=request.path,
        action_form=ActionForm(),
    )


# A secret shown once (a new API key, a request-signing secret) crosses the redirect after
# its POST in the signed session cookie, and leaves the session when its page first shows
# it: never in a URL, and a reload cannot show it again or create another.
SHOWN_ONCE = "shown_once"


def keep_for_one_view(name: str, secret: str) -> None:
    """Hold a secret for the next page that asks for it by name."""
    session[SHOWN_ONCE] = {**session.get(SHOWN_ONCE, {}), name: secret}


def forget_unshown(shown_on: set[str]) -> None:
    """Drop held secrets when the admin went elsewhere instead of to their page."""
    if SHOWN_ONCE in session and request.method == "GET" and request.endpoint not in shown_on:
        session.pop(SHOWN_ONCE)


def take_for_one_view(name: str) -> str | None:
    """The secret held under name, removed from the session; None once it has been shown."""
    held = dict(session.get(SHOWN_ONCE, {}))
    secret = held.pop(name, None)
    if held:
        session[SHOWN_ONCE] = held
    else:
        session.pop(SHOWN_ONCE, None)
    return secret


def one_page(
    query: Select, per_page: int, *, empty: bool = False
) -> tuple[Pagination, dict[str, str]]:
    """The requested page of a list (none if its filters were invalid), and the filters kept."""
    page = db.paginate(
        query.where(false()) if empty else query,
        page=min(max(request.args.get("page", 1, type=int), 1), LAST_PAGE),
        per_page=per_page,
        error_out=False,
    )
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return page, args


# What a checkout asks: the link and the service forms' custom field slots and e-mail choice.


def fill_questions(form, row) -> None:
    """Show a link's or a service's custom fields in the form's slots (on a GET)."""
    slots = [entry.form for entry in form.custom_fields]
    for slot, setting in zip(slots, custom_fields.settings_of(row), strict=False):
        slot.type.data = setting["type"]
        slot.label.data = setting["label"]
        slot.key.data = setting["key"]
        slot.required.data = setting["required"]
        slot.options.data = "\n".join(
            f"{option['value']}={option['label']}" for option in setting["options"]
        )
    form.collect_email.data = row.collect_email.value


def _options(text: str | None) -> list[dict]:
    options = []
    for line in (text or "").splitlines():
        if line.strip():
            value, _, label = line.partition("=")
            options.append({"value": value.strip(), "label": (label or value).strip()})
    return options


def attach_question_error(form, error: ValidationError) -> bool:
    """Show a custom field's refused setting in its slot; False for any other error."""
    if not isinstance(error, custom_fields.SettingRefused):
        return False
    slot = form.custom_fields[min(error.position, len(form.custom_fields)) - 1].form
    part = getattr(slot, error.part, slot.type)
    part.errors = [*part.errors, error.message]
    # The list's own errors, counted by form.errors, were taken before this one.
    form.custom_fields.errors = [entry.errors for entry in form.custom_fields]
    return True


def questions_of(form) -> list[dict]:
    """The custom fields the form's slots set, in the API's shape; empty slots are left out."""
    return [
        {
            "key": slot.key.data or "",
            "label": slot.label.data or "",
            "type": slot.type.data or None,
            "required": bool(slot.required.data),
            "options": _options(slot.options.data),
        }
        for slot in (entry.form for entry in form.custom_fields)
        if slot.type.data or slot.key.data or slot.label.data
    ]
