"""Admin views: thin wrappers around catalog, credentials and order queries."""

from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from checkout import (
    accounts,
    catalog,
    credentials,
    link_analytics,
    money,
    notifications,
    orders,
    payments,
    stripe_events,
)
from checkout.admin.forms import (
    ActionForm,
    ApiKeyForm,
    DeliveryFilterForm,
    LoginForm,
    OrderFilterForm,
    ProviderForm,
    RefundForm,
    ResendFailedForm,
    ServiceForm,
    StripeEventFilterForm,
)
from checkout.catalog import ProviderFields, ServiceFields
from checkout.errors import ValidationError
from checkout.extensions import db, login_manager
from checkout.models import (
    Admin,
    ApiKey,
    Notification,
    NotificationStatus,
    Order,
    OrderStatus,
    Provider,
    Service,
    StripeEvent,
)
from checkout.stripe_gateway import StripeError

bp = Blueprint("admin", __name__, url_prefix="/admin")

ORDERS_PER_PAGE = 25
DELIVERIES_PER_PAGE = 50
NO_STORE = {"Cache-Control": "no-store"}


@login_manager.user_loader
def _load_admin(admin_id: str) -> Admin | None:
    return db.session.get(Admin, int(admin_id)) if admin_id.isdigit() else None


@bp.before_request
def _require_login():
    if request.endpoint != "admin.login" and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _invalid(template: str, **context):
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
        SelectChoice(row.id, row.name)
        for row in db.session.scalars(select(Provider).order_by(Provider.name))
    ]


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute or protocol-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign an admin in; repeated failures lock the form for a while."""
    form = LoginForm()
    if form.validate_on_submit():
        result = accounts.log_in(form.email.data, form.password.data, request.remote_addr or "")
        if result.locked_out:
            form.email.errors = ["Too many failed attempts. Try again in 15 minutes."]
            return render_template("admin/login.html", form=form), 429
        if result.admin is None:
            form.password.errors = ["Wrong e-mail or password."]
            return render_template("admin/login.html", form=form), 401
        login_user(result.admin)
        return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.errors else 200
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out."""
    if ActionForm().validate_on_submit():
        logout_user()
    return redirect(url_for("admin.login"))


@bp.get("/")
def dashboard():
    """Counts by status and the latest orders."""
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    recent = db.session.scalars(select(Order).order_by(Order.created_at.desc()).limit(10)).all()
    delivery_counts = dict(
        db.session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    )
    return render_template(
        "admin/dashboard.html",
        counts={status: counts.get(status, 0) for status in OrderStatus},
        failed_deliveries=delivery_counts.get(NotificationStatus.FAILED, 0),
        link_totals=link_analytics.totals(),
        pending_deliveries=delivery_counts.get(NotificationStatus.PENDING, 0),
        stripe_event_counts=stripe_events.unapplied_counts(),
        recent=recent,
        services=db.session.scalar(select(func.count()).select_from(Service)),
        providers=db.session.scalar(select(func.count()).select_from(Provider)),
    )


# Services


@bp.get("/services")
def services():
    """All services."""
    rows = db.session.scalars(select(Service).order_by(Service.title)).all()
    return render_template("admin/services.html", services=rows)


def _service_fields(form: ServiceForm) -> ServiceFields:
    return ServiceFields(
        title=form.title.data,
        price=form.price.data,
        currency=form.currency.data,
        slug=form.slug.data,
        buy_button_id=form.buy_button_id.data,
        active=form.active.data,
    )


@bp.route("/services/new", methods=["GET", "POST"])
def new_service():
    """Create a service."""
    form = ServiceForm()
    if form.validate_on_submit():
        try:
            service = catalog.create_service(_service_fields(form))
        except ValidationError as error:
            attach_error(form, error)
        else:
            flash(f"Service {service.title} created.", "success")
            return redirect(url_for("admin.services"))
    if form.errors:
        return _invalid("admin/service_form.html", form=form, service=None)
    return render_template("admin/service_form.html", form=form, service=None)


