"""Checkout views: the page a customer pays on, its status poll, and the sandbox buttons."""

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from checkout import (
    branding,
    customer_details,
    discounts,
    embedding,
    link_holds,
    opening,
    orders,
    page_cache,
    payment_links,
    payments,
    readiness,
    receipts,
    stripe_gateway,
    urls,
    web,
)
from checkout.extensions import csrf, limiter
from checkout.models import AfterPayment, Order, OrderStatus, PaymentMode
from checkout.orders import Outcome

bp = Blueprint("pay", __name__)
log = logging.getLogger(__name__)

REDIRECT_SECONDS = 5
SANDBOX_OUTCOMES = {
    "succeeded": Outcome.SUCCEEDED,
    "failed": Outcome.FAILED,
    "processing": Outcome.PROCESSING,
}


@dataclass
class PaymentPanel:
    """What the pay area of the page shows."""

    # "sandbox", "cashapp", "buy_button", "unavailable" (Stripe failed; reload later) or
    # "cashapp_refused" (Stripe does not let the seller take Cash App Pay); "details" while
    # the checkout's questions (`asked`) wait for answers, before any way to pay
    kind: str
    client_secret: str | None = None
    buy_button_id: str | None = None
    asked: customer_details.Asked | None = None


def _order_or_404() -> Order:
    order = orders.find_order(request.args.get("orderId"))
    if order is None:
        abort(404, description="We could not find this order. Check the link you followed.")
    return order


def _customer_returned() -> bool:
    """Whether the page was told the customer is back from Cash App: Stripe adds
    payment_intent and redirect_status to the return URL (checkout.js does the same)."""
    return "payment_intent" in request.args or "redirect_status" in request.args


def _refresh_interval() -> timedelta:
    return timedelta(seconds=current_app.config["STRIPE_REFRESH_SECONDS"])


def _payment_panel(order: Order, customer_returned: bool) -> PaymentPanel | None:
    """Prepare the way to pay; None once paying is over. Stripe is asked only to create the
    order's PaymentIntent, and about the order when the customer is back from Cash App.

    With Stripe the customer starts paying here, so a limited link's order takes its hold
    (link_holds.start_hold) once the Buy Button or the PaymentIntent is ready; in the
    sandbox the first button pressed takes it. A refusal is raised as LinkUnavailable.
    Nothing is prepared while the customer still has questions to answer.
    """
    asked = customer_details.still_asked(order)
    if asked:
        return PaymentPanel("details", asked=asked)
    if stripe_gateway.is_sandbox():
        return PaymentPanel("sandbox") if orders.is_unpaid(order) else None
    if order.mode is PaymentMode.BUY_BUTTON:
        if not orders.is_payable(order):
            return None
        link_holds.start_hold(order.id, web.client_address())
        return PaymentPanel("buy_button", buy_button_id=order.service.buy_button_id)
    if orders.is_final(order):
        return None
    try:
        client_secret = payments.prepare_cashapp_payment(
            order, customer_returned=customer_returned, every=_refresh_interval()
        )
    except stripe_gateway.CashAppUnavailable:
        return PaymentPanel("cashapp_refused")
    except stripe_gateway.StripeError:
        log.exception("Stripe refused to prepare order %s", order.id)
        return PaymentPanel("unavailable")
    if not orders.is_payable(order):
        return None
    link_holds.start_hold(order.id, web.client_address())
    return PaymentPanel("cashapp", client_secret=client_secret)


def _framed_for(order: Order, claimed: str | None) -> str | None:
    """The origin the order's page may be framed by (`embed`, the pay overlay): a link's
    order whose provider allows it; the answer then says so in its frame-ancestors."""
    origin = embedding.framing_origin(order.payment_link, claimed)
    if origin:
        web.allow_framing(origin)
    return origin


def _link_unavailable(
    order: Order, problem: payment_links.LinkUnavailable, embed: str | None = None
):
    """The page of a link's order that cannot be paid now, and when to try again."""
    page = render_template(
        "links/unavailable.html",
        problem=problem,
        brand=branding.brand(order.provider),
        seller=web.seller(order.provider),
        embed_origin=embed,
    )
    return page, web.status_for(problem), {**web.NO_STORE, **web.retry_after(problem)}


