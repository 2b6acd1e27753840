"""Admin views for orders: the filtered list, one order, and refunds."""

from flask import abort, flash, redirect, render_template, request, url_for

from checkout import money, notifications, orders, payments
from checkout.admin.common import bp, one_page, provider_choices
from checkout.admin.forms import OrderFilterForm, RefundForm
from checkout.models import Order, OrderStatus
from checkout.stripe_gateway import StripeError

ORDERS_PER_PAGE = 25


def _filters(form: OrderFilterForm) -> dict:
    """A valid filter form's choices, as orders.select_orders takes them."""
    return {
        "status": OrderStatus(form.status.data) if form.status.data else None,
        "provider_id": form.provider.data or None,
        "date_from": form.date_from.data,
        "date_to": form.date_to.data,
    }


@bp.get("/orders")
def orders_list():
    """Orders with filters by status, provider and date, a page at a time."""
    form = OrderFilterForm(request.args)
    form.provider.choices = provider_choices("Any provider")
    valid = form.validate()
    filters = _filters(form) if valid else {}
    page, args = one_page(orders.select_orders(**filters), ORDERS_PER_PAGE, empty=not valid)
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
    sent = notifications.for_order(row.id)
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
