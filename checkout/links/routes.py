"""Payment-link views: the link page, its password gate, Pay, and its QR code."""

from flask import (
    Blueprint,
    abort,
    after_this_request,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from checkout import (
    branding,
    chosen_amounts,
    customer_details,
    discounts,
    embedding,
    link_analytics,
    money,
    opening,
    payment_links,
    qr,
    schemas,
    urls,
    web,
)
from checkout.errors import ValidationError
from checkout.extensions import csrf, limiter
from checkout.links.forms import PayForm, UnlockForm
from checkout.models import PaymentLink, PaymentMode

bp = Blueprint("links", __name__)

UNLOCKED = "unlocked_links"
# The first-party cookie that tells one visitor of a link from another: for its view counts
# (link_analytics) and, with the address, for whose order a Pay reuses (payment_links).
VISITOR_COOKIE = "kassa_visitor"


def _this_link() -> str:
    """The rate-limit key shared by every client of one link.

    Its limit is only tested before the view and counted after it (deduct_when), for a
    request no limit refused: Flask-Limiter would otherwise count every request against
    every limit, and one client its own limit stops would use up the link's for everyone.
    """
    return f"link:{request.view_args['link_id']}"


def _link_or_404(link_id: str) -> PaymentLink:
    link = payment_links.find_link(link_id)
    if link is None:
        abort(404, description="There is no payment link at this address.")
    return link


def _framed_for(link: PaymentLink) -> str | None:
    """The origin this request's page may be framed by (`?embed=`, the pay overlay), if the
    link's provider allows it; the answer then says so in its frame-ancestors."""
    origin = embedding.framing_origin(link, request.args.get("embed"))
    if origin:
        web.allow_framing(origin)
    return origin


def _pay_form(embed: str | None, **values) -> PayForm:
    """The Pay form; in a frame on another site, without the session's CSRF token: the
    browser withholds Kassa's SameSite session cookie there, so the pay view checks the
    form's Origin instead (web.posted_from_here)."""
    return PayForm(meta={"csrf": False}, **values) if embed else PayForm(**values)


def _unlocked(link: PaymentLink) -> bool:
    if not link.password_hash:
        return True
    return session.get(UNLOCKED, {}).get(link.id) == payment_links.password_fingerprint(link)


def _unavailable(
    link: PaymentLink, problem: payment_links.LinkUnavailable, embed: str | None = None
):
    page = render_template(
        "links/unavailable.html",
        problem=problem,
        brand=branding.brand(link.provider),
        seller=web.seller(link.provider),
        embed_origin=embed,
    )
    return page, web.status_for(problem), web.retry_after(problem)


def _password_page(link: PaymentLink, form: UnlockForm, status: int = 200):
    # Who sells and what, so the customer knows where they are; price and description wait
    # for the password.
    return (
        render_template(
            "links/password.html",
            link_id=link.id,
            title=link.title,
            seller=web.seller(link.provider),
            form=form,
            brand=branding.brand(link.provider),
        ),
        status,
        web.NO_STORE,
    )


def _link_page(
    link: PaymentLink,
    form: PayForm,
    status: int = 200,
    embed: str | None = None,
    problems: dict[str, str] | None = None,
):
    price = link.service.price_minor
    currency = link.service.currency
    return (
        render_template(
            "links/show.html",
            link=link,
            brand=branding.brand(link.provider),
            seller=web.seller(link.provider),
            form=form,
            unit_price=money.display(price, currency),
            # No total for a quantity that was just refused.
            total=None
            if form.quantity.errors
            else money.display(price * (form.quantity.data or link.quantity), currency),
            price_minor=price,
            exponent=money.exponent(currency),
            money_example=money.display(0, currency),
            number_symbols=money.number_symbols(money.viewer_locale()),
            buy_button=link.provider is not None and link.provider.mode is PaymentMode.BUY_BUTTON,
            embed_origin=embed,
            chooses_amount=chosen_amounts.chooses_amount(link),
            amount_range=chosen_amounts.range_text(link)
            if chosen_amounts.chooses_amount(link)
            else None,
            takes_codes=discounts.takes_codes(link.provider),
            asked=customer_details.of_link(link),
            values=request.form if request.method == "POST" else {},
            problems=problems or {},
        ),
        status,
        web.NO_STORE,
    )


def _answers(link: PaymentLink) -> tuple[customer_details.Answers | None, dict[str, str]]:
    """The customer's answers to the link's questions, and each refused input's problem."""
    asked = customer_details.of_link(link)
    if not asked:
        return None, {}
    try:
        return customer_details.read(asked, request.form, web.request_locale()), {}
    except customer_details.DetailsRefused as refused:
        return None, refused.problems


def _visitor_id() -> str:
    """This browser's visitor id, from its cookie, or a new one; the page sends it back, so
    the cookie lasts as long as the browser's views are kept one by one."""
    visitor_id = request.cookies.get(VISITOR_COOKIE, "")
    if not link_analytics.is_visitor_id(visitor_id):
        visitor_id = link_analytics.new_visitor_id()
    max_age = link_analytics.WINDOW_DAYS * 86400
    after_this_request(
        lambda response: web.set_private_cookie(
            response, VISITOR_COOKIE, visitor_id, max_age=max_age, path="/l/"
        )
    )
    return visitor_id


@bp.get("/l/<link_id>")
# A view this limit refuses is never counted: it stops before the view runs.
@limiter.limit(web.configured_limit("RATE_LIMIT_LINK_VIEW"), key_func=web.client_key)
def show(link_id: str):
    """The link's page: service, price and quantity, or why it cannot be paid."""
    link = _link_or_404(link_id)
    embed = _framed_for(link)
    problem = payment_links.unavailability(link)
    if problem:
        return _unavailable(link, problem, embed)  # refused (409/410): not counted as a view
    link_analytics.record_view(link, _visitor_id(), web.client_address())
    if not _unlocked(link):
        return _password_page(link, UnlockForm())
    return _link_page(
        link, _pay_form(embed, quantity=link.quantity, **_prefilled(link)), embed=embed
    )


def _prefilled(link: PaymentLink) -> dict:
    """The page's first values besides the quantity: the link's preset amount, and a
    discount code from the URL's ?code= (issue 21)."""
    values = {"discount_code": request.args.get("code", "")[:40]}
    preset = chosen_amounts.to_decimal(link.preset_amount_minor, link)
    if preset is not None:
        values["amount"] = str(preset)
    return values


@bp.get("/l/<link_id>/overlay")
@limiter.limit(web.configured_limit("RATE_LIMIT_LINK_VIEW"), key_func=web.client_key)
def overlay(link_id: str):
    """Whether kassa.js on the asking page (its Origin) may open the link in its overlay."""
    link = _link_or_404(link_id)
    offer = embedding.overlay(link, request.headers.get("Origin"))
    answer = jsonify(schemas.link_overlay(offer.available, offer.on_phones, offer.reason))
    # Any page may ask: the answer only says whether the asking page's own origin may frame.
    headers = {**web.NO_STORE, "Access-Control-Allow-Origin": "*", "Vary": "Origin"}
    return answer, 200, headers


@bp.post("/l/<link_id>/unlock")
@limiter.limit(web.configured_limit("RATE_LIMIT_LINK_UNLOCK"), key_func=web.client_key)
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LINK_UNLOCK_PER_LINK"),
    key_func=_this_link,
    deduct_when=web.passed_the_limits,
)
def unlock(link_id: str):
    """Check the link's password; a correct one opens it for this browser session."""
    link = _link_or_404(link_id)
    problem = payment_links.unavailability(link)
    if problem:
        return _unavailable(link, problem)
    form = UnlockForm()
    if not form.validate_on_submit():
        return _password_page(link, form, 422)
    result = payment_links.try_password(link, form.password.data, web.client_address())
    if result.lockout:
        form.password.errors = [f"Too many wrong passwords. Try again {result.lockout.wait_text}."]
        page, status, headers = _password_page(link, form, 429)
        return page, status, {**headers, "Retry-After": str(result.lockout.seconds)}
    if not result.ok:
        form.password.errors = ["That password is not right."]
        return _password_page(link, form, 401)
    unlocked = dict(session.get(UNLOCKED, {}))
    unlocked[link.id] = payment_links.password_fingerprint(link)
    session[UNLOCKED] = unlocked
    return redirect(url_for("links.show", link_id=link.id), 303)


