"""Admin views for discount codes (issue 21): list, create, edit."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from checkout import catalog, discounts, payment_links
from checkout.admin.common import actor, attach_error, bp, provider_choices
from checkout.admin.forms import CURRENCY_CHOICES, MultiCheckboxField, UtcDateTimeField
from checkout.discount_models import DiscountCode
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Provider

PERCENT, AMOUNT = "percent", "amount"


class DiscountForm(FlaskForm):
    provider_id = SelectField("Provider", validators=[DataRequired()])
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=discounts.CODE_MAX)],
        description="What customers type (any case): letters, digits, - and _",
    )
    kind = SelectField(
        "Discount",
        choices=[SelectChoice(PERCENT, "A percentage"), SelectChoice(AMOUNT, "A fixed amount")],
        default=PERCENT,
    )
    percent_off = DecimalField(
        "Percent off", places=None, validators=[Optional()], description="e.g. 15 or 12.5"
    )
    amount_off = DecimalField(
        "Amount off", places=None, validators=[Optional()], description="In major units"
    )
    currency = SelectField("Currency", choices=CURRENCY_CHOICES, default="usd")
    starts_at = UtcDateTimeField("Starts at (UTC)", validators=[Optional()])
    expires_at = UtcDateTimeField("Expires at (UTC)", validators=[Optional()])
    max_redemptions = IntegerField(
        "Maximum redemptions",
        validators=[Optional(), NumberRange(1, discounts.REDEMPTIONS_MAX)],
        description="Paid orders. Empty: unlimited",
    )
    link_ids = MultiCheckboxField("Only these payment links", choices=[])
    service_ids = MultiCheckboxField("Only these services", choices=[])
    active = BooleanField("Active", default=True)


def _code_or_404(code_id: str) -> DiscountCode:
    row = discounts.find_code(code_id)
    if row is None:
        abort(404)
    return row


def _form(row: DiscountCode | None) -> DiscountForm:
    form = DiscountForm(obj=row)
    form.provider_id.choices = provider_choices("Choose a provider")
    form.link_ids.choices = [
        # The link's id in its value only: a 30-character word would not fit a phone.
        SelectChoice(link.id, f"{link.title} · {link.service.title}")
        for link in payment_links.all_links()
    ]
    form.service_ids.choices = [
        SelectChoice(service.id, service.title) for service in catalog.all_services()
    ]
    if row is not None and request.method == "GET":
        form.kind.data = PERCENT if row.percent_off_bp is not None else AMOUNT
        form.currency.data = row.currency or "usd"
        form.link_ids.data = row.link_ids
        form.service_ids.data = row.service_ids
    return form


def _fields(form: DiscountForm) -> discounts.DiscountFields:
    percent = form.kind.data == PERCENT
    return discounts.DiscountFields(
        code=form.code.data,
        percent_off=form.percent_off.data if percent else None,
        amount_off=None if percent else form.amount_off.data,
        currency=None if percent else form.currency.data,
        starts_at=form.starts_at.data,
        expires_at=form.expires_at.data,
        max_redemptions=form.max_redemptions.data,
        link_ids=form.link_ids.data or [],
        service_ids=form.service_ids.data or [],
        active=form.active.data,
    )


def _save(form: DiscountForm, row: DiscountCode | None):
    if form.validate_on_submit():
        try:
            if row is None:
                provider = db.session.get(Provider, form.provider_id.data)
                if provider is None:
                    raise ValidationError("provider_id", "Choose a provider")
                saved = discounts.create_code(provider, _fields(form), actor=actor())
            else:
                saved = discounts.update_code(row, _fields(form), actor=actor())
        except ValidationError as error:
            attach_error(form, error, aliases={"applies_to": "link_ids"})
        else:
            flash(f"Discount code {saved.code} saved.", "success")
            return redirect(url_for("admin.discounts"))
    status = 422 if form.errors else 200
    return render_template("admin/discount_form.html", form=form, code=row), status


@bp.get("/discounts", endpoint="discounts")
def discounts_list():
    """Every discount code with its redemptions so far."""
    rows = discounts.all_codes()
    return render_template(
        "admin/discounts.html",
        codes=rows,
        redeemed=discounts.times_redeemed_of([row.id for row in rows]),
    )


@bp.route("/discounts/new", methods=["GET", "POST"])
def new_discount():
    """Create a discount code for a provider."""
    form = _form(None)
    if len(form.provider_id.choices) == 1:
        flash("Create a provider first: every discount code is one provider's.", "error")
        return redirect(url_for("admin.new_provider"))
    return _save(form, None)


@bp.route("/discounts/<code_id>/edit", methods=["GET", "POST"])
def edit_discount(code_id: str):
    """Change a discount code (its provider stays)."""
    row = _code_or_404(code_id)
    form = _form(row)
    form.provider_id.data = row.provider_id
    return _save(form, row)