@bp.get("/")
def index():
    """A plain landing page for the server's root."""
    return render_template("pay/index.html")


@dataclass
class Destinations:
    """Where the page sends the customer, all from the seller's configuration."""

    merchant: str | None
    success_url: str | None
    cancel_url: str | None
    cancel_label: str
    message: str | None


def _destinations(order: Order) -> Destinations:
    link, provider = order.payment_link, order.provider
    merchant = provider.public_name if provider else None
    success_template = provider.success_url if provider else None
    cancel_url = urls.provider_redirect(provider.cancel_url, order.id) if provider else None
    cancel_label = f"Cancel and return to {merchant}" if merchant else "Cancel"
    message = None
    if link is not None:
        message = link.confirmation_message or None
        # The link's own choice: its redirect, or its message and no redirect at all (not
        # even to its provider's success URL).
        redirects = link.after_payment is AfterPayment.REDIRECT
        success_template = link.redirect_url if redirects else None
        if cancel_url is None:
            cancel_url = url_for("links.show", link_id=link.id)
            cancel_label = "Back to the payment link"
    return Destinations(
        merchant=merchant,
        success_url=urls.provider_redirect(success_template, order.id),
        cancel_url=cancel_url,
        cancel_label=cancel_label,
        message=message,
    )


def order_token(purpose: str, order_id: str) -> str:
    """A checkout form's token (the sandbox buttons, the questions, the discount code),
    bound to the order and the form rather than to a session.

    Anyone who can forge it already knows the order id, and so could send the form
    themselves; binding it to the order keeps the page free of per-visitor state.
    """
    message = f"{purpose}|{order_id}".encode()
    return hmac.new(current_app.secret_key.encode(), message, "sha256").hexdigest()


def sandbox_token(order_id: str) -> str:
    return order_token("sandbox", order_id)


def details_token(order_id: str) -> str:
    return order_token("details", order_id)


def discount_token(order_id: str) -> str:
    return order_token("discount", order_id)


def _order_from_form(purpose: str, sent_in: str = "csrf_token") -> Order:
    """The order a checkout form was sent for, once its token is the order's (else 404/400)."""
    order = orders.find_order(request.form.get("orderId"))
    if order is None:
        abort(404, description="We could not find this order.")
    token = request.form.get(sent_in, "")
    if not hmac.compare_digest(token.encode(), order_token(purpose, order.id).encode()):
        abort(400, description="The form expired or was sent from elsewhere. Reload the page.")
    return order


@bp.get("/checkout")
@limiter.limit(web.configured_limit("RATE_LIMIT_CHECKOUT"), key_func=web.client_key)
def checkout():
    """The hosted checkout page for one order (or, with paymentLinkId, a payment link)."""
    if "paymentLinkId" in request.args and "orderId" not in request.args:
        link = payment_links.find_link(request.args["paymentLinkId"])
        if link is None:
            abort(404, description="There is no payment link at this address.")
        return redirect(url_for("links.show", link_id=link.id))
    returned = _customer_returned()
    claimed_embed = request.args.get("embed")
    pages = page_cache.checkout_pages()
    # A customer back from Cash App gets a fresh page that may ask Stripe and polls; a page
    # for the overlay is made for its one origin.
    fresh = returned or claimed_embed
    key = None if fresh else page_cache.current_key(request.args.get("orderId"))
    # Amounts are shown in the viewer's locale: each locale has its own copy.
    page_key = (request.host_url, web.request_locale(), key)
    cached = pages.get(page_key) if key else None
    if cached is not None:
        return cached, 200, web.NO_STORE
    order = _order_or_404()
    embed = _framed_for(order, claimed_embed)
    # Asked before Stripe is: a customer who could not hold a use gets no PaymentIntent. A
    # customer back from Cash App is asked about only once Stripe has said they did not pay.
    blocked = None if returned else link_holds.hold_refusal(order, web.client_address())
    if blocked:
        return _link_unavailable(order, blocked, embed)
    try:
        panel = _payment_panel(order, returned)
    except payment_links.LinkUnavailable as refused:
        return _link_unavailable(order, refused, embed)
    response = _checkout_page(order, panel, returned, embed)
    if panel is not None and panel.kind in ("unavailable", "cashapp_refused"):
        return response, 503, web.NO_STORE
    if order.status is OrderStatus.EXPIRED:
        return response, 410, web.NO_STORE
    if key:
        pages.put(page_key, response)
    return response, 200, web.NO_STORE


