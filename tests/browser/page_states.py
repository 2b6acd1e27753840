"""Every page a customer or an admin can see, as a list of named states to visit in a browser.

A state is a path built from the `World`'s ids, and optionally steps that bring the page
into that state (submit a form, press a button). tests/browser/test_accessibility.py
visits them all; a template that no state renders fails it, so a new page needs a line in
STATES. tests/browser/test_screenshots.py photographs some of them.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page
from sqlalchemy import select

from checkout import (
    audit,
    branding,
    customer_details,
    discounts,
    link_holds,
    mail,
    opening,
    orders,
    payment_links,
    payments,
    stripe_events,
    throttle,
)
from checkout.extensions import db
from checkout.models import Notification, Order, OrderStatus, PaymentLink, Provider, utcnow
from checkout.orders import Outcome
from checkout.payment_links import LinkFields
from tests.helpers import UNREACHABLE_HOOK, bearer

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
CLIENT = "127.0.0.1"
ADMIN_PASSWORD = "correct horse battery"


@dataclass
class World:
    """The rows the page states show: ids by name."""

    provider: str = ""
    long_provider: str = ""
    service: str = ""
    link_service: str = ""
    admin_email: str = ""
    orders: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    notification: str = ""
    mail: str = ""
    discount: str = ""


@dataclass(frozen=True)
class State:
    """One page state: where it is, who sees it, and how to get there."""

    name: str
    path: Callable[[World], str]
    status: int = 200
    admin: bool = False
    act: Callable[[Page], None] | None = None
    dark: bool = False


def _order(kind: str) -> Callable[[World], str]:
    return lambda world: f"/checkout?orderId={world.orders[kind]}"


def _link(kind: str, suffix: str = "") -> Callable[[World], str]:
    return lambda world: f"/l/{world.links[kind]}{suffix}"


def _fixed(path: str) -> Callable[[World], str]:
    return lambda world: path


def _click(name: str) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        with page.expect_navigation():
            page.get_by_role("button", name=name, exact=True).first.click()

    return act


def _unlock_with(password: str, times: int = 1) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        for _ in range(times):
            page.get_by_label("Password").fill(password)
            with page.expect_navigation():
                page.get_by_role("button", name="Unlock").click()

    return act


def _unlock_until_refused(page: Page) -> None:
    # The client's unlock limit also counts the other link states' tries: go on until it
    # refuses one, however many they left.
    for _ in range(10):
        page.get_by_label("Password").fill("wrong")
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Unlock").click()
        if navigation.value.status == 429:
            return


def _refused_quantity(page: Page) -> None:
    # The browser's own checks would stop the form: send what a stale or edited page sends.
    with page.expect_navigation():
        page.locator("form[action$='/pay']").evaluate(
            "f => { f.quantity.value = '99'; f.submit(); }"
        )


def _refused_amount(page: Page) -> None:
    page.get_by_label("Amount").fill("1000000")
    _click("Pay")(page)


def _refused_code(page: Page) -> None:
    page.get_by_label("Discount code").fill("NOSUCHCODE")
    _click("Pay")(page)


def _refused_checkout_code(page: Page) -> None:
    page.get_by_label("Discount code").fill("NOSUCHCODE")
    _click("Apply code")(page)


def _open_dialog(link: str) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        page.get_by_role("link", name=link, exact=True).first.click()
        page.locator("dialog[open]").wait_for()

    return act


def _unfold_summary(page: Page) -> None:
    # A phone folds the order's details under their toggle; a desktop shows them, no toggle.
    toggle = page.locator("[data-summary-details] > summary")
    if toggle.is_visible():
        toggle.click()
        page.locator("[data-quantity]").wait_for()


def _pay_unanswered(page: Page) -> None:
    # The form's novalidate lets the server name what is missing.
    _click("Pay")(page)


def _create_key(page: Page) -> None:
    page.get_by_label("Key name").fill("Second key")
    _click("Create key")(page)


def _bad_sign_in(page: Page) -> None:
    page.get_by_label("E-mail").fill("nobody@example.com")
    page.get_by_label("Password").fill("not the password")
    _click("Sign in")(page)


# One line per page state. Customer states come first, then the admin's (signed in).
STATES = [
    State("home", _fixed("/"), dark=True),
    State("checkout pending (sandbox)", _order("pending"), dark=True),
    State("checkout processing", _order("processing"), dark=True),
    State("checkout paid", _order("paid"), dark=True),
    State("checkout paid, back to the seller", _order("paid_redirect"), dark=True),
    State("checkout failed", _order("failed"), dark=True),
    State("checkout canceled", _order("canceled"), dark=True),
    State("checkout expired", _order("expired"), status=410, dark=True),
    State("checkout underpaid", _order("underpaid"), dark=True),
    State("checkout refunded", _order("refunded"), dark=True),
    State("checkout partially refunded", _order("partially_refunded"), dark=True),
    State("checkout disputed", _order("disputed"), dark=True),
    State("checkout from a payment link", _order("from_link"), dark=True),
    State("checkout of a turned-off link", _order("from_inactive_link"), status=410, dark=True),
    State("checkout asks questions", _order("asking"), dark=True),
    State("checkout, order details unfolded", _order("pending"), act=_unfold_summary, dark=True),
    State("checkout with the seller's terms in its footer", _order("terms"), dark=True),
    State("checkout paid, receipt sent", _order("answered"), dark=True),
    State(
        "checkout questions refused",
        _order("asking"),
        422,
        act=_click("Continue to payment"),
        dark=True,
    ),
    State("link page", _link("plain"), dark=True),
    State("link page with questions", _link("asking"), dark=True),
    State("link questions refused", _link("asking"), 422, act=_pay_unanswered, dark=True),
    State("link page, quantity picker", _link("quantity"), dark=True),
    State("link page, chosen amount", _link("chosen"), dark=True),
    State("link chosen amount refused", _link("chosen"), 422, act=_refused_amount, dark=True),
    State("link page, discount code", _link("plain", "?code=TEN"), dark=True),
    State("link discount code refused", _link("plain"), 422, act=_refused_code, dark=True),
    State("checkout with a discount", _order("discounted"), dark=True),
    State("checkout code refused", _order("pending"), 422, act=_refused_checkout_code, dark=True),
    State("link quantity refused", _link("quantity"), 422, act=_refused_quantity, dark=True),
    State("link password page", _link("protected"), dark=True),
    State("link wrong password", _link("protected"), 401, act=_unlock_with("wrong"), dark=True),
    State("link locked", _link("locked"), 429, act=_unlock_with("wrong"), dark=True),
    State("link busy", _link("busy"), 409, act=_click("Pay"), dark=True),
    State("link used up", _link("used_up"), 410, dark=True),
    State("link expired", _link("expired"), 410, dark=True),
    State("link turned off", _link("inactive"), 410, dark=True),
    State("page not found", _fixed("/no-such-page"), 404, dark=True),
    State("order not found", _fixed("/checkout?orderId=ord_missing"), 404, dark=True),
    State("too many requests", _link("flooded"), 429, act=_unlock_until_refused, dark=True),
    State("admin sign-in", _fixed("/admin/login"), dark=True),
    State("admin sign-in refused", _fixed("/admin/login"), 401, act=_bad_sign_in, dark=True),
    State("dashboard", _fixed("/admin/"), admin=True, dark=True),
    State("orders", _fixed("/admin/orders"), admin=True),
    State("order paid", lambda w: f"/admin/orders/{w.orders['paid']}", admin=True),
    State("order with answers", lambda w: f"/admin/orders/{w.orders['answered']}", admin=True),
    State("order underpaid", lambda w: f"/admin/orders/{w.orders['underpaid']}", admin=True),
    State("order disputed", lambda w: f"/admin/orders/{w.orders['disputed']}", admin=True),
    State(
        "order refunded in parts (sandbox refund ids)",
        lambda w: f"/admin/orders/{w.orders['refunded_in_parts']}",
        admin=True,
    ),
    State("services", _fixed("/admin/services"), admin=True),
    State("new service", _fixed("/admin/services/new"), admin=True),
    State(
        "new service, errors", _fixed("/admin/services/new"), 422, True, _click("Create service")
    ),
    State("edit service", lambda w: f"/admin/services/{w.service}/edit", admin=True),
    State("providers", _fixed("/admin/providers"), admin=True),
    State("provider", lambda w: f"/admin/providers/{w.provider}", admin=True),
    State("provider with long URLs", lambda w: f"/admin/providers/{w.long_provider}", admin=True),
    State("new provider", _fixed("/admin/providers/new"), admin=True),
    State("edit provider", lambda w: f"/admin/providers/{w.provider}/edit", admin=True),
    State("new API key", lambda w: f"/admin/providers/{w.provider}", admin=True, act=_create_key),
    State(
        "confirmation page",
        lambda w: f"/admin/providers/{w.provider}/request-secret",
        admin=True,
    ),
    State(
        "confirmation dialog",
        lambda w: f"/admin/providers/{w.provider}",
        admin=True,
        act=_open_dialog("Revoke"),
    ),
    State(
        "new request-signing secret",
        lambda w: f"/admin/providers/{w.provider}/request-secret",
        admin=True,
        act=_click("Generate new secret"),
    ),
    State("provider branding", lambda w: f"/admin/providers/{w.provider}/branding", admin=True),
    State("links", _fixed("/admin/links"), admin=True),
    State("new link", _fixed("/admin/links/new"), admin=True),
    State("link", lambda w: f"/admin/links/{w.links['quantity']}", admin=True),
    State("edit link", lambda w: f"/admin/links/{w.links['protected']}/edit", admin=True),
    State("discount codes", _fixed("/admin/discounts"), admin=True),
    State("new discount code", _fixed("/admin/discounts/new"), admin=True),
    State("edit discount code", lambda w: f"/admin/discounts/{w.discount}/edit", admin=True),
    State("order with a discount", lambda w: f"/admin/orders/{w.orders['discounted']}", admin=True),
    State("deliveries", _fixed("/admin/deliveries"), admin=True),
    State("delivery", lambda w: f"/admin/deliveries/{w.notification}", admin=True),
    State("stripe events", _fixed("/admin/stripe-events"), admin=True),
    State("mails", _fixed("/admin/mail"), admin=True),
    State("mail", lambda w: f"/admin/mail/{w.mail}", admin=True),
    State("admins", _fixed("/admin/admins"), admin=True),
    State("change password", _fixed("/admin/password"), admin=True),
    State("audit log", _fixed("/admin/audit"), admin=True),
]


def sign_in(page: Page, base: str, world: World) -> None:
    """Sign the page's browser context in as the world's admin."""
    page.goto(base + "/admin/login")
    page.get_by_label("E-mail").fill(world.admin_email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/admin/")


def visit(page: Page, base: str, world: World, state: State) -> int:
    """Open the state's page and play its steps; the HTTP status of the page shown."""
    statuses = []
    listen = lambda response: (  # noqa: E731
        statuses.append(response.status)
        if response.request.is_navigation_request() and response.frame == page.main_frame
        else None
    )
    page.on("response", listen)
    try:
        page.goto(base + state.path(world))
        if state.act:
            state.act(page)
        page.wait_for_load_state("load")
    finally:
        page.remove_listener("response", listen)
    return statuses[-1]


