"""Admin views for orders: the filtered list, one order, and refunds."""

from flask import abort, flash, redirect, render_template, request, url_for

from checkout import money, notifications, orders, payments, reports, web
from checkout.admin.common import (
    actor,
    bp,
    confirm,
    csv_download,
    one_page,
    provider_choices,
    require_action_form,
)
from checkout.admin.forms import ActionForm, OrderFilterForm, RefundForm
from checkout.models import Order, OrderStatus
from checkout.stripe_gateway import StripeError

ORDERS_PER_PAGE = 25


def _filters(form: OrderFilterForm) -> dict:
    """A valid filter form's choices, as reports.select_orders takes them."""
    return {
        "status": OrderStatus(form.status.data) if form.status.data else None,
        "provider_id": form.provider.data or None,
        "date_from": form.date_from.data,
        "date_to": form.date_to.data,
        "search": (form.q.data or "").strip() or None,
    }


def _filter_form() -> OrderFilterForm:
    form = OrderFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    return form


@bp.get("/orders")
def orders_list():
    """Orders with filters by status, provider, date and a search, a page at a time."""
    form = _filter_form()
    valid = form.validate()
    filters = _filters(form) if valid else {}
    page, args = one_page(reports.select_orders(**filters), ORDERS_PER_PAGE, empty=not valid)
    response = render_template("admin/orders.html", form=form, page=page, args=args)
    return (response, 200) if valid else (response, 422)


@bp.get("/orders.csv")
def orders_csv():
    """The filtered orders as CSV, streamed a batch at a time."""
    form = _filter_form()
    if not form.validate():
        abort(422, description="Fix the filters on the orders page, then export again.")
    return csv_download("orders", reports.order_rows(reports.select_orders(**_filters(form))))


@bp.get("/orders/<order_id>")
def order(order_id: str):
    """One order with its timeline and notifications."""
    row = orders.find_order(order_id)
    if row is None:
        abort(404)
    return _order_page(row, RefundForm())


def _order_page(row: Order, refund_form: RefundForm, status: int = 200):
    sent = notifications.for_order(row.id)
    return render_template(
        "admin/order.html",
        order=row,
        refund_form=refund_form,
        refundable=orders.refundable_minor(row),
        needs_decision=row.status is OrderStatus.UNDERPAID,
        action_form=ActionForm(),
        notifications=sent,
    ), status


def _typed_amount(text: str, currency: str) -> int:
    """An amount the admin typed, as their locale writes it ("12,50" in German), in minor
    units; raises money.AmountError."""
    return money.to_minor(money.read_typed(text, web.request_locale()), currency)


def _confirm_refund(row: Order):
    """Ask before refunding: the order page's refund form leads here (a GET with the amount)."""
    text = request.args.get("amount", "").strip()
    try:
        amount = _typed_amount(text, row.currency) if text else orders.refundable_minor(row)
    except money.AmountError as error:
        flash(str(error), "error")
        return _order_page(row, RefundForm(), 422)
    if not orders.refundable_minor(row):
        flash("Only a paid order can be refunded", "error")
        return redirect(url_for("admin.order", order_id=row.id))
    form = RefundForm()
    return confirm(
        f"Refund {money.display(amount, row.paid_currency or row.currency)}?",
        f"The customer of order {row.id} gets this amount back. A refund cannot be undone.",
        "Refund",
        url_for("admin.order", order_id=row.id),
        fields={"amount": text, "request_key": form.request_key.data},
    )


@bp.route("/orders/<order_id>/refund", methods=["GET", "POST"])
def refund_order(order_id: str):
    """Refund a paid order through Stripe (or at once in sandbox mode)."""
    row = orders.find_order(order_id)
    if row is None:
        abort(404)
    if request.method == "GET":
        return _confirm_refund(row)
    form = RefundForm()
    if not form.validate_on_submit():
        return _order_page(row, form, 422)
    try:
        amount = _typed_amount(form.amount.data, row.currency) if form.amount.data else None
        requested = payments.refund(row.id, amount, form.request_key.data, actor=actor())
    except (money.AmountError, payments.RefundError) as error:
        flash(str(error), "error")
        form.renew()
        return _order_page(row, form, 422)
    except StripeError as error:
        flash(f"Stripe refused the refund: {error.user_message or error}", "error")
        form.renew()
        return _order_page(row, form, 502)
    if requested.repeated:
        flash(f"Refund {requested.refund_id} was already requested by this form.", "success")
    elif requested.sandbox:
        flash("Refunded (sandbox).", "success")
    else:
        flash(f"Refund {requested.refund_id} requested from Stripe.", "success")
    return redirect(url_for("admin.order", order_id=row.id))


@bp.post("/orders/<order_id>/accept")
def accept_order(order_id: str):
    """Accept an underpaid order as paid: the provider hears payment_succeeded."""
    if orders.find_order(order_id) is None:
        abort(404)
    require_action_form()
    try:
        orders.accept_underpaid(order_id, actor=actor())
    except orders.NotUnderpaid as error:
        abort(web.status_for(error), description=error.message)
    flash("Accepted as paid; the provider has been told.", "success")
    return redirect(url_for("admin.order", order_id=order_id))