@dataclass
class CodeEntry:
    """The discount code field of a checkout page that refused the code typed."""

    value: str = ""
    error: str | None = None


def _checkout_page(
    order: Order,
    panel: PaymentPanel | None,
    returned: bool,
    embed: str | None = None,
    code_entry: CodeEntry | None = None,
    **refused,
) -> str:
    """The checkout page of an order, with the payment panel the order's state calls for;
    `embed`: in the pay overlay on that origin; `code_entry`: a refused discount code;
    `refused`: the questions form as sent (`values`) and what was wrong with it
    (`problems`)."""
    held = link_holds.has_timed_hold(order)
    where = _destinations(order)
    unpaid = orders.is_unpaid(order)
    waiting = returned and order.status in orders.UNFINISHED
    return render_template(
        "pay/checkout.html",
        order=order,
        brand=branding.brand(order.provider),
        panel=panel,
        sandbox=stripe_gateway.is_sandbox(),
        sandbox_token=sandbox_token,
        details_token=details_token,
        publishable_key=stripe_gateway.publishable_key(),
        merchant=where.merchant,
        seller=web.seller(order.provider),
        message=where.message,
        success_url=where.success_url if order.status is OrderStatus.PAID else None,
        cancel_url=where.cancel_url if unpaid else None,
        cancel_label=where.cancel_label,
        redirect_seconds=REDIRECT_SECONDS,
        return_url=urls.public_url(url_for("pay.checkout", orderId=order.id, embed=embed)),
        poll=order.status is OrderStatus.PROCESSING
        or waiting
        or held
        or (panel is not None and panel.kind == "buy_button"),
        held=held,
        status_url=url_for("pay.status", orderId=order.id, returned=1 if waiting else None),
        page_url=url_for("pay.checkout", orderId=order.id, embed=embed),
        embed_origin=embed,
        takes_code=opening.takes_code_at_checkout(order),
        code_entry=code_entry or CodeEntry(),
        discount_token=discount_token(order.id),
        paid_amount=_paid_amount(order),
        paid_line=_paid_line(order, where.merchant),
        receipt_to=receipts.masked_address(order),
        **refused,
    )


def _paid_amount(order: Order) -> str:
    """What the customer paid, as the receipt shows it (the amount due before Stripe says)."""
    if order.paid_amount_minor:
        return order.paid_amount_display
    return order.amount_display


def _paid_line(order: Order, merchant: str | None) -> str:
    """The receipt's confirmation: "Paid $15.00 to Demo Shop"."""
    paid = _paid_amount(order)
    return f"Paid {paid} to {merchant}" if merchant else f"Paid {paid}"


@bp.get("/checkout/status")
@limiter.limit(web.configured_limit("RATE_LIMIT_CHECKOUT_STATUS"), key_func=web.client_key)
def status():
    """The order's status, for the page to poll while a payment may still arrive."""
    order = orders.find_order(request.args.get("orderId"))
    if order is None:
        return jsonify(error="Order not found"), 404
    # Webhooks and reconciliation keep the order current; only a page whose customer is back
    # from Cash App (`returned`) may make Kassa ask Stripe, at most once per interval.
    if request.args.get("returned"):
        try:
            order = payments.refresh(order, _refresh_interval())
        except stripe_gateway.StripeError:
            log.warning("Could not refresh order %s from Stripe", order.id, exc_info=True)
    # The page is open: its order keeps its hold on a limited link's use a while longer.
    link_holds.extend_hold(order, paying=bool(request.args.get("paying")))
    # `final`: nothing more will happen to the order, so the page stops asking. `held`: the
    # order holds a use its page must keep asking for (the page reloads when it is lost).
    answer = jsonify(
        orderId=order.id,
        status=order.status.value,
        final=orders.is_final(order),
        held=link_holds.has_timed_hold(order),
    )
    return answer, 200, web.NO_STORE