def page_templates() -> set[str]:
    """Every template a view renders: all of templates/ but partials (_*.html, and whatever
    another template includes or imports), layouts and mails (mail/, bodies of e-mail)."""
    names = {
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if not path.relative_to(TEMPLATES).as_posix().startswith("mail/")
    }
    used = set()
    pattern = r'{%-?\s*(?:extends|include|import|from)\s+"([^"]+)"'
    for name in names:
        used |= set(re.findall(pattern, (TEMPLATES / name).read_text()))
    return {name for name in names if not name.rsplit("/", 1)[-1].startswith("_")} - used


def _link_row(app, service_id: str, provider_id: str | None = None, **fields) -> str:
    fields = {"title": "Festival tickets", "description": "Two days, three stages.", **fields}
    link = payment_links.create_link(
        LinkFields(service_id=service_id, provider_id=provider_id, **fields), actor=audit.SYSTEM
    )
    return link.id


def _set(order_id: str, **columns) -> None:
    order = db.session.get(Order, order_id)
    for name, value in columns.items():
        setattr(order, name, value)
    db.session.commit()


QUESTIONS = [
    {"key": "holder", "label": "Ticket holder", "type": "text", "required": True},
    {
        "key": "size",
        "label": "Shirt size",
        "type": "dropdown",
        "required": True,
        "options": [{"value": "s", "label": "Small"}, {"value": "m", "label": "Medium"}],
    },
    {"key": "seats", "label": "Seats wanted", "type": "number"},
]