@bp.route("/services/<service_id>/edit", methods=["GET", "POST"])
def edit_service(service_id: str):
    """Change a service."""
    service = db.get_or_404(Service, service_id)
    form = ServiceForm(obj=service)
    if request.method == "GET":
        form.price.data = str(service.price)
    if form.validate_on_submit():
        try:
            catalog.update_service(service, _service_fields(form))
        except ValidationError as error:
            attach_error(form, error)
        else:
            flash(f"Service {service.title} saved.", "success")
            return redirect(url_for("admin.services"))
    if form.errors:
        return _invalid("admin/service_form.html", form=form, service=service)
    return render_template("admin/service_form.html", form=form, service=service)


# Providers


def _provider_form(provider: Provider | None = None) -> ProviderForm:
    form = ProviderForm(obj=provider)
    form.service_id.choices = [
        SelectChoice(service.id, f"{service.title} ({service.price_display})")
        for service in db.session.scalars(select(Service).order_by(Service.title))
    ]
    return form


def _provider_fields(form: ProviderForm) -> ProviderFields:
    return ProviderFields(
        name=form.name.data,
        slug=form.slug.data,
        service_id=form.service_id.data,
        active=form.active.data,
        use_stripe_checkout=form.use_stripe_checkout.data,
        webhook_url=form.webhook_url.data,
        success_url=form.success_url.data,
        cancel_url=form.cancel_url.data,
    )


def _show_new_key(provider: Provider, key: ApiKey, plaintext: str):
    """The one page that shows a key in plaintext; never cached."""
    return (
        render_template("admin/key_created.html", provider=provider, key=key, plaintext=plaintext),
        200,
        NO_STORE,
    )


@bp.get("/providers")
def providers():
    """All providers."""
    rows = db.session.scalars(select(Provider).order_by(Provider.name)).all()
    return render_template("admin/providers.html", providers=rows)


@bp.route("/providers/new", methods=["GET", "POST"])
def new_provider():
    """Create a provider and its first API key."""
    form = _provider_form()
    if not form.service_id.choices:
        flash("Create a service first: every provider sells one.", "error")
        return redirect(url_for("admin.new_service"))
    if form.validate_on_submit():
        try:
            provider = catalog.create_provider(_provider_fields(form))
        except ValidationError as error:
            attach_error(form, error)
        else:
            key, plaintext = credentials.issue_key(provider, "default")
            return _show_new_key(provider, key, plaintext)
    if form.errors:
        return _invalid("admin/provider_form.html", form=form, provider=None)
    return render_template("admin/provider_form.html", form=form, provider=None)


def _provider_page(row: Provider, key_form: ApiKeyForm | None = None, status: int = 200):
    recent = db.session.scalars(
        select(Notification)
        .where(Notification.provider_id == row.id)
        .order_by(Notification.created_at.desc())
        .limit(10)
    ).all()
    return render_template(
        "admin/provider.html",
        provider=row,
        key_form=key_form or ApiKeyForm(),
        action_form=ActionForm(),
        max_keys=credentials.MAX_ACTIVE_KEYS,
        deliveries=recent,
    ), status


@bp.get("/providers/<provider_id>")
def provider(provider_id: str):
    """A provider's settings, API keys, signing secret and latest deliveries."""
    return _provider_page(db.get_or_404(Provider, provider_id))


@bp.route("/providers/<provider_id>/edit", methods=["GET", "POST"])
def edit_provider(provider_id: str):
    """Change a provider's settings."""
    row = db.get_or_404(Provider, provider_id)
    form = _provider_form(row)
    if form.validate_on_submit():
        try:
            catalog.update_provider(row, _provider_fields(form))
        except ValidationError as error:
            attach_error(form, error)
        else:
            flash(f"Provider {row.name} saved.", "success")
            return redirect(url_for("admin.provider", provider_id=row.id))
    if form.errors:
        return _invalid("admin/provider_form.html", form=form, provider=row)
    return render_template("admin/provider_form.html", form=form, provider=row)


@bp.post("/providers/<provider_id>/keys")
def issue_key(provider_id: str):
    """Create a named API key and show it once."""
    row = db.get_or_404(Provider, provider_id)
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            key, plaintext = credentials.issue_key(row, form.name.data)
        except ValidationError as error:
            form.name.errors = [error.message]
        else:
            return _show_new_key(row, key, plaintext)
    return _provider_page(row, key_form=form, status=422)


