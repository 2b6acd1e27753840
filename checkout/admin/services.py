"""Admin views for services: what providers sell, at what price."""

from flask import flash, redirect, render_template, request, url_for

from checkout import catalog, money, web
from checkout.admin.common import (
    actor,
    attach_error,
    attach_question_error,
    bp,
    fill_questions,
    questions_of,
    render_invalid,
)
from checkout.admin.forms import ServiceForm
from checkout.catalog import ServiceFields
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Service


@bp.get("/services")
def services():
    """All services."""
    return render_template("admin/services.html", services=catalog.all_services())


def _service_fields(form: ServiceForm) -> ServiceFields:
    try:
        # '12,50' in a German browser, '12.50' in any.
        price = str(money.read_typed(str(form.price.data or ""), web.request_locale()))
    except money.AmountError as error:
        raise ValidationError("price", str(error)) from None
    return ServiceFields(
        title=form.title.data,
        price=price,
        currency=form.currency.data,
        slug=form.slug.data,
        buy_button_id=form.buy_button_id.data,
        stripe_payment_link_id=form.stripe_payment_link_id.data,
        active=form.active.data,
        custom_fields=questions_of(form),
        collect_email=form.collect_email.data,
    )


def _refused(form: ServiceForm, error: ValidationError) -> None:
    if not attach_question_error(form, error):
        attach_error(form, error)


@bp.route("/services/new", methods=["GET", "POST"])
def new_service():
    """Create a service."""
    form = ServiceForm()
    if form.validate_on_submit():
        try:
            service = catalog.create_service(_service_fields(form), actor=actor())
        except ValidationError as error:
            _refused(form, error)
        else:
            flash(f"Service {service.title} created.", "success")
            return redirect(url_for("admin.services"))
    if form.errors:
        return render_invalid("admin/service_form.html", form=form, service=None)
    return render_template("admin/service_form.html", form=form, service=None)


@bp.route("/services/<service_id>/edit", methods=["GET", "POST"])
def edit_service(service_id: str):
    """Change a service."""
    service = db.get_or_404(Service, service_id)
    form = ServiceForm(obj=service)
    if request.method == "GET":
        form.price.data = str(service.price)
        fill_questions(form, service)
    if form.validate_on_submit():
        try:
            catalog.update_service(service, _service_fields(form), actor=actor())
        except ValidationError as error:
            _refused(form, error)
        else:
            flash(f"Service {service.title} saved.", "success")
            return redirect(url_for("admin.services"))
    if form.errors:
        return render_invalid("admin/service_form.html", form=form, service=service)
    return render_template("admin/service_form.html", form=form, service=service)