@bp.post("/l/<link_id>/pay")
@csrf.exempt  # checked in the view: by the session's token, or in a frame by the Origin
@limiter.limit(web.configured_limit("RATE_LIMIT_LINK_PAY"), key_func=web.client_key)
@limiter.limit(
    web.configured_limit("RATE_LIMIT_LINK_PAY_PER_LINK"),
    key_func=_this_link,
    deduct_when=web.passed_the_limits,
)
def pay(link_id: str):
    """Open an order from the link and continue on the normal checkout."""
    link = _link_or_404(link_id)
    if not _unlocked(link):
        abort(403, description="Unlock this payment link with its password first.")
    embed = _framed_for(link)
    problem = payment_links.unavailability(link)
    if problem:
        return _unavailable(link, problem, embed)
    if not embed:
        csrf.protect()
    elif not web.posted_from_here():
        abort(400, description="The form was sent from elsewhere. Reload the page and try again.")
    form = _pay_form(embed)
    valid = form.validate_on_submit()
    answers, problems = _answers(link)
    if not valid or problems:
        return _link_page(link, form, 422, embed, problems)
    try:
        choice = _choice(form, link)
        # A browser without the cookie (a script, or one that refused it) gets a new id,
        # and so an order of its own.
        order = opening.open_link_order(
            link.id,
            form.quantity.data,
            web.client_address(),
            _visitor_id(),
            choice=choice,
            answers=answers,
        )
    except ValidationError as error:
        fields = {"amount": form.amount, "discount_code": form.discount_code}
        fields.get(error.field, form.quantity).errors = [error.message]
        return _link_page(link, form, 422, embed)
    except payment_links.LinkUnavailable as unavailable:
        return _unavailable(link, unavailable, embed)
    return redirect(url_for("pay.checkout", orderId=order.id, embed=embed), 303)