def _one_page(query, per_page: int) -> tuple:
    """The requested page of a filtered list, and the filters its pager's links keep."""
    page = db.paginate(
        query,
        page=max(request.args.get("page", 1, type=int), 1),
        per_page=per_page,
        error_out=False,
    )
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return page, args


def require_action_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, description="The form expired. Go back, reload the page and try again.")


def _key_or_404(provider_id: str, key_id: str) -> ApiKey:
    key = db.session.get(ApiKey, key_id)
    if key is None or key.provider_id != provider_id:
        abort(404)
    require_action_form()
    return key


@bp.post("/providers/<provider_id>/keys/<key_id>/revoke")
def revoke_key(provider_id: str, key_id: str):
    """Revoke an API key; requests with it fail from now on."""
    key = _key_or_404(provider_id, key_id)
    credentials.revoke_key(key)
    flash(f"Key {key.name} ({key.prefix}…) revoked.", "success")
    return redirect(url_for("admin.provider", provider_id=provider_id))


@bp.post("/providers/<provider_id>/keys/<key_id>/regenerate")
def regenerate_key(provider_id: str, key_id: str):
    """Revoke a key and issue its replacement, shown once."""
    key = _key_or_404(provider_id, key_id)
    try:
        new_key, plaintext = credentials.regenerate_key(key)
    except ValidationError as error:
        flash(error.message, "error")
        return redirect(url_for("admin.provider", provider_id=provider_id))
    return _show_new_key(key.provider, new_key, plaintext)


def _provider_for_action(provider_id: str) -> Provider:
    row = db.get_or_404(Provider, provider_id)
    require_action_form()
    return row


@bp.post("/providers/<provider_id>/test-event")
def send_test_event(provider_id: str):
    """Queue a signed test notification to the provider's webhook URL."""
    row = _provider_for_action(provider_id)
    if not row.webhook_url:
        flash("Set a webhook URL first.", "error")
        return redirect(url_for("admin.provider", provider_id=row.id))
    notification = notifications.send_test(row)
    flash("Test event queued.", "success")
    return redirect(url_for("admin.delivery", notification_id=notification.id))


@bp.post("/providers/<provider_id>/rotate-secret")
def rotate_secret(provider_id: str):
    """Replace the signing secret; the old one also signs for 24 hours."""
    row = _provider_for_action(provider_id)
    notifications.rotate_secret(row)
    flash("New signing secret. The previous one keeps signing for 24 hours.", "success")
    return redirect(url_for("admin.provider", provider_id=row.id))


@bp.post("/providers/<provider_id>/enable-endpoint")
def enable_endpoint(provider_id: str):
    """Deliver again to an endpoint that answered 410 Gone."""
    row = _provider_for_action(provider_id)
    notifications.enable_endpoint(row)
    flash("Endpoint enabled. Resend failed notifications from the deliveries page.", "success")
    return redirect(url_for("admin.provider", provider_id=row.id))


# Orders


def _filtered_orders(form: OrderFilterForm):
    query = select(Order)
    if form.status.data:
        query = query.where(Order.status == OrderStatus(form.status.data))
    if form.provider.data:
        query = query.where(Order.provider_id == form.provider.data)
    if form.date_from.data:
        query = query.where(Order.created_at >= datetime.combine(form.date_from.data, time.min))
    if form.date_to.data:
        end = datetime.combine(form.date_to.data, time.min) + timedelta(days=1)
        query = query.where(Order.created_at < end)
    return query.order_by(Order.created_at.desc(), Order.id.desc())


@bp.get("/orders")
def orders_list():
    """Orders with filters by status, provider and date, a page at a time."""
    form = OrderFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    valid = form.validate()
    query = _filtered_orders(form) if valid else select(Order).where(False)
    page, args = _one_page(query, ORDERS_PER_PAGE)
    response = render_template("admin/orders.html", form=form, page=page, args=args)
    return (response, 200) if valid else (response, 422)


@bp.get("/orders/<order_id>")
def order(order_id: str):
    """One order with its timeline and notifications."""
    row = orders.find_order(order_id)
    if row is None:
        abort(404)
    return _order_page(row, RefundForm())


def _order_page(row: Order, refund_form: RefundForm, status: int = 200):
    sent = db.session.scalars(
        select(Notification)
        .where(Notification.order_id == row.id)
        .order_by(Notification.created_at)
    ).all()
    return render_template(
        "admin/order.html",
        order=row,
        refund_form=refund_form,
        refundable=orders.refundable_minor(row),
        notifications=sent,
    ), status