def _asking(app, make, world: World) -> None:
    """A seller with terms whose link and service ask questions: a link, an order opened
    by API still asking, and an answered, paid order."""
    service = make.service(
        title="Shirt", price="5", custom_fields=QUESTIONS, collect_email="required"
    )
    seller = make.provider(
        service,
        name="Demo Shop",
        success_url=None,
        cancel_url=None,
        terms_url="https://shop.example/terms",
        privacy_url="https://shop.example/privacy",
    )
    world.links["asking"] = _link_row(
        app, service, seller.id, custom_fields=QUESTIONS, collect_email="optional"
    )
    client = app.test_client()
    answer = client.post("/api/v1/create-payment-intent", headers=bearer(seller.api_key), json={})
    world.orders["asking"] = answer.json["orderId"]
    answers = customer_details.Answers(
        custom_fields=[
            {"key": "holder", "label": "Ticket holder", "value": "Ada Lovelace"},
            {"key": "size", "label": "Shirt size", "value": "m"},
            {"key": "seats", "label": "Seats wanted", "value": None},
        ],
        email="ada@example.com",
        terms_accepted=True,
    )
    answered = opening.open_link_order(
        world.links["asking"], 1, "10.0.0.4", None, answers=answers
    ).id
    payments.simulate(answered, Outcome.SUCCEEDED)
    world.orders["answered"] = answered
    world.orders["terms"] = opening.open_link_order(
        world.links["asking"], 1, "10.0.0.5", None, answers=answers
    ).id