def _choice(form: PayForm, link: PaymentLink) -> opening.LinkChoice:
    """The amount (as the customer typed it, in their locale; a chosen-amount link only) and
    the discount code."""
    amount = None
    if chosen_amounts.chooses_amount(link) and (form.amount.data or "").strip():
        try:
            amount = money.read_typed(form.amount.data, money.viewer_locale())
        except money.AmountError as error:
            raise ValidationError("amount", str(error)) from None
    return opening.LinkChoice(amount=amount, discount_code=form.discount_code.data or None)


def _qr_response(body, mimetype: str, filename: str):
    # A URL from the Host header (no PUBLIC_BASE_URL) must not reach a shared cache.
    cache = "public, max-age=86400" if urls.base_url_is_configured() else "private, no-store"
    headers = {"Cache-Control": cache}
    if request.args.get("download"):
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return body, 200, {"Content-Type": mimetype, **headers}


@bp.get("/l/<link_id>/qr.svg")
def qr_svg(link_id: str):
    """The link's QR code as SVG."""
    link = _link_or_404(link_id)
    return _qr_response(qr.svg(urls.link_url(link.id)), "image/svg+xml", f"{link.id}.svg")


@bp.get("/l/<link_id>/qr.png")
def qr_png(link_id: str):
    """The link's QR code as PNG."""
    link = _link_or_404(link_id)
    return _qr_response(qr.png(urls.link_url(link.id)), "image/png", f"{link.id}.png")