@bp.post("/orders/<order_id>/refund")
def refund_order(order_id: str):
    """Refund a paid order through Stripe (or at once in sandbox mode)."""
    row = orders.find_order(order_id)
    if row is None:
        abort(404)
    form = RefundForm()
    if not form.validate_on_submit():
        return _order_page(row, form, 422)
    try:
        amount = money.parse(form.amount.data, row.currency) if form.amount.data else None
        reference = payments.refund(row.id, amount)
    except (money.AmountError, payments.RefundError) as error:
        flash(str(error), "error")
        return _order_page(row, form, 422)
    except StripeError as error:
        flash(f"Stripe refused the refund: {error.user_message or error}", "error")
        return _order_page(row, form, 502)
    if reference is None:
        flash("Refunded (sandbox).", "success")
    else:
        flash(f"Refund {reference} requested; the order updates when Stripe confirms.", "success")
    return redirect(url_for("admin.order", order_id=row.id))


# Deliveries


@bp.get("/deliveries")
def deliveries():
    """Provider notifications with filters, newest first."""
    form = DeliveryFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    valid = form.validate()
    query = select(Notification).where(False)
    if valid:
        query = select(Notification)
        if form.status.data:
            query = query.where(Notification.status == NotificationStatus(form.status.data))
        if form.provider.data:
            query = query.where(Notification.provider_id == form.provider.data)
        if form.event.data:
            query = query.where(Notification.event == form.event.data)
    page, args = _one_page(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()), DELIVERIES_PER_PAGE
    )
    response = render_template(
        "admin/deliveries.html", form=form, page=page, args=args, resend_form=ResendFailedForm()
    )
    return (response, 200) if valid else (response, 422)


@bp.get("/stripe-events")
def stripe_event_list():
    """Stripe events as received, newest first, with what applying them did."""
    form = StripeEventFilterForm(request.args)
    valid = form.validate()
    query = select(StripeEvent).where(False)
    if valid:
        query = select(StripeEvent)
        if form.state.data == "waiting":
            query = query.where(stripe_events.WAITING)
        elif form.state.data == "failed":
            query = query.where(stripe_events.FAILED)
    page, args = _one_page(
        query.order_by(StripeEvent.received_at.desc(), StripeEvent.id.desc()), DELIVERIES_PER_PAGE
    )
    response = render_template(
        "admin/stripe_events.html",
        form=form,
        page=page,
        args=args,
        action_form=ActionForm(),
        max_attempts=stripe_events.MAX_APPLY_ATTEMPTS,
    )
    return (response, 200) if valid else (response, 422)


@bp.post("/stripe-events/<event_id>/retry")
def retry_stripe_event(event_id: str):
    """Queue an event that failed every attempt once more."""
    row = db.get_or_404(StripeEvent, event_id)
    require_action_form()
    if row.applied_at is not None:
        abort(409, description="This event has been applied already.")
    stripe_events.retry(row)
    flash("Queued again.", "success")
    return redirect(url_for("admin.stripe_event_list", state="waiting"))


@bp.get("/deliveries/<notification_id>")
def delivery(notification_id: str):
    """One notification: its payload and every attempt."""
    row = db.get_or_404(Notification, notification_id)
    return render_template("admin/delivery.html", notification=row, action_form=ActionForm())


@bp.post("/deliveries/<notification_id>/resend")
def resend_delivery(notification_id: str):
    """Send a notification again with the same webhook-id."""
    row = db.get_or_404(Notification, notification_id)
    require_action_form()
    notifications.resend(row)
    flash("Queued again.", "success")
    return redirect(url_for("admin.delivery", notification_id=row.id))


@bp.post("/deliveries/resend-failed")
def resend_failed():
    """Resend every failed notification created since a moment."""
    form = ResendFailedForm()
    if not form.validate_on_submit():
        flash("Give a date and time to resend from.", "error")
        return redirect(url_for("admin.deliveries", status="failed"))
    count = notifications.resend_failed_since(form.since.data)
    flash(f"{count} failed notification{'s' if count != 1 else ''} queued again.", "success")
    return redirect(url_for("admin.deliveries"))