def build_world(app, make) -> World:
    """Rows for every state: a provider and its orders in each status, links, a delivery."""
    world = World()
    world.admin_email = make.admin(password=ADMIN_PASSWORD)[0]
    world.service = make.service(title="Premium Credits", price="5")
    provider = make.provider(
        world.service, success_url=None, cancel_url=None, webhook_url=UNREACHABLE_HOOK
    )
    world.provider, key = provider.id, provider.api_key
    redirect_key = make.provider(
        world.service,
        name="Redirecting",
        success_url="https://shop.example/thanks?orderId={orderId}",
        cancel_url=None,
    ).api_key
    # Real URLs are long and have no spaces to wrap at.
    world.long_provider = make.provider(
        world.service,
        name="Long URLs",
        webhook_url="https://hooks.bitloader-payments.example.com/integrations/kassa/v2/"
        "notifications/incoming?account=acct_8f3e2b1c9d7a6e5f4b3a2c1d&signature_version=v1",
        success_url="https://shop.bitloader-payments.example.com/checkout/complete/"
        "thank-you?orderId={orderId}&utm_source=kassa&utm_medium=redirect",
        cancel_url="https://shop.bitloader-payments.example.com/checkout/cancelled-by-customer"
        "?orderId={orderId}",
    ).id
    # The first provider's pages show its branding; the second keeps Kassa's own look.
    logo = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20">'
        b'<rect width="40" height="20" fill="#6b21a8"/></svg>'
    )
    with app.app_context():
        branding.set_branding(
            db.session.get(Provider, world.provider),
            branding.BrandingChanges(display_name="Bitloader", accent_color="#6b21a8", logo=logo),
            actor=audit.SYSTEM,
        )
    client = app.test_client()

    def api_open_order(external_id: str, api_key: str = key) -> str:
        body = {"externalId": external_id, "amount": 25}
        answer = client.post("/api/v1/create-payment-intent", headers=bearer(api_key), json=body)
        assert answer.status_code == 200, answer.text
        return answer.json["orderId"]

    with app.app_context():
        world.orders["expired"] = api_open_order("A-EXPIRED")
        orders.expire_abandoned(timedelta(0))
        for kind in ("pending", "processing", "paid", "failed", "canceled", "underpaid"):
            world.orders[kind] = api_open_order(f"A-{kind.upper()}")
        for kind in ("refunded", "partially_refunded", "refunded_in_parts", "disputed"):
            world.orders[kind] = api_open_order(f"A-{kind.upper()}")
            payments.simulate(world.orders[kind], Outcome.SUCCEEDED)
        world.orders["paid_redirect"] = api_open_order("A-REDIRECT", redirect_key)
        payments.simulate(world.orders["paid_redirect"], Outcome.SUCCEEDED)
        payments.simulate(world.orders["processing"], Outcome.PROCESSING)
        payments.simulate(world.orders["paid"], Outcome.SUCCEEDED)
        payments.simulate(world.orders["failed"], Outcome.FAILED)
        payments.simulate(world.orders["canceled"], Outcome.CANCELED)
        payments.refund(world.orders["refunded"], None, "refund-all", actor=audit.SYSTEM)
        payments.refund(world.orders["partially_refunded"], 500, "refund-5", actor=audit.SYSTEM)
        # Its timeline names each sandbox refund by its id (sandbox_re_…), unbroken.
        for part in range(1, 4):
            payments.refund(
                world.orders["refunded_in_parts"], 500, f"part-{part}", actor=audit.SYSTEM
            )
        _set(
            world.orders["underpaid"],
            status=OrderStatus.UNDERPAID,
            paid_amount_minor=2000,
            paid_currency="usd",
            amount_mismatch=True,
        )
        _set(
            world.orders["disputed"],
            status=OrderStatus.DISPUTED,
            status_before_dispute=OrderStatus.PAID,
            dispute_id="dp_1",
            dispute_status="needs_response",
            dispute_reason="fraudulent",
            dispute_amount_minor=2500,
            dispute_evidence_due_by=utcnow() + timedelta(days=7),
        )

        world.link_service = make.service(title="Ticket", price="12.50")
        service = world.link_service
        world.links["plain"] = _link_row(app, service, world.provider)
        world.links["quantity"] = _link_row(
            app, service, adjustable_quantity=True, min_quantity=1, max_quantity=4
        )
        world.links["protected"] = _link_row(app, service, world.provider, password="backstage")
        world.links["locked"] = _link_row(app, service, password="backstage")
        world.links["flooded"] = _link_row(app, service, password="backstage")
        world.links["used_up"] = _link_row(app, service, max_uses=1)
        world.links["busy"] = _link_row(app, service, max_uses=1)
        world.links["expired"] = _link_row(app, service)
        world.links["inactive"] = _link_row(app, service)
        world.links["chosen"] = _link_row(
            app, service, world.provider, min_amount=Decimal(5), max_amount=Decimal(500)
        )
        world.discount = discounts.create_code(
            db.session.get(Provider, world.provider),
            discounts.DiscountFields(code="TEN", percent_off=Decimal(10), max_redemptions=5),
            actor=audit.SYSTEM,
        ).id
        world.orders["discounted"] = opening.open_link_order(
            world.links["plain"],
            1,
            "10.0.0.9",
            None,
            choice=opening.LinkChoice(discount_code="ten"),
        ).id
        world.orders["from_link"] = opening.open_link_order(
            world.links["plain"], 2, CLIENT, None
        ).id
        used = opening.open_link_order(world.links["used_up"], 1, "10.0.0.1", None).id
        payments.simulate(used, Outcome.SUCCEEDED)
        holding = opening.open_link_order(world.links["busy"], 1, "10.0.0.3", None).id
        link_holds.start_hold(holding, "10.0.0.3")  # that customer has started paying
        world.orders["from_inactive_link"] = opening.open_link_order(
            world.links["inactive"], 1, "10.0.0.2", None
        ).id
        inactive = db.session.get(PaymentLink, world.links["inactive"])
        payment_links.set_active(inactive, False, actor=audit.SYSTEM)
        expired = db.session.get(PaymentLink, world.links["expired"])
        expired.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
        _asking(app, make, world)
        pair = f"{world.links['locked']}|{CLIENT}"
        for _ in range(payment_links.PASSWORD_ATTEMPTS):
            throttle.record("link-password", pair)
        db.session.commit()

        world.notification = db.session.scalar(
            select(Notification.id).where(Notification.order_id == world.orders["paid"])
        )
        world.mail = mail.queue("operator@example.com", "test", kind="test").id
        db.session.commit()
        event = {"id": "evt_a11y", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
        stripe_events.record(event, '{"id": "evt_a11y"}')
    return world
