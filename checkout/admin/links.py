"""Admin views for payment links: list, create, edit, duplicate, turn off, and analytics."""

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for

from checkout import chosen_amounts, link_analytics, payment_links, qr, urls
from checkout.admin.common import (
    actor,
    attach_error,
    attach_question_error,
    bp,
    confirm,
    fill_questions,
    provider_choices,
    questions_of,
    require_action_form,
    service_choices,
)
from checkout.admin.forms import ActionForm, LinkForm
from checkout.errors import ValidationError
from checkout.link_analytics import DayStats
from checkout.models import PaymentLink
from checkout.payment_links import LinkFields

CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 600, 140, 2


@dataclass
class Bar:
    x: float
    width: float
    views_height: float
    paid_height: float
    day: DayStats


def chart_bars(days: list[DayStats]) -> tuple[list[Bar], int]:
    """Bar geometry for the daily chart, scaled to the busiest day; and that day's views."""
    peak = max([max(day.views, day.orders) for day in days] + [1])
    width = CHART_WIDTH / len(days)
    bars = [
        Bar(
            x=index * width,
            width=max(width - CHART_GAP, 1),
            views_height=CHART_HEIGHT * day.views / peak,
            paid_height=CHART_HEIGHT * day.paid / peak,
            day=day,
        )
        for index, day in enumerate(days)
    ]
    return bars, peak


def _link_or_404(link_id: str) -> PaymentLink:
    link = payment_links.find_link(link_id)
    if link is None:
        abort(404)
    return link


def _form(link: PaymentLink | None = None) -> LinkForm:
    form = LinkForm(obj=link)
    form.service_id.choices = service_choices()
    form.provider_id.choices = provider_choices("No provider")
    if link is not None and request.method == "GET":
        form.password.data = ""
        form.provider_id.data = link.provider_id or ""
        form.after_payment.data = link.after_payment.value
        form.metadata_text.data = "\n".join(
            f"{key}={value}" for key, value in link.link_metadata.items()
        )
        form.min_amount.data = chosen_amounts.to_decimal(link.min_amount_minor, link)
        form.max_amount.data = chosen_amounts.to_decimal(link.max_amount_minor, link)
        form.preset_amount.data = chosen_amounts.to_decimal(link.preset_amount_minor, link)
        fill_questions(form, link)
    return form


def _metadata(text: str | None) -> dict[str, str]:
    pairs = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValidationError("metadata", f"Line {number} is not key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def _fields(form: LinkForm) -> LinkFields:
    return LinkFields(
        service_id=form.service_id.data,
        provider_id=form.provider_id.data or None,
        title=form.title.data,
        description=form.description.data or "",
        quantity=form.quantity.data,
        adjustable_quantity=form.adjustable_quantity.data,
        min_quantity=form.min_quantity.data,
        max_quantity=form.max_quantity.data,
        expires_at=form.expires_at.data,
        password=form.password.data or None,
        remove_password=form.remove_password.data,
        max_uses=form.max_uses.data,
        active=form.active.data,
        metadata=_metadata(form.metadata_text.data),
        after_payment=form.after_payment.data,
        confirmation_message=form.confirmation_message.data or "",
        redirect_url=form.redirect_url.data,
        min_amount=form.min_amount.data,
        max_amount=form.max_amount.data,
        preset_amount=form.preset_amount.data,
        custom_fields=questions_of(form),
        collect_email=form.collect_email.data,
    )


def _save(form: LinkForm, link: PaymentLink | None):
    if form.validate_on_submit():
        try:
            fields = _fields(form)
            saved = (
                payment_links.update_link(link, fields, actor=actor())
                if link
                else payment_links.create_link(fields, actor=actor())
            )
        except ValidationError as error:
            if not attach_question_error(form, error):
                attach_error(form, error, aliases={"metadata": "metadata_text"})
        else:
            flash(f"Payment link {saved.title} saved.", "success")
            return redirect(url_for("admin.link", link_id=saved.id))
    status = 422 if form.errors else 200
    return render_template("admin/link_form.html", form=form, link=link), status


@bp.get("/links")
def links():
    """All payment links with their use so far."""
    return render_template(
        "admin/links.html",
        links=payment_links.all_links(),
        views=link_analytics.view_counts(),
        paid=link_analytics.paid_counts(),
    )


@bp.route("/links/new", methods=["GET", "POST"])
def new_link():
    """Create a payment link."""
    form = _form()
    if not form.service_id.choices:
        flash("Create a service first: every payment link sells one.", "error")
        return redirect(url_for("admin.new_service"))
    return _save(form, None)


@bp.route("/links/<link_id>/edit", methods=["GET", "POST"])
def edit_link(link_id: str):
    """Change a payment link."""
    link = _link_or_404(link_id)
    return _save(_form(link), link)


@bp.get("/links/<link_id>")
def link(link_id: str):
    """A link: where to share it, its QR code, and how it performs."""
    row = _link_or_404(link_id)
    stats = link_analytics.stats(row)
    bars, peak = chart_bars(stats.days)
    url = urls.link_url(row.id)
    return render_template(
        "admin/link.html",
        link=row,
        url=url,
        qr_svg=qr.svg(url),
        stats=stats,
        bars=bars,
        peak=peak,
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        problem=payment_links.unavailability(row),
        uses=payment_links.completed_uses(row.id),
        action_form=ActionForm(),
        embed_src=urls.public_url(url_for("static", filename="kassa.js")),
        embed_label=payment_links.button_label(row),
    )


def _action(link_id: str) -> PaymentLink:
    link = _link_or_404(link_id)
    require_action_form()
    return link


@bp.route("/links/<link_id>/deactivate", methods=["GET", "POST"])
def deactivate_link(link_id: str):
    """Turn a link off: customers see that it is no longer available."""
    if request.method == "GET":
        row = _link_or_404(link_id)
        return confirm(
            f"Turn off the link {row.title}?",
            "Customers who open it are told it is no longer available, and nobody can pay "
            "through it until you turn it back on.",
            "Turn off",
            url_for("admin.link", link_id=row.id),
        )
    row = _action(link_id)
    payment_links.set_active(row, False, actor=actor())
    flash("Link turned off.", "success")
    return redirect(url_for("admin.link", link_id=row.id))


@bp.post("/links/<link_id>/activate")
def activate_link(link_id: str):
    """Turn a link back on."""
    row = _action(link_id)
    payment_links.set_active(row, True, actor=actor())
    flash("Link turned on.", "success")
    return redirect(url_for("admin.link", link_id=row.id))


@bp.post("/links/<link_id>/copy")
def copy_link(link_id: str):
    """Duplicate a link's settings into a new link."""
    row = _action(link_id)
    twin = payment_links.copy_link(row, actor=actor())
    flash(f"Duplicated into a new link {twin.id}.", "success")
    return redirect(url_for("admin.edit_link", link_id=twin.id))