@bp.post("/checkout/sandbox")
@csrf.exempt  # checked against sandbox_token() instead
def sandbox():
    """Sandbox mode only: pretend the payment succeeded, failed or is processing."""
    if stripe_gateway.has_stripe_keys():
        abort(404)
    outcome = SANDBOX_OUTCOMES.get(request.form.get("outcome", ""))
    if outcome is None:
        abort(400, description="Unknown sandbox outcome.")
    order = _order_from_form("sandbox")
    embed = _framed_for(order, request.form.get("embed"))
    if customer_details.still_asked(order):
        abort(422, description="Answer the questions on the checkout page before paying.")
    if outcome is not Outcome.FAILED:
        # Pressing success or processing is starting to pay: it needs one of a limited
        # link's uses, as a PaymentIntent does with Stripe; a failure needs none.
        try:
            link_holds.start_hold(order.id, web.client_address())
        except payment_links.LinkUnavailable as refused:
            return _link_unavailable(order, refused, embed)
    payments.simulate(order.id, outcome)
    return redirect(url_for("pay.checkout", orderId=order.id, embed=embed), 303)


@bp.post("/checkout/discount")
@csrf.exempt  # checked against discount_token() instead
@limiter.limit(web.configured_limit("RATE_LIMIT_CHECKOUT"), key_func=web.client_key)
def discount():
    """The customer enters a discount code on the checkout page (issue 21): the order is
    re-priced, or the page says why not (422, the field named and kept)."""
    order = _order_from_form("discount", "discount_token")
    embed = _framed_for(order, request.form.get("embed"))
    typed = (request.form.get("discount_code") or "")[:40]
    try:
        opening.redeem_at_checkout(order.id, typed)
    except discounts.DiscountRefused as refused:
        return _code_refused(order.id, CodeEntry(typed, refused.message), 422, embed)
    except stripe_gateway.StripeError:
        log.warning("Stripe refused a discount for order %s", order.id, exc_info=True)
        problem = "We could not apply the code right now. Try again in a minute."
        return _code_refused(order.id, CodeEntry(typed, problem), 503, embed)
    return redirect(url_for("pay.checkout", orderId=order.id, embed=embed), 303)


def _code_refused(order_id: str, entry: CodeEntry, status: int, embed: str | None):
    order = orders.find_order(order_id)
    try:
        panel = _payment_panel(order, False)
    except payment_links.LinkUnavailable as refused:
        return _link_unavailable(order, refused, embed)
    return _checkout_page(order, panel, False, embed, entry), status, web.NO_STORE


@bp.post("/checkout/details")
@csrf.exempt  # checked against details_token() instead
@limiter.limit(web.configured_limit("RATE_LIMIT_CHECKOUT"), key_func=web.client_key)
def details():
    """Keep the customer's answers to the checkout's questions; then the page offers paying.
    Refused answers show the page again (422), the form as sent and each problem named."""
    order = _order_from_form("details")
    embed = _framed_for(order, request.form.get("embed"))
    asked = customer_details.still_asked(order)
    if asked:
        try:
            answers = customer_details.read(asked, request.form, web.request_locale())
        except customer_details.DetailsRefused as refused:
            panel = PaymentPanel("details", asked=asked)
            page = _checkout_page(
                order, panel, False, embed, values=request.form, problems=refused.problems
            )
            return page, 422, web.NO_STORE
        customer_details.give(order.id, answers)
    return redirect(url_for("pay.checkout", orderId=order.id, embed=embed), 303)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. It asks nothing of the database or the queue, so an
    outage of either never makes an orchestrator restart healthy processes (see /readyz)."""
    return jsonify(status="ok"), web.NO_STORE


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when the database and the queue answer in time, else 503 naming
    what is down, so a load balancer sends requests elsewhere until it is back."""
    checks = readiness.check(current_app.config["READY_TIMEOUT_SECONDS"])
    if all(state == readiness.OK for state in checks.values()):
        return jsonify(status="ready", checks=checks), 200, web.NO_STORE
    return jsonify(status="unavailable", checks=checks), 503, web.NO_STORE
